import { AirlockError } from '../errors.js';

/**
 * Folds text for matching: Unicode NFKC (so full-width and ligature forms
 * match their plain letters), lower case, and diacritics removed (so
 * "café" matches "cafe").
 *
 * @example
 * ```ts
 * foldText('Ｃａｆé'); // 'cafe'
 * ```
 */
export function foldText(text: string): string {
  return text.normalize('NFKC').toLowerCase().normalize('NFD').replace(/\p{M}+/gu, '').normalize('NFC');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const compiled = new Map<string, RegExp | null>();

/**
 * Compiles a blocked list into one regular expression matching any entry as
 * whole words (letters or digits may not touch it on either side); spaces in
 * a phrase match any run of white space. Compiled lists are cached.
 *
 * @example
 * ```ts
 * compileFilter(['free money']).test(foldText('Get FREE   money now')); // true
 * ```
 */
export function compileFilter(blocked: readonly string[]): RegExp | null {
  const cacheKey = blocked.join('\u0000');
  const cached = compiled.get(cacheKey);
  if (cached !== undefined) return cached;
  const alternatives = blocked
    .map((entry) => foldText(entry).trim())
    .filter((entry) => entry.length > 0)
    .map((entry) => entry.split(/\s+/u).map(escapeRegExp).join('\\s+'));
  const pattern = alternatives.length === 0 ? null : new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives.join('|')})(?![\\p{L}\\p{N}])`, 'u');
  // Widgets are few; a bound keeps a stream of edited lists from growing the cache forever.
  if (compiled.size > 1_000) compiled.clear();
  compiled.set(cacheKey, pattern);
  return pattern;
}

/**
 * Throws `prompt_blocked` when any text contains a blocked word or phrase.
 * The message does not say which entry matched (it would reveal the list).
 *
 * @example
 * ```ts
 * checkPromptFilter(widget.behaviour.promptFilter, messages.map((message) => message.content));
 * ```
 */
export function checkPromptFilter(filter: { blocked: string[] } | undefined, texts: readonly string[]): void {
  // Behaviour is stored JSON: tolerate a malformed list rather than fail every request.
  if (!filter || !Array.isArray(filter.blocked) || filter.blocked.length === 0) return;
  const pattern = compileFilter(filter.blocked.filter((entry): entry is string => typeof entry === 'string'));
  if (!pattern) return;
  for (const text of texts) {
    if (pattern.test(foldText(text))) {
      throw new AirlockError('prompt_blocked', 'This message contains words this assistant does not accept.');
    }
  }
}
