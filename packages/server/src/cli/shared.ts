import { SqliteStore } from '../stores/sqlite-store.js';
import type { Store } from '../stores/store.js';

/** A mistake in how the command was called; printed without a stack. */
export class UsageError extends Error {}

/** The store named by `AIRLOCK_DATABASE_URL` (default `sqlite:.airlock/airlock.db`). */
export function openStoreFromEnvironment(): Store {
  const url = process.env.AIRLOCK_DATABASE_URL ?? 'sqlite:.airlock/airlock.db';
  if (!url.startsWith('sqlite:')) throw new UsageError(`unsupported AIRLOCK_DATABASE_URL scheme "${url.split(':')[0]}:".`);
  return new SqliteStore({ path: url.slice('sqlite:'.length) });
}
