import type { Store } from '../stores/store.js';
import { isOriginAllowed, isWebOrigin } from '../widgets/origins.js';

/**
 * Adds CORS headers for a browser-facing route. The origin is echoed exactly
 * (never `*`) and only when the caller decided it is allowed; `Vary: Origin`
 * is always set so caches keep answers per origin.
 *
 * @example
 * ```ts
 * return withCors(response, allowed ? origin : null);
 * ```
 */
export function withCors(response: Response, allowedOrigin: string | null): Response {
  response.headers.append('vary', 'Origin');
  // Only a web origin: `null` (sandboxed frames, files) is shared by every such page.
  if (isWebOrigin(allowedOrigin)) {
    response.headers.set('access-control-allow-origin', allowedOrigin);
    response.headers.set('access-control-expose-headers', 'Retry-After, X-Request-Id');
  }
  return response;
}

/**
 * The request headers every web origin may send: what Airlock's own widget
 * sends. A preflight from an origin no widget allows gets these and no more.
 */
export const baseAllowedHeaders: readonly string[] = ['authorization', 'content-type', 'idempotency-key', 'x-airlock-widget-id'];

/**
 * The request headers an origin that some widget allows may send, beyond
 * {@link baseAllowedHeaders}: what OpenAI's client libraries send from a
 * browser. A name ending in `-` is a family (`x-stainless-` covers
 * `x-stainless-os`, `x-stainless-retry-count`, …). The `openai` SDK sends
 * `accept`, `user-agent`, `x-stainless-*` (platform, retry count, timeout,
 * helper method), `openai-organization`, `openai-project` and `openai-beta`;
 * the AI SDK and LangChain add nothing outside these.
 */
export const clientAllowedHeaders: readonly string[] = ['accept', 'user-agent', 'x-stainless-', 'openai-'];

/** Longest `Access-Control-Request-Headers` value read; browsers send a few hundred characters. */
const maxRequestedHeadersLength = 4_096;
const headerName = /^[a-z0-9!#$%&'*+.^_`|~-]{1,100}$/;

/** Options of {@link preflight}. */
export interface PreflightOptions {
  /**
   * Whether the caller found the origin allowed by a widget (see
   * {@link createPreflightOriginCheck}). Only then are the headers the client
   * asks for within {@link clientAllowedHeaders} allowed.
   * Default: `false` (only {@link baseAllowedHeaders}).
   */
  originAllowed?: boolean;
}

/**
 * Answers a CORS preflight. Preflights carry no credentials and no body, so
 * they are answered for any syntactically valid origin with the headers
 * Airlock's own widget sends (a private widget's token may be unbound); the
 * real request is then checked against the widget's allow-list or the
 * token's origin. For an origin that a widget allows, the headers the client
 * asks for are allowed too when each is one of
 * {@link baseAllowedHeaders} or within {@link clientAllowedHeaders}, so
 * OpenAI's SDKs work from that page; a request naming any other header gets
 * the base list, and the browser refuses it.
 *
 * @example
 * ```ts
 * if (request.method === 'OPTIONS') return preflight(request, { originAllowed: await originCheck(origin) });
 * ```
 */
export function preflight(request: Request, options: PreflightOptions = {}): Response {
  const origin = request.headers.get('origin');
  const response = new Response(null, { status: 204 });
  response.headers.set('access-control-allow-methods', 'POST, GET, OPTIONS');
  const requested = options.originAllowed ? requestedClientHeaders(request) : undefined;
  response.headers.set('access-control-allow-headers', [...baseAllowedHeaders, ...(requested ?? [])].join(', '));
  response.headers.set('access-control-max-age', '600');
  // The answer depends on the headers asked for, so caches keep one per list.
  response.headers.append('vary', 'Access-Control-Request-Headers');
  return withCors(response, origin);
}

/**
 * The headers of the preflight's `Access-Control-Request-Headers` that are
 * not in the base list, if every one is in a client family; `undefined` if
 * any is outside (none of them is then allowed).
 */
function requestedClientHeaders(request: Request): string[] | undefined {
  const value = request.headers.get('access-control-request-headers');
  if (!value || value.length > maxRequestedHeadersLength) return undefined;
  const names = value
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  const extra: string[] = [];
  for (const name of names) {
    if (!headerName.test(name)) return undefined;
    if (baseAllowedHeaders.includes(name)) continue;
    if (!clientAllowedHeaders.some((allowed) => (allowed.endsWith('-') ? name.startsWith(allowed) && name.length > allowed.length : name === allowed)))
      return undefined;
    if (!extra.includes(name)) extra.push(name);
  }
  return extra;
}

/** Options of {@link createPreflightOriginCheck}. */
export interface PreflightOriginCheckOptions {
  /** How long the union of the widgets' allowed origins is kept before it is read again, in milliseconds. Default: 10,000. */
  ttlMs?: number;
  /** The clock. Default: `Date.now`. */
  now?: () => number;
}

/**
 * Makes the check {@link preflight} needs: whether any enabled widget allows
 * an origin. A preflight names no widget and carries no token, so the union
 * of every widget's allowed origins is what it can be checked against; that
 * union is read from the store at most once per `ttlMs` (preflights are
 * frequent, widgets' origins change rarely) and a read in progress is shared.
 * An origin added to a widget is allowed the wider headers within `ttlMs`;
 * while the store cannot be read, every origin gets the base headers.
 *
 * @example
 * ```ts
 * const originCheck = createPreflightOriginCheck(store);
 * const allowed = await originCheck('https://shop.example.com');
 * ```
 */
export function createPreflightOriginCheck(
  store: Pick<Store, 'listWidgets'>,
  options: PreflightOriginCheckOptions = {},
): (origin: string | null) => Promise<boolean> {
  const ttlMs = options.ttlMs ?? 10_000;
  const now = options.now ?? Date.now;
  let cached: { patterns: string[]; readAt: number } | undefined;
  let reading: Promise<string[]> | undefined;
  async function patterns(): Promise<string[]> {
    if (cached && now() - cached.readAt < ttlMs) return cached.patterns;
    reading ??= store
      .listWidgets()
      .then((widgets) => {
        const union = [...new Set(widgets.filter((widget) => widget.enabled).flatMap((widget) => widget.allowedOrigins))];
        cached = { patterns: union, readAt: now() };
        return union;
      })
      .finally(() => {
        reading = undefined;
      });
    return reading;
  }
  return async (origin) => {
    if (!isWebOrigin(origin)) return false;
    // A store that cannot answer leaves the preflight at the base headers rather than failing it.
    const union = await patterns().catch(() => undefined);
    return union !== undefined && isOriginAllowed(origin, union);
  };
}
