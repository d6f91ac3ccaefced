import type { Redis } from 'ioredis';
import { loadOptionalDependency } from '../optional-dependency.js';

/**
 * The `redis` option of `createAirlock`: where the counts that several
 * instances must share live (rate limits, stream slots, per-token budgets,
 * idempotency keys), and the channel that announces signing-key changes.
 *
 * @example
 * ```ts
 * createAirlock({ redis: { url: 'redis://127.0.0.1:6379', failOpen: false } });
 * ```
 */
export interface RedisOptions {
  /** Connection URL (`redis://`, `rediss://` for TLS). Default: `process.env.AIRLOCK_REDIS_URL`; without one, counts stay in-process. */
  url?: string;
  /**
   * While Redis cannot be reached, serve requests with this instance's own
   * counters (limits then hold per instance) instead of refusing them with
   * 503 `limits_unavailable`. Default: `process.env.AIRLOCK_REDIS_FAIL_OPEN === '1'`, else `false` (fail closed).
   */
  failOpen?: boolean;
  /** Prefix of every key and channel, so several deployments can share one Redis. Default: `'airlock:'`. */
  keyPrefix?: string;
  /** How long one Redis command may take before the request is answered as if Redis were away. Default: `500` (ms). */
  commandTimeoutMs?: number;
  /** How long connecting may take. Default: `1000` (ms). */
  connectTimeoutMs?: number;
}

/**
 * {@link RedisOptions} with the defaults applied and a URL present.
 *
 * @example
 * ```ts
 * const resolved: ResolvedRedisOptions | undefined = resolveRedisOptions({ url: 'redis://127.0.0.1:6379' });
 * ```
 */
export type ResolvedRedisOptions = Required<RedisOptions>;

/**
 * Applies the defaults (environment variables included); `undefined` when no URL is configured.
 *
 * @example
 * ```ts
 * const redis = resolveRedisOptions(options.redis); // undefined without AIRLOCK_REDIS_URL
 * ```
 */
export function resolveRedisOptions(
  options: RedisOptions = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): ResolvedRedisOptions | undefined {
  const url = options.url ?? env.AIRLOCK_REDIS_URL;
  if (url === undefined || url === '') return undefined;
  return {
    url,
    failOpen: options.failOpen ?? env.AIRLOCK_REDIS_FAIL_OPEN === '1',
    keyPrefix: options.keyPrefix ?? 'airlock:',
    commandTimeoutMs: options.commandTimeoutMs ?? 500,
    connectTimeoutMs: options.connectTimeoutMs ?? 1000,
  };
}

/** ioredis, an optional peer dependency, loaded only by a deployment that uses Redis. */
function redisClass(): typeof Redis {
  return loadOptionalDependency<{ Redis: typeof Redis }>('ioredis').Redis;
}

// Reconnect forever, backing off to once a second, so Redis coming back is noticed within a second.
const reconnectDelay = (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 5), 1000);

/**
 * Opens the connection limit checks run on. It fails fast: no queue while
 * disconnected, no retries, a command timeout, so a request never waits on
 * an absent Redis; it reconnects in the background forever.
 *
 * @example
 * ```ts
 * const redis = connectRedis(resolveRedisOptions({ url: 'redis://127.0.0.1:6379' })!);
 * ```
 */
export function connectRedis(options: ResolvedRedisOptions): Redis {
  return new (redisClass())(options.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: options.connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    retryStrategy: reconnectDelay,
    // Connect now, so the first request finds the connection ready.
    lazyConnect: false,
  });
}

/**
 * Opens a subscriber connection: unlike {@link connectRedis} it may queue
 * (nothing waits on it) and re-subscribes by itself after reconnecting.
 *
 * @example
 * ```ts
 * const subscriber = connectSubscriber(options);
 * await subscriber.subscribe('airlock:signing-keys');
 * ```
 */
export function connectSubscriber(options: ResolvedRedisOptions): Redis {
  return new (redisClass())(options.url, {
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    connectTimeout: options.connectTimeoutMs,
    retryStrategy: reconnectDelay,
    autoResubscribe: true,
  });
}

/**
 * The channel on which signing-key changes are announced.
 *
 * @example
 * ```ts
 * signingKeysChannel('airlock:'); // 'airlock:signing-keys'
 * ```
 */
export function signingKeysChannel(keyPrefix: string): string {
  return `${keyPrefix}signing-keys`;
}

/**
 * Announces a signing-key change from a process that is not a server (the
 * CLI): connects, publishes once, disconnects. Answers how many servers
 * heard it; throws when Redis cannot be reached.
 *
 * @example
 * ```ts
 * await announceSigningKeysChanged(resolveRedisOptions()!);
 * ```
 */
export async function announceSigningKeysChanged(options: ResolvedRedisOptions): Promise<number> {
  const redis = new (redisClass())(options.url, {
    connectTimeout: options.connectTimeoutMs,
    commandTimeout: Math.max(options.commandTimeoutMs, 2000),
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    lazyConnect: true,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await redis.publish(signingKeysChannel(options.keyPrefix), JSON.stringify({ from: 'cli', at: Date.now() }));
  } finally {
    redis.disconnect();
  }
}
