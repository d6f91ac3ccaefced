/**
 * Behaviours: plain data describing how the test upstream answers one request.
 * Being plain data (no functions), they can be built by a test, sent over a
 * process boundary, or written into the demo's configuration.
 */

/**
 * The text the upstream answers with when a test has not scripted anything.
 *
 * @example
 * ```ts
 * expect(reply).toBe(DEFAULT_ANSWER_TEXT);
 * ```
 */
export const DEFAULT_ANSWER_TEXT = 'Hello from the Airlock test upstream.';

/**
 * Restricts a queued behaviour to some requests. A behaviour without a match
 * applies to the next request it makes sense for (see {@link Behaviour}).
 *
 * @example
 * ```ts
 * upstream.next({ ...faults.serverError(), match: { path: '/v1/images/generations' } });
 * ```
 */
export interface BehaviourMatch {
  /** Exact request path without the query string, e.g. `'/v1/chat/completions'`. Default: any path. */
  path?: string;
}

/**
 * Token counts reported in an answer's `usage`.
 */
export interface AnswerUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

/**
 * Answer a chat completion with `text`: as SSE when the request has
 * `stream: true`, otherwise as one JSON `chat.completion`.
 *
 * @example
 * ```ts
 * upstream.next({ type: 'answer', text: 'Hi there', chunks: 2, delayMs: 10 });
 * ```
 */
export interface AnswerBehaviour {
  type: 'answer';
  /** The assistant's reply. */
  text: string;
  /** How many content deltas to split `text` into. Default: one per word (whitespace stays with the word before it). */
  chunks?: number;
  /**
   * Pause between streamed chunks, in ms. A JSON answer waits the time the
   * stream would have taken (`delayMs` × chunks). Default: 0.
   */
  delayMs?: number;
  /**
   * Reported token usage. Default: approximate — prompt tokens are the number
   * of words in the request's messages, completion tokens the number of chunks.
   */
  usage?: AnswerUsage;
  /**
   * Whether the answer reports its usage: `false` leaves the usage chunk out
   * of a stream (and `usage` out of a JSON answer), as some OpenAI-compatible
   * servers do. Default: `true` (a stream sends it when the request asks,
   * with `stream_options.include_usage`).
   */
  reportUsage?: boolean;
  match?: BehaviourMatch;
}

/**
 * Stream explicit content deltas for a chat completion (a JSON request gets
 * them joined into one message).
 *
 * @example
 * ```ts
 * upstream.next({ type: 'stream', chunks: ['Hel', 'lo'], firstChunkDelayMs: 50 });
 * ```
 */
export interface StreamBehaviour {
  type: 'stream';
  /** Content deltas, in order. */
  chunks: string[];
  /** Pause between chunks, in ms. Default: 0. */
  delayMs?: number;
  /** Pause before the response headers and first event (time to first byte), in ms. Default: 0. */
  firstChunkDelayMs?: number;
  /** Whether the stream reports its usage; see {@link AnswerBehaviour.reportUsage}. Default: `true`. */
  reportUsage?: boolean;
  match?: BehaviourMatch;
}

/**
 * The body of an OpenAI error, as in `{ error: { message, type, code, param } }`.
 */
export interface OpenAIErrorBody {
  message: string;
  type: string;
  code: string | null;
  /** Default: `null`. */
  param?: string | null;
}

/**
 * Answer with an HTTP error in OpenAI's error shape. Applies to every route.
 *
 * @example
 * ```ts
 * upstream.next({ type: 'error', status: 503, error: { message: 'Overloaded', type: 'server_error', code: null } });
 * ```
 */
export interface ErrorBehaviour {
  type: 'error';
  status: number;
  error: OpenAIErrorBody;
  /** Extra response headers, e.g. `{ 'retry-after': '2' }`. Default: none. */
  headers?: Record<string, string>;
  match?: BehaviourMatch;
}

/**
 * Accept the request and never answer, keeping the connection open until the
 * client gives up (or the upstream closes). Applies to every route.
 *
 * @example
 * ```ts
 * upstream.next({ type: 'stall' });                  // no headers at all
 * upstream.next({ type: 'stall', afterChunks: 2 });  // a streamed chat goes silent after 2 deltas
 * ```
 */
export interface StallBehaviour {
  type: 'stall';
  /**
   * For a streaming chat completion: send the headers, the role event and this
   * many content deltas of `text`, then go silent. Ignored for other requests.
   * Default: stall before the headers.
   */
  afterChunks?: number;
  /** Text whose word-chunks are sent before stalling. Default: {@link DEFAULT_ANSWER_TEXT}. */
  text?: string;
  /** With `afterChunks`: also send the first half of the next event, so the stream goes silent mid-event. Default: `false`. */
  midEvent?: boolean;
  match?: BehaviourMatch;
}

/**
 * Destroy the socket, as a crashed upstream or a broken network would.
 * Applies to every route.
 *
 * @example
 * ```ts
 * upstream.next({ type: 'drop' });                  // before any byte of the response
 * upstream.next({ type: 'drop', afterChunks: 3 });  // a streamed chat dies after 3 deltas
 * ```
 */
