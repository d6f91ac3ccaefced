import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { newId } from '../ids.js';
import type { SigningKeyRecord, Store } from '../stores/store.js';
import type { Vault } from '../vault/vault.js';

const binding = (kid: string) => ({ accountId: 'system', recordId: kid, purpose: 'token-signing-key' });

/** Default interval at which a running server re-reads the signing keys: 60 s. */
export const defaultKeyRefreshSeconds = 60;
// A token with an unknown kid makes the server re-read the keys (another
// instance may have rotated), but at most this often, so forged kids cannot
// turn into a flood of database reads.
const unknownKidReloadMs = 5_000;
// After a failed periodic re-read, keep serving the keys in memory and try again after this.
const failedReloadRetryMs = 5_000;

/**
 * Options of {@link SigningKeys.load}.
 *
 * @example
 * ```ts
 * const keys = await SigningKeys.load(store, vault, { retentionSeconds: 86_400 + 120 });
 * ```
 */
export interface SigningKeysOptions {
  /** Clock, for tests. Default: `() => new Date()`. */
  now?: () => Date;
  /**
   * How long a key still verifies after a newer key replaced it. It must
   * cover the longest token lifetime, plus the refresh interval (an instance
   * that has not yet re-read the keys still signs with the old one), plus
   * clock skew. Default: 24 h + `refreshSeconds` + 60 s.
   */
  retentionSeconds?: number;
  /** How often the keys are re-read from the store, so a rotation reaches every instance. Default: 60. */
  refreshSeconds?: number;
  /**
   * Called after each rotation, so other instances can be told at once
   * (with Redis, `createAirlock` publishes on a channel every instance
   * listens to). A failure here does not undo the rotation. Default: none.
   */
  onRotated?: () => void | Promise<void>;
}

interface LoadedKey {
  kid: string;
  key: CryptoKey;
  jwk: JWK;
  /** When a newer key took over signing (ms since the epoch); undefined for the newest. */
  replacedAt?: number;
}

interface KeyState {
  signing: { kid: string; privateKey: CryptoKey };
  keys: Map<string, LoadedKey>;
  loadedAt: number;
}

/**
 * The Ed25519 keys that sign widget tokens. The newest signs; older ones
 * verify until `retentionSeconds` after they were replaced, then are refused
 * (and removed at the next rotation). Private halves are stored sealed by the
 * vault; only the newest is opened.
 *
 * Several instances share one store: each re-reads the keys every
 * `refreshSeconds`, and at once (at most every 5 s) when a token names a kid
 * it does not know, so a rotation made anywhere is honoured everywhere. With
 * Redis, a rotation is also announced and every instance calls
 * {@link SigningKeys.reload} at once, so a retired key stops everywhere within a second.
 *
 * @example
 * ```ts
 * const keys = await SigningKeys.load(store, vault);
 * await keys.jwks(); // { keys: [{ kty: 'OKP', crv: 'Ed25519', kid: '…', … }] }
 * ```
 */
export class SigningKeys {
  readonly #store: Store;
  readonly #vault: Vault;
  readonly #now: () => Date;
  readonly #retentionMs: number;
  readonly #refreshMs: number;
  readonly #onRotated: SigningKeysOptions['onRotated'];
  #state: KeyState;
  #reloading: Promise<void> | undefined;
  #lastUnknownKidReload = Number.NEGATIVE_INFINITY;
  #nextRefreshAt: number;

  private constructor(store: Store, vault: Vault, options: SigningKeysOptions, state: KeyState) {
    this.#store = store;
    this.#vault = vault;
    this.#now = options.now ?? (() => new Date());
    this.#refreshMs = (options.refreshSeconds ?? defaultKeyRefreshSeconds) * 1000;
    this.#retentionMs = (options.retentionSeconds ?? 86_400 + this.#refreshMs / 1000 + 60) * 1000;
    this.#state = state;
    this.#onRotated = options.onRotated;
    this.#nextRefreshAt = state.loadedAt + this.#refreshMs;
  }

  /** Loads the stored keys, creating the first one when there is none. */
  static async load(store: Store, vault: Vault, options: SigningKeysOptions = {}): Promise<SigningKeys> {
    const now = options.now ?? (() => new Date());
    let records = await store.listSigningKeys();
    if (records.length === 0) {
      await store.addSigningKey(await createSigningKey(vault, now));
      records = await store.listSigningKeys();
    }
    return new SigningKeys(store, vault, options, await readState(records, vault, undefined, now().getTime()));
  }

  /** The key that signs new tokens (the newest stored), re-reading the store when the refresh interval has passed. */
  async signingKey(): Promise<{ kid: string; privateKey: CryptoKey }> {
    await this.#refreshIfDue();
    return this.#state.signing;
  }

