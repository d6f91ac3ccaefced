import { AirlockError } from '../errors.js';
import { upstreamError } from './upstream-errors.js';

const encoder = new TextEncoder();

/**
 * One SSE event carrying an error in OpenAI's shape; how a stream that has
 * already started reports a failure.
 *
 * @example
 * ```ts
 * controller.enqueue(sseErrorEvent(new AirlockError('upstream_timeout', 'Too slow.')));
 * ```
 */
export function sseErrorEvent(error: AirlockError): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify(error.toJSON())}\n\n`);
}

/** Options of {@link passThroughSse}. */
export interface PassThroughOptions {
  /** Aborts the upstream request (closes its connection). */
  abortUpstream: () => void;
  firstChunkTimeoutMs: number;
  idleTimeoutMs: number;
  /** Called once when the stream ends, with the error if it failed. */
  onEnd?: (error?: AirlockError) => void;
}

/**
 * Passes an upstream SSE body through byte for byte (no re-encoding), with a
 * first-chunk timeout and an idle watchdog. A failure after the first byte
 * becomes an error event at the end of the stream; it is never retried. When
 * the client goes away (the stream is cancelled) the upstream is aborted.
 *
 * @example
 * ```ts
 * const body = passThroughSse(upstreamResponse.body!, { abortUpstream: () => controller.abort(), firstChunkTimeoutMs: 30_000, idleTimeoutMs: 60_000 });
 * ```
 */
export function passThroughSse(upstream: ReadableStream<Uint8Array>, options: PassThroughOptions): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  let received = false;
  let timedOut = false;
  let ended = false;
  const onTimeout = () => {
    timedOut = true;
    options.abortUpstream();
    reader.cancel().catch(() => {});
  };
  // One timer per stream, re-armed with refresh() on each chunk rather than
  // a new timer per chunk; swapped once when the first chunk arrives.
  let watchdog = setTimeout(onTimeout, options.firstChunkTimeoutMs);
  const end = (error?: AirlockError) => {
    if (ended) return;
    ended = true;
    clearTimeout(watchdog);
    options.onEnd?.(error);
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const result = await reader.read();
          if (timedOut) throw new Error('upstream watchdog fired');
          if (result.done) {
            end();
            controller.close();
            return;
          }
          if (received) {
            watchdog.refresh();
          } else {
            received = true;
            clearTimeout(watchdog);
            watchdog = setTimeout(onTimeout, options.idleTimeoutMs);
          }
          controller.enqueue(result.value);
        } catch (error) {
          const failure = timedOut
            ? new AirlockError('upstream_timeout', 'The AI service stopped answering.', { cause: error })
            : upstreamError(error);
          end(failure);
          controller.enqueue(sseErrorEvent(failure));
          controller.close();
        }
      },
      cancel() {
        end();
        options.abortUpstream();
        return reader.cancel().catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}