export interface DropBehaviour {
  type: 'drop';
  /**
   * For a streaming chat completion: send the headers, the role event and this
   * many content deltas of `text`, then destroy the socket. Ignored for other
   * requests. Default: drop before the headers.
   */
  afterChunks?: number;
  /** Text whose word-chunks are sent before dropping. Default: {@link DEFAULT_ANSWER_TEXT}. */
  text?: string;
  /** With `afterChunks`: also send the first half of the next event, so the socket dies mid-event. Default: `false`. */
  midEvent?: boolean;
  /** Reset the connection (a TCP RST, as a crashed peer or a middlebox does) instead of closing it. Default: `false`. */
  reset?: boolean;
  match?: BehaviourMatch;
}

/**
 * End a streamed chat answer early but cleanly: the headers, the role event
 * and `afterChunks` content deltas, then the end of the response, with no
 * finish reason and no `data: [DONE]` (a server that gave up, or a proxy
 * that cut the body at a size limit). A request that does not stream gets
 * the default answer.
 *
 * @example
 * ```ts
 * upstream.next({ type: 'cut', afterChunks: 2 });                 // ends after 2 deltas
 * upstream.next({ type: 'cut', afterChunks: 2, midEvent: true }); // ends in the middle of the third
 * ```
 */
export interface CutBehaviour {
  type: 'cut';
  /** Content deltas sent before the end. Default: `0`. */
  afterChunks?: number;
  /** Text whose word-chunks are sent. Default: {@link DEFAULT_ANSWER_TEXT}. */
  text?: string;
  /** Also send the first half of the next event before ending. Default: `false`. */
  midEvent?: boolean;
  match?: BehaviourMatch;
}

/**
 * Answer with a body of your own, byte for byte, under the status and
 * content type given: a JSON or HTML page, or garbage, where a stream was
 * expected (a misconfigured proxy or gateway in front of the AI service).
 * Applies to every route.
 *
 * @example
 * ```ts
 * upstream.next({ type: 'raw', body: '<html><body>Bad gateway</body></html>' });
 * upstream.next({ type: 'raw', body: '{"error":{"message":"Boom","type":"server_error","code":null}}' });
 * ```
 */
export interface RawBehaviour {
  type: 'raw';
  body: string;
  /** HTTP status. Default: `200`. */
  status?: number;
  /** The `content-type` header. Default: `'text/event-stream; charset=utf-8'`. */
  contentType?: string;
  match?: BehaviourMatch;
}

/**
 * Fail inside a streamed chat answer, as OpenAI does when a generation breaks
 * after the 200: the headers, the role event and `afterChunks` content
 * deltas, then one `data: {"error": …}` event, then the end of the response.
 * A chat request that does not stream gets the error as an HTTP 500 answer.
 *
 * @example
 * ```ts
 * upstream.next({ type: 'stream-error', afterChunks: 2, error: { message: 'Boom', type: 'server_error', code: null } });
 * ```
 */
export interface StreamErrorBehaviour {
  type: 'stream-error';
  error: OpenAIErrorBody;
  /** Content deltas sent before the error event. Default: `0`. */
  afterChunks?: number;
  /** Text whose word-chunks are sent. Default: {@link DEFAULT_ANSWER_TEXT}. */
  text?: string;
  match?: BehaviourMatch;
}

/**
 * Answer `POST /v1/images/generations` with OpenAI's images response.
 *
 * @example
 * ```ts
 * upstream.next({ type: 'image', urls: ['https://example.com/cat.png'] });
 * upstream.next({ type: 'image', b64: true });
 * ```
 */
export interface ImageBehaviour {
  type: 'image';
  /** Image URLs to return, one `data` item each. Default: `n` items pointing at this server's `GET /files/image.png`. */
  urls?: string[];
  /**
   * Return a tiny PNG as `b64_json` instead of URLs (ignored when `urls` is set).
   * Default: whether the request asked for `response_format: 'b64_json'`.
   */
  b64?: boolean;
  match?: BehaviourMatch;
}

/**
 * Everything the test upstream can be told to do with a request.
 *
 * `answer`, `stream`, `cut` and `stream-error` apply only to chat
 * completions, `image` only to image generations; `error`, `stall`, `drop`
 * and `raw` apply to any API route. A queued behaviour waits for the first
 * request it applies to.
 */
export type Behaviour =
  AnswerBehaviour | StreamBehaviour | ErrorBehaviour | StallBehaviour | DropBehaviour | CutBehaviour | RawBehaviour | StreamErrorBehaviour | ImageBehaviour;

/**
 * Splits `text` into content deltas that join back to exactly `text`.
 * Without `count`, one piece per word (its trailing whitespace included);
 * with `count`, that many pieces of about equal length.
 *
 * @example
 * ```ts
 * splitIntoChunks('Hello big world'); // ['Hello ', 'big ', 'world']
 * splitIntoChunks('abcdef', 3);       // ['ab', 'cd', 'ef']
 * ```
 */
export function splitIntoChunks(text: string, count?: number): string[] {
  if (text === '') return [];
  if (count === undefined) return text.split(/(?<=\s)(?=\S)/);
  // More pieces than characters would produce empty deltas, which OpenAI never sends.
  const pieces = Math.max(1, Math.min(Math.floor(count), text.length));
  const result: string[] = [];
  for (let index = 0; index < pieces; index += 1) {
    result.push(text.slice(Math.floor((index * text.length) / pieces), Math.floor(((index + 1) * text.length) / pieces)));
  }
  return result;
}
