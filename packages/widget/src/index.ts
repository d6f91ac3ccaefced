/**
 * Airlock's embeddable chat widget: {@link createWidget} mounts the UI; the
 * headless {@link TokenClient}, {@link ChatClient} and {@link readChatStream}
 * let you build your own. Importing this module has no side effects and never
 * touches `window` or `document`.
 *
 * @packageDocumentation
 */
export { createWidget, type Widget, type WidgetEventMap, type WidgetOptions } from './create-widget';
export { ChatClient, type ChatClientOptions, type ChatMessage, type ChatStreamOptions } from './core/chat-client';
export { WidgetError, type WidgetErrorOptions } from './core/errors';
export { SseParser, readChatStream, type ServerSentEvent } from './core/sse';
export { TokenClient, type TokenClientOptions, type WidgetToken } from './core/token-client';
export type { ErrorCode, WidgetPublicConfig } from '@airlock/protocol';
