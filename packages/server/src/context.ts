import type { AirlockConfig } from './config.js';
import type { KeyResolver } from './keys/key-resolver.js';
import type { SharedKeyPolicy } from './keys/shared-key-policy.js';
import type { LimitCounters } from './limits/counters.js';
import type { GenerationLeases } from './limits/generation-leases.js';
import type { ConversationSummaries } from './proxy/conversation-summaries.js';
import type { Logger } from './logging/logger.js';
import type { Metrics } from './operations/metrics.js';
import type { UpstreamClients } from './proxy/upstream.js';
import type { KnowledgeService } from './knowledge/knowledge-service.js';
import type { Store } from './stores/store.js';
import type { TokenMintedEvent } from './tokens/public-minting.js';
import type { SigningKeys } from './tokens/signing-keys.js';
import type { TokenService } from './tokens/token-service.js';
import type { Vault } from './vault/vault.js';
import type { UsageMeter } from './usage/usage-meter.js';

/**
 * What every area of the server (tokens, proxy, admin, …) shares. Built once
 * by `createAirlock` and passed to each area's routes.
 */
export interface AirlockContext {
  /** Options and environment, resolved once and frozen: what every area reads. */
  readonly config: AirlockConfig;
  readonly basePath: string;
  readonly store: Store;
  readonly vault: Vault;
  readonly upstream: UpstreamClients;
  /** Picks and opens the OpenAI key for a widget's call (own or shared); `keys.reportUpstreamFailure` marks refused keys. */
  readonly keys: KeyResolver;
  /** The operator's rules for the shared key (which accounts, which models), checked on save and before every call opens it. */
  readonly sharedKey: SharedKeyPolicy;
  /** Every count the limits keep (rates, stream slots, token budgets, idempotency keys): in Redis when configured, else in-process. */
  readonly counters: LimitCounters;
  /** Per-widget daily usage (views, requests, tokens, generations, errors); `usage.recordView(widgetId)` counts a view. */
  readonly usage: UsageMeter;
  /** Leases of this instance's generation reservations: renewed while calls run, expired ones given back. */
  readonly generationLeases: GenerationLeases;
  /** Conversation summaries of `tokenized-summary`, sealed by the vault and kept for the retention period. */
  readonly summaries: ConversationSummaries;
  /** The widgets' knowledge files and retrieval; absent for a custom store without a knowledge store. */
  readonly knowledge?: KnowledgeService;
  readonly logger: Logger;
  /** This instance's Prometheus metrics (`GET {basePath}/metrics`). */
  readonly metrics: Metrics;
  /** `draining` is set once shutdown began: `/readyz` then answers 503 and new requests are refused. */
  readonly lifecycle: { draining: boolean };
  /** Extra dependencies `/readyz` checks besides the store (Redis, when configured). */
  readonly readinessProbes: { name: string; ping(): Promise<void> }[];
  readonly now: () => Date;
  /** Reports a minted token (a widget view): calls `AirlockOptions.onTokenMinted`; usage metering hooks in here. */
  onTokenMinted(event: TokenMintedEvent): Promise<void>;
  /** Resolves once the store is migrated and the signing keys are loaded. */
  started(): Promise<{ tokens: TokenService; keys: SigningKeys }>;
}
