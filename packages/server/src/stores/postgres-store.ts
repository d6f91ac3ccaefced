import type pg from 'pg';
import { loadOptionalDependency } from '../optional-dependency.js';
import type { Migration } from './migrations.js';
import { postgresMigrations } from './postgres-migrations.js';
import { PostgresRunner, postgresDialect } from './postgres-sql.js';
import { statement } from './sql.js';
import { SqlStore } from './sql-store.js';
import type { Store } from './store.js';

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database`. */
  connectionString: string;
  /** Most connections the pool opens. Default: `10`. */
  maxConnections?: number;
  /** How long to wait for a new connection before failing the request. Default: `5000` (ms). */
  connectTimeoutMs?: number;
  /** Migrations to apply. Default: {@link postgresMigrations}. */
  migrations?: Migration[];
  /** Clock, for tests. Default: `() => new Date()`. */
  now?: () => Date;
}

// Arbitrary constant naming Airlock's migration lock among advisory locks.
const migrationLockId = 0x41_69_72_6c; // 'Airl'

const ignoreError = (): void => {};

/**
 * The store for several server instances: PostgreSQL through a `pg` pool.
 * Migrations run under a transaction-scoped advisory lock, so instances that
 * start together apply each migration exactly once.
 *
 * @example
 * ```ts
 * const store = new PostgresStore({ connectionString: process.env.AIRLOCK_DATABASE_URL! });
 * await store.migrate();
 * ```
 */
export class PostgresStore extends SqlStore implements Store {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #runner: PostgresRunner;
  readonly #migrations: Migration[];

  constructor(options: PostgresStoreOptions) {
    // pg is an optional peer dependency, loaded only by a deployment on PostgreSQL.
    const { Pool } = loadOptionalDependency<typeof pg>('pg');
    const pool = new Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      // Without a limit, a request waits forever for a database that does not answer.
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    });
    // A connection the server ends (a restart, a failover) emits 'error': on
    // the pool while idle, and on the client itself while checked out or after
    // the pool dropped it, where the pool listens no more. Unheard, either is
    // an uncaught error that ends the process. The statement that meets the
    // broken connection fails on its own; the next one reconnects.
    pool.on('error', ignoreError);
    pool.on('connect', (client) => client.on('error', ignoreError));
    const runner = new PostgresRunner(pool);
    super(runner, postgresDialect, options.now);
    this.#pool = pool;
    this.#runner = runner;
    this.#migrations = options.migrations ?? postgresMigrations;
  }

  /**
   * The pool, for the stores of other areas that share it
   * (`PostgresKnowledgeStore`). It stays this store's: {@link close} ends it.
   *
   * @example
   * ```ts
   * const knowledge = new PostgresKnowledgeStore(store.pool);
   * ```
   */
  get pool(): pg.Pool {
    return this.#pool;
  }

  async migrate(): Promise<void> {
    const migrations = [...this.#migrations].sort((a, b) => a.version - b.version);
    const at = this.at();
    await this.#runner.transaction(
      (function* () {
        // Taken before even creating the bookkeeping table: a second instance
        // waits here, then finds every migration applied.
        yield* statement('SELECT pg_advisory_xact_lock(@lock)', { lock: migrationLockId });
        yield* statement('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)');
        const applied = new Set((yield* statement('SELECT version FROM schema_migrations')).map((row) => Number(row.version)));
        for (const migration of migrations) {
          if (applied.has(migration.version)) continue;
          yield* statement(migration.sql);
          yield* statement('INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, @at)', { ...migration, at });
        }
      })(),
      'write',
    );
  }

  async ping(): Promise<void> {
    await this.#runner.run(statement('SELECT 1'));
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
