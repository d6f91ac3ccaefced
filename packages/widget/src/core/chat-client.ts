import { WidgetError, errorFromResponse, networkError } from './errors';
import { readChatStream, type ReadChatStreamOptions } from './sse';
import type { TokenClient } from './token-client';

/**
 * One turn of a conversation as sent to the server. The server adds the system
 * prompt; the widget never sends one.
 */
export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

/**
 * Options of {@link ChatClient}.
 */
export interface ChatClientOptions {
  /** Base URL of the Airlock server, e.g. `https://example.com/airlock`. Required. */
  apiBase: string;
  /** Supplies and renews the bearer token. Required. */
  tokens: TokenClient;
  /** The `fetch` to use. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * Options of one {@link ChatClient} request. `onSources` (from
 * {@link ReadChatStreamOptions}) receives a chat answer's sources when the
 * widget has knowledge.
 */
export interface ChatStreamOptions extends ReadChatStreamOptions {
  /** Aborts the request and the stream. Default: `undefined` (never aborted). */
  signal?: AbortSignal;
  /**
   * Sent as the `Idempotency-Key` header. Use one key per visitor turn and the
   * same key when retrying that turn, so the server can tell a retry from a new
   * message. Default: `undefined` (no header).
   */
  idempotencyKey?: string;
}

/**
 * The answer of `POST /v1/images/generations`, in OpenAI's shape.
 *
 * @example
 * ```ts
 * const first = result.data[0]?.url ?? `data:image/png;base64,${result.data[0]?.b64_json}`;
 * ```
 */
export interface ImageResult {
  created?: number;
  data: { url?: string; b64_json?: string; revised_prompt?: string }[];
}

/**
 * Talks to an Airlock server's proxy, headless: streams chat replies and
 * completion results, and generates images. The UI is one consumer of it, and
 * you can build your own on it.
 *
 * @example
 * ```ts
 * const tokens = new TokenClient({ widgetId: 'wgt_1', apiBase });
 * const chat = new ChatClient({ apiBase, tokens });
 * const onSources = (sources: AnswerSource[]) => console.log(sources.map((source) => source.title));
 * for await (const delta of chat.stream([{ role: 'user', content: 'Hi' }], { onSources })) output.textContent += delta;
 * ```
 */
export class ChatClient {
  readonly #options: ChatClientOptions;
  readonly #fetch: typeof fetch;

  constructor(options: ChatClientOptions) {
    this.#options = options;
    // Called unbound on purpose; see TokenClient.
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /**
   * Sends the conversation and yields the reply's text as it streams in; its
   * sources (the passages of the widget's knowledge it was given), when it has
   * any, go to `options.onSources` before the first text. Throws a {@link WidgetError} on failure; aborting `signal` rejects with the
   * signal's reason (an `AbortError`).
   */
  stream(messages: readonly ChatMessage[], options: ChatStreamOptions = {}): AsyncGenerator<string, void, undefined> {
    return this.#stream('/v1/chat/completions', { messages, stream: true }, options);
  }

  /**
   * Sends a text-completion widget's named inputs (the server fills its prompt
   * template) and yields the result as it streams in.
   */
  complete(inputs: Record<string, string | number>, options: ChatStreamOptions = {}): AsyncGenerator<string, void, undefined> {
    return this.#stream('/v1/completions/fill', { inputs, stream: true }, options);
  }

  /** Generates an image for an image widget. */
  async generateImage(prompt: string, options: ChatStreamOptions & { size?: string } = {}): Promise<ImageResult> {
    const response = await this.#post('/v1/images/generations', { prompt, ...(options.size && { size: options.size }) }, options);
    let result: ImageResult;
    try {
      result = (await response.json()) as ImageResult;
    } catch (cause) {
      if (options.signal?.aborted) throw cause;
      throw new WidgetError('internal', 'No usable image.', { cause });
    }
    if (!Array.isArray(result?.data)) throw new WidgetError('internal', 'No usable image.');
    return result;
  }

  async *#stream(path: string, body: object, options: ChatStreamOptions): AsyncGenerator<string, void, undefined> {
    const response = await this.#post(path, body, options);
    if (!response.body) throw networkError(new Error('No body.'));
    try {
      yield* readChatStream(response.body, options);
    } catch (error) {
      // A connection reset mid-stream rejects `read()` with a bare TypeError.
      if (options.signal?.aborted || WidgetError.isInstance(error)) throw error;
      throw networkError(error);
    }
  }

  #post(path: string, body: object, options: ChatStreamOptions): Promise<Response> {
    const text = JSON.stringify(body);
    return this.#options.tokens.withToken(async (token) => {
      const headers: Record<string, string> = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
      if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey;
      let response: Response;
      try {
        response = await this.#fetch(`${this.#options.apiBase}${path}`, { method: 'POST', headers, body: text, signal: options.signal });
      } catch (cause) {
        if (options.signal?.aborted) throw cause;
        throw networkError(cause);
      }
      if (!response.ok) throw await errorFromResponse(response);
      return response;
    });
  }
}
