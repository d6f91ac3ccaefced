import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolveMountable, type Mountable } from './mountable.js';
import { dispatchNodeRequest } from './node.js';

/** The parts of an Express request the adapter reads (Express 4 and 5 alike). */
type ExpressRequest = IncomingMessage & { originalUrl?: string; body?: unknown; _body?: boolean };

/**
 * An Express middleware (Express 4 and 5).
 */
export type ExpressMiddleware = (request: ExpressRequest, response: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * Mounts Airlock (or any Web-standard handler) in Express 4 or 5. Given an
 * Airlock, it answers paths below its `basePath` and passes the rest on.
 * Works after `express.json()` and other body parsers: when the body has
 * already been read, it is rebuilt from `req.body`. Client disconnects
 * reach the handler, which aborts the upstream call.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { toExpress } from '@airlock/server/express';
 *
 * const app = express();
 * app.use(toExpress(airlock));
 * app.post('/api/airlock-token', toExpress(airlock.tokenHandler({ authenticate })));
 * ```
 */
export function toExpress(target: Mountable): ExpressMiddleware {
  const { handler, handles } = resolveMountable(target);
  return (request, response, next) => {
    // `originalUrl` keeps the path Express strips inside `app.use('/prefix', …)`.
    const path = request.originalUrl ?? request.url ?? '/';
    if (!handles(path.split('?')[0]!)) {
      next();
      return;
    }
    dispatchNodeRequest(handler, request, response, { path, ...(alreadyRead(request) && { body: rebuildBody(request) }) }, next);
  };
}

function alreadyRead(request: ExpressRequest): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return false;
  // body-parser 1 (Express 4) flags `_body`; body-parser 2 (Express 5) leaves the stream ended.
  return request._body === true || request.readableEnded;
}

function rebuildBody(request: ExpressRequest): Uint8Array {
  const body = request.body;
  if (body === undefined || body === null) return new Uint8Array();
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  const type = request.headers['content-type'] ?? '';
  if (type.includes('application/x-www-form-urlencoded')) {
    return Buffer.from(new URLSearchParams(body as Record<string, string>).toString(), 'utf8');
  }
  return Buffer.from(JSON.stringify(body), 'utf8');
}
