import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { malformedStreamError } from '../upstream-errors.js';
import { encodeUIStreamChunk, UIMessageStreamTranslator, type UIMessageStreamOptions, type UIStreamChunk } from './ui-message-chunks.js';

/** Longest single chat SSE event read, in characters; an upstream event is a few hundred. */
const maxEventLength = 1024 * 1024;

const encoder = new TextEncoder();
const doneEvent = encoder.encode('data: [DONE]\n\n');
const unreadable = malformedStreamError().message;
// As the relay words it when the upstream stops early; this is the same
// case when the chat stream reaches here without the relay.
const cutOff = 'The answer was cut off before it finished.';
// For an error event that is not Airlock's: its text may come from the upstream.
const genericFailure = 'The AI service failed.';

/**
 * Rewrites a chat-completion SSE stream (the bytes the chat pipeline sends a
 * client: `data: {chunk}` events, `data: [DONE]`, heartbeat comments, and
 * Airlock's `data: {"error": …}` event when a stream fails) into the AI
 * SDK's UI message stream, as SSE (`data: {chunk}` events, then
 * `data: [DONE]`), for `useChat` and its `DefaultChatTransport`; see
 * {@link UIMessageStreamTranslator} for the chunks. Comments pass through,
 * so heartbeats still reach the client (the SDK's parser skips them, as it
 * does its own `: keep-alive`). Airlock's error event becomes an `error`
 * chunk carrying its message only (any other error event gets a generic
 * message: its text could be the upstream's); so does an event that is not
 * JSON, and a stream that ends with neither `[DONE]` nor an error event,
 * which is an answer cut off, never reported as finished. Events may be
 * split anywhere across chunks. Cancelling the result cancels the chat
 * stream (`pipeThrough`).
 *
 * @example
 * ```ts
 * const chat = await chatPipeline(...); // a text/event-stream Response
 * return new Response(chat.body!.pipeThrough(chatStreamToUIMessageStream({ sources })), { headers: uiMessageStreamHeaders });
 * ```
 */
export function chatStreamToUIMessageStream(options: UIMessageStreamOptions = {}): TransformStream<Uint8Array, Uint8Array> {
  const translator = new UIMessageStreamTranslator(options);
  const decoder = new TextDecoder();
  let buffered = '';
  let closed = false;
  const write = (controller: TransformStreamDefaultController<Uint8Array>, chunks: UIStreamChunk[]) => {
    if (closed) return;
    for (const chunk of chunks) controller.enqueue(encodeUIStreamChunk(chunk));
    if (translator.ended) {
      closed = true;
      controller.enqueue(doneEvent);
    }
  };
  // `last`: the stream's tail without its blank line, read only if it is whole.
  const readEvent = (controller: TransformStreamDefaultController<Uint8Array>, block: string, last = false) => {
    if (closed) return;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) controller.enqueue(encoder.encode(`${line}\n\n`));
      else if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
    }
    if (data.length === 0) return;
    const payload = data.join('\n');
    if (payload === '[DONE]') return write(controller, translator.finish());
    const parsed = parseObject(payload);
    if (!parsed) return last ? undefined : write(controller, translator.fail(unreadable));
    const { error, choices } = parsed;
    if (typeof error === 'object' && error !== null) return write(controller, translator.fail(airlockMessage(error)));
    // Only completion chunks carry an answer; an event of another kind says nothing to the visitor.
    if (Array.isArray(choices)) write(controller, translator.chunk(parsed as unknown as ChatCompletionChunk));
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      write(controller, translator.start());
    },
    transform(bytes, controller) {
      if (closed) return;
      buffered += decoder.decode(bytes, { stream: true });
      for (let boundary = nextBoundary(buffered); boundary; boundary = nextBoundary(buffered)) {
        readEvent(controller, buffered.slice(0, boundary.at));
        buffered = buffered.slice(boundary.at + boundary.length);
      }
      if (buffered.length > maxEventLength) {
        buffered = '';
        write(controller, translator.fail(unreadable));
      }
    },
    flush(controller) {
      buffered += decoder.decode();
      if (buffered.trim() !== '') readEvent(controller, buffered, true);
      // The relay always ends with [DONE] or an error event: anything else is an answer cut short.
      write(controller, translator.fail(cutOff));
    },
  });
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

// Airlock's error events (`AirlockError.toJSON`) are typed `airlock_error`,
// their message written for the visitor; the relay puts one in place of any
// upstream error event, so another kind here did not come through it.
function airlockMessage(error: object): string {
  const { type, message } = error as { type?: unknown; message?: unknown };
  return type === 'airlock_error' && typeof message === 'string' ? message : genericFailure;
}

function nextBoundary(text: string): { at: number; length: number } | undefined {
  const lf = text.indexOf('\n\n');
  const crlf = text.indexOf('\r\n\r\n');
  if (lf === -1 && crlf === -1) return undefined;
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { at: crlf, length: 4 };
  return { at: lf, length: 2 };
}
