import OpenAI from 'openai';
import { isInvalidKeyAnswer, upstreamError } from './upstream-errors.js';
import { createUpstreamFetch, type UpstreamFetch } from './upstream-fetch.js';

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
  /** `fetch` used for upstream calls, for tests. Default: Airlock's keep-alive `node:http`/`node:https` fetch (proxy/upstream-fetch.ts), whose streamed bodies the proxy relays without Web streams. */
  fetch?: typeof fetch;
}

/**
 * {@link UpstreamOptions} with defaults applied.
 */
export type ResolvedUpstream = Required<Omit<UpstreamOptions, 'apiKey' | 'fetch'>> & Pick<UpstreamOptions, 'apiKey' | 'fetch'>;

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
  };
}

/**
 * Builds the `openai` client for one call. A client is made per call rather
 * than cached per key, so a decrypted key lives only as long as the call that
 * needs it (a revoked or rotated key is not kept in a long-lived map); only
 * the operator's shared key, held in the settings anyway, has one client.
 * Retries are off because a retried stream could double-charge or replay
 * partial output. Connections are pooled by the one shared `fetch` (its
 * keep-alive agents), not by the client, so nothing is lost by not caching.
 *
 * @example
 * ```ts
 * const clients = new UpstreamClients(resolveUpstream({ apiKey }));
 * await clients.forKey(apiKey).models.list();
 * clients.close();
 * ```
 */
export class UpstreamClients {
  readonly #ownFetch: UpstreamFetch | undefined;
  readonly #fetch: typeof fetch;
  #sharedClient: OpenAI | undefined;

  /** `onResponseHeaders` learns how long each upstream call took until its response headers (seconds), for metrics. */
  constructor(
    readonly settings: ResolvedUpstream,
    onResponseHeaders: (seconds: number) => void = () => {},
  ) {
    this.#ownFetch = settings.fetch ? undefined : createUpstreamFetch();
    const base = settings.fetch ?? this.#ownFetch!;
    this.#fetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const started = performance.now();
      const response = await base(input, init);
      onResponseHeaders((performance.now() - started) / 1000);
      return response;
    }) as typeof fetch;
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
    this.#ownFetch?.close();
  }
}
