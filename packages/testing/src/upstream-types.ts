// The test upstream's public shapes: its options, what it records of each
// request and connection, and the handle startUpstream resolves with.
import type { Behaviour } from './behaviours.js';

/**
 * Options for {@link startUpstream}.
 *
 * @example
 * ```ts
 * const upstream = await startUpstream({ acceptedKeys: ['sk-test-good'], models: ['gpt-4o-mini'] });
 * ```
 */
export interface UpstreamOptions {
  /** Port to listen on. Default: `0` (a free port chosen by the system). */
  port?: number;
  /** Interface to listen on. Default: `'127.0.0.1'`. */
  host?: string;
  /**
   * What to do when no queued behaviour applies. Default: answer
   * {@link DEFAULT_ANSWER_TEXT}, streamed one word per chunk when asked to stream.
   *
   * A default `answer` (this one, the built-in one or one set with
   * {@link Upstream.setDefault}; never one queued with {@link Upstream.next})
   * shows what Airlock retrieved when a system message of the request holds
   * Airlock's reference material: it then answers
   * `From your files (stand-in answer): <first reference's source>: <about 200 characters of its text>`.
   */
  defaultBehaviour?: Behaviour;
  /**
   * When set, a request whose `Authorization: Bearer` key is not in this list
   * gets 401 `invalid_api_key`, as OpenAI answers an unknown key.
   * Default: any key is accepted (a missing key is still refused).
   */
  acceptedKeys?: string[];
  /** Model ids listed by `GET /v1/models`. Default: `['gpt-4o-mini', 'gpt-4o', 'dall-e-3', 'gpt-image-1']`. */
  models?: string[];
  /**
   * Whether `POST /v1/embeddings` exists: `false` answers it 404 like an
   * unknown route, as many OpenAI-compatible servers without embeddings do.
   * Default: `true`.
   */
  embeddings?: boolean;
  /**
   * Length of the vectors `POST /v1/embeddings` returns when the request does
   * not ask for `dimensions`. Default: {@link DEFAULT_EMBEDDING_DIMENSIONS} (256).
   */
  embeddingDimensions?: number;
}

/**
 * A request as the upstream received it, recorded before it was acted on.
 *
 * @example
 * ```ts
 * expect(upstream.requests[0]?.headers.authorization).toBe('Bearer sk-test-one');
 * ```
 */
export interface RecordedRequest {
  method: string;
  /** The path without its query string, e.g. `'/v1/chat/completions'`. */
  path: string;
  /** Request headers, names lower-cased; repeated headers joined with `', '`. */
  headers: Record<string, string>;
  /** The parsed JSON body; the raw text when it is not JSON; `undefined` when empty. */
  body: unknown;
  /** When the body had been read, in ms since the epoch (sub-millisecond precision). */
  receivedAt: number;
  /** Which connection carried it; see {@link Upstream.waitForClose}. */
  connectionId: number;
}

/**
 * Reported when a client connection to the upstream closes.
 *
 * @example
 * ```ts
 * upstream.onConnectionClosed((event) => console.log(event.closedAt - event.openedAt));
 * ```
 */
export interface ConnectionClosedEvent {
  connectionId: number;
  /** In ms since the epoch (sub-millisecond precision), comparable with `Date.now()`. */
  openedAt: number;
  /** In ms since the epoch (sub-millisecond precision), comparable with `Date.now()`. */
  closedAt: number;
}

/**
 * Options for {@link Upstream.waitForClose}.
 *
 * @example
 * ```ts
 * await upstream.waitForClose({ connectionId: upstream.requests[0]!.connectionId, timeoutMs: 1_000 });
 * ```
 */
export interface WaitForCloseOptions {
  /** The connection to wait for. Default: the one that carried the latest recorded request, or else the next to close. */
  connectionId?: number;
  /** Reject when the connection is still open after this long, in ms. Default: 5000. */
  timeoutMs?: number;
}

/**
 * A running test upstream. See {@link startUpstream}.
 *
 * @example
 * ```ts
 * const upstream: Upstream = await startUpstream();
 * const openai = new OpenAI({ apiKey: 'sk-test-1', baseURL: upstream.baseURL });
 * ```
 */
export interface Upstream {
  /** `'http://127.0.0.1:PORT'`. */
  readonly url: string;
  /** `'http://127.0.0.1:PORT/v1'`, what OpenAI clients take as `baseURL`. */
  readonly baseURL: string;
  readonly port: number;
  /** Every request received since start (or the last {@link Upstream.reset}), oldest first. */
  readonly requests: readonly RecordedRequest[];
  /** Client sockets open right now. */
  readonly openConnections: number;
  /** Queues `behaviour` for the next request it applies to (first in, first out). */
  next(behaviour: Behaviour): void;
  /** Replaces the behaviour used when nothing queued applies. */
  setDefault(behaviour: Behaviour): void;
  /** Clears the queue and the recorded requests, and restores the starting default. */
  reset(): void;
  /** Calls `listener` whenever a connection closes; returns a function that unsubscribes. */
  onConnectionClosed(listener: (event: ConnectionClosedEvent) => void): () => void;
  /**
   * Resolves when a connection closes (immediately if it already has), so a
   * test can measure how fast an aborted request released the upstream.
   */
  waitForClose(options?: WaitForCloseOptions): Promise<ConnectionClosedEvent>;
  /** Stops listening and destroys every open socket, stalled ones included. */
  close(): Promise<void>;
}
