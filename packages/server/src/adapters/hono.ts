import type { ServerRequest } from '../http/server-runtime.js';
import { resolveMountable, type Mountable } from './mountable.js';

/** The parts of a Hono 4 context the adapter reads. */
interface HonoContextLike {
  req: { raw: Request; path: string };
  // With @hono/node-server, `env.incoming` is the Node request.
  env?: unknown;
}

/**
 * A Hono 4 handler that is also a middleware.
 */
export type HonoHandler = (context: HonoContextLike, next?: () => Promise<void>) => Promise<Response | void>;

/**
 * Mounts Airlock (or any Web-standard handler) in Hono 4. Given an Airlock,
 * paths outside its `basePath` go to the next handler. Under
 * `@hono/node-server`, the client's socket address is recorded for the
 * per-address mint limit, and a client disconnect aborts `request.signal`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { toHono } from '@airlock/server/hono';
 *
 * const app = new Hono();
 * app.all('/airlock/*', toHono(airlock));
 * app.post('/api/airlock-token', toHono(airlock.tokenHandler({ authenticate })));
 * ```
 */
export function toHono(target: Mountable): HonoHandler {
  const { handler, handles } = resolveMountable(target);
  return async (context, next) => {
    if (!handles(new URL(context.req.raw.url).pathname) && next) {
      await next();
      return;
    }
    const request = context.req.raw;
    const incoming = (context.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
    const address = incoming?.socket?.remoteAddress;
    if (address) (request as ServerRequest).ip = address;
    return handler(request);
  };
}
