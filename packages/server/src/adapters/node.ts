import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { AirlockError } from '../errors.js';
import { pipeableBodyOf, readsRuntimeParts, type ServerRequest } from '../http/server-runtime.js';

/**
 * A Web-standard request handler, such as `airlock.fetch`.
 */
export type FetchHandler = (request: Request) => Promise<Response>;

/**
 * Options of {@link toWebRequest}, for adapters whose framework has already
 * touched the Node request.
 */
export interface WebRequestOptions {
  /** Path and query to use instead of `incoming.url` (frameworks strip mount prefixes from it). Default: `incoming.url`. */
  path?: string;
  /** The body, when a framework has already read the stream. Default: the stream of `incoming`. */
  body?: Uint8Array;
}

/**
 * Builds a Web `Request` from a Node request. Its `signal` aborts when the
 * client disconnects before the response has been fully sent, which is how
 * the proxy learns to abort the upstream call. The socket's address is
 * its `ip` ({@link ServerRequest}), for per-address rate limits.
 *
 * @example
 * ```ts
 * const request = toWebRequest(incoming, outgoing);
 * ```
 */
export function toWebRequest(incoming: IncomingMessage, outgoing: ServerResponse, options: WebRequestOptions = {}): Request {
  return buildRequest(incoming, outgoing, options, true);
}

// `rebuilt`: the body comes from a framework's parsed copy (its length and
// encoding may differ from the headers), rather than the raw bytes read here.
// `light`: the handler reads the body and the disconnect signal as runtime
// parts (http/server-runtime.ts), so the Request is built without them.
function buildRequest(incoming: IncomingMessage, outgoing: ServerResponse, options: WebRequestOptions, rebuilt: boolean, light = false): Request {
  const controller = new AbortController();
  outgoing.once('close', () => {
    if (!outgoing.writableFinished) controller.abort();
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  const encrypted = (incoming.socket as { encrypted?: boolean }).encrypted === true;
  const url = `${encrypted ? 'https' : 'http'}://${incoming.headers.host ?? 'localhost'}${options.path ?? incoming.url ?? '/'}`;
  const hasBody = incoming.method !== 'GET' && incoming.method !== 'HEAD';
  if (options.body && rebuilt) {
    // The body was rebuilt from a parsed copy: its length may differ from the original.
    headers.delete('content-encoding');
    headers.delete('transfer-encoding');
    headers.set('content-length', String(options.body.byteLength));
  }
  let request: ServerRequest;
  if (light && (options.body || !hasBody)) {
    request = new Request(url, { method: incoming.method, headers });
    request.runtime = {
      name: 'node',
      signal: controller.signal,
      ...(hasBody && { body: options.body }),
      // dispatchNodeRequest answers it through writeWebResponse.
      pipesResponses: true,
    };
  } else {
    request = new Request(url, {
      method: incoming.method,
      headers,
      signal: controller.signal,
      ...(hasBody && { body: options.body ?? (Readable.toWeb(incoming) as ReadableStream<Uint8Array>), duplex: 'half' }),
    } as RequestInit);
  }
  request.ip = incoming.socket.remoteAddress;
  return request;
}

/**
 * Writes a Web `Response` to a Node response, streaming its body with
 * back-pressure. If the client goes away mid-stream the body is cancelled,
 * which reaches the handler's stream (and so the upstream). A
 * `PipeableResponse` (the proxy's event streams) is piped by its body
 * instead, without Web streams.
 *
 * @example
 * ```ts
 * await writeWebResponse(await handler(request), outgoing);
 * ```
 */
export async function writeWebResponse(response: Response, outgoing: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  outgoing.writeHead(response.status, headers);
  // The proxy's event streams write themselves to the socket (http/server-runtime.ts);
  // they send the head with their first chunk.
  const direct = pipeableBodyOf(response) && pipeBody(response, outgoing);
  if (direct) return direct;
  // Event streams must reach the client as they are written.
  if (headers['content-type']?.toString().startsWith('text/event-stream')) outgoing.flushHeaders();
  if (!response.body) {
    outgoing.end();
    return;
  }
  const reader = response.body.getReader();
  const onClose = () => {
    reader.cancel().catch(() => {});
  };
  outgoing.once('close', onClose);
  // Chunks that are ready in the same turn leave in one write (one syscall)
  // instead of one each; the socket is uncorked before any new I/O, so a
  // lone chunk is not delayed.
  let corked = false;
  const uncork = () => {
    corked = false;
    outgoing.uncork();
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!corked) {
        corked = true;
        outgoing.cork();
        process.nextTick(uncork);
      }
      if (!outgoing.write(value)) {
        await new Promise<void>((resolve) => {
          const settle = () => {
            outgoing.off('drain', settle);
            outgoing.off('close', settle);
            resolve();
          };
          outgoing.on('drain', settle);
          outgoing.on('close', settle);
        });
      }
      if (outgoing.destroyed) break;
    }
    // Uncorked before the end: on Node 24, ending a corked response sends its
    // last chunk before the corked data (the client reads an empty body, then garbage).
    if (corked) uncork();
    outgoing.end();
  } catch {
    outgoing.destroy();
  } finally {
    outgoing.off('close', onClose);
  }
}

