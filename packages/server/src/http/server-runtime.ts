/**
 * Where a {@link PipeableBody} writes: what a server's own response object
 * offers (the Node adapters pass one over `ServerResponse`).
 */
export interface BodySink {
  /** Returns `false` when the client wants no more for now; the adapter then calls {@link BodyPipe.drained} when it does. */
  write(chunk: Uint8Array): boolean;
  /** Bytes written that the client has not taken yet. */
  buffered(): number;
  end(): void;
  /** Gives up on the client: its connection is broken off. */
  destroy(): void;
  /** Sends the response head now, before any chunk (when the first one is not there yet). */
  sendHead(): void;
}

/**
 * A {@link BodySink} that enqueues into a Web stream's controller: how a
 * {@link PipeableBody} is read as a Web `body`. The stream must be sized in
 * bytes, so that what waits is how far `desiredSize` is below zero.
 *
 * @example
 * ```ts
 * new ReadableStream({ pull: (controller) => body.pipeTo(controllerSink(controller)) }, { highWaterMark: 0, size: (chunk) => chunk.byteLength });
 * ```
 */
export function controllerSink(controller: ReadableStreamDefaultController<Uint8Array<ArrayBuffer>>): BodySink {
  return {
    write(chunk) {
      controller.enqueue(chunk as Uint8Array<ArrayBuffer>);
      return (controller.desiredSize ?? 0) > 0;
    },
    buffered: () => Math.max(0, -(controller.desiredSize ?? 0)),
    end() {
      try {
        controller.close();
      } catch {
        // Already cancelled by the reader.
      }
    },
    destroy() {
      controller.error(new Error('The client read the stream too slowly.'));
    },
    sendHead() {},
  };
}

/** What the adapter tells a body it pipes. */
export interface BodyPipe {
  /** The sink takes writes again after `write` returned `false`. */
  drained(): void;
  /** The client went away before the body ended. */
  closed(): void;
}

/**
 * A response body that can write itself to a server's response, without
 * Web streams in between: the proxy's event streams carry one.
 */
export interface PipeableBody {
  /**
   * Starts writing to `sink` (the head set but not sent) and ends it.
   * Returns `undefined` when the Web `body` has already been read: the
   * caller must use that instead. Whichever side is read first wins.
   */
  pipeTo(sink: BodySink): BodyPipe | undefined;
}

/**
 * A standard `Response` that also carries a {@link PipeableBody}: a typed
 * extension for server adapters, as srvx's `NodeResponse` is one. Every
 * runtime can read its Web `body`; an adapter that knows the extension
 * (Airlock's Node, Express and Fastify adapters) calls
 * {@link pipeableBodyOf} and pipes instead. A handler asked by a
 * {@link ServerRequest} whose adapter pipes may leave the Web body out.
 *
 * @example
 * ```ts
 * return new PipeableResponse(relay.webStream(), { status: 200, headers }, relay);
 * ```
 */
export class PipeableResponse extends Response {
  constructor(
    body: ReadableStream<Uint8Array<ArrayBuffer>> | null,
    init: ResponseInit,
    readonly pipeable: PipeableBody,
  ) {
    super(body, init);
  }
}

/**
 * The {@link PipeableBody} of a response, if it carries one and its Web body
 * has not been read. Read by its shape rather than by class, so a response
 * made by another copy of this module (another bundle) counts too.
 *
 * @example
 * ```ts
 * const pipe = pipeableBodyOf(response)?.pipeTo(sink);
 * ```
 */
export function pipeableBodyOf(response: Response): PipeableBody | undefined {
  if (response.bodyUsed) return undefined;
  const pipeable = (response as Partial<PipeableResponse>).pipeable;
  return typeof pipeable?.pipeTo === 'function' ? pipeable : undefined;
}

/**
 * The runtime extras a server adapter gives a request, beside the standard
 * `Request` (srvx's `ServerRequest.runtime` is the model).
 */
export interface RequestRuntime {
  /** The runtime or adapter, e.g. `'node'`. */
  name: string;
  /**
   * The whole body, already read by the adapter, which then left it out of
   * the `Request` itself (building one with a body costs a Web stream).
   */
  body?: Uint8Array;
  /** Aborts when the client disconnects before the response was sent; the `Request`'s own signal is then left unset. */
  signal?: AbortSignal;
  /** The adapter pipes a {@link PipeableResponse}'s body and never reads its Web body, so a handler may leave that out. */
  pipesResponses?: boolean;
}

/**
 * A Web `Request` with what a server adapter knows of it beyond the Fetch
 * standard: the client's address and the adapter's {@link RequestRuntime}.
 * Airlock's adapters set these; for your own glue, set `ip` from the
 * socket (it cannot come from a header, so a client cannot spoof it).
 *
 * @example
 * ```ts
 * const request: ServerRequest = Object.assign(new Request(url, init), { ip: socket.remoteAddress });
 * await airlock.fetch(request);
 * ```
 */
export interface ServerRequest extends Request {
  /** The client's network address, as the socket reported it. */
  ip?: string;
  runtime?: RequestRuntime;
}

/**
 * A handler that reads a {@link ServerRequest}'s `runtime.body` and
 * `runtime.signal` when they are set (`airlock.fetch` does), so an adapter
 * may hand it a `Request` built without a body and a signal. Without the
 * mark, an adapter builds complete Requests.
 *
 * @example
 * ```ts
 * if (readsRuntimeParts(handler)) request = Object.assign(new Request(url, { method, headers }), { runtime: { name: 'node', body } });
 * ```
 */
export interface RuntimeAwareHandler {
  (request: Request): Promise<Response>;
  /** Always `true`: the handler reads the runtime's body and signal. */
  readonly readsRuntimeParts: true;
}

/**
 * Whether a handler reads runtime parts ({@link RuntimeAwareHandler}).
 *
 * @example
 * ```ts
 * readsRuntimeParts(airlock.fetch); // true
 * ```
 */
export function readsRuntimeParts(handler: object): boolean {
  return (handler as Partial<RuntimeAwareHandler>).readsRuntimeParts === true;
}
