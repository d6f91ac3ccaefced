import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

/**
 * Options of {@link createUpstreamFetch}.
 */
export interface UpstreamFetchOptions {
  /** How long an idle keep-alive connection is kept for reuse, in ms. Default: `4_000` (as undici's `fetch`). */
  freeSocketTimeoutMs?: number;
}

/**
 * A `fetch` for upstream calls with its keep-alive connection pools, which
 * {@link UpstreamFetch.close} closes.
 *
 * @example
 * ```ts
 * const upstreamFetch: UpstreamFetch = createUpstreamFetch();
 * await upstreamFetch('https://api.openai.com/v1/models');
 * upstreamFetch.close();
 * ```
 */
export type UpstreamFetch = typeof fetch & { close(): void };

// The Node stream behind a response's body, until one side claims it: the
// proxy (reading it directly) or the Web `body` (read by the SDK, for JSON
// and error bodies).
interface BodySource {
  incoming: IncomingMessage;
  claimed: boolean;
}

/**
 * The Node stream behind an upstream response made by {@link createUpstreamFetch},
 * if its Web `body` has not been read: the proxy then relays the bytes as
 * they come off the socket, without a Web stream (and its promise per chunk)
 * in between. Returns `undefined` for any other response; claiming is
 * one-time, and afterwards the Web `body` is empty.
 *
 * @example
 * ```ts
 * const incoming = claimUpstreamBody(response) ?? Readable.fromWeb(response.body);
 * ```
 */
export function claimUpstreamBody(response: Response): IncomingMessage | undefined {
  return response instanceof UpstreamResponse ? response.claim() : undefined;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

function requestBody(body: unknown): string | Uint8Array | undefined | false {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof URLSearchParams) return body.toString();
  // Streams, FormData and Blobs (file uploads) go through the global fetch.
  return false;
}

// A Web body that starts reading the Node stream only when someone reads it,
// so a body the proxy claims is never also buffered into a Web stream.
function lazyWebBody(source: BodySource): ReadableStream<Uint8Array> {
  const { incoming } = source;
  let started = false;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (started) {
          incoming.resume();
          return;
        }
        started = true;
        if (source.claimed) {
          controller.close();
          return;
        }
        source.claimed = true;
        incoming.on('data', (chunk: Buffer) => {
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 0) <= 0) incoming.pause();
        });
        incoming.once('end', () => controller.close());
        incoming.once('error', (error) => controller.error(error));
        incoming.once('close', () => {
          if (!incoming.complete) controller.error(new Error('The upstream connection closed before the body ended.'));
        });
      },
      cancel() {
        incoming.destroy();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * A `fetch` built on `node:http`/`node:https` with keep-alive agents, for the
 * `openai` SDK's upstream calls. Compared with the global (undici) `fetch`
 * it skips the request clone, body tee and Web stream hops of the Fetch
 * spec, and lets the proxy take the response's Node stream
 * ({@link claimUpstreamBody}). Redirects are not followed (OpenAI's API does
 * not redirect), and request bodies other than strings and bytes are handed
 * to the global `fetch`. Aborting the signal destroys the connection at any
 * point, also while the body is being read, which is how a visitor who
 * leaves stops the upstream generation.
 *
 * @example
 * ```ts
 * const client = new OpenAI({ apiKey, fetch: createUpstreamFetch() });
 * ```
 */
export function createUpstreamFetch(options: UpstreamFetchOptions = {}): UpstreamFetch {
  const agentOptions = { keepAlive: true, timeout: options.freeSocketTimeoutMs ?? 4_000, scheduling: 'lifo' as const };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);

  const upstreamFetch = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const body = requestBody(init.body);
    if (input instanceof Request || body === false) return fetch(input, init);
    const url = input instanceof URL ? input : new URL(input);
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') return fetch(input, init);
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const method = init.method ?? 'GET';

    return new Promise<Response>((resolve, reject) => {
      const request = (secure ? https : http).request(url, { method, headers, agent: secure ? httpsAgent : httpAgent });
      const onAbort = () => request.destroy(abortError(signal!) as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => signal?.removeEventListener('abort', onAbort);
      // Errors after the response has arrived reach its body's reader; a
      // listener stays on both so a late one is never an uncaught exception.
      request.on('error', (error) => {
        settle();
        reject(error);
      });
      request.once('response', (incoming) => {
        incoming.on('error', () => {});
        incoming.once('close', settle);
        try {
          resolve(toResponse(incoming, method));
        } catch (error) {
          // A status the Fetch API cannot represent.
          request.destroy();
          reject(error);
        }
      });
      request.end(body);
    });
  };
  return Object.assign(upstreamFetch as typeof fetch, {
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  });
}

