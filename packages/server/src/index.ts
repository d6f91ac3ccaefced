/**
 * `@airlock/server`: the key vault, short-lived widget tokens and an
 * OpenAI-compatible proxy behind one Web-standard handler.
 *
 * @example
 * ```ts
 * import { createAirlock } from '@airlock/server';
 * const airlock = createAirlock({ dev: true });
 * ```
 *
 * @packageDocumentation
 */
export { createAirlock, type Airlock, type AirlockOptions, type MintTokenInput } from './airlock.js';
export { AirlockError } from './errors.js';
export { createLogger, redact, silentLogger, type Logger, type LoggerOptions, type LogLevel } from './logging/logger.js';
export type { UpstreamOptions } from './proxy/upstream.js';
export type { ChatInputLimits } from './proxy/chat-completions.js';
export { SqliteStore, type SqliteStoreOptions } from './stores/sqlite-store.js';
export type { NewWidget, Store, WidgetBehaviour, WidgetPresentation, WidgetRecord } from './stores/store.js';
export { createKeyring, type KeyEncryptionProvider } from './vault/key-encryption.js';
export { isOriginAllowed } from './widgets/origins.js';
