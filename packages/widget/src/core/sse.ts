import type { AnswerSource } from '@airlock/protocol';
import { readSources } from './answer-sources';
import { WidgetError, toErrorCode } from './errors';

/**
 * One Server-Sent Event. OpenAI's streams use only `data`; `event` and `id`
 * are kept so the parser stays a faithful SSE parser.
 */
export interface ServerSentEvent {
  /** The `event:` field, `message` when absent. */
  event: string;
  /** All `data:` lines of the event, joined with `\n`. */
  data: string;
  /** The `id:` field, when present. */
  id?: string;
}

/**
 * An incremental parser for the `text/event-stream` format
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html). Text can be
 * pushed in pieces of any size, split anywhere, with LF, CRLF or CR line endings.
 *
 * @example
 * ```ts
 * const parser = new SseParser();
 * parser.push('data: hel'); // []
 * parser.push('lo\n\n'); // [{ event: 'message', data: 'hello' }]
 * ```
 */
export class SseParser {
  #buffer = '';
  #data: string[] = [];
  #event = '';
  #id: string | undefined;
  // A chunk may end between the CR and the LF of one CRLF.
  #skipLineFeed = false;

  /** Feeds decoded text; returns the events it completed. */
  push(text: string): ServerSentEvent[] {
    if (text === '') return [];
    if (this.#skipLineFeed && text.startsWith('\n')) text = text.slice(1);
    this.#skipLineFeed = false;
    this.#buffer += text;
    const events: ServerSentEvent[] = [];
    const lineBreak = /\r\n?|\n/g;
    let start = 0;
    for (let match = lineBreak.exec(this.#buffer); match; match = lineBreak.exec(this.#buffer)) {
      const event = this.#line(this.#buffer.slice(start, match.index));
      if (event) events.push(event);
      start = lineBreak.lastIndex;
      if (match[0] === '\r' && start === this.#buffer.length) this.#skipLineFeed = true;
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  #line(line: string): ServerSentEvent | undefined {
    if (line === '') {
      if (this.#data.length === 0) {
        this.#event = '';
        return undefined;
      }
      const event: ServerSentEvent = { event: this.#event || 'message', data: this.#data.join('\n') };
      if (this.#id !== undefined) event.id = this.#id;
      this.#data = [];
      this.#event = '';
      return event;
    }
    // Lines starting with ':' are comments (servers send `: heartbeat` to keep proxies from timing out).
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    return undefined;
  }
}

/**
 * Options of {@link readChatStream} (and of each {@link ChatClient} request).
 */
export interface ReadChatStreamOptions {
  /**
   * Called with the answer's sources, the passages of the widget's knowledge
   * the server gave the model (the `airlock_sources` field of the stream's
   * first chunk), before the first piece of text. Not called when the answer
   * has none. They are checked first: items without an `id` or a `title` are
   * dropped, a `url` that is not `http(s)` is left out, and there are at most 20.
   * Show `title` and `location` as text, never as HTML. Default: `undefined`.
   */
  onSources?: (sources: AnswerSource[]) => void;
}

/**
 * Reads an OpenAI chat-completion stream and yields each piece of assistant
 * text as it arrives; the answer's sources, when it has any, go to
 * `options.onSources`. Returns at `data: [DONE]`; throws a {@link WidgetError}
 * for an `{"error": …}` event, for a chunk that is not JSON, and for a stream
 * that ends without `[DONE]` (the connection was cut).
 *
 * @example
 * ```ts
 * let reply = '';
 * for await (const delta of readChatStream(response.body!, { onSources: showSources })) reply += delta;
 * ```
 */
export async function* readChatStream(body: ReadableStream<Uint8Array>, options: ReadChatStreamOptions = {}): AsyncGenerator<string, void, undefined> {
  const reader = body.getReader();
  // `stream: true` holds back a multi-byte character split across two chunks.
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      const events = done ? parser.push(decoder.decode()) : parser.push(decoder.decode(value, { stream: true }));
      for (const event of events) {
        if (event.data === '[DONE]') return;
        const delta = chatDelta(event.data, options);
        if (delta) yield delta;
      }
      if (done) throw new WidgetError('upstream_unavailable', 'The reply was cut off.');
    }
  } finally {
    // Releases the connection when the consumer stops early (Stop button, error, `break`).
    reader.cancel().catch(() => {});
  }
}

function chatDelta(data: string, options: ReadChatStreamOptions): string | undefined {
  let chunk: {
    choices?: { delta?: { content?: unknown } }[];
    error?: { message?: unknown; code?: unknown };
    airlock_sources?: unknown;
  } | null;
  try {
    chunk = JSON.parse(data);
  } catch (cause) {
    throw new WidgetError('internal', 'A malformed stream event.', { cause });
  }
  const error = chunk?.error;
  if (error) {
    const message = typeof error.message === 'string' ? error.message : 'The reply failed.';
    throw new WidgetError(toErrorCode(error.code), message);
  }
  const sources = readSources(chunk?.airlock_sources);
  if (sources) options.onSources?.(sources);
  // Role-only, finish and usage chunks carry no text.
  const content = chunk?.choices?.[0]?.delta?.content;
  return typeof content === 'string' ? content : undefined;
}