  /** The public key for `kid`, or undefined when it is unknown or retired. */
  async verificationKey(kid: string | undefined): Promise<CryptoKey | undefined> {
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > 100) return undefined;
    await this.#refreshIfDue();
    const now = this.#now().getTime();
    if (!this.#state.keys.has(kid) && now - this.#lastUnknownKidReload >= unknownKidReloadMs) {
      this.#lastUnknownKidReload = now;
      await this.#reload().catch(() => {});
    }
    const found = this.#state.keys.get(kid);
    return found && this.#accepted(found, now) ? found.key : undefined;
  }

  /** The JSON Web Key Set served at `/.well-known/jwks.json`: every key that still verifies. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.#refreshIfDue();
    const now = this.#now().getTime();
    return { keys: [...this.#state.keys.values()].filter((key) => this.#accepted(key, now)).map((key) => key.jwk) };
  }

  /**
   * Adds a new key, which signs from now on (on other instances within
   * `refreshSeconds`); older keys keep verifying for `retentionSeconds`.
   * Removes keys whose retention has ended. With `retirePrevious` (a key
   * may have leaked), every older key is removed at once: tokens it signed
   * stop here now and on other instances at their next refresh.
   */
  async rotate(options: { retirePrevious?: boolean } = {}): Promise<{ kid: string; retiring: { kid: string; acceptedUntil: string }[] }> {
    const now = this.#now().getTime();
    const existing = await this.#store.listSigningKeys();
    // Keys are ordered by creation time: the new one must sort last even
    // when the clock has not moved since the previous rotation.
    const newest = existing.length > 0 ? Date.parse(existing[existing.length - 1]!.createdAt) : Number.NEGATIVE_INFINITY;
    await this.#store.addSigningKey(await createSigningKey(this.#vault, () => new Date(Math.max(now, newest + 1))));
    const records = await this.#store.listSigningKeys();
    for (const [index, stored] of records.entries()) {
      const next = records[index + 1];
      if (next && (options.retirePrevious || Date.parse(next.createdAt) + this.#retentionMs <= now)) {
        await this.#store.deleteSigningKey(stored.kid);
      }
    }
    await this.#reload();
    await this.#onRotated?.();
    const retiring = [...this.#state.keys.values()]
      .filter((key) => key.replacedAt !== undefined && this.#accepted(key, now))
      .map((key) => ({ kid: key.kid, acceptedUntil: new Date(key.replacedAt! + this.#retentionMs).toISOString() }));
    return { kid: this.#state.signing.kid, retiring };
  }

  /**
   * Re-reads the keys from the store now (another instance rotated them).
   * A read already under way may predate the change, so this one starts after it.
   *
   * @example
   * ```ts
   * await keys.reload();
   * ```
   */
  async reload(): Promise<void> {
    await this.#reloading?.catch(() => {});
    return this.#reload();
  }

  #accepted(key: LoadedKey, now: number): boolean {
    return key.replacedAt === undefined || now < key.replacedAt + this.#retentionMs;
  }

  async #refreshIfDue(): Promise<void> {
    const now = this.#now().getTime();
    if (now < this.#nextRefreshAt) return;
    try {
      await this.#reload();
    } catch {
      // The store is briefly away: keep verifying with the keys in memory.
      this.#nextRefreshAt = now + failedReloadRetryMs;
    }
  }

  #reload(): Promise<void> {
    this.#reloading ??= (async () => {
      try {
        const records = await this.#store.listSigningKeys();
        if (records.length === 0) return;
        this.#state = await readState(records, this.#vault, this.#state, this.#now().getTime());
        this.#nextRefreshAt = this.#state.loadedAt + this.#refreshMs;
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }
}

async function readState(records: SigningKeyRecord[], vault: Vault, previous: KeyState | undefined, now: number): Promise<KeyState> {
  const keys = new Map<string, LoadedKey>();
  for (const [index, record] of records.entries()) {
    const jwk = { ...record.publicJwk, kid: record.kid, alg: 'EdDSA', use: 'sig' } as JWK;
    const known = previous?.keys.get(record.kid);
    const next = records[index + 1];
    keys.set(record.kid, {
      kid: record.kid,
      jwk,
      key: known?.key ?? ((await importJWK(jwk, 'EdDSA')) as CryptoKey),
      ...(next && { replacedAt: Date.parse(next.createdAt) }),
    });
  }
  const newest = records[records.length - 1]!;
  let signing = previous?.signing;
  if (signing?.kid !== newest.kid) {
    const privateJwk = JSON.parse((await vault.open(newest.sealedPrivateKey, binding(newest.kid))).toString('utf8')) as JWK;
    signing = { kid: newest.kid, privateKey: (await importJWK(privateJwk, 'EdDSA')) as CryptoKey };
  }
  return { signing, keys, loadedAt: now };
}

/**
 * Generates an Ed25519 key pair and seals its private half.
 *
 * @example
 * ```ts
 * await store.addSigningKey(await createSigningKey(vault));
 * ```
 */
export async function createSigningKey(vault: Vault, now: () => Date = () => new Date()): Promise<SigningKeyRecord> {
  const kid = newId('sig');
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const privateJwk = await exportJWK(privateKey);
  const { kty, crv, x } = await exportJWK(publicKey);
  return {
    kid,
    publicJwk: { kty, crv, x },
    sealedPrivateKey: await vault.seal(Buffer.from(JSON.stringify(privateJwk), 'utf8'), binding(kid)),
    createdAt: now().toISOString(),
  };
}
