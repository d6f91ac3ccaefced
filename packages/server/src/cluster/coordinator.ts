import { randomUUID } from 'node:crypto';
import type { Redis, ReplyError as RedisReplyError } from 'ioredis';
import { loadOptionalDependency } from '../optional-dependency.js';
import { AirlockError } from '../errors.js';
import type { LimitCounters, OnceClaim, SlotLease } from '../limits/counters.js';
import type { RateLimiter, RateLimitResult } from '../limits/rate-limiter.js';
import type { Logger } from '../logging/logger.js';
import { connectRedis, connectSubscriber, signingKeysChannel, type ResolvedRedisOptions } from './redis.js';
import { RedisLimitCounters } from './redis-counters.js';

/**
 * Options of {@link ClusterCoordinator}.
 */
export interface ClusterCoordinatorOptions {
  redis: ResolvedRedisOptions;
  logger: Logger;
  /** Counts used while Redis is away when `redis.failOpen` is set (in-process). */
  fallback: LimitCounters;
  /** Counts request rates instead of Redis (the `rateLimiter` option of `createAirlock`). Default: Redis. */
  rateLimiter?: RateLimiter;
  /** Clock in epoch ms. Default: `Date.now`. */
  now?: () => number;
}

// Replies that mean "this Redis cannot serve right now", not "the script is wrong".
const unavailableReplies = /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|NOREPLICAS|OOM)\b/;

function isUnavailable(error: unknown): boolean {
  // Only reached with a Redis configured, so ioredis is installed.
  const { ReplyError } = loadOptionalDependency<{ ReplyError: typeof RedisReplyError }>('ioredis');
  if (error instanceof ReplyError) return unavailableReplies.test((error as Error).message);
  return true;
}

/**
 * Everything several instances coordinate through Redis: the shared limit
 * counters (with the failure policy: closed by default, in-process counts
 * with `failOpen`), the signing-key channel and a health check. One warn
 * line is logged when Redis goes away and one info line when it is back.
 *
 * @example
 * ```ts
 * const cluster = new ClusterCoordinator({ redis: resolveRedisOptions()!, logger, fallback: new MemoryLimitCounters() });
 * await cluster.ping(); // throws while Redis cannot be reached
 * ```
 */
export class ClusterCoordinator {
  /** The limit counters every proxy and minting check uses. */
  readonly counters: LimitCounters;
  readonly #options: ResolvedRedisOptions;
  readonly #logger: Logger;
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #instance = randomUUID();
  readonly #listeners = new Set<() => void | Promise<void>>();
  #state: 'connecting' | 'up' | 'down' = 'connecting';
  #closing = false;
  #subscriberReadyOnce = false;
  #probing = false;

  constructor(options: ClusterCoordinatorOptions) {
    this.#options = options.redis;
    this.#logger = options.logger;
    this.#redis = connectRedis(options.redis);
    this.#redis.on('ready', () => this.#markUp());
    this.#redis.on('error', (error: Error) => this.#markDown(error));
    this.#redis.on('close', () => this.#markDown());
    const shared = new RedisLimitCounters(this.#redis, { keyPrefix: options.redis.keyPrefix, now: options.now, rateLimiter: options.rateLimiter });
    this.counters = this.#guarded(shared, options.fallback);

    this.#subscriber = connectSubscriber(options.redis);
    // Its failures are the same outage as the main connection's, already logged there.
    this.#subscriber.on('error', () => {});
    this.#subscriber.on('ready', () => {
      // Changes announced while it was disconnected were missed: re-read once.
      if (this.#subscriberReadyOnce) this.#notify();
      this.#subscriberReadyOnce = true;
    });
    this.#subscriber.on('message', (channel: string, message: string) => {
      if (channel !== signingKeysChannel(this.#options.keyPrefix)) return;
      if (parseSender(message) !== this.#instance) this.#notify();
    });
    this.#subscriber.subscribe(signingKeysChannel(options.redis.keyPrefix)).catch(() => {});
  }

  /**
   * Resolves when Redis answers a `PING`; rejects with `limits_unavailable` otherwise. For readiness checks.
   *
   * @example
   * ```ts
   * const ready = await cluster.ping().then(() => true, () => false);
   * ```
   */
  async ping(): Promise<void> {
    await this.#run(
      () => this.#redis.ping(),
      () => Promise.reject(unavailable()),
    );
  }

