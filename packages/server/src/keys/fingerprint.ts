import { AirlockError } from '../errors.js';

/**
 * A short, safe way to recognise a key: `sk-…abcd` (the public `sk-` prefix
 * and the last four characters). Four characters are far too few to guess
 * the rest from.
 *
 * @example
 * ```ts
 * fingerprintOf('sk-proj-Abc123…wxyz'); // 'sk-…wxyz'
 * ```
 */
export function fingerprintOf(apiKey: string): string {
  return `${apiKey.startsWith('sk-') ? 'sk-' : ''}…${apiKey.slice(-4)}`;
}

/**
 * Checks that a value looks like an API key (8 to 512 visible ASCII
 * characters, no spaces) and returns it trimmed of surrounding whitespace.
 * The error never repeats the value.
 *
 * @example
 * ```ts
 * const apiKey = parseApiKey(body.apiKey);
 * ```
 */
export function parseApiKey(value: unknown): string {
  const apiKey = typeof value === 'string' ? value.trim() : '';
  if (!/^[\x21-\x7e]{8,512}$/.test(apiKey)) {
    throw new AirlockError('input_invalid', 'The API key must be 8 to 512 visible characters without spaces.');
  }
  return apiKey;
}
