import { AirlockError } from '../errors.js';

/**
 * Result of one {@link RateLimiter.hit}.
 *
 * @example
 * ```ts
 * const { allowed, retryAfterSeconds } = await limiter.hit('mint:ip:203.0.113.9', 30, 60_000);
 * ```
 */
export interface RateLimitResult {
  allowed: boolean;
  /** When refused: whole seconds until a request would be allowed again. */
  retryAfterSeconds: number;
  /** Requests left in the current window after this one. */
  remaining: number;
}

/**
 * Counts requests per key in a time window. Two implementations with the
 * same sliding window: {@link MemoryRateLimiter}, in-process (limits hold per
 * instance), and `RedisRateLimiter`, shared by every instance (what
 * `createAirlock` uses when `redis` is configured).
 */
export interface RateLimiter {
  /** Counts one request for `key`; refuses it when `limit` were already counted in the window. */
  hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult>;
}

interface Window {
  windowMs: number;
  startedAt: number;
  count: number;
  previousCount: number;
}

/**
 * An in-process sliding-window limiter: the previous window's count is
 * weighted by how much of it still overlaps, which smooths the burst a plain
 * fixed window allows at each boundary. Memory is bounded by pruning idle keys.
 *
 * @example
 * ```ts
 * const limiter = new MemoryRateLimiter();
 * await limiter.hit('widget:wgt_1', 60, 60_000);
 * ```
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #windows = new Map<string, Window>();
  readonly #now: () => number;
  #lastPrune = 0;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    const now = this.#now();
    this.#prune(now);
    let window = this.#windows.get(key);
    if (!window) {
      window = { windowMs, startedAt: now, count: 0, previousCount: 0 };
      this.#windows.set(key, window);
    }
    const elapsedWindows = Math.floor((now - window.startedAt) / windowMs);
    if (elapsedWindows >= 2) {
      // Idle for two windows: start afresh, as if pruned (whether or not pruning ran), as the Redis limiter does.
      window.previousCount = 0;
      window.count = 0;
      window.startedAt = now;
    } else if (elapsedWindows === 1) {
      window.previousCount = window.count;
      window.count = 0;
      window.startedAt += windowMs;
    }
    const overlap = 1 - (now - window.startedAt) / windowMs;
    const estimated = window.previousCount * overlap + window.count;
    if (estimated + 1 > limit) {
      // Time until the weighted estimate has dropped enough for one more request.
      const waitMs =
        window.previousCount > 0 && window.count < limit
          ? Math.max(0, ((window.previousCount * overlap + window.count + 1 - limit) / window.previousCount) * windowMs)
          : window.startedAt + windowMs - now;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)), remaining: 0 };
    }
    window.count += 1;
    return { allowed: true, retryAfterSeconds: 0, remaining: Math.max(0, Math.floor(limit - estimated - 1)) };
  }

  #prune(now: number): void {
    if (now - this.#lastPrune < 10_000) return;
    this.#lastPrune = now;
    for (const [key, window] of this.#windows) {
      if (now - window.startedAt >= 2 * window.windowMs) this.#windows.delete(key);
    }
  }
}

/**
 * Counts one request for `key` and throws 429 `rate_limited` (with
 * `Retry-After`) when it is over `limit` in `windowMs`: the check every
 * single-key limit (public minting, the embed page, admin sign-in) makes.
 *
 * @example
 * ```ts
 * await enforceRateLimit(context.counters, `mint:ip:${address}`, 30, 60_000);
 * ```
 */
export async function enforceRateLimit(
  limiter: RateLimiter,
  key: string,
  limit: number,
  windowMs: number,
  message = 'Too many requests; try again shortly.',
): Promise<void> {
  const result = await limiter.hit(key, limit, windowMs);
  if (!result.allowed) {
    throw new AirlockError('rate_limited', message, { headers: { 'retry-after': String(result.retryAfterSeconds) } });
  }
}
