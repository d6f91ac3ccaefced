/**
 * `@airlock/test-services`: throwaway PostgreSQL and Redis servers for
 * tests and benchmarks, each on a free loopback port in a temp dir, deleted
 * when stopped. They run the system's own binaries (Debian packages
 * `postgresql` and `redis-server`; the test command installs them).
 *
 * @example
 * ```ts
 * import { startPostgres, startRedis } from '@airlock/test-services';
 * const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
 * ```
 *
 * @packageDocumentation
 */
export { startPostgres, type PostgresServer } from './services/postgres.js';
export { startRedis, type RedisServer } from './services/redis.js';
export { freePort } from './services/free-port.js';
