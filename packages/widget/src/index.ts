/**
 * Airlock's embeddable widget: {@link createWidget} mounts the UI; the
 * headless {@link createConversation} (the conversation the UI renders),
 * {@link TokenClient}, {@link ChatClient}, {@link readChatStream},
 * {@link createConversationStorage} and {@link MarkdownStream} let you build
 * your own. Importing this module has no side effects and never touches
 * `window` or `document`.
 *
 * @packageDocumentation
 */
export { createWidget, type Widget, type WidgetEventMap, type WidgetOptions } from './create-widget';
export { createConversation, type Conversation, type ConversationMessage, type ConversationOptions, type ConversationSnapshot } from './core/conversation';
export { ChatClient, type ChatClientOptions, type ChatMessage, type ChatStreamOptions, type ImageResult } from './core/chat-client';
export { WidgetError, type WidgetErrorOptions } from './core/errors';
export { SseParser, readChatStream, type ReadChatStreamOptions, type ServerSentEvent } from './core/sse';
export { TokenClient, type TokenClientOptions, type WidgetToken } from './core/token-client';
export { SUPPORTED_LOCALES, errorText, resolveLocale, stringsFor, type WidgetStrings } from './locales/strings';
export { MarkdownStream, renderMarkdown, safeHref } from './render/markdown';
export {
  createConversationStorage,
  type ConversationStorage,
  type StorageKind,
  type StoredConversation,
  type StoredMessage,
} from './storage/conversation-storage';
export type { WidgetMode } from './ui/shell';
export type { AnswerSource, ErrorCode, WidgetInput, WidgetPublicConfig, WidgetTheme } from '@airlock/protocol';
