import OpenAI from 'openai';
import { AirlockError } from '../errors.js';
import { isInvalidKeyAnswer, upstreamError } from './upstream-errors.js';
import { fetchTransport, type UpstreamReply, type UpstreamTransport } from './upstream-transport.js';

/**
 * Where and how Airlock calls OpenAI (or any OpenAI-compatible server).
 */
export interface UpstreamOptions {
  /** The operator's shared key. Default: none (requests needing it fail with `upstream_key_invalid`). */
  apiKey?: string;
  /** Base URL of the OpenAI-compatible API. Default: `'https://api.openai.com/v1'`. */
  baseURL?: string;
  /** Time allowed until the upstream's response headers arrive, in ms. Default: `30_000`. */
  headersTimeoutMs?: number;
  /** Time allowed between the response headers and the first streamed chunk, in ms. Default: `30_000`. */
  firstChunkTimeoutMs?: number;
  /** Longest silence allowed between two streamed chunks, in ms. Default: `60_000`. */
  idleTimeoutMs?: number;
  /** During a silence this long, a `: keep-alive` SSE comment is sent so proxies keep the stream open, in ms. Default: `15_000`. */
  heartbeatIntervalMs?: number;
  /**
   * Bytes of a streamed answer held in memory for a client that reads slower
   * than the upstream writes; past that the upstream is paused until the
   * client catches up (the idle limit does not run meanwhile). Default: `262_144` (256 KiB).
   */
  clientBufferBytes?: number;
  /**
   * Longest time a slow client may leave a full buffer ({@link clientBufferBytes})
   * untaken before its stream is given up, in ms. Default: `60_000`.
   */
  slowClientTimeoutMs?: number;
  /**
   * `fetch` used for upstream calls (tests, a custom agent). Default: the
   * runtime's `fetch`, except for the chat calls, which use {@link transport}.
   */
  fetch?: typeof fetch;
  /**
   * How chat completions, the proxy's hot path, reach the upstream. Default:
   * on Node, keep-alive `node:http`/`node:https` agents whose streamed bodies
   * are relayed without Web streams (`createNodeTransport`); elsewhere, or when
   * the `fetch` option is given, that `fetch`.
   */
  transport?: UpstreamTransport;
}

/**
 * {@link UpstreamOptions} with defaults applied.
 */
export type ResolvedUpstream = Required<Omit<UpstreamOptions, 'apiKey' | 'fetch' | 'transport'>> & Pick<UpstreamOptions, 'apiKey' | 'fetch' | 'transport'>;

/**
 * Applies the defaults of {@link UpstreamOptions}.
 *
 * @example
 * ```ts
 * const settings = resolveUpstream({ idleTimeoutMs: 20_000 });
 * ```
 */
export function resolveUpstream(options: UpstreamOptions = {}): ResolvedUpstream {
  return {
    apiKey: options.apiKey,
    baseURL: options.baseURL ?? 'https://api.openai.com/v1',
    headersTimeoutMs: options.headersTimeoutMs ?? 30_000,
    firstChunkTimeoutMs: options.firstChunkTimeoutMs ?? 30_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 15_000,
    clientBufferBytes: options.clientBufferBytes ?? 256 * 1024,
    slowClientTimeoutMs: options.slowClientTimeoutMs ?? 60_000,
    fetch: options.fetch,
    transport: options.transport,
  };
}

// Most bytes of an error answer read to learn its code: OpenAI's are a few hundred.
const errorBodyBytes = 64 * 1024;

/**
 * The upstream calls of the proxy. Chat completions, the hot path, are
 * Airlock's own requests on the {@link UpstreamTransport} ({@link post}): a
 * streamed answer's body goes to the relay as it comes off the connection,
 * and no SDK work is done per call. Other calls (images, summaries, the
 * key check) use the `openai` client of {@link forKey}, made per call rather
 * than cached per key, so a decrypted key lives only as long as the call
 * that needs it; only the operator's shared key, held in the settings
 * anyway, has one client. Retries are off everywhere because a retried
 * stream could double-charge or replay partial output.
 *
 * @example
 * ```ts
 * const clients = new UpstreamClients(resolveUpstream({ apiKey }));
 * const reply = await clients.post(apiKey, '/chat/completions', { model, messages, stream: true }, signal);
 * clients.close();
 * ```
 */
