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
export type { ProxyOptions } from './proxy/proxy-services.js';
export { behaviourProblems } from './proxy/behaviour-check.js';
export { assertValidWidget } from './widgets/widget-input.js';
export { defaultSharedKeyAllowance, defaultSharedKeyModels, type SharedKeyOptions } from './keys/shared-key-policy.js';
export {
  blockedListProblem,
  compilePromptFilter,
  foldText,
  maxBlockedBytes,
  maxBlockedEntries,
  maxBlockedEntryLength,
  type PromptFilter,
} from './proxy/prompt-filter.js';
export type { ProxyLimitsOptions } from './limits/request-limits.js';
export { MemoryRateLimiter, type RateLimiter, type RateLimitResult } from './limits/rate-limiter.js';
export { RedisRateLimiter, type RedisRateLimiterOptions } from './cluster/redis-rate-limiter.js';
export type { RedisOptions } from './cluster/redis.js';
export { defaultGenerationCosts, generationCost, type GenerationCosts } from './limits/generations.js';
export { UsageMeter, type UsageMeterOptions } from './usage/usage-meter.js';
export type { ConversationSummary, GenerationBalance, MemoryStrategy, UsageDay, UsageIncrement } from './stores/store.js';
export { SqliteStore, type SqliteStoreOptions } from './stores/sqlite-store.js';
export { PostgresStore, type PostgresStoreOptions } from './stores/postgres-store.js';
export { openStore } from './stores/open-store.js';
// A widget's knowledge files and passages, on the main store's connection.
export { SqliteKnowledgeStore } from './stores/knowledge-sqlite.js';
export { PostgresKnowledgeStore } from './stores/knowledge-postgres.js';
export type {
  AddedKnowledgeFile,
  KnowledgeFilePatch,
  KnowledgeFileRecord,
  KnowledgeFileStatus,
  KnowledgePassageInput,
  KnowledgeSnapshot,
  KnowledgeStore,
  KnowledgeStoreOptions,
  KnowledgeTotals,
  NewKnowledgeFile,
  ReplacePassagesOptions,
  StoredPassage,
} from './stores/knowledge-store.js';
export type { NewWidget, Store, WidgetBehaviour, WidgetPresentation, WidgetRecord } from './stores/store.js';
export type { AccountRecord, KeySource, OpenAiKeyRecord, OpenAiKeyStatus, SharedKeyGrant } from './stores/store.js';
// What a store of your own (`AirlockOptions.store`) takes and gives.
export type {
  AdminAccessTokenRecord,
  AdminSessionRecord,
  GenerationIncrement,
  GenerationLease,
  GenerationSettlement,
  SealedRecord,
  SigningKeyRecord,
  StoredKeys,
  WidgetForCall,
  WidgetPatch,
} from './stores/store.js';
// The areas `Store` is made of, so a store of your own can be written and checked area by area.
export type {
  AccountStore,
  AdminAccessTokenStore,
  AdminSessionStore,
  ConversationSummaryStore,
  GenerationStore,
  LifecycleStore,
  OpenAiKeyStore,
  SigningKeyStore,
  UsageStore,
  WidgetStore,
} from './stores/store.js';
export { AccountKeys, type AccountKeysOptions, type KeyDetails, type SavedKey } from './keys/account-keys.js';
export { rotateMasterKey, type RotationReport } from './vault/rotate-master.js';
export { createKeyring, type KeyEncryptionProvider } from './vault/key-encryption.js';
export { Vault, type SealedSecret, type SecretBinding } from './vault/vault.js';
export { isOriginAllowed, isValidOriginPattern, originPatternProblem } from './widgets/origins.js';
export { embedSnippets, type EmbedSnippets } from './widgets/embed-snippets.js';
export { addressKey, forwardedClientAddress } from './http/client-address.js';
export type { MintRateLimits, RateLimit, TokenMintedEvent, VerifyHuman } from './tokens/public-minting.js';
export type { TokenHandlerOptions, TokenHandlerUser } from './tokens/token-handler.js';
export type { VerifiedToken } from './tokens/token-service.js';
export type { TokenLimits } from '@airlock/protocol';
