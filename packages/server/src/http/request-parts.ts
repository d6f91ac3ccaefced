// A lighter Web `Request` for Airlock's own handler. undici's `Request`
// costs about three times as much when it is given a body (it wraps the
// bytes in a Web stream) and a signal (it follows it with listeners and a
// weak reference) as without them. The Node adapters read a small body in
// one piece anyway, so for `airlock.fetch`, which declares it reads both
// through the functions below, they hang the bytes and the disconnect
// signal on the request instead. Any other handler gets a complete Request.

// Symbol.for: the adapters and the core may be loaded from different bundles.
const partsKey = Symbol.for('airlock.request-parts');

/**
 * The mark of a handler that reads bodies and the client's disconnect
 * signal through {@link readRequestBytes} and {@link clientSignal}, so an
 * adapter may hand it a Request without them.
 *
 * @example
 * ```ts
 * if (acceptsRequestParts(handler)) request = new Request(url, { method, headers });
 * ```
 */
export const requestPartsReader = Symbol.for('airlock.reads-request-parts');

/** What an adapter kept off a Request. */
export interface RequestParts {
  /** The whole body, already read. */
  body?: Uint8Array;
  /** Aborts when the client disconnects before the response was sent. */
  signal?: AbortSignal;
  /**
   * The adapter writes a response's Node body (adapters/node-body.ts) when it
   * has one and then never reads its Web body, so a handler may leave that out.
   */
  writesNodeBody?: boolean;
}

/**
 * Whether `handler` reads request parts (carries {@link requestPartsReader}).
 *
 * @example
 * ```ts
 * const light = acceptsRequestParts(airlock.fetch); // true
 * ```
 */
export function acceptsRequestParts(handler: object): boolean {
  return (handler as { [requestPartsReader]?: boolean })[requestPartsReader] === true;
}

/**
 * Hangs a body and a signal on a Request built without them (a hidden,
 * non-enumerable property).
 *
 * @example
 * ```ts
 * withRequestParts(new Request(url, { method: 'POST', headers }), { body, signal: controller.signal });
 * ```
 */
export function withRequestParts(request: Request, parts: RequestParts): Request {
  Object.defineProperty(request, partsKey, { value: parts });
  return request;
}

function partsOf(request: Request): RequestParts | undefined {
  return (request as Request & { [partsKey]?: RequestParts })[partsKey];
}

/**
 * Whether the adapter that built `request` writes a response's Node body
 * and leaves its Web body unread ({@link RequestParts.writesNodeBody}).
 *
 * @example
 * ```ts
 * const response = writesNodeBody(request) ? withNodeBody(new Response(null, { headers }), body) : new Response(webStream, { headers });
 * ```
 */
export function writesNodeBody(request: Request): boolean {
  return partsOf(request)?.writesNodeBody === true;
}

/**
 * The signal that aborts when the client goes away: the adapter's, else the Request's own.
 *
 * @example
 * ```ts
 * clientSignal(request).addEventListener('abort', () => upstream.abort(), { once: true });
 * ```
 */
export function clientSignal(request: Request): AbortSignal {
  return partsOf(request)?.signal ?? request.signal;
}

/**
 * Reads a request's body, at most `maxBytes` of it, whether it was kept on
 * the side by an adapter or streams in the Request. Returns `undefined`
 * when the limit is exceeded (the stream is cancelled there, so a lying or
 * absent `Content-Length` cannot make the server buffer more).
 *
 * @example
 * ```ts
 * const bytes = await readRequestBytes(request, 64 * 1024);
 * ```
 */
export async function readRequestBytes(request: Request, maxBytes: number): Promise<Uint8Array | undefined> {
  const kept = partsOf(request)?.body;
  if (kept) return kept.byteLength > maxBytes ? undefined : kept;
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}