// Hands the socket to a pipeable body, and tells it when the client drains or leaves.
function pipeBody(response: Response, outgoing: ServerResponse): Promise<void> | undefined {
  const pipe = pipeableBodyOf(response)!.pipeTo({
    write: (chunk) => outgoing.write(chunk),
    buffered: () => outgoing.writableLength,
    end: () => outgoing.end(),
    destroy: () => outgoing.destroy(),
    sendHead: () => outgoing.flushHeaders(),
  });
  if (!pipe) return undefined;
  outgoing.on('drain', pipe.drained);
  // Neither event can come before this turn ends, even for a body that ended at once.
  return new Promise<void>((resolve) => {
    outgoing.once('finish', resolve);
    outgoing.once('close', () => {
      if (!outgoing.writableFinished) pipe.closed();
      resolve();
    });
  });
}

/**
 * Turns a Web-standard handler into a `node:http` request listener.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * createServer(toNodeListener(airlock.fetch)).listen(8787);
 * ```
 */
export function toNodeListener(handler: FetchHandler): (incoming: IncomingMessage, outgoing: ServerResponse) => void {
  return (incoming, outgoing) =>
    dispatchNodeRequest(handler, incoming, outgoing, {}, () => {
      if (!outgoing.headersSent) {
        outgoing.writeHead(500, { 'content-type': 'application/json' });
        outgoing.end('{"error":{"message":"Something went wrong on the server.","type":"airlock_error","code":"internal"}}');
      } else {
        outgoing.destroy();
      }
    });
}

/**
 * Runs a handler for one Node request and writes its answer; what the Node,
 * Express and Fastify adapters share. A small body of known length (every
 * proxy call) is read here in one piece: a Web request over a Node stream
 * costs a Web stream, an adapter and a promise per chunk, for a body that
 * is already in. Handlers that read runtime parts (`airlock.fetch`) get a
 * lighter Request (http/server-runtime.ts).
 *
 * @example
 * ```ts
 * dispatchNodeRequest(airlock.fetch, incoming, outgoing, {}, (error) => next(error));
 * ```
 */
export function dispatchNodeRequest(
  handler: FetchHandler,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  options: WebRequestOptions,
  onError: (error: unknown) => void,
): void {
  const refusal = unrepresentable(incoming, options.path);
  if (refusal) {
    refuse(incoming, outgoing, refusal);
    return;
  }
  const light = readsRuntimeParts(handler);
  const run = (build: () => Request) => {
    let request: Request;
    try {
      request = build();
    } catch (error) {
      // Whatever the checks above missed that the Fetch API still refuses.
      refuse(incoming, outgoing, new AirlockError('input_invalid', 'This request cannot be read.', { cause: error }));
      return;
    }
    // A handler that throws instead of rejecting is answered like one that rejects.
    Promise.resolve()
      .then(() => handler(request))
      .then((response) => writeWebResponse(response, outgoing))
      .catch(onError);
  };
  const declared = Number(incoming.headers['content-length']);
  if (!options.body && declared > 0 && declared <= preReadBytes && incoming.headers['transfer-encoding'] === undefined) {
    readSmallBody(incoming, declared).then(
      (body) => run(() => buildRequest(incoming, outgoing, { ...options, body }, false, light)),
      () => outgoing.destroy(),
    );
    return;
  }
  run(() => buildRequest(incoming, outgoing, options, true, light));
}

