import { WidgetError, errorFromResponse, networkError } from './errors';
import { readChatStream } from './sse';
import type { TokenClient } from './token-client';

/**
 * One turn of a conversation as sent to the server. The server adds the system
 * prompt; the widget never sends one.
 *
 * @example
 * ```ts
 * const message: ChatMessage = { role: 'user', content: 'Hello' };
 * ```
 */
export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

/**
 * Options of {@link ChatClient}.
 *
 * @example
 * ```ts
 * const options: ChatClientOptions = { apiBase: 'https://example.com/airlock', tokens };
 * ```
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
 * Options of one {@link ChatClient.stream} call.
 *
 * @example
 * ```ts
 * const options: ChatStreamOptions = { signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface ChatStreamOptions {
  /** Aborts the request and the stream. Default: `undefined` (never aborted). */
  signal?: AbortSignal;
}

/**
 * Streams chat completions from an Airlock server, headless: the UI is one
 * consumer of it, and you can build your own on it.
 *
 * @example
 * ```ts
 * const tokens = new TokenClient({ widgetId: 'wgt_1', apiBase });
 * const chat = new ChatClient({ apiBase, tokens });
 * for await (const delta of chat.stream([{ role: 'user', content: 'Hi' }])) output.textContent += delta;
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
   * Sends the conversation and yields the reply's text as it streams in.
   * Throws a {@link WidgetError} on failure; aborting `signal` rejects with the
   * signal's reason (an `AbortError`).
   */
  async *stream(messages: readonly ChatMessage[], options: ChatStreamOptions = {}): AsyncGenerator<string, void, undefined> {
    const body = JSON.stringify({ messages, stream: true });
    const response = await this.#options.tokens.withToken(async (token) => {
      let response: Response;
      try {
        response = await this.#fetch(`${this.#options.apiBase}/v1/chat/completions`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body,
          signal: options.signal,
        });
      } catch (cause) {
        if (options.signal?.aborted) throw cause;
        throw networkError(cause);
      }
      if (!response.ok) throw await errorFromResponse(response);
      return response;
    });
    if (!response.body) throw networkError(new Error('The response has no body.'));
    try {
      yield* readChatStream(response.body);
    } catch (error) {
      // A connection reset mid-stream rejects `read()` with a bare TypeError.
      if (options.signal?.aborted || WidgetError.isInstance(error)) throw error;
      throw networkError(error);
    }
  }
}