  /** Resolves once the first connection attempt is over (connected or not), at most after `connectTimeoutMs`. */
  async connected(): Promise<boolean> {
    if (this.#redis.status === 'ready') return true;
    return new Promise((resolve) => {
      const done = (value: boolean) => {
        clearTimeout(timer);
        this.#redis.off('ready', onReady);
        this.#redis.off('error', onError);
        resolve(value);
      };
      const onReady = () => done(true);
      const onError = () => done(false);
      const timer = setTimeout(() => done(false), this.#options.connectTimeoutMs);
      this.#redis.once('ready', onReady);
      this.#redis.once('error', onError);
    });
  }

  /** Calls `listener` whenever another instance (or the CLI) announces a signing-key change. */
  onSigningKeysChanged(listener: () => void | Promise<void>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tells every other instance that the signing keys changed. Never throws: they re-read on their own within the refresh interval anyway. */
  async publishSigningKeysChanged(): Promise<void> {
    try {
      await this.#redis.publish(signingKeysChannel(this.#options.keyPrefix), JSON.stringify({ from: this.#instance, at: Date.now() }));
    } catch (error) {
      this.#logger.warn('could not announce the signing-key change; other instances pick it up at their next refresh', { error });
    }
  }

  /** Closes both connections. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(
      [this.#redis, this.#subscriber].map(async (connection) => {
        // A QUIT sent while disconnected would wait in the subscriber's queue for a Redis that may never return.
        if (connection.status !== 'ready') return connection.disconnect();
        await connection.quit().catch(() => connection.disconnect());
      }),
    );
  }

  #notify(): void {
    for (const listener of this.#listeners) {
      Promise.resolve()
        .then(listener)
        .catch((error: unknown) => this.#logger.warn('re-reading the signing keys failed', { error }));
    }
  }

  #markDown(error?: Error): void {
    if (this.#closing || this.#state === 'down') return;
    this.#state = 'down';
    this.#logger.warn(
      this.#options.failOpen
        ? 'Redis is unreachable: limits are counted per instance until it is back'
        : 'Redis is unreachable: limited requests are refused (503 limits_unavailable) until it is back',
      error ? { error: error.message } : {},
    );
  }

  #markUp(): void {
    if (this.#closing) return;
    if (this.#state === 'down') this.#logger.info('Redis is reachable again: limits are shared across instances');
    this.#state = 'up';
  }

  async #run<T>(operation: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    // Disconnected: answer at once rather than wait for a timeout.
    if (this.#redis.status !== 'ready') {
      this.#markDown();
      return fallback();
    }
    // Connected but not answering (timeouts): one request at a time probes
    // it, the others are answered at once instead of each waiting out the timeout.
    const probe = this.#state === 'down';
    if (probe && this.#probing) return fallback();
    if (probe) this.#probing = true;
    try {
      const result = await operation();
      if (this.#state === 'down') this.#markUp();
      return result;
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      this.#markDown(error as Error);
      return fallback();
    } finally {
      if (probe) this.#probing = false;
    }
  }

  #guarded(shared: LimitCounters, local: LimitCounters): LimitCounters {
    const failOpen = this.#options.failOpen;
    const run = <T>(operation: (counters: LimitCounters) => Promise<T>) =>
      this.#run(
        () => operation(shared),
        () => (failOpen ? operation(local) : Promise.reject(unavailable())),
      );
    return {
      hit: (key, limit, windowMs): Promise<RateLimitResult> => run((counters) => counters.hit(key, limit, windowMs)),
      hitInOrder: (checks) => run((counters) => counters.hitInOrder(checks)),
      acquireSlot: (key, limit): Promise<SlotLease | undefined> => run((counters) => counters.acquireSlot(key, limit)),
      addToBudget: (key, amount, options) => run((counters) => counters.addToBudget(key, amount, options)),
      readBudget: (key) => run((counters) => counters.readBudget(key)),
      claimOnce: (key, runningMs): Promise<OnceClaim> => run((counters) => counters.claimOnce(key, runningMs)),
      // A claim made while Redis was away lives in the local counters; settling it in both is harmless (claims are unique).
      settleOnce: async (key, claim, answered, rememberMs) => {
        await Promise.allSettled([shared.settleOnce(key, claim, answered, rememberMs), local.settleOnce(key, claim, answered, rememberMs)]);
      },
    };
  }
}

function unavailable(): AirlockError {
  return new AirlockError('limits_unavailable', 'Limits cannot be checked right now; try again in a moment.', {
    headers: { 'retry-after': '1' },
  });
}

function parseSender(message: string): string | undefined {
  try {
    return (JSON.parse(message) as { from?: string }).from;
  } catch {
    return undefined;
  }
}
