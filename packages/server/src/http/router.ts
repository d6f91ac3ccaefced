import { AirlockError } from '../errors.js';

/**
 * How a route faces browsers, which decides its CORS headers:
 * - `'none'`: not for browsers (admin API, assets): no CORS headers;
 * - `'widget'`: called by widgets with a bearer token: preflight answered, the
 *   origin echoed on answers (the token, not the origin, authorises; a token
 *   bound to another origin is refused by the handler);
 * - `'self'`: the handler sets CORS itself (public minting checks the widget's allow-list).
 */
export type BrowserAccess = 'none' | 'widget' | 'self';

/**
 * One route of the Airlock handler. Each area (tokens, proxy, admin, …)
 * exports its routes; `createAirlock` puts them in one table.
 */
export interface Route {
  method: string | readonly string[];
  /** Path below the base path: exact (`/token`) or a pattern with named groups (`/^\/widgets\/(?<id>[^/]+)$/`). */
  path: string | RegExp;
  browser: BrowserAccess;
  handle(request: Request, params: Record<string, string>): Promise<Response>;
}

/**
 * Finds the route for a method and path. Throws `not_found` when no route
 * has the path, `method_not_allowed` when the path exists with other methods.
 *
 * @example
 * ```ts
 * const { route, params } = findRoute(routes, 'GET', '/widgets/wgt_1');
 * ```
 */
export function findRoute(routes: readonly Route[], method: string, path: string): { route: Route; params: Record<string, string> } {
  let pathMatched: Route | undefined;
  for (const route of routes) {
    let params: Record<string, string> | undefined;
    if (typeof route.path === 'string') {
      if (route.path === path) params = {};
    } else {
      const match = route.path.exec(path);
      if (match) params = { ...match.groups };
    }
    if (!params) continue;
    pathMatched ??= route;
    const methods = typeof route.method === 'string' ? [route.method] : route.method;
    if (methods.includes(method) || (method === 'HEAD' && methods.includes('GET'))) return { route, params };
  }
  if (pathMatched) {
    // A browser route's preflight is answered by the caller; report the route.
    if (method === 'OPTIONS' && pathMatched.browser !== 'none') return { route: pathMatched, params: {} };
    throw new AirlockError('method_not_allowed', 'This method is not allowed here.');
  }
  throw new AirlockError('not_found', 'There is nothing here.');
}
