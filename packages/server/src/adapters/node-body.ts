import type { ServerResponse } from 'node:http';

/**
 * A response body that can write itself straight to a Node response. The
 * proxy's event streams carry one, so on Node the upstream's socket chunks
 * reach the client's socket without passing through Web streams (a promise
 * and several objects per chunk). The `Response`'s Web `body` stays valid
 * for every other runtime and adapter; whichever side is read first wins.
 */
export interface NodeBody {
  /**
   * Writes the body to `outgoing` (whose head has been set but not sent) and
   * ends it; resolves when done. Returns `undefined` when the Web `body` has
   * already been read, in which case the caller must use that instead.
   */
  pipeTo(outgoing: ServerResponse): Promise<void> | undefined;
}

// Symbol.for: the adapters and the core may be loaded from different bundles.
const nodeBodyKey = Symbol.for('airlock.node-body');

/**
 * Attaches a {@link NodeBody} to a response (a hidden, non-enumerable
 * property: headers, status and the Web body are untouched).
 *
 * @example
 * ```ts
 * return withNodeBody(new Response(webStream, { headers }), relay);
 * ```
 */
export function withNodeBody(response: Response, body: NodeBody): Response {
  Object.defineProperty(response, nodeBodyKey, { value: body });
  return response;
}

/**
 * The {@link NodeBody} attached to a response, if any.
 *
 * @example
 * ```ts
 * const done = nodeBodyOf(response)?.pipeTo(outgoing);
 * ```
 */
export function nodeBodyOf(response: Response): NodeBody | undefined {
  return (response as Response & { [nodeBodyKey]?: NodeBody })[nodeBodyKey];
}
