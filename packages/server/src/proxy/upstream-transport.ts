/**
 * How Airlock's own upstream calls (chat completions, streamed and not) go
 * over the network: one request, answered with its status, headers and a
 * body that delivers chunks as they arrive. The core speaks only this
 * interface; {@link fetchTransport} implements it on any runtime's `fetch`,
 * and the Node adapters' `createNodeTransport` on `node:http` keep-alive
 * agents, which hand the socket's chunks over without Web streams.
 */

/** One upstream request. */
export interface UpstreamRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** Aborting it breaks the connection off at any point, also while the body streams: how a visitor who leaves stops the generation. */
  signal?: AbortSignal;
}

/** What an {@link UpstreamBody} tells its reader. */
export interface BodyListener {
  data(chunk: Uint8Array): void;
  end(): void;
  /** The body failed or its connection closed before it ended; nothing follows. */
  error(error: unknown): void;
}

/**
 * A response body that pushes its chunks (Node's `Buffer`s on Node) to one
 * listener, with back-pressure by `pause`/`resume`.
 */
export interface UpstreamBody {
  /** Whether chunks have arrived that the listener has not been given yet. */
  readonly waiting: boolean;
  /** Starts delivering to `listener`; only once. */
  start(listener: BodyListener): void;
  pause(): void;
  resume(): void;
  /** Stops reading and closes the connection; no listener call follows. */
  destroy(): void;
  /** The whole body as text (error answers, JSON), at most `maxBytes` of it. */
  text(maxBytes?: number): Promise<string>;
}

/** The answer to an {@link UpstreamRequest}, once its head has arrived. */
export interface UpstreamReply {
  status: number;
  headers: Headers;
  body: UpstreamBody;
}

/**
 * Sends upstream requests; {@link close} closes its idle connections at shutdown.
 *
 * @example
 * ```ts
 * const reply = await transport.send({ url: 'https://api.openai.com/v1/models', method: 'GET', headers: { authorization: `Bearer ${key}` } });
 * console.log(reply.status, await reply.body.text());
 * ```
 */
export interface UpstreamTransport {
  send(request: UpstreamRequest): Promise<UpstreamReply>;
  close(): void;
}

/** The longest body {@link UpstreamBody.text} reads by default: more than any answer Airlock asks for. */
export const defaultTextBytes = 16 * 1024 * 1024;

/**
 * Reads whole text from chunks, refusing more than `maxBytes`.
 *
 * @example
 * ```ts
 * const text = await collectText(body, 1024);
 * ```
 */
export function collectText(body: UpstreamBody, maxBytes = defaultTextBytes): Promise<string> {
  return new Promise((resolve, reject) => {
    const decoder = new TextDecoder();
    let text = '';
    let total = 0;
    body.start({
      data(chunk) {
        total += chunk.byteLength;
        if (total > maxBytes) {
          body.destroy();
          reject(new Error(`The upstream body is longer than ${maxBytes} bytes.`));
          return;
        }
        text += decoder.decode(chunk, { stream: true });
      },
      end: () => resolve(text + decoder.decode()),
      error: reject,
    });
  });
}

// A Web stream's body as an UpstreamBody: read one chunk at a time while not paused.
class WebBody implements UpstreamBody {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #listener: BodyListener | undefined;
  #paused = false;
  #reading = false;
  #done = false;

  constructor(stream: ReadableStream<Uint8Array> | null) {
    this.#reader = stream?.getReader();
  }

  get waiting(): boolean {
    return false;
  }

  start(listener: BodyListener): void {
    if (this.#listener) throw new Error('The upstream body is already being read.');
    this.#listener = listener;
    if (!this.#reader) {
      this.#done = true;
      queueMicrotask(() => listener.end());
      return;
    }
    void this.#pump();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    if (!this.#reading && !this.#done) void this.#pump();
  }

  destroy(): void {
    if (this.#done) return;
    this.#done = true;
    this.#reader?.cancel().catch(() => {});
  }

  text(maxBytes?: number): Promise<string> {
    return collectText(this, maxBytes);
  }

  async #pump(): Promise<void> {
    const reader = this.#reader!;
    const listener = this.#listener!;
    this.#reading = true;
    try {
      while (!this.#paused && !this.#done) {
        const { done, value } = await reader.read();
        if (this.#done) return;
        if (done) {
          this.#done = true;
          listener.end();
          return;
        }
        listener.data(value);
      }
    } catch (error) {
      if (this.#done) return;
      this.#done = true;
      listener.error(error);
    } finally {
      this.#reading = false;
    }
  }
}

/**
 * A Web stream as an {@link UpstreamBody} (a `null` body ends at once).
 *
 * @example
 * ```ts
 * const body = webBody(response.body);
 * ```
 */
export function webBody(stream: ReadableStream<Uint8Array> | null): UpstreamBody {
  return new WebBody(stream);
}

/**
 * An {@link UpstreamTransport} on a `fetch` (the runtime's by default): what
 * Airlock uses where no faster one is given, and with the `upstream.fetch` option.
 *
 * @example
 * ```ts
 * const transport = fetchTransport(globalThis.fetch);
 * ```
 */
export function fetchTransport(fetchImpl: typeof fetch = fetch): UpstreamTransport {
  return {
    async send(request) {
      const response = await fetchImpl(request.url, {
        method: request.method,
        headers: request.headers,
        ...(request.body !== undefined && { body: request.body }),
        ...(request.signal && { signal: request.signal }),
      });
      return { status: response.status, headers: response.headers, body: webBody(response.body) };
    },
    close() {},
  };
}
