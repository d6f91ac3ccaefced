import type { ChatCompletionChunk } from 'openai/resources/chat/completions';

/**
 * The response headers of a UI message stream: the AI SDK's transport reads
 * the body as SSE, and `x-vercel-ai-ui-message-stream: v1` names the
 * protocol (as the SDK's own `UI_MESSAGE_STREAM_HEADERS` do; `connection`
 * is left out, a hop-by-hop header the server sets). `x-accel-buffering: no`
 * keeps nginx from holding the stream back.
 *
 * @example
 * ```ts
 * return new Response(chat.body!.pipeThrough(chatStreamToUIMessageStream()), { headers: uiMessageStreamHeaders });
 * ```
 */
export const uiMessageStreamHeaders: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  'x-vercel-ai-ui-message-stream': 'v1',
  'x-accel-buffering': 'no',
});

/**
 * A source the answer draws on (a knowledge passage), sent as a
 * `source-url` chunk when it has a `url`, else as `source-document`.
 *
 * @example
 * ```ts
 * const sources: UIStreamSource[] = [
 *   { id: 'kb-1', url: 'https://example.com/pricing', title: 'Pricing' },
 *   { id: 'kb-2', title: 'Handbook', mediaType: 'application/pdf', filename: 'handbook.pdf' },
 * ];
 * ```
 */
export interface UIStreamSource {
  /** The source's id (the chunk's `sourceId`), unique within the answer. */
  id: string;
  /** Where the source can be read. With it the source is a `source-url`. */
  url?: string;
  /** Its title. Default for a document: `filename`, else `id` (the protocol requires one). */
  title?: string;
  /** A document's media type. Default: `'text/plain'`. Not sent for a `source-url`. */
  mediaType?: string;
  /** A document's file name. Not sent for a `source-url`. */
  filename?: string;
}

/**
 * Options of {@link UIMessageStreamTranslator} and {@link chatStreamToUIMessageStream}.
 */
export interface UIMessageStreamOptions {
  /** The answer's message id (the `start` chunk's `messageId`). Default: a new random `msg-<uuid>`. */
  messageId?: string;
  /** Sources sent right after `start-step`, before the text. Default: none. */
  sources?: readonly UIStreamSource[];
}

/**
 * Why an answer ended, in the AI SDK's terms (its `FinishReason`).
 */
export type UIFinishReason = 'stop' | 'length' | 'content-filter' | 'tool-calls' | 'error' | 'other';

/**
 * One chunk of the UI message stream protocol (the AI SDK's
 * `UIMessageChunk`), the ones a text answer uses.
 */
export type UIStreamChunk =
  | { type: 'start'; messageId: string }
  | { type: 'start-step' }
  | { type: 'source-url'; sourceId: string; url: string; title?: string }
  | { type: 'source-document'; sourceId: string; mediaType: string; title: string; filename?: string }
  | { type: 'text-start'; id: string }
  | { type: 'text-delta'; id: string; delta: string }
  | { type: 'text-end'; id: string }
  | { type: 'finish-step' }
  | { type: 'finish'; finishReason?: UIFinishReason }
  | { type: 'error'; errorText: string };

// The answer is one text part; its id need only be unique within the message.
const textId = 'text-0';

function finishReasonOf(reason: string): UIFinishReason {
  switch (reason) {
    case 'stop':
    case 'length':
      return reason;
    case 'content_filter':
      return 'content-filter';
    case 'tool_calls':
    case 'function_call':
      return 'tool-calls';
    default:
      return 'other';
  }
}

function sourceChunk(source: UIStreamSource): UIStreamChunk {
  if (source.url !== undefined) {
    return { type: 'source-url', sourceId: source.id, url: source.url, ...(source.title !== undefined && { title: source.title }) };
  }
  return {
    type: 'source-document',
    sourceId: source.id,
    mediaType: source.mediaType ?? 'text/plain',
    title: source.title ?? source.filename ?? source.id,
    ...(source.filename !== undefined && { filename: source.filename }),
  };
}

