import { MemoryRateLimiter, type RateLimiter, type RateLimitResult } from './rate-limiter.js';

/**
 * One rate limit to count a request against: at most `limit` per `windowMs` for `key`.
 */
export interface RateCheck {
  key: string;
  limit: number;
  windowMs: number;
}

/**
 * Counts one request against each check in order, stopping at the first
 * that refuses (the later ones are not counted). Answers the refusing
 * check's index and result, or `undefined` when every check admitted it.
 *
 * @example
 * ```ts
 * const refusal = await hitEachInOrder(limiter, [{ key: 'proxy:token:jti', limit: 20, windowMs: 60_000 }]);
 * ```
 */
export async function hitEachInOrder(limiter: RateLimiter, checks: readonly RateCheck[]): Promise<{ index: number; result: RateLimitResult } | undefined> {
  for (const [index, check] of checks.entries()) {
    const result = await limiter.hit(check.key, check.limit, check.windowMs);
    if (!result.allowed) return { index, result };
  }
  return undefined;
}

/**
 * One taken slot of {@link LimitCounters.acquireSlot}. Releasing twice is harmless.
 *
 * @example
 * ```ts
 * const lease = await counters.acquireSlot('streams:wgt_1:vis_1', 3);
 * if (lease) try { await stream(); } finally { await lease.release(); }
 * ```
 */
export interface SlotLease {
  release(): Promise<void>;
}

/**
 * Result of {@link LimitCounters.claimOnce}: either this caller holds the
 * key now (and must settle it with `claim`), or someone else's request with
 * the same key is `running` or was `answered`.
 *
 * @example
 * ```ts
 * const result = await counters.claimOnce('idem:wgt_1:vis_1:turn-1', 600_000);
 * if (!result.claimed) console.log(result.state); // 'running' | 'answered'
 * ```
 */
export type OnceClaim = { claimed: true; claim: string } | { claimed: false; state: 'running' | 'answered' };

/**
 * Every count the limits keep: request rates (sliding windows), concurrent
 * slots, budgets that live as long as a token, and once-only keys
 * (`Idempotency-Key`). The in-process implementation ({@link MemoryLimitCounters})
 * counts per instance; the Redis one (`cluster/`) counts across instances,
 * each operation atomic.
 *
 * @example
 * ```ts
 * const counters: LimitCounters = new MemoryLimitCounters();
 * await counters.hit('proxy:widget:wgt_1', 600, 60_000);
 * ```
 */
export interface LimitCounters extends RateLimiter {
  /** {@link hitEachInOrder}, in one round trip where the counters are remote. */
  hitInOrder(checks: readonly RateCheck[]): Promise<{ index: number; result: RateLimitResult } | undefined>;
  /** Takes one of `limit` slots under `key`, or answers `undefined` when all are taken. */
  acquireSlot(key: string, limit: number): Promise<SlotLease | undefined>;
  /**
   * Adds `amount` to the budget `key`, which is forgotten after `expiresAt`
   * (epoch ms). With `limit`, an addition that would pass it is refused and
   * not counted. Answers whether it was counted and the total after it.
   */
  addToBudget(key: string, amount: number, options: { expiresAt: number; limit?: number }): Promise<{ accepted: boolean; total: number }>;
  /** The budget's total so far (0 when unknown or expired). */
  readBudget(key: string): Promise<number>;
  /** Claims a once-only key; a claim not settled within `runningMs` lapses (a crashed instance). */
  claimOnce(key: string, runningMs: number): Promise<OnceClaim>;
  /** Settles a claim: `answered` keeps the key for `rememberMs`, otherwise the key is forgotten at once. */
  settleOnce(key: string, claim: string, answered: boolean, rememberMs: number): Promise<void>;
}

/**
 * Options of {@link MemoryLimitCounters}.
 *
 * @example
 * ```ts
 * const counters = new MemoryLimitCounters({ now: () => clock.now, maxOnceKeys: 10_000 });
 * ```
 */
