import { randomBytes } from 'node:crypto';

/**
 * A random URL-safe id with a readable prefix (128 bits of randomness).
 *
 * @example
 * ```ts
 * newId('wgt'); // 'wgt_3q2-…'
 * ```
 */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(16).toString('base64url')}`;
}
