import { AirlockError } from '../errors.js';
import { upstreamError } from './upstream-errors.js';

const encoder = new TextEncoder();
const heartbeat = encoder.encode(': keep-alive\n\n');
const usageMarker = Buffer.from('"usage":{');
const contentMarker = Buffer.from('"content":"');

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

/**
 * Token counts an upstream reported (OpenAI's `usage`).
 *
 * @example
 * ```ts
 * const usage: ReportedUsage = { prompt_tokens: 12, completion_tokens: 40 };
 * ```
 */
export interface ReportedUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
}

/**
 * What a stream carried, for metering.
 *
 * @example
 * ```ts
 * const meter: StreamMeter = { usage: { prompt_tokens: 12, completion_tokens: 40 }, contentChunks: 41 };
 * ```
 */
export interface StreamMeter {
  /** The usage chunk (`stream_options.include_usage`), when the stream got that far. */
  usage?: ReportedUsage;
  /** Content deltas seen: about one token each, the estimate for a stream cut short before its usage chunk. */
  contentChunks: number;
}

/**
 * Reads metering facts from SSE bytes as they pass, without decoding or
 * re-encoding them: a native byte search for `"usage":{` (earlier chunks
 * carry `"usage":null`) and a count of content deltas. A marker split
 * across two reads is found by searching the joint.
 *
 * @example
 * ```ts
 * const scanner = new SseUsageScanner();
 * scanner.feed(chunk);
 * scanner.meter.usage?.completion_tokens;
 * ```
 */
export class SseUsageScanner {
  readonly meter: StreamMeter = { contentChunks: 0 };
  #tail: Buffer = Buffer.alloc(0);
  #usageBytes: Buffer[] | undefined;

  feed(chunk: Uint8Array): void {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#usageBytes) {
      this.#collectUsage(bytes);
      return;
    }
    for (let at = bytes.indexOf(contentMarker); at !== -1; at = bytes.indexOf(contentMarker, at + contentMarker.length)) {
      this.meter.contentChunks += 1;
    }
    let usageAt = bytes.indexOf(usageMarker);
    let source = bytes;
    if (usageAt === -1 && this.#tail.length > 0) {
      const joint = Buffer.concat([this.#tail, bytes.subarray(0, usageMarker.length)]);
      const jointAt = joint.indexOf(usageMarker);
      if (jointAt !== -1) {
        source = Buffer.concat([this.#tail, bytes]);
        usageAt = jointAt;
      }
    }
    if (usageAt !== -1) {
      this.#usageBytes = [];
      this.#collectUsage(source.subarray(usageAt + usageMarker.length - 1));
      return;
    }
    this.#tail = Buffer.from(bytes.subarray(Math.max(0, bytes.length - usageMarker.length + 1)));
  }

  // The usage object holds only numbers and nested objects, so brace depth finds its end.
  #collectUsage(bytes: Buffer): void {
    this.#usageBytes!.push(bytes);
    const all = Buffer.concat(this.#usageBytes!);
    let depth = 0;
    for (let index = 0; index < all.length; index += 1) {
      const byte = all[index];
      if (byte === 0x7b) depth += 1;
      else if (byte === 0x7d && --depth === 0) {
        try {
          this.meter.usage = JSON.parse(all.subarray(0, index + 1).toString('utf8')) as ReportedUsage;
        } catch {
          // A malformed usage object leaves the estimate in place.
        }
        this.#usageBytes = undefined;
        this.#tail = Buffer.alloc(0);
        return;
      }
    }
    if (all.length > 4_096) this.#usageBytes = undefined;
  }
}

/**
 * Options of {@link passThroughSse}.
 *
 * @example
 * ```ts
 * const options: PassThroughOptions = { abortUpstream: () => controller.abort(), firstChunkTimeoutMs: 30_000, idleTimeoutMs: 60_000 };
 * ```
 */
export interface PassThroughOptions {
  /** Aborts the upstream request (closes its connection). */
  abortUpstream: () => void;
  /** Longest wait for the first chunk, in ms. */
  firstChunkTimeoutMs: number;
  /** Longest silence between chunks, in ms. */
  idleTimeoutMs: number;
  /** A `: keep-alive` comment is sent after this long without bytes to the client, in ms. Default: `15_000`. */
  heartbeatIntervalMs?: number;
  /** Called once when the stream ends, with what it carried and the error if it failed (or `'cancelled'` when the client left). */
  onEnd?: (meter: StreamMeter, error?: AirlockError | 'cancelled') => void;
}

/**
 * Passes an upstream SSE body through byte for byte (no re-encoding), with a
 * first-chunk timeout, an idle watchdog and comment heartbeats during long
 * silences, while metering usage from the passing bytes. A failure after the
 * first byte becomes an error event at the end of the stream; it is never
 * retried. When the client goes away (the stream is cancelled) the upstream
 * is aborted.
 *
 * @example
 * ```ts
 * const body = passThroughSse(upstreamResponse.body!, { abortUpstream: () => controller.abort(), firstChunkTimeoutMs: 30_000, idleTimeoutMs: 60_000 });
 * ```
 */
export function passThroughSse(upstream: ReadableStream<Uint8Array>, options: PassThroughOptions): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const scanner = new SseUsageScanner();
  const heartbeatMs = options.heartbeatIntervalMs ?? 15_000;
  let received = false;
  let timedOut = false;
  let ended = false;
  let lastChunkAt = Date.now();
  let lastSentAt = lastChunkAt;
  let controllerRef: ReadableStreamDefaultController<Uint8Array> | undefined;

  // One timer per stream, armed for whichever comes first: the watchdog
  // deadline or the next heartbeat. Chunks only stamp the time, so the hot
  // path does no timer work at all.
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const now = Date.now();
    const deadline = lastChunkAt + (received ? options.idleTimeoutMs : options.firstChunkTimeoutMs);
    timer = setTimeout(tick, Math.max(1, Math.min(deadline, lastSentAt + heartbeatMs) - now));
  };
  const tick = () => {
    if (ended) return;
    const now = Date.now();
    if (now - lastChunkAt >= (received ? options.idleTimeoutMs : options.firstChunkTimeoutMs)) {
      timedOut = true;
      options.abortUpstream();
      reader.cancel().catch(() => {});
      return;
    }
    if (now - lastSentAt >= heartbeatMs && controllerRef) {
      lastSentAt = now;
      try {
        controllerRef.enqueue(heartbeat);
      } catch {
        return;
      }
    }
    arm();
  };
  arm();

  const end = (error?: AirlockError | 'cancelled') => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    options.onEnd?.(scanner.meter, error);
  };

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controllerRef = controller;
      },
      async pull(controller) {
        try {
          const result = await reader.read();
          if (timedOut) throw new Error('upstream watchdog fired');
          if (result.done) {
            end();
            controller.close();
            return;
          }
          lastChunkAt = lastSentAt = Date.now();
          if (!received) {
            // The idle limit replaces the first-chunk limit and may be shorter: re-arm once.
            received = true;
            clearTimeout(timer);
            arm();
          }
          scanner.feed(result.value);
          controller.enqueue(result.value);
        } catch (error) {
          if (ended) return;
          const failure = timedOut
            ? new AirlockError('upstream_timeout', 'The AI service stopped answering.', { cause: error })
            : upstreamError(error);
          end(failure);
          controller.enqueue(sseErrorEvent(failure));
          controller.close();
        }
      },
      cancel() {
        end('cancelled');
        options.abortUpstream();
        return reader.cancel().catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}
