import { resolveMountable, type Mountable } from './mountable.js';

/**
 * Next.js App Router route handlers, one per HTTP method.
 *
 * @example
 * ```ts
 * export const { GET, POST, OPTIONS } = toNextHandlers(airlock);
 * ```
 */
export interface NextHandlers {
  GET(request: Request): Promise<Response>;
  HEAD(request: Request): Promise<Response>;
  POST(request: Request): Promise<Response>;
  PUT(request: Request): Promise<Response>;
  PATCH(request: Request): Promise<Response>;
  DELETE(request: Request): Promise<Response>;
  OPTIONS(request: Request): Promise<Response>;
}

/**
 * Route handlers for the Next.js App Router. Put Airlock in a catch-all
 * route under its base path, `app/airlock/[...path]/route.ts`, and export
 * the methods you need. Use the Node.js runtime (the default) and keep the
 * route dynamic. Next.js exposes no socket address: set
 * `AirlockOptions.clientAddress` from your proxy's header for per-address
 * mint limits.
 *
 * @example
 * ```ts
 * // app/airlock/[...path]/route.ts
 * import { toNextHandlers } from '@airlock/server/next';
 * import { airlock } from '../../../lib/airlock';
 *
 * export const dynamic = 'force-dynamic';
 * export const { GET, POST, OPTIONS } = toNextHandlers(airlock);
 * ```
 */
export function toNextHandlers(target: Mountable): NextHandlers {
  const { handler } = resolveMountable(target);
  // Next.js passes (request, { params }); only the request matters here.
  const handle = (request: Request) => handler(request);
  return { GET: handle, HEAD: handle, POST: handle, PUT: handle, PATCH: handle, DELETE: handle, OPTIONS: handle };
}
