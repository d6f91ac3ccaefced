// Hashes and random values for the Web-standard core (proxy, tokens, admin):
// SHA-256 from @noble/hashes, synchronous as node:crypto's is but on any
// runtime; random bytes from Web Crypto.
import { sha256 } from '@noble/hashes/sha2';

const encoder = new TextEncoder();

/**
 * SHA-256 of a string's UTF-8 bytes.
 *
 * @example
 * ```ts
 * sha256Bytes('abc').length; // 32
 * ```
 */
export function sha256Bytes(text: string): Uint8Array {
  return sha256(encoder.encode(text));
}

/**
 * SHA-256 of a string, in hex.
 *
 * @example
 * ```ts
 * sha256Hex('abc'); // 'ba7816bf…'
 * ```
 */
export function sha256Hex(text: string): string {
  return Buffer.from(sha256Bytes(text)).toString('hex');
}

/**
 * SHA-256 of a string, in base64url.
 *
 * @example
 * ```ts
 * sha256Base64url('abc'); // 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0'
 * ```
 */
export function sha256Base64url(text: string): string {
  return Buffer.from(sha256Bytes(text)).toString('base64url');
}

/**
 * `size` random bytes from the runtime's cryptographic generator.
 *
 * @example
 * ```ts
 * const secret = Buffer.from(randomBytes(32)).toString('base64url');
 * ```
 */
export function randomBytes(size: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(size));
}

/**
 * Whether two byte strings are equal, in time that depends only on their
 * length (compare digests, so the length reveals nothing).
 *
 * @example
 * ```ts
 * sameBytes(sha256Bytes(presented), sha256Bytes(expected));
 * ```
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index += 1) difference |= a[index]! ^ b[index]!;
  return difference === 0;
}
