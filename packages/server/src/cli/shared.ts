import { openStore } from '../stores/open-store.js';
import type { Store } from '../stores/store.js';
import { createKeyring } from '../vault/key-encryption.js';
import { loadOrCreateDevMasterKey } from '../vault/master-key-file.js';
import { Vault } from '../vault/vault.js';

/** A mistake in how the command was called; printed without a stack. */
export class UsageError extends Error {}

/** The store named by `AIRLOCK_DATABASE_URL` (default `sqlite:.airlock/airlock.db`). */
export function openStoreFromEnvironment(): Store {
  return openStore(process.env.AIRLOCK_DATABASE_URL ?? 'sqlite:.airlock/airlock.db');
}

/**
 * The vault over `AIRLOCK_MASTER_KEYS`; with `dev`, over the development key
 * file `.airlock/master.key` (created when missing, as `airlock serve --dev` does).
 */
export function openVaultFromEnvironment(options: { dev?: boolean } = {}): Vault {
  const keyring = process.env.AIRLOCK_MASTER_KEYS;
  if (keyring) return new Vault(createKeyring(keyring));
  if (!options.dev) {
    throw new UsageError('no master key: set AIRLOCK_MASTER_KEYS (for example "v1:<base64 of 32 random bytes>"), or pass --dev.');
  }
  const { keyring: devKeyring, created, path } = loadOrCreateDevMasterKey('.airlock');
  if (created) process.stderr.write(`airlock: created a development master key in ${path}; do not use it in production.\n`);
  return new Vault(createKeyring(devKeyring));
}
