import type { AirlockOptions } from './airlock.js';
import type { RateLimiter } from './limits/rate-limiter.js';
import type { Logger } from './logging/logger.js';
import type { UpstreamClients } from './proxy/upstream.js';
import type { Store } from './stores/store.js';
import type { SigningKeys } from './tokens/signing-keys.js';
import type { TokenService } from './tokens/token-service.js';
import type { Vault } from './vault/vault.js';

/**
 * What every area of the server (tokens, proxy, admin, …) shares. Built once
 * by `createAirlock` and passed to each area's routes.
 */
export interface AirlockContext {
  readonly options: AirlockOptions;
  readonly basePath: string;
  readonly store: Store;
  readonly vault: Vault;
  readonly upstream: UpstreamClients;
  readonly limiter: RateLimiter;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Resolves once the store is migrated and the signing keys are loaded. */
  started(): Promise<{ tokens: TokenService; keys: SigningKeys }>;
}
