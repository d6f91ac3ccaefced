import { AirlockError } from '../errors.js';
import { PostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

/**
 * Opens the store a database URL names: `sqlite:<path>` (or `sqlite::memory:`)
 * for SQLite, `postgres://…` or `postgresql://…` for PostgreSQL. The store is
 * not migrated yet: call `migrate()` (createAirlock does it on start).
 *
 * @example
 * ```ts
 * const store = openStore(process.env.AIRLOCK_DATABASE_URL ?? 'sqlite:.airlock/airlock.db');
 * await store.migrate();
 * ```
 */
export function openStore(databaseUrl: string): Store {
  if (databaseUrl.startsWith('sqlite:')) {
    const path = databaseUrl.slice('sqlite:'.length);
    if (path === '') throw new AirlockError('internal', 'The database URL "sqlite:" needs a path, such as sqlite:.airlock/airlock.db.');
    return new SqliteStore({ path });
  }
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) return new PostgresStore({ connectionString: databaseUrl });
  // Only the scheme is named: the rest of a URL may hold a password.
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(databaseUrl)?.[0] ?? 'none';
  throw new AirlockError('internal', `Unsupported database URL scheme "${scheme}"; use sqlite:<path> or postgres://user:password@host:5432/database.`);
}
