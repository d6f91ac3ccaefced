import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { AdminCredentials } from '../admin/auth.js';

/**
 * The one context of the request being handled, built when it arrives: its
 * id, which every log line carries, and what admin authentication found.
 */
export interface RequestLogContext {
  requestId: string;
  /** Set by the admin authentication step for the request it authenticated. */
  admin?: { request: Request; credentials: AdminCredentials };
}

// Async context rather than a logger passed down: lines logged deep in the
// proxy, even after the response started streaming, still name their request.
const storage = new AsyncLocalStorage<RequestLogContext>();

/**
 * Runs `work` with `context` as the current request; every line the logger
 * writes meanwhile (including from callbacks started inside) carries its id.
 *
 * @example
 * ```ts
 * await runWithRequestContext({ requestId: 'req_1' }, () => handle(request));
 * ```
 */
export function runWithRequestContext<T>(context: RequestLogContext, work: () => T): T {
  return storage.run(context, work);
}

/**
 * The current request, or `undefined` outside one.
 *
 * @example
 * ```ts
 * currentRequestContext()?.requestId;
 * ```
 */
export function currentRequestContext(): RequestLogContext | undefined {
  return storage.getStore();
}

const acceptedRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request id of an incoming request: the `X-Request-Id` a load balancer
 * or proxy set (when it is a plain token of at most 128 characters, so a
 * client cannot inject text into the logs), or a new random one.
 *
 * @example
 * ```ts
 * requestIdFor(request); // 'req_0b6c2f…' or the caller's own id
 * ```
 */
export function requestIdFor(request: Request): string {
  const given = request.headers.get('x-request-id');
  return given !== null && acceptedRequestId.test(given) ? given : `req_${randomUUID().replaceAll('-', '')}`;
}
