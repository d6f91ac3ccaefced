import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { newId } from '../ids.js';
import type { SigningKeyRecord, Store } from '../stores/store.js';
import type { Vault } from '../vault/vault.js';

const binding = (kid: string) => ({ accountId: 'system', recordId: kid, purpose: 'token-signing-key' });

/**
 * The Ed25519 keys that sign widget tokens. The newest signs; all verify.
 * Private halves are stored sealed by the vault and opened once at start.
 *
 * @example
 * ```ts
 * const keys = await SigningKeys.load(store, vault);
 * keys.jwks(); // { keys: [{ kty: 'OKP', crv: 'Ed25519', kid: '…', … }] }
 * ```
 */
export class SigningKeys {
  readonly #verifying: Map<string, CryptoKey>;
  readonly #publicJwks: JWK[];
  readonly current: { kid: string; privateKey: CryptoKey };

  private constructor(current: SigningKeys['current'], verifying: Map<string, CryptoKey>, publicJwks: JWK[]) {
    this.current = current;
    this.#verifying = verifying;
    this.#publicJwks = publicJwks;
  }

  /** Loads the stored keys, creating the first one when there is none. */
  static async load(store: Store, vault: Vault, now: () => Date = () => new Date()): Promise<SigningKeys> {
    let records = await store.listSigningKeys();
    if (records.length === 0) {
      await store.addSigningKey(await createSigningKey(vault, now));
      records = await store.listSigningKeys();
    }
    const newest = records[records.length - 1]!;
    const verifying = new Map<string, CryptoKey>();
    const publicJwks: JWK[] = [];
    for (const record of records) {
      const jwk = { ...record.publicJwk, kid: record.kid, alg: 'EdDSA', use: 'sig' } as JWK;
      verifying.set(record.kid, (await importJWK(jwk, 'EdDSA')) as CryptoKey);
      publicJwks.push(jwk);
    }
    const privateJwk = JSON.parse((await vault.open(newest.sealedPrivateKey, binding(newest.kid))).toString('utf8')) as JWK;
    const privateKey = (await importJWK(privateJwk, 'EdDSA')) as CryptoKey;
    return new SigningKeys({ kid: newest.kid, privateKey }, verifying, publicJwks);
  }

  /** The public key for `kid`, or undefined when it is unknown. */
  verificationKey(kid: string | undefined): CryptoKey | undefined {
    return kid === undefined ? undefined : this.#verifying.get(kid);
  }

  /** The JSON Web Key Set served at `/.well-known/jwks.json`. */
  jwks(): { keys: JWK[] } {
    return { keys: this.#publicJwks };
  }
}

/** Generates an Ed25519 key pair and seals its private half. */
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
