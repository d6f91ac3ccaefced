import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { encodeResponsesEvent, ResponsesStreamTranslator, type ResponsesOutputOptions } from './response-events.js';

/** Longest single chat SSE event read, in characters; an upstream event is a few hundred. */
const maxEventLength = 1024 * 1024;

/**
 * Rewrites a chat-completion SSE stream (the bytes the chat pipeline sends a
 * client: `data: {chunk}` events, `data: [DONE]`, heartbeat comments, and
 * Airlock's `data: {"error": …}` event when a stream fails) into the
 * Responses API's event stream, for `POST /v1/responses` answered through
 * chat completions. Comments pass through, so heartbeats still reach the
 * client; an error event becomes `response.failed` with its code and
 * message; `[DONE]` (or the end of the stream) becomes the closing events.
 * Cancelling the result cancels the chat stream (`pipeThrough`).
 *
 * @example
 * ```ts
 * const chat = await chatPipeline(...); // a text/event-stream Response
 * return new Response(chat.body!.pipeThrough(chatStreamToResponses({ model })), { headers: chat.headers });
 * ```
 */
export function chatStreamToResponses(options: ResponsesOutputOptions): TransformStream<Uint8Array, Uint8Array> {
  const translator = new ResponsesStreamTranslator(options);
  const decoder = new TextDecoder();
  let buffered = '';
  const write = (controller: TransformStreamDefaultController<Uint8Array>, events: ReturnType<ResponsesStreamTranslator['start']>) => {
    for (const event of events) controller.enqueue(encodeResponsesEvent(event));
  };
  const readEvent = (controller: TransformStreamDefaultController<Uint8Array>, block: string) => {
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) {
        controller.enqueue(new TextEncoder().encode(`${line}\n\n`));
      } else if (line.startsWith('data:')) {
        data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      }
    }
    if (data.length === 0 || translator.ended) return;
    const payload = data.join('\n');
    if (payload === '[DONE]') return write(controller, translator.finish());
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return write(controller, translator.fail({ code: 'upstream_unavailable', message: 'The model service sent an answer that could not be read.' }));
    }
    const error = (parsed as { error?: unknown }).error;
    if (typeof error === 'object' && error !== null) {
      const { code, message } = error as { code?: unknown; message?: unknown };
      return write(
        controller,
        translator.fail({
          code: typeof code === 'string' ? code : 'upstream_unavailable',
          message: typeof message === 'string' ? message : 'The model service failed.',
        }),
      );
    }
    write(controller, translator.chunk(parsed as ChatCompletionChunk));
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      write(controller, translator.start());
    },
    transform(bytes, controller) {
      buffered += decoder.decode(bytes, { stream: true });
      for (let boundary = nextBoundary(buffered); boundary; boundary = nextBoundary(buffered)) {
        readEvent(controller, buffered.slice(0, boundary.at));
        buffered = buffered.slice(boundary.at + boundary.length);
      }
      if (buffered.length > maxEventLength) {
        buffered = '';
        write(controller, translator.fail({ code: 'upstream_unavailable', message: 'The model service sent an answer that could not be read.' }));
      }
    },
    flush(controller) {
      buffered += decoder.decode();
      if (buffered.trim() !== '') readEvent(controller, buffered);
      // The chat stream ends with [DONE] or an error event; a plain end still closes the response.
      write(controller, translator.finish());
    },
  });
}

function nextBoundary(text: string): { at: number; length: number } | undefined {
  const lf = text.indexOf('\n\n');
  const crlf = text.indexOf('\r\n\r\n');
  if (lf === -1 && crlf === -1) return undefined;
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { at: crlf, length: 4 };
  return { at: lf, length: 2 };
}