// Methods the Fetch API refuses to represent; no Airlock route answers them.
const forbiddenMethods = new Set(['CONNECT', 'TRACE', 'TRACK']);
const allowedMethods = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * Why a Node request cannot become a Web `Request`: a method the Fetch API
 * forbids, a request target that is not a path (`*`, absolute or authority
 * form: Airlock is an origin server, not a forward proxy), or a `Host` that
 * does not make a URL. Node's parser lets each of these through, and the
 * `Request` constructor throws on them.
 */
function unrepresentable(incoming: IncomingMessage, path: string | undefined): AirlockError | undefined {
  const method = incoming.method ?? '';
  if (forbiddenMethods.has(method.toUpperCase())) {
    return new AirlockError('method_not_allowed', `${method} is not supported here.`, { headers: { allow: allowedMethods } });
  }
  const target = path ?? incoming.url ?? '/';
  if (!target.startsWith('/') || target.startsWith('//')) {
    return new AirlockError('input_invalid', 'The request target must be a path, such as /airlock/token.');
  }
  const host = incoming.headers.host;
  if (host !== undefined && !validHost(host)) return new AirlockError('input_invalid', 'The Host header is not a valid host.');
  return undefined;
}

function validHost(host: string): boolean {
  if (host === '' || /[\s/?#@\\%]/.test(host)) return false;
  try {
    // The parser accepts what a URL's authority may hold, and refuses bad ports.
    const parsed = new URL(`http://${host}/`);
    return parsed.host !== '' && parsed.pathname === '/';
  } catch {
    return false;
  }
}

/**
 * Answers a request that never reaches the handler, in OpenAI's error
 * shape, and closes the connection: its body, if any, is left unread.
 */
function refuse(incoming: IncomingMessage, outgoing: ServerResponse, error: AirlockError): void {
  if (outgoing.headersSent) {
    outgoing.destroy();
    return;
  }
  outgoing.writeHead(error.status, { 'content-type': 'application/json; charset=utf-8', connection: 'close', ...error.headers });
  outgoing.end(JSON.stringify(error.toJSON()));
  // Nothing more is read from this connection.
  incoming.resume();
}

// Larger bodies stream, so a handler's size limit can stop them early.
const preReadBytes = 256 * 1024;

function readSmallBody(incoming: IncomingMessage, declared: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    incoming.on('data', (chunk: Buffer) => {
      total += chunk.length;
      // More than declared: the parser would refuse it anyway; stop reading.
      if (total > declared) incoming.destroy(new Error('body longer than its content-length'));
      else chunks.push(chunk);
    });
    incoming.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    incoming.once('error', reject);
    incoming.once('close', () => {
      if (!incoming.complete) reject(new Error('the client left before sending its body'));
    });
  });
}

/** Options of {@link serve}. */
export interface ServeOptions {
  /** Port to listen on; 0 picks a free one. Default: `8787`. */
  port?: number;
  /** Address to listen on. Default: `'127.0.0.1'`. */
  host?: string;
  /** Longest a client may take to send a request's headers, in ms; a slower one gets 408 and its connection closed. Default: `10_000`. */
  headersTimeoutMs?: number;
  /** Longest a client may take to send a whole request, headers and body, in ms (the answer is not bounded by it). Default: `30_000`. */
  requestTimeoutMs?: number;
  /** How long a kept-alive connection may stay idle between requests, in ms. Default: `5_000`. */
  keepAliveTimeoutMs?: number;
  /** Most client connections open at once; a connection beyond it is closed as it arrives. Default: `10_000`. */
  maxConnections?: number;
}

/**
 * Starts a `node:http` server for a handler.
 *
 * @example
 * ```ts
 * const { url, close } = await serve(airlock.fetch, { port: 0 });
 * ```
 */
export async function serve(handler: FetchHandler, options: ServeOptions = {}): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer(
    {
      headersTimeout: options.headersTimeoutMs ?? 10_000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000,
      // Node checks the two timeouts above on this interval (30 s by default), which would let them run that much over.
      connectionsCheckingInterval: 1_000,
    },
    toNodeListener(handler),
  );
  server.maxConnections = options.maxConnections ?? 10_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8787, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    server,
    url: `http://${shownHost}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
