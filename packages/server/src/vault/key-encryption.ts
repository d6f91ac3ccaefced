import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AirlockError } from '../errors.js';

/**
 * Wraps and unwraps data keys with a versioned key-encryption key (the
 * master key). Implement it to plug in a KMS; {@link createKeyring} is the
 * built-in implementation over keys from the environment.
 *
 * @example
 * ```ts
 * const provider: KeyEncryptionProvider = createKeyring(process.env.AIRLOCK_MASTER_KEYS!);
 * const { version, wrapped } = await provider.wrap(dataKey, 'airlock:v1');
 * ```
 */
export interface KeyEncryptionProvider {
  /** The version new data keys are wrapped with. */
  readonly primaryVersion: string;
  /** Whether `version` can be unwrapped by this provider. */
  has(version: string): boolean;
  wrap(dataKey: Uint8Array, context: string): Promise<{ version: string; wrapped: Uint8Array }>;
  unwrap(version: string, wrapped: Uint8Array, context: string): Promise<Uint8Array>;
}

const nonceBytes = 12;
const tagBytes = 16;

/**
 * Parses a keyring such as `v2:<base64 32 bytes>,v1:<base64 32 bytes>`; the
 * first entry is the primary version. Throws a message that names what is
 * wrong, never the key material.
 *
 * @example
 * ```ts
 * const keyring = createKeyring(`v1:${randomBytes(32).toString('base64')}`);
 * keyring.primaryVersion; // 'v1'
 * ```
 */
export function createKeyring(spec: string): KeyEncryptionProvider {
  const keys = new Map<string, Buffer>();
  let primaryVersion: string | undefined;
  for (const entry of spec
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf(':');
    const version = entry.slice(0, separator);
    if (separator <= 0 || !/^[A-Za-z0-9_-]{1,32}$/.test(version)) {
      throw new Error('Master keyring entries must look like "<version>:<base64 of 32 bytes>".');
    }
    const key = Buffer.from(entry.slice(separator + 1), 'base64');
    if (key.length !== 32) throw new Error(`Master key version "${version}" is not 32 bytes of base64.`);
    if (keys.has(version)) throw new Error(`Master key version "${version}" appears twice.`);
    keys.set(version, key);
    primaryVersion ??= version;
  }
  if (!primaryVersion) throw new Error('The master keyring is empty.');
  const primary = primaryVersion;

  return {
    primaryVersion: primary,
    has: (version) => keys.has(version),
    async wrap(dataKey, context) {
      return { version: primary, wrapped: seal(keys.get(primary)!, dataKey, context) };
    },
    async unwrap(version, wrapped, context) {
      const key = keys.get(version);
      if (!key) {
        throw new AirlockError('internal', `This secret was wrapped by master key version "${version}", which is not in the keyring.`);
      }
      return open(key, wrapped, context);
    },
  };
}

/** AES-256-GCM: returns nonce ‖ ciphertext ‖ tag. */
export function seal(key: Uint8Array, plaintext: Uint8Array, associatedData: string): Buffer {
  const nonce = randomBytes(nonceBytes);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: tagBytes });
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** Opens what {@link seal} made; throws when anything was changed. */
export function open(key: Uint8Array, sealed: Uint8Array, associatedData: string): Buffer {
  const bytes = Buffer.from(sealed);
  if (bytes.length < nonceBytes + tagBytes) throw new AirlockError('internal', 'A stored secret is truncated.');
  const nonce = bytes.subarray(0, nonceBytes);
  const tag = bytes.subarray(bytes.length - tagBytes);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: tagBytes });
  decipher.setAAD(Buffer.from(associatedData, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(bytes.subarray(nonceBytes, bytes.length - tagBytes)), decipher.final()]);
  } catch (error) {
    throw new AirlockError('internal', 'A stored secret failed its integrity check (wrong key, wrong record, or altered data).', { cause: error });
  }
}
