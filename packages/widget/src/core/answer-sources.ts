import type { AnswerSource } from '@airlock/protocol';
import { safeHref } from '../render/markdown';

/**
 * The well-formed sources in `value` (an `airlock_sources` field, or what
 * storage gave back), or `undefined` when there are none. Both are untrusted:
 * an item without a string `id` and a non-empty `title` is dropped, a
 * `location` that is not a non-empty string is left out, a `url` is kept only
 * when it parses as `http:` or `https:` (normalised), and the list is cut at 20
 * (the server sends about five).
 *
 * @example
 * ```ts
 * readSources([{ id: 'f:1', title: 'Pricing.pdf', url: 'javascript:alert(1)' }, 'x']); // [{ id: 'f:1', title: 'Pricing.pdf' }]
 * ```
 */
export function readSources(value: unknown): AnswerSource[] | undefined {
  const sources = (Array.isArray(value) ? (value as Partial<Record<keyof AnswerSource, unknown>>[]) : [])
    .filter((item) => typeof item?.id == 'string' && typeof item.title == 'string' && item.title)
    .slice(0, 20)
    .map(({ id, title, location, url }) => {
      const href = typeof url == 'string' && safeHref(url);
      return { id, title, ...(typeof location == 'string' && location && { location }), ...(href && { url: href }) } as AnswerSource;
    });
  return sources[0] && sources;
}
