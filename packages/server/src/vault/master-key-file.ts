import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Reads the development master keyring from `<dataDir>/master.key`, creating
 * it (mode 0600) on first use. Development only: production passes
 * `AIRLOCK_MASTER_KEYS`. Returns the keyring spec and whether it was created.
 *
 * @example
 * ```ts
 * const { keyring, created } = loadOrCreateDevMasterKey('.airlock');
 * ```
 */
export function loadOrCreateDevMasterKey(dataDir: string): { keyring: string; created: boolean; path: string } {
  const path = join(dataDir, 'master.key');
  if (existsSync(path)) return { keyring: readFileSync(path, 'utf8').trim(), created: false, path };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const keyring = `dev1:${randomBytes(32).toString('base64')}`;
  writeFileSync(path, `${keyring}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { keyring, created: true, path };
}
