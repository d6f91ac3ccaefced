import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { resolveMountable, type Mountable } from './mountable.js';
import { dispatchNodeRequest } from './node.js';

/**
 * Options of {@link toFastify}.
 */
export interface FastifyAirlockOptions {
  /**
   * The route to answer. Default: `<basePath>/*` for an Airlock; required
   * for a plain handler (such as `airlock.tokenHandler(…)`).
   */
  path?: string;
}

const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * A Fastify 5 plugin that mounts Airlock (or any Web-standard handler). The
 * plugin keeps its own, encapsulated body handling: the raw request stream
 * goes to Airlock unread, so Airlock's own size limits apply, and your
 * app's content-type parsers elsewhere are untouched. Client disconnects
 * reach the handler, which aborts the upstream call.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { toFastify } from '@airlock/server/fastify';
 *
 * const app = Fastify();
 * await app.register(toFastify(airlock));
 * await app.register(toFastify(airlock.tokenHandler({ authenticate }), { path: '/api/airlock-token' }));
 * ```
 */
export function toFastify(target: Mountable, options: FastifyAirlockOptions = {}): FastifyPluginAsync {
  const { handler } = resolveMountable(target);
  const path = options.path ?? (typeof target === 'function' ? undefined : `${target.basePath}/*`);
  if (!path) throw new TypeError('toFastify: give { path } when mounting a plain handler.');
  return async (instance: FastifyInstance) => {
    // Scoped to this plugin: leave every body unread for Airlock.
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    instance.route({
      method: [...methods],
      url: path,
      exposeHeadRoute: false,
      handler(request, reply) {
        // Airlock writes the Node response itself (streaming, back-pressure).
        reply.hijack();
        dispatchNodeRequest(handler, request.raw, reply.raw, { path: request.raw.url }, () => {
          if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' });
          reply.raw.end();
        });
      },
    });
  };
}
