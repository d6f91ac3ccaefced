import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebStream } from 'node:stream/web';
import { withNodeBody, type NodeBody } from '../adapters/node-body.js';
import { AirlockError } from '../errors.js';
import { upstreamError } from './upstream-errors.js';
import { claimUpstreamBody } from './upstream-fetch.js';

const encoder = new TextEncoder();
const heartbeat = Buffer.from(': keep-alive\n\n');
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
  // The previous chunk, kept by reference (chunks are never reused) for a marker split across two.
  #previous: Buffer | undefined;
  #usageBytes: Buffer[] | undefined;

  feed(chunk: Uint8Array): void {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#usageBytes) {
      this.#collectUsage(bytes);
      return;
    }
    for (let at = bytes.indexOf(contentMarker); at !== -1; at = bytes.indexOf(contentMarker, at + contentMarker.length)) {
      this.meter.contentChunks += 1;
    }
    let usageAt = bytes.indexOf(usageMarker);
    let source = bytes;
    if (usageAt === -1 && this.#previous) {
      const tail = this.#previous.subarray(Math.max(0, this.#previous.length - usageMarker.length + 1));
      const joint = Buffer.concat([tail, bytes.subarray(0, usageMarker.length)]);
      const jointAt = joint.indexOf(usageMarker);
      if (jointAt !== -1) {
        source = Buffer.concat([tail, bytes]);
        usageAt = jointAt;
      }
    }
    if (usageAt !== -1) {
      this.#usageBytes = [];
      this.#collectUsage(source.subarray(usageAt + usageMarker.length - 1));
      return;
    }
    // A chunk ending on an event boundary cannot hold the start of a split marker.
    const length = bytes.length;
    this.#previous = length >= 2 && bytes[length - 1] === 0x0a && bytes[length - 2] === 0x0a ? undefined : bytes;
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
        this.#previous = undefined;
        return;
      }
    }
    if (all.length > 4_096) this.#usageBytes = undefined;
  }
}

/**
 * Options of {@link sseResponse}. The relay stops the upstream generation
 * itself when it gives up (a timeout, the client gone): it destroys the
 * upstream body, which closes its connection.
 *
 * @example
 * ```ts
 * const options: PassThroughOptions = { firstChunkTimeoutMs: 30_000, idleTimeoutMs: 60_000 };
 * ```
 */
export interface PassThroughOptions {
  /** Longest wait for the first chunk, in ms. */
  firstChunkTimeoutMs: number;
  /** Longest silence between chunks, in ms. */
  idleTimeoutMs: number;
  /** A `: keep-alive` comment is sent after this long without bytes to the client, in ms. Default: `15_000`. */
  heartbeatIntervalMs?: number;
  /** Called once when the stream ends, with what it carried and the error if it failed (or `'cancelled'` when the client left). */
  onEnd?: (meter: StreamMeter, error?: AirlockError | 'cancelled') => void;
  /**
   * Whether the response gets a Web `body` besides its Node body. Default:
   * `true`. `false` when the Node adapters will write it
   * (`writesNodeBody(request)`): they never read the Web body, and building
   * its stream costs about as much as the rest of the relay's set-up.
   */
  webBody?: boolean;
}

// Where relayed bytes go: a Node response or a Web stream's controller.
interface Sink {
  /** Returns false when the receiver wants no more for now. */
  write(chunk: Uint8Array): boolean;
  end(): void;
}

/**
 * Relays one upstream SSE body, from a Node stream, to exactly one sink:
 * a Node response ({@link NodeBody.pipeTo}, the fast path of the Node
 * adapters) or a Web stream ({@link SseRelay.webStream}, every other
 * runtime). Chunks are passed on as they arrive, byte for byte, with
 * back-pressure; the per-chunk work is a timestamp and two native byte
 * searches, and each socket read of the upstream becomes one write.
 */
class SseRelay implements NodeBody {
  readonly #source: Readable;
  readonly #options: PassThroughOptions;
  readonly #heartbeatMs: number;
  readonly #scanner = new SseUsageScanner();
  #sink: Sink | undefined;
  // An error event waiting for a sink, when the stream failed before the client read it.
  #pendingFinal: Uint8Array | undefined;
  // Chunks received this tick, written together by #flush.
  #pending: Buffer[] = [];
  #received = false;
  #ended = false;
  #lastChunkAt = Date.now();
  #lastSentAt = this.#lastChunkAt;
  #timer: NodeJS.Timeout | undefined;

