import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import {
  collectText,
  type BodyListener,
  type UpstreamBody,
  type UpstreamReply,
  type UpstreamRequest,
  type UpstreamTransport,
} from '../proxy/upstream-transport.js';

/**
 * Options of {@link createNodeTransport}.
 */
export interface NodeTransportOptions {
  /** How long an idle keep-alive connection is kept for reuse, in ms. Default: `4_000` (as undici's `fetch`). */
  freeSocketTimeoutMs?: number;
}

function abortError(signal: AbortSignal): Error {
  return (signal.reason as Error | undefined) ?? new DOMException('This operation was aborted', 'AbortError');
}

// The Node stream of a response, handed to its one listener as it comes off the socket.
class NodeBody implements UpstreamBody {
  readonly #incoming: IncomingMessage;
  #started = false;
  #destroyed = false;

  constructor(incoming: IncomingMessage) {
    this.#incoming = incoming;
  }

  get waiting(): boolean {
    return this.#incoming.readableLength > 0;
  }

  start(listener: BodyListener): void {
    if (this.#started) throw new Error('The upstream body is already being read.');
    this.#started = true;
    const incoming = this.#incoming;
    let over = false;
    const fail = (error: unknown) => {
      if (over || this.#destroyed) return;
      over = true;
      listener.error(error);
    };
    incoming.on('data', (chunk: Buffer) => {
      if (!this.#destroyed) listener.data(chunk);
    });
    incoming.once('end', () => {
      if (over || this.#destroyed) return;
      over = true;
      listener.end();
    });
    incoming.once('error', fail);
    incoming.once('close', () => {
      if (!incoming.readableEnded) fail(new Error('The upstream connection closed before the body ended.'));
    });
  }

  pause(): void {
    this.#incoming.pause();
  }

  resume(): void {
    if (!this.#destroyed) this.#incoming.resume();
  }

  destroy(): void {
    this.#destroyed = true;
    this.#incoming.destroy();
  }

  text(maxBytes?: number): Promise<string> {
    return collectText(this, maxBytes);
  }
}

/**
 * An upstream transport on `node:http`/`node:https` with keep-alive agents:
 * what `createAirlock` uses on Node. Compared with the global (undici)
 * `fetch` it skips the request clone, the body tee and the Web stream hops of
 * the Fetch spec: a streamed answer's socket chunks reach the relay as they
 * are. Redirects are not followed (OpenAI's API does not redirect). Aborting
 * the signal destroys the connection at any point, also while the body is
 * being read.
 *
 * @example
 * ```ts
 * createAirlock({ upstream: { transport: createNodeTransport() } });
 * ```
 */
export function createNodeTransport(options: NodeTransportOptions = {}): UpstreamTransport {
  const agentOptions = { keepAlive: true, timeout: options.freeSocketTimeoutMs ?? 4_000, scheduling: 'lifo' as const };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);

  const send = (upstream: UpstreamRequest): Promise<UpstreamReply> => {
    const url = new URL(upstream.url);
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') return Promise.reject(new TypeError(`The upstream URL must be http or https: ${url.protocol}`));
    const { signal } = upstream;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const headers = { ...upstream.headers };
    if (upstream.body !== undefined) headers['content-length'] = String(Buffer.byteLength(upstream.body));

    return new Promise<UpstreamReply>((resolve, reject) => {
      const request = (secure ? https : http).request(url, { method: upstream.method, headers, agent: secure ? httpsAgent : httpAgent });
      const onAbort = () => request.destroy(abortError(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => signal?.removeEventListener('abort', onAbort);
      // Errors after the response has arrived reach its body's listener; a
      // listener stays on both so a late one is never an uncaught exception.
      request.on('error', (error) => {
        settle();
        reject(error);
      });
      request.once('response', (incoming) => {
        incoming.on('error', () => {});
        incoming.once('close', settle);
        const replyHeaders = new Headers();
        const raw = incoming.rawHeaders;
        try {
          for (let index = 0; index < raw.length; index += 2) replyHeaders.append(raw[index]!, raw[index + 1]!);
        } catch (error) {
          // A header the Fetch API cannot represent.
          request.destroy();
          reject(error);
          return;
        }
        resolve({ status: incoming.statusCode ?? 502, headers: replyHeaders, body: new NodeBody(incoming) });
      });
      request.end(upstream.body);
    });
  };
  return {
    send,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/**
 * The transport `createAirlock` uses when none is configured: this one on
 * Node, and the runtime's `fetch` (`undefined` here) on Bun and Deno, whose
 * `node:http` is a layer over their own.
 *
 * @example
 * ```ts
 * const transport = defaultTransport() ?? fetchTransport();
 * ```
 */
export function defaultTransport(): UpstreamTransport | undefined {
  const runtime = globalThis as { Bun?: unknown; Deno?: unknown };
  if (runtime.Bun !== undefined || runtime.Deno !== undefined) return undefined;
  return createNodeTransport();
}