export class UpstreamClients {
  readonly #transport: UpstreamTransport;
  readonly #fetch: typeof fetch;
  readonly #onResponseHeaders: (seconds: number) => void;
  readonly #base: string;
  #sharedClient: OpenAI | undefined;

  /** `onResponseHeaders` learns how long each upstream call took until its response headers (seconds), for metrics. */
  constructor(
    readonly settings: ResolvedUpstream,
    onResponseHeaders: (seconds: number) => void = () => {},
  ) {
    this.#onResponseHeaders = onResponseHeaders;
    this.#base = settings.baseURL.replace(/\/+$/, '');
    const base = settings.fetch ?? fetch;
    this.#transport = settings.transport ?? fetchTransport(base);
    this.#fetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const started = performance.now();
      const response = await base(input, init);
      onResponseHeaders((performance.now() - started) / 1000);
      return response;
    }) as typeof fetch;
  }

  /**
   * POSTs `body` as JSON to `path` under the base URL with `apiKey`, and
   * resolves once a 2xx reply's head has arrived (its body not yet read).
   * Any other status is read and thrown as the `openai` SDK's `APIError`
   * for it, a reply that does not come within `headersTimeoutMs` as its
   * `APIConnectionTimeoutError`, a broken connection as its
   * `APIConnectionError` ({@link upstreamError} maps each), so every
   * upstream call fails alike. Aborting `signal` rejects with its reason.
   */
  async post(apiKey: string, path: string, body: unknown, signal?: AbortSignal): Promise<UpstreamReply> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new OpenAI.APIConnectionTimeoutError()), this.settings.headersTimeoutMs);
    const onAbort = () => timeout.abort(signal!.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    const started = performance.now();
    let reply: UpstreamReply;
    try {
      reply = await this.#transport.send({
        url: `${this.#base}${path}`,
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: timeout.signal,
      });
    } catch (error) {
      const reason: unknown = timeout.signal.reason;
      if (timeout.signal.aborted && reason instanceof OpenAI.APIConnectionTimeoutError) throw reason;
      if (signal?.aborted) throw signal.reason;
      throw new OpenAI.APIConnectionError({ cause: error instanceof Error ? error : undefined });
    } finally {
      clearTimeout(timer);
      // The caller's signal goes on reaching the transport (through `timeout`) while the body streams.
    }
    this.#onResponseHeaders((performance.now() - started) / 1000);
    if (reply.status >= 200 && reply.status < 300) return reply;
    const text = await reply.body.text(errorBodyBytes).catch(() => '');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    // As the SDK makes it from an error answer: the parsed body, or the start of a body that is not JSON.
    throw OpenAI.APIError.generate(reply.status, parsed as object | undefined, parsed === undefined ? text.slice(0, 200) : undefined, reply.headers);
  }

  /**
   * {@link post} for a JSON answer: the parsed body. A body that is not
   * JSON fails as an unreadable answer.
   */
  async postJson<T>(apiKey: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const reply = await this.post(apiKey, path, body, signal);
    const text = await reply.body.text();
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new AirlockError('upstream_unavailable', 'The AI service sent an answer Airlock could not read.', { cause: error });
    }
  }

  forKey(apiKey: string): OpenAI {
    // The shared key sits in the settings for the life of the process
    // anyway, so its client is made once: building one costs about as much
    // as the rest of the SDK's work for a call.
    if (apiKey === this.settings.apiKey) return (this.#sharedClient ??= this.#client(apiKey));
    return this.#client(apiKey);
  }

  #client(apiKey: string): OpenAI {
    return new OpenAI({
      apiKey,
      baseURL: this.settings.baseURL,
      maxRetries: 0,
      timeout: this.settings.headersTimeoutMs,
      fetch: this.#fetch,
    });
  }

  /**
   * Whether the upstream refuses `apiKey` itself: a cheap call (`GET /models`)
   * answered with OpenAI's invalid-key answer. `false` when it is accepted,
   * refused for another reason, or the upstream cannot be reached: a key is
   * never taken out of service on a doubt.
   */
  async keyIsRefused(apiKey: string): Promise<boolean> {
    try {
      await this.forKey(apiKey).models.list();
      return false;
    } catch (error) {
      return isInvalidKeyAnswer(upstreamError(error));
    }
  }

  /** Closes the upstream connections, for shutdown (after the server has stopped taking requests). */
  close(): void {
    this.#transport.close();
  }
}
