import type { SealedSecret } from '../vault/vault.js';

/**
 * An Ed25519 signing key for widget tokens; the private half is sealed by
 * the vault.
 *
 * @example
 * ```ts
 * const keys = await store.listSigningKeys();
 * ```
 */
export interface SigningKeyRecord {
  kid: string;
  publicJwk: Record<string, unknown>;
  sealedPrivateKey: SealedSecret;
  createdAt: string;
}

/**
 * The Ed25519 keys that sign widget tokens.
 *
 * @example
 * ```ts
 * const keys = await store.listSigningKeys();
 * ```
 */
export interface SigningKeyStore {
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  addSigningKey(record: SigningKeyRecord): Promise<void>;
  /** Removes a signing key (one retired long enough ago that no token it signed can still be valid). */
  deleteSigningKey(kid: string): Promise<void>;
}
