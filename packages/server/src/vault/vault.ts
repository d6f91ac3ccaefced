import { randomBytes } from 'node:crypto';
import { open, seal, type KeyEncryptionProvider } from './key-encryption.js';

/** Format version of sealed secrets; bound into the associated data. */
const formatVersion = 1;

/**
 * What a secret is bound to. A ciphertext only opens with the same binding,
 * so a sealed value copied to another row or account does not decrypt.
 */
export interface SecretBinding {
  accountId: string;
  recordId: string;
  purpose: string;
}

/**
 * A secret under envelope encryption, as stored: the data key wrapped by a
 * master key version, and the secret sealed by the data key. All binary
 * fields are base64.
 *
 * @example
 * ```ts
 * const stored = JSON.stringify(await vault.seal(secret, binding));
 * ```
 */
export interface SealedSecret {
  format: number;
  kekVersion: string;
  wrappedKey: string;
  ciphertext: string;
}

/**
 * Envelope encryption over a {@link KeyEncryptionProvider}: each secret gets
 * its own random 256-bit data key (AES-256-GCM, 96-bit nonce, 16-byte tag).
 *
 * @example
 * ```ts
 * const vault = new Vault(createKeyring(process.env.AIRLOCK_MASTER_KEYS!));
 * const sealed = await vault.seal(Buffer.from('sk-…'), binding);
 * const secret = await vault.open(sealed, binding);
 * ```
 */
export class Vault {
  constructor(readonly keys: KeyEncryptionProvider) {}

  async seal(secret: Uint8Array, binding: SecretBinding): Promise<SealedSecret> {
    const context = associatedData(binding);
    const dataKey = randomBytes(32);
    try {
      const ciphertext = seal(dataKey, secret, context);
      const { version, wrapped } = await this.keys.wrap(dataKey, context);
      return {
        format: formatVersion,
        kekVersion: version,
        wrappedKey: Buffer.from(wrapped).toString('base64'),
        ciphertext: ciphertext.toString('base64'),
      };
    } finally {
      dataKey.fill(0);
    }
  }

  async open(sealed: SealedSecret, binding: SecretBinding): Promise<Buffer> {
    const context = associatedData(binding, sealed.format);
    const dataKey = await this.keys.unwrap(sealed.kekVersion, Buffer.from(sealed.wrappedKey, 'base64'), context);
    try {
      return open(dataKey, Buffer.from(sealed.ciphertext, 'base64'), context);
    } finally {
      dataKey.fill(0);
    }
  }

  /** Re-wraps the data key under the primary master key; the secret's ciphertext is unchanged. */
  async rewrap(sealed: SealedSecret, binding: SecretBinding): Promise<SealedSecret> {
    if (sealed.kekVersion === this.keys.primaryVersion) return sealed;
    const context = associatedData(binding, sealed.format);
    const dataKey = await this.keys.unwrap(sealed.kekVersion, Buffer.from(sealed.wrappedKey, 'base64'), context);
    try {
      const { version, wrapped } = await this.keys.wrap(dataKey, context);
      return { ...sealed, kekVersion: version, wrappedKey: Buffer.from(wrapped).toString('base64') };
    } finally {
      dataKey.fill(0);
    }
  }
}

function associatedData(binding: SecretBinding, format = formatVersion): string {
  return JSON.stringify(['airlock', format, binding.accountId, binding.recordId, binding.purpose]);
}