// Node's Fetch types (undici-types) declare Response's body and its reading
// methods as properties; at runtime (and in the DOM library) they are an
// accessor and methods, which UpstreamResponse overrides: it extends Response
// typed without them.
type BodyMembers = 'body' | 'bodyUsed' | 'text' | 'json' | 'arrayBuffer' | 'blob' | 'formData' | 'bytes' | 'clone';
type ResponseWithoutBody = new (body: null, init: ResponseInit) => Omit<Response, BodyMembers>;

/**
 * A response whose body stays the upstream's Node stream until it is read:
 * its Web `body` is built on first use. A Web `ReadableStream` costs more to
 * build than the rest of the response (Node 20 makes each one transferable),
 * and the proxy's streamed answers, claimed by the relay, never need one.
 * The reading methods go through that Web body, as the Fetch API's do.
 */
class UpstreamResponse extends (Response as unknown as ResponseWithoutBody) {
  readonly #source: BodySource;
  // Node's chunks are Buffers over an ArrayBuffer; the Fetch types want that said.
  #web: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;

  constructor(source: BodySource, init: ResponseInit) {
    super(null, init);
    this.#source = source;
  }

  /** The Node stream, if neither the relay nor a Web reader has taken it ({@link claimUpstreamBody}). */
  claim(): IncomingMessage | undefined {
    if (this.#source.claimed) return undefined;
    this.#source.claimed = true;
    return this.#source.incoming;
  }

  get body(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return (this.#web ??= lazyWebBody(this.#source) as ReadableStream<Uint8Array<ArrayBuffer>>);
  }

  get bodyUsed(): boolean {
    return this.#source.claimed;
  }

  // Async, so a body that cannot be read (already locked) rejects rather than throws.
  async #read(): Promise<Response> {
    return new Response(this.body, { headers: this.headers });
  }

  async text(): Promise<string> {
    return (await this.#read()).text();
  }

  async json(): Promise<unknown> {
    return (await this.#read()).json();
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return (await this.#read()).arrayBuffer();
  }

  async blob(): Promise<Blob> {
    return (await this.#read()).blob();
  }

  async formData(): Promise<FormData> {
    return (await this.#read()).formData();
  }

  // Through arrayBuffer(): Response.prototype.bytes is missing before Node 20.16.
  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await (await this.#read()).arrayBuffer());
  }

  clone(): Response {
    const [kept, copy] = this.body.tee();
    this.#web = kept;
    return new Response(copy, { status: this.status, statusText: this.statusText, headers: this.headers });
  }
}

function toResponse(incoming: IncomingMessage, method: string): Response {
  const responseHeaders = new Headers();
  const raw = incoming.rawHeaders;
  for (let index = 0; index < raw.length; index += 2) responseHeaders.append(raw[index]!, raw[index + 1]!);
  const status = incoming.statusCode ?? 502;
  const init = { status, statusText: incoming.statusMessage ?? '', headers: responseHeaders };
  if (method === 'HEAD' || status === 204 || status === 304) {
    incoming.resume();
    return new Response(null, init);
  }
  return new UpstreamResponse({ incoming, claimed: false }, init);
}
