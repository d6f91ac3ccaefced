import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { hitEachInOrder, type LimitCounters, type OnceClaim, type RateCheck, type SlotLease } from '../limits/counters.js';
import type { RateLimiter, RateLimitResult } from '../limits/rate-limiter.js';
import { RedisRateLimiter } from './redis-rate-limiter.js';
import { defineScripts, type LimitScripts } from './scripts.js';

/**
 * Options of {@link RedisLimitCounters}.
 *
 * @example
 * ```ts
 * const counters = new RedisLimitCounters(redis, { keyPrefix: 'shop:', slotLeaseMs: 60_000 });
 * ```
 */
export interface RedisLimitCountersOptions {
  /** Prefix of every key. Default: `'airlock:'`. */
  keyPrefix?: string;
  /** Clock in epoch ms, for tests. Default: `Date.now`. */
  now?: () => number;
  /** Counts request rates. Default: a {@link RedisRateLimiter} on the same connection. */
  rateLimiter?: RateLimiter;
  /**
   * How long a slot is held without renewal. A running stream renews it every
   * third of this, so only a crashed instance's slots lapse, after at most this long. Default: `30_000` (ms).
   */
  slotLeaseMs?: number;
}

/**
 * {@link LimitCounters} in Redis, each operation one atomic Lua script, so
 * limits hold exactly across instances. Errors (Redis away) are thrown as
 * they come: the coordinator decides between failing closed and falling back.
 *
 * @example
 * ```ts
 * const counters = new RedisLimitCounters(new Redis('redis://127.0.0.1:6379'));
 * const lease = await counters.acquireSlot('streams:wgt_1:vis_1', 3);
 * ```
 */
export class RedisLimitCounters implements LimitCounters {
  readonly #redis: Redis & LimitScripts;
  readonly #prefix: string;
  readonly #now: () => number;
  readonly #rateLimiter: RateLimiter;
  readonly #ownRateLimiter: boolean;
  readonly #slotLeaseMs: number;

  constructor(redis: Redis, options: RedisLimitCountersOptions = {}) {
    this.#redis = defineScripts(redis);
    this.#prefix = options.keyPrefix ?? 'airlock:';
    this.#now = options.now ?? Date.now;
    this.#rateLimiter = options.rateLimiter ?? new RedisRateLimiter(redis, { keyPrefix: this.#prefix, now: this.#now });
    this.#ownRateLimiter = options.rateLimiter === undefined;
    this.#slotLeaseMs = options.slotLeaseMs ?? 30_000;
  }

  hit(key: string, limit: number, windowMs: number) {
    return this.#rateLimiter.hit(key, limit, windowMs);
  }

  async hitInOrder(checks: readonly RateCheck[]): Promise<{ index: number; result: RateLimitResult } | undefined> {
    if (!this.#ownRateLimiter) return hitEachInOrder(this.#rateLimiter, checks);
    if (checks.length === 0) return undefined;
    const keys = checks.map((check) => `${this.#prefix}rate:${check.key}`);
    const limits = checks.flatMap((check) => [check.limit, check.windowMs]);
    const [refused, retryAfterSeconds] = await this.#redis.airlockRateHitInOrder(keys.length, ...keys, this.#now(), ...limits);
    return refused === 0 ? undefined : { index: refused - 1, result: { allowed: false, retryAfterSeconds, remaining: 0 } };
  }

  async acquireSlot(key: string, limit: number): Promise<SlotLease | undefined> {
    const slotKey = `${this.#prefix}slots:${key}`;
    const leaseId = randomUUID();
    const taken = await this.#redis.airlockSlotAcquire(slotKey, this.#now(), limit, leaseId, this.#slotLeaseMs);
    if (taken !== 1) return undefined;
    // Renewal failures are ignored: Redis away means the lease lapses, which is what it is for.
    const renewal = setInterval(
      () => {
        this.#redis.airlockSlotRenew(slotKey, this.#now(), leaseId, this.#slotLeaseMs).catch(() => {});
      },
      Math.max(1, Math.floor(this.#slotLeaseMs / 3)),
    );
    renewal.unref();
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(renewal);
        await this.#redis.zrem(slotKey, leaseId);
      },
    };
  }

  async addToBudget(key: string, amount: number, options: { expiresAt: number; limit?: number }) {
    const [accepted, total] = await this.#redis.airlockBudgetAdd(
      `${this.#prefix}${key}`,
      Math.round(amount),
      options.limit ?? -1,
      Math.round(options.expiresAt),
    );
    return { accepted: accepted === 1, total };
  }

  async readBudget(key: string): Promise<number> {
    return Number((await this.#redis.get(`${this.#prefix}${key}`)) ?? 0);
  }

  async claimOnce(key: string, runningMs: number): Promise<OnceClaim> {
    const claim = `running:${randomUUID()}`;
    const answer = await this.#redis.airlockOnceClaim(`${this.#prefix}${key}`, claim, runningMs);
    if (answer === 'claimed') return { claimed: true, claim };
    return { claimed: false, state: answer === 'answered' ? 'answered' : 'running' };
  }

  async settleOnce(key: string, claim: string, answered: boolean, rememberMs: number): Promise<void> {
    await this.#redis.airlockOnceSettle(`${this.#prefix}${key}`, claim, answered ? 1 : 0, rememberMs);
  }
}
