import { isWebOrigin } from '../widgets/origins.js';

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
 * Answers a CORS preflight. Preflights carry no credentials and no body, so
 * they are allowed for any syntactically valid origin; the real request is
 * then checked against the widget's allow-list or the token's origin.
 *
 * @example
 * ```ts
 * if (request.method === 'OPTIONS') return preflight(request);
 * ```
 */
export function preflight(request: Request): Response {
  const origin = request.headers.get('origin');
  const response = new Response(null, { status: 204 });
  response.headers.set('access-control-allow-methods', 'POST, GET, OPTIONS');
  response.headers.set('access-control-allow-headers', 'authorization, content-type, idempotency-key, x-airlock-widget-id');
  response.headers.set('access-control-max-age', '600');
  return withCors(response, origin);
}