  constructor(source: Readable, options: PassThroughOptions) {
    this.#source = source;
    this.#options = options;
    this.#heartbeatMs = options.heartbeatIntervalMs ?? 15_000;
    source.on('error', (error) => this.#fail(upstreamError(error)));
    source.once('close', () => {
      if (!source.readableEnded) this.#fail(upstreamError(new Error('The upstream connection closed before the stream ended.')));
    });
    this.#arm();
  }

  pipeTo(outgoing: ServerResponse): Promise<void> | undefined {
    if (this.#sink) return undefined;
    return new Promise<void>((resolve) => {
      outgoing.on('drain', () => this.#source.resume());
      outgoing.once('close', () => {
        if (!outgoing.writableFinished) this.#cancel();
        resolve();
      });
      outgoing.once('finish', resolve);
      // Headers leave with the first chunk (one packet, one wake-up for the
      // client) when that chunk has already arrived, as it usually has;
      // otherwise at once, so the client sees the stream has started.
      if (this.#source.readableLength === 0) outgoing.flushHeaders();
      this.#attach({ write: (chunk) => outgoing.write(chunk), end: () => outgoing.end() });
    });
  }

  webStream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(
      {
        pull: (controller) => {
          if (this.#sink) {
            this.#source.resume();
            return;
          }
          this.#attach({
            write(chunk) {
              controller.enqueue(chunk);
              return (controller.desiredSize ?? 0) > 0;
            },
            end() {
              try {
                controller.close();
              } catch {
                // Already cancelled by the reader.
              }
            },
          });
        },
        cancel: () => this.#cancel(),
      },
      // Nothing is read from upstream before the client asks: that keeps
      // back-pressure exact and leaves the body to pipeTo until then.
      { highWaterMark: 0 },
    );
  }

  #attach(sink: Sink): void {
    this.#sink = sink;
    if (this.#ended) {
      if (this.#pendingFinal) sink.write(this.#pendingFinal);
      sink.end();
      return;
    }
    this.#source.on('data', this.#onData);
    this.#source.once('end', () => {
      if (this.#ended) return;
      this.#flush();
      this.#finish();
      sink.end();
    });
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#ended) return;
    this.#lastChunkAt = this.#lastSentAt = Date.now();
    if (!this.#received) {
      // The idle limit replaces the first-chunk limit and may be shorter: re-arm once.
      this.#received = true;
      clearTimeout(this.#timer);
      this.#arm();
    }
    this.#scanner.feed(chunk);
    // One socket read of the upstream often holds many events (each its own
    // 'data'); they leave in one write at the end of this tick, and when the
    // upstream's end came in the same read, the response's end joins them
    // (the stream's 'end' is emitted after this flush): one packet instead of
    // one per event plus one for the end.
    if (this.#pending.length === 0) process.nextTick(this.#flush);
    this.#pending.push(chunk);
  };

  readonly #flush = (): void => {
    const pending = this.#pending;
    if (pending.length === 0 || this.#ended) return;
    this.#pending = [];
    if (!this.#sink!.write(pending.length === 1 ? pending[0]! : Buffer.concat(pending))) this.#source.pause();
  };

  // One timer per stream, armed for whichever comes first: the watchdog
  // deadline or the next heartbeat. Chunks only stamp the time, so the hot
  // path does no timer work at all.
  #arm(): void {
    const deadline = this.#lastChunkAt + (this.#received ? this.#options.idleTimeoutMs : this.#options.firstChunkTimeoutMs);
    const wait = Math.min(deadline, this.#lastSentAt + this.#heartbeatMs) - Date.now();
    this.#timer = setTimeout(this.#tick, Math.max(1, wait));
  }

  readonly #tick = (): void => {
    if (this.#ended) return;
    const now = Date.now();
    if (now - this.#lastChunkAt >= (this.#received ? this.#options.idleTimeoutMs : this.#options.firstChunkTimeoutMs)) {
      // #fail destroys the upstream body: its connection closes and the generation stops.
      this.#fail(new AirlockError('upstream_timeout', 'The AI service stopped answering.'));
      return;
    }
    if (now - this.#lastSentAt >= this.#heartbeatMs && this.#sink) {
      this.#lastSentAt = now;
      this.#sink.write(heartbeat);
    }
    this.#arm();
  };

  #finish(error?: AirlockError | 'cancelled'): void {
    this.#ended = true;
    clearTimeout(this.#timer);
    this.#options.onEnd?.(this.#scanner.meter, error);
  }

  // A failure after the first byte ends the stream with an error event; it is never retried.
  #fail(failure: AirlockError): void {
    if (this.#ended) return;
    this.#flush();
    this.#finish(failure);
    this.#source.destroy();
    const event = sseErrorEvent(failure);
    if (!this.#sink) {
      this.#pendingFinal = event;
      return;
    }
    this.#sink.write(event);
    this.#sink.end();
  }

  // The client went away: stop the upstream generation.
  #cancel(): void {
    if (this.#ended) return;
    this.#finish('cancelled');
    this.#source.destroy();
  }
}

/**
 * Relays an upstream SSE response to the client byte for byte (no
 * re-encoding), with a first-chunk timeout, an idle watchdog and comment
 * heartbeats during long silences, while metering usage from the passing
 * bytes. A failure after the first byte becomes an error event at the end
 * of the stream; it is never retried. When the client goes away the
 * upstream is aborted. The response works everywhere through its Web
 * `body`; on Node it also carries a {@link NodeBody}, so the Node adapters
 * move the upstream's socket chunks straight to the client's socket (for
 * their own requests, `webBody: false` leaves the Web body out).
 *
 * @example
 * ```ts
 * return sseResponse(upstreamResponse, { 'content-type': 'text/event-stream' }, { firstChunkTimeoutMs: 30_000, idleTimeoutMs: 60_000 });
 * ```
 */
export function sseResponse(upstream: Response, headers: HeadersInit, options: PassThroughOptions): Response {
  const source = claimUpstreamBody(upstream) ?? Readable.fromWeb(upstream.body! as NodeWebStream<Uint8Array>);
  const relay = new SseRelay(source, options);
  return withNodeBody(new Response(options.webBody === false ? null : relay.webStream(), { status: 200, headers }), relay);
}