export interface MemoryLimitCountersOptions {
  /** Counts request rates. Default: a {@link MemoryRateLimiter} on the same clock. */
  rateLimiter?: RateLimiter;
  /** Clock in epoch ms, for tests. Default: `Date.now`. */
  now?: () => number;
  /** Once-only keys remembered at most; the oldest are forgotten first. Default: `50_000`. */
  maxOnceKeys?: number;
}

/**
 * In-process {@link LimitCounters}: every count lives in this process, so
 * with several instances each one counts on its own. Memory stays bounded:
 * idle windows, expired budgets and the oldest once-only keys are dropped.
 *
 * @example
 * ```ts
 * const counters = new MemoryLimitCounters();
 * const lease = await counters.acquireSlot('streams:wgt_1:vis_1', 3);
 * ```
 */
export class MemoryLimitCounters implements LimitCounters {
  readonly #rateLimiter: RateLimiter;
  readonly #now: () => number;
  readonly #maxOnceKeys: number;
  readonly #slots = new Map<string, number>();
  readonly #budgets = new Map<string, { total: number; expiresAt: number }>();
  readonly #once = new Map<string, { claim: string; until: number }>();
  #lastBudgetPrune = 0;
  #claims = 0;

  constructor(options: MemoryLimitCountersOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#rateLimiter = options.rateLimiter ?? new MemoryRateLimiter({ now: this.#now });
    this.#maxOnceKeys = options.maxOnceKeys ?? 50_000;
  }

  hit(key: string, limit: number, windowMs: number) {
    return this.#rateLimiter.hit(key, limit, windowMs);
  }

  hitInOrder(checks: readonly RateCheck[]) {
    return hitEachInOrder(this.#rateLimiter, checks);
  }

  async acquireSlot(key: string, limit: number): Promise<SlotLease | undefined> {
    const open = this.#slots.get(key) ?? 0;
    if (open >= limit) return undefined;
    this.#slots.set(key, open + 1);
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        const left = (this.#slots.get(key) ?? 1) - 1;
        if (left <= 0) this.#slots.delete(key);
        else this.#slots.set(key, left);
      },
    };
  }

  async addToBudget(key: string, amount: number, options: { expiresAt: number; limit?: number }) {
    const now = this.#now();
    if (now - this.#lastBudgetPrune > 60_000) {
      this.#lastBudgetPrune = now;
      for (const [name, entry] of this.#budgets) if (entry.expiresAt < now) this.#budgets.delete(name);
    }
    const entry = this.#live(key, now) ?? { total: 0, expiresAt: options.expiresAt };
    if (options.limit !== undefined && entry.total + amount > options.limit) return { accepted: false, total: entry.total };
    entry.total += amount;
    entry.expiresAt = options.expiresAt;
    this.#budgets.set(key, entry);
    return { accepted: true, total: entry.total };
  }

  async readBudget(key: string): Promise<number> {
    return this.#live(key, this.#now())?.total ?? 0;
  }

  async claimOnce(key: string, _runningMs: number): Promise<OnceClaim> {
    // A running claim is kept until settled: a crashed process forgets it anyway.
    const existing = this.#once.get(key);
    const now = this.#now();
    if (existing && (existing.claim !== 'answered' || now < existing.until)) {
      return { claimed: false, state: existing.claim === 'answered' ? 'answered' : 'running' };
    }
    this.#once.delete(key);
    if (this.#once.size >= this.#maxOnceKeys) this.#once.delete(this.#once.keys().next().value!);
    const claim = `claim-${++this.#claims}`;
    this.#once.set(key, { claim, until: Number.POSITIVE_INFINITY });
    return { claimed: true, claim };
  }

  async settleOnce(key: string, claim: string, answered: boolean, rememberMs: number): Promise<void> {
    if (this.#once.get(key)?.claim !== claim) return;
    if (answered) this.#once.set(key, { claim: 'answered', until: this.#now() + rememberMs });
    else this.#once.delete(key);
  }

  #live(key: string, now: number) {
    const entry = this.#budgets.get(key);
    return entry && entry.expiresAt >= now ? entry : undefined;
  }
}
