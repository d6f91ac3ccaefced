import OpenAI from 'openai';

/**
 * Where and how Airlock calls OpenAI (or any OpenAI-compatible server).
 *
 * @example
 * ```ts
 * const upstream: UpstreamOptions = { apiKey: process.env.OPENAI_API_KEY, baseURL: 'https://api.openai.com/v1' };
 * ```
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
  /** `fetch` used for upstream calls, for tests. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** {@link UpstreamOptions} with defaults applied. */
export type ResolvedUpstream = Required<Omit<UpstreamOptions, 'apiKey' | 'fetch'>> & Pick<UpstreamOptions, 'apiKey' | 'fetch'>;

export function resolveUpstream(options: UpstreamOptions = {}): ResolvedUpstream {
  return {
    apiKey: options.apiKey,
    baseURL: options.baseURL ?? 'https://api.openai.com/v1',
    headersTimeoutMs: options.headersTimeoutMs ?? 30_000,
    firstChunkTimeoutMs: options.firstChunkTimeoutMs ?? 30_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    fetch: options.fetch,
  };
}

/**
 * One `openai` client per key: the SDK keeps connection settings per client,
 * and a key is only ever held by the client built for it. Retries are off
 * because a retried stream could double-charge or replay partial output.
 */
export class UpstreamClients {
  readonly #clients = new Map<string, OpenAI>();
  constructor(readonly settings: ResolvedUpstream) {}

  forKey(apiKey: string): OpenAI {
    let client = this.#clients.get(apiKey);
    if (!client) {
      client = new OpenAI({
        apiKey,
        baseURL: this.settings.baseURL,
        maxRetries: 0,
        timeout: this.settings.headersTimeoutMs,
        ...(this.settings.fetch && { fetch: this.settings.fetch }),
      });
      this.#clients.set(apiKey, client);
    }
    return client;
  }
}
