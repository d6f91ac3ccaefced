import type { SealedSecret } from '../vault/vault.js';

/**
 * Owner id of the operator's shared key among the stored OpenAI keys. Never
 * an account id: account ids are letters, digits, `_` and `-` only.
 *
 * @example
 * ```ts
 * const shared = await store.getOpenAiKey(SHARED_KEY_OWNER);
 * ```
 */
export const SHARED_KEY_OWNER = '@shared';

/**
 * Status of a stored OpenAI key: `invalid` once the upstream refused it (401),
 * `revoked` once replaced or revoked (its ciphertext is then destroyed).
 */
export type OpenAiKeyStatus = 'active' | 'invalid' | 'revoked';

/**
 * A stored OpenAI key. The key itself exists only inside `sealed`.
 *
 * @example
 * ```ts
 * const key = await store.getOpenAiKey('acme'); // { fingerprint: 'sk-…abcd', status: 'active', … }
 * ```
 */
export interface OpenAiKeyRecord {
  id: string;
  /** The account id, or {@link SHARED_KEY_OWNER}. */
  ownerId: string;
  /** `sk-…abcd`: enough to recognise a key, never enough to use it. */
  fingerprint: string;
  status: OpenAiKeyStatus;
  /** The sealed key; absent once revoked (the ciphertext is destroyed, not flagged). */
  sealed?: SealedSecret;
  savedAt: string;
  lastUsedAt?: string;
  /** Airlock error code of the last upstream failure with this key. */
  lastErrorCode?: string;
  revokedAt?: string;
}

/**
 * A sealed secret as found by master-key rotation: what it is, its binding
 * owner and its current sealed value.
 *
 * @example
 * ```ts
 * for (const record of await store.listSealedRecords()) console.log(record.kind, record.sealed.kekVersion);
 * ```
 */
export interface SealedRecord {
  kind: 'openai-key' | 'signing-key' | 'conversation-summary';
  /** The record's id; for a conversation summary, `<widget id>/<summary key>`. */
  id: string;
  /** Account id (or {@link SHARED_KEY_OWNER}) of an OpenAI key; `'system'` for signing keys; the widget's account for a summary. */
  ownerId: string;
  sealed: SealedSecret;
}

/**
 * The stored OpenAI keys (one current key per owner), and every sealed
 * secret held, for master-key rotation.
 *
 * @example
 * ```ts
 * const key = await store.getOpenAiKey(SHARED_KEY_OWNER);
 * ```
 */
export interface OpenAiKeyStore {
  /**
   * Saves an owner's OpenAI key as its one active key, in one transaction:
   * the previous key (if any) is revoked and its ciphertext destroyed.
   * Concurrent saves for one owner leave exactly one active key.
   */
  putOpenAiKey(input: { id: string; ownerId: string; fingerprint: string; sealed: SealedSecret }): Promise<OpenAiKeyRecord>;
  /** The owner's current key (active or invalid), else its most recently revoked one. */
  getOpenAiKey(ownerId: string): Promise<OpenAiKeyRecord | undefined>;
  /**
   * Revokes the owner's current key and destroys its ciphertext. With
   * `pinWidgets`, widgets of that account without a `keySource` are set to
   * `'own'` in the same transaction, so they fail instead of moving to the
   * shared key. Resolves to the revoked record, or `undefined` when there was none.
   */
  revokeOpenAiKey(ownerId: string, options?: { pinWidgets?: boolean }): Promise<OpenAiKeyRecord | undefined>;
  /** Notes that a key was used now. */
  recordOpenAiKeyUse(id: string): Promise<void>;
  /** Notes an upstream failure with a key; `invalidate` turns an active key `invalid`. */
  recordOpenAiKeyError(id: string, code: string, options?: { invalidate?: boolean }): Promise<void>;
  /** Every sealed secret held (OpenAI keys not revoked, signing keys), for master-key rotation. */
  listSealedRecords(): Promise<SealedRecord[]>;
  /**
   * Compare-and-set: replaces a record's sealed value only if it still equals
   * `record.sealed`. Resolves `false` when it changed (or is gone) meanwhile.
   */
  replaceSealed(record: SealedRecord, next: SealedSecret): Promise<boolean>;
}
