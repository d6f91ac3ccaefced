import type { Redis } from 'ioredis';
import type { RateLimiter, RateLimitResult } from '../limits/rate-limiter.js';
import { defineScripts, type LimitScripts } from './scripts.js';

/**
 * Options of {@link RedisRateLimiter}.
 *
 * @example
 * ```ts
 * const limiter = new RedisRateLimiter(redis, { keyPrefix: 'shop:' });
 * ```
 */
export interface RedisRateLimiterOptions {
  /** Prefix of every key. Default: `'airlock:'`. */
  keyPrefix?: string;
  /** Clock in epoch ms, for tests. Default: `Date.now`. */
  now?: () => number;
}

/**
 * A {@link RateLimiter} in Redis with the sliding window of
 * `MemoryRateLimiter`, counted by one atomic script per hit, so a limit of
 * N a minute admits exactly N across every instance sharing the Redis.
 * Errors (Redis away) are thrown as they come; `createAirlock` turns them
 * into `limits_unavailable` or falls back to in-process counts.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * const limiter = new RedisRateLimiter(new Redis('redis://127.0.0.1:6379'));
 * await limiter.hit('widget:wgt_1', 60, 60_000);
 * ```
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #redis: Redis & LimitScripts;
  readonly #prefix: string;
  readonly #now: () => number;

  constructor(redis: Redis, options: RedisRateLimiterOptions = {}) {
    this.#redis = defineScripts(redis);
    this.#prefix = `${options.keyPrefix ?? 'airlock:'}rate:`;
    this.#now = options.now ?? Date.now;
  }

  async hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    const [allowed, retryAfterSeconds, remaining] = await this.#redis.airlockRateHit(this.#prefix + key, this.#now(), limit, windowMs);
    return { allowed: allowed === 1, retryAfterSeconds, remaining };
  }
}
