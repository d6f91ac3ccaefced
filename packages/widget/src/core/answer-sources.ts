import type { AnswerSource } from '@airlock/protocol';
import { safeHref } from '../render/markdown';

/** The most sources one answer shows; the server sends about five. */
const maxSources = 20;

/**
 * The well-formed sources in `value` (an `airlock_sources` field, or what
 * storage gave back), or `undefined` when there are none. Both are untrusted:
 * an item without a string `id` and a non-empty `title` is dropped, a
 * `location` that is not a non-empty string is left out, a `url` is kept only
 * when it parses as `http:` or `https:` (normalised), and the list is cut at 20.
 *
 * @example
 * ```ts
 * readSources([{ id: 'f:1', title: 'Pricing.pdf', url: 'javascript:alert(1)' }, 'x']); // [{ id: 'f:1', title: 'Pricing.pdf' }]
 * ```
 */
export function readSources(value: unknown): AnswerSource[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const sources: AnswerSource[] = [];
  for (const item of value as (Partial<Record<keyof AnswerSource, unknown>> | null)[]) {
    const { id, title, location, url } = item ?? {};
    if (typeof id !== 'string' || typeof title !== 'string' || !title) continue;
    const href = typeof url === 'string' && safeHref(url);
    if (sources.push({ id, title, ...(typeof location === 'string' && location && { location }), ...(href && { url: href }) }) === maxSources) break;
  }
  return sources.length ? sources : undefined;
}