/**
 * Turns a chat-completion stream, chunk by chunk, into the AI SDK's UI
 * message stream: `start` (with the message id), `start-step`, the sources,
 * then one text part (`text-start`, a `text-delta` per piece of text,
 * `text-end`; none at all for an answer without text), `finish-step` and
 * `finish` with the finish reason. A failure is one `error` chunk and
 * nothing after it: no `finish`, which would tell the client the answer is
 * complete. Pure: it only builds chunks, the caller writes them
 * ({@link encodeUIStreamChunk}, then `data: [DONE]`).
 *
 * @example
 * ```ts
 * const translator = new UIMessageStreamTranslator({ messageId: 'msg-1' });
 * write(translator.start());
 * for (const chunk of chunks) write(translator.chunk(chunk));
 * write(translator.finish()); // or translator.fail('The AI service took too long to answer.')
 * ```
 */
export class UIMessageStreamTranslator {
  readonly #messageId: string;
  readonly #sources: readonly UIStreamSource[];
  #opened = false;
  #ended = false;
  #finishReason: UIFinishReason | undefined;

  constructor(options: UIMessageStreamOptions = {}) {
    this.#messageId = options.messageId ?? `msg-${globalThis.crypto.randomUUID()}`;
    this.#sources = options.sources ?? [];
  }

  /** The answer's message id. */
  get messageId(): string {
    return this.#messageId;
  }

  /** Whether a terminal chunk (`finish` or `error`) has been made. */
  get ended(): boolean {
    return this.#ended;
  }

  /** `start`, `start-step` and a chunk per source. */
  start(): UIStreamChunk[] {
    return [{ type: 'start', messageId: this.#messageId }, { type: 'start-step' }, ...this.#sources.map(sourceChunk)];
  }

  /** The chunks for one upstream chunk: text deltas, and `text-start` before the first. */
  chunk(chunk: ChatCompletionChunk): UIStreamChunk[] {
    if (this.#ended) return [];
    const choice = chunk.choices[0];
    if (choice?.finish_reason) this.#finishReason = finishReasonOf(choice.finish_reason);
    const delta = choice?.delta?.content;
    if (typeof delta !== 'string' || delta === '') return [];
    const chunks: UIStreamChunk[] = [];
    if (!this.#opened) {
      this.#opened = true;
      chunks.push({ type: 'text-start', id: textId });
    }
    chunks.push({ type: 'text-delta', id: textId, delta });
    return chunks;
  }

  /** The closing chunks once the upstream answer is complete: `text-end` (if text was sent), `finish-step`, `finish`. */
  finish(): UIStreamChunk[] {
    if (this.#ended) return [];
    this.#ended = true;
    const chunks: UIStreamChunk[] = this.#opened ? [{ type: 'text-end', id: textId }] : [];
    chunks.push({ type: 'finish-step' }, this.#finishReason ? { type: 'finish', finishReason: this.#finishReason } : { type: 'finish' });
    return chunks;
  }

  /** The `error` chunk when the answer cannot finish. `errorText` is shown to the visitor: only Airlock's own messages belong in it. */
  fail(errorText: string): UIStreamChunk[] {
    if (this.#ended) return [];
    this.#ended = true;
    return [{ type: 'error', errorText }];
  }
}

const encoder = new TextEncoder();

/**
 * One UI message stream chunk as SSE: `data: {json}` and a blank line, as
 * the AI SDK's `JsonToSseTransformStream` writes it.
 *
 * @example
 * ```ts
 * controller.enqueue(encodeUIStreamChunk({ type: 'start-step' })); // data: {"type":"start-step"}\n\n
 * ```
 */
export function encodeUIStreamChunk(chunk: UIStreamChunk): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify(chunk)}\n\n`);
}
