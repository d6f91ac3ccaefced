import { AirlockError } from '../errors.js';
import { controllerSink, type BodyPipe, type BodySink, type PipeableBody } from '../http/server-runtime.js';
import {
  blankLine,
  doneEvent,
  endsWithDone,
  errorEventIn,
  errorMarker,
  eventData,
  finishMarker,
  heartbeat,
  isObject,
  lineFeed,
  maxEventBytes,
  opensAnswer,
  parseJson,
  sseErrorEvent,
  SseUsageScanner,
  usageMarker,
  wholeEventsLength,
  withFirstChunkFields,
  withoutUsage,
  type StreamMeter,
} from './sse-bytes.js';
import { malformedStreamError, upstreamError, upstreamErrorEvent } from './upstream-errors.js';
import type { BodyListener, UpstreamBody } from './upstream-transport.js';

/**
 * Options of the relay (`sseResponse`). The relay stops the upstream generation
 * itself when it gives up (a timeout, the client gone): it destroys the
 * upstream body, which closes its connection.
 */
export interface PassThroughOptions {
  /** Longest wait for the first chunk, in ms. */
  firstChunkTimeoutMs: number;
  /** Longest silence of the upstream between chunks, in ms. Time the relay spends waiting for a slow client does not count. */
  idleTimeoutMs: number;
  /** A `: keep-alive` comment is sent after this long without bytes to the client, in ms. Default: `15_000`. */
  heartbeatIntervalMs?: number;
  /**
   * Bytes the relay lets wait for a client that reads slower than the
   * upstream writes; beyond that it stops reading the upstream until the
   * client has taken them. Default: `262_144` (256 KiB).
   */
  clientBufferBytes?: number;
  /**
   * Longest time a client may leave a full buffer ({@link clientBufferBytes})
   * untaken, in ms; then the stream is given up as if the client had left.
   * Default: `60_000`.
   */
  slowClientTimeoutMs?: number;
  /** Fields added to the stream's first chunk (an answer's `airlock_sources`). Default: none. */
  firstChunkFields?: Record<string, unknown>;
  /**
   * Whether the client gets the upstream's usage chunk. Default: `true`.
   * `false` when the client did not ask for it (`stream_options.include_usage`):
   * the relay still reads it for metering, and code that reads
   * `choices[0].delta` never meets a chunk without choices.
   */
  clientUsage?: boolean;
  /** Called once when the stream ends, with what it carried and the error if it failed (or `'cancelled'` when the client left or was too slow). */
  onEnd?: (meter: StreamMeter, error?: AirlockError | 'cancelled') => void;
  /**
   * Whether the response gets a Web `body` besides its pipeable one.
   * Default: `true`. `false` when the adapter pipes it
   * (`pipesResponses(request)`): it never reads the Web body, and building
   * its stream costs about as much as the rest of the relay's set-up.
   */
  webBody?: boolean;
}

/**
 * Relays one upstream SSE body to exactly one sink: a server's response
 * ({@link PipeableBody.pipeTo}, the fast path of the Node adapters) or a
 * Web stream ({@link SseRelay.webStream}, every other runtime). Whole events are passed on as they arrive, byte for byte, with
 * back-pressure; an event split across reads is held until its end, so
 * everything the relay writes itself (heartbeats, an error event, a
 * missing `[DONE]`) lands between events. The per-chunk work is a
 * timestamp and a few native byte searches; only the first event, and an
 * event that holds an `"error":` key, are parsed.
 */
export class SseRelay implements PipeableBody, BodyListener {
  readonly #source: UpstreamBody;
  readonly #options: PassThroughOptions;
  readonly #heartbeatMs: number;
  readonly #bufferLimit: number;
  readonly #slowClientMs: number;
  readonly #scanner = new SseUsageScanner();
  #sink: BodySink | undefined;
  // An error event waiting for a sink, when the stream failed before the client read it.
  #pendingFinal: Uint8Array | undefined;
  // Whole events received this tick, written together by #flush.
  #pending: Buffer[] = [];
  // The start of an event whose end has not arrived yet.
  #partial: Buffer | undefined;
  #received = false;
  // The first data event was a JSON object: this is an SSE answer, not a page or garbage.
  #sawData = false;
  #sawFinish = false;
  #sawDone = false;
  #ended = false;
  #lastChunkAt = Date.now();
  #lastSentAt = this.#lastChunkAt;
  // Set while the upstream is paused because the client has not taken its buffer.
  #blockedSince: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  // A deadline passed and is being looked at again after pending reads (#tick).
  #rechecking = false;

  constructor(source: UpstreamBody, options: PassThroughOptions) {
    this.#source = source;
    this.#options = options;
    this.#heartbeatMs = options.heartbeatIntervalMs ?? 15_000;
    this.#bufferLimit = options.clientBufferBytes ?? 256 * 1024;
    this.#slowClientMs = options.slowClientTimeoutMs ?? 60_000;
    // Listened to from the start, so a failure before the client reads is
    // known; paused until a sink is attached, so nothing is read before the
    // client asks (back-pressure stays exact).
    source.pause();
    source.start(this);
    this.#arm();
  }

  pipeTo(sink: BodySink): BodyPipe | undefined {
    if (this.#sink) return undefined;
    // Headers leave with the first chunk (one packet, one wake-up for the
    // client) when that chunk has already arrived, as it usually has;
    // otherwise at once, so the client sees the stream has started.
    if (!this.#source.waiting) sink.sendHead();
    this.#attach(sink);
    return {
      drained: this.#unblock,
      closed: () => this.#cancel(),
    };
  }

  webStream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return new ReadableStream<Uint8Array<ArrayBuffer>>(
      {
        pull: (controller) => {
          if (this.#sink) this.#unblock();
          else this.#attach(controllerSink(controller));
        },
        cancel: () => this.#cancel(),
      },
      // Nothing is read from upstream before the client asks: that keeps
      // back-pressure exact and leaves the body to pipeTo until then. Sized
      // in bytes, so the sink's shortfall is what waits.
      { highWaterMark: 0, size: (chunk) => chunk.byteLength },
    );
  }

  #attach(sink: BodySink): void {
    this.#sink = sink;
    if (this.#ended) {
      if (this.#pendingFinal) sink.write(this.#pendingFinal);
      sink.end();
      return;
    }
    this.#source.resume();
  }

  // BodyListener: the upstream's chunks, its end and its failure.
  data(received: Uint8Array): void {
    if (this.#ended) return;
    const chunk = Buffer.isBuffer(received) ? received : Buffer.from(received.buffer, received.byteOffset, received.byteLength);
    this.#lastChunkAt = Date.now();
    if (!this.#received) {
      // The idle limit replaces the first-chunk limit and may be shorter: re-arm once.
      this.#received = true;
      clearTimeout(this.#timer);
      this.#arm();
    }
    let bytes = this.#partial ? Buffer.concat([this.#partial, chunk]) : chunk;
    this.#partial = undefined;
    const whole = wholeEventsLength(bytes);
    if (whole < bytes.length) {
      if (bytes.length - whole > maxEventBytes) {
        this.#fail(malformedStreamError());
        return;
      }
      this.#partial = bytes.subarray(whole);
      if (whole === 0) return;
      bytes = bytes.subarray(0, whole);
    }
    this.#accept(bytes);
  }

  end(): void {
    this.#onUpstreamEnd();
  }

  error(error: unknown): void {
    this.#fail(upstreamError(error));
  }

  // Takes whole events: checks them, meters them and queues them for the client.
  #accept(bytes: Buffer): void {
    if (!this.#sawData) {
      if (!this.#checkStart(bytes)) return;
      if (this.#options.firstChunkFields) bytes = withFirstChunkFields(bytes, this.#options.firstChunkFields);
    }
    if (bytes.indexOf(errorMarker) !== -1 && this.#failOnErrorEvent(bytes)) return;
    this.#queue(bytes);
  }

  #queue(bytes: Buffer): void {
    this.#scanner.feed(bytes);
    if (this.#options.clientUsage === false && bytes.indexOf(usageMarker) !== -1) bytes = withoutUsage(bytes);
    if (!this.#sawFinish && bytes.indexOf(finishMarker) !== -1) this.#sawFinish = true;
    if (endsWithDone(bytes)) this.#sawDone = true;
    this.#lastSentAt = this.#lastChunkAt;
    // One socket read of the upstream often holds many events (each its own
    // 'data'); they leave in one write at the end of this tick, and when the
    // upstream's end came in the same read, the response's end joins them
    // (the stream's 'end' is emitted after this flush): one packet instead of
    // one per event plus one for the end.
    if (this.#pending.length === 0) queueMicrotask(this.#flush);
    this.#pending.push(bytes);
  }

  // Until the first data event, every line must be SSE and that event's data
  // a JSON object: anything else (a page, JSON, garbage) is not an answer.
  #checkStart(bytes: Buffer): boolean {
    const opens = opensAnswer(bytes);
    if (opens === false) {
      this.#fail(malformedStreamError());
      return false;
    }
    if (opens) this.#sawData = true;
    return true;
  }

  // An OpenAI error event inside the 200 stream: the events before it go out,
  // it does not (its text may echo the key); the client gets Airlock's own
  // error event in its place.
  #failOnErrorEvent(bytes: Buffer): boolean {
    const found = errorEventIn(bytes);
    if (!found) return false;
    if (found.start > 0) this.#queue(bytes.subarray(0, found.start));
    this.#fail(upstreamErrorEvent(found.error));
    return true;
  }

  #onUpstreamEnd(): void {
    if (this.#ended) return;
    const partial = this.#partial;
    this.#partial = undefined;
    if (partial && partial.length > 0) {
      // A last event without its blank line is whole if its data is: SSE
      // parsers would drop it, so it goes out with the blank line added.
      const text = partial.toString('utf8');
      const events = eventData(text);
      const data = events === false ? undefined : events.at(-1);
      if (data === '[DONE]' || isObject(parseJson(data ?? ''))) {
        this.#accept(Buffer.concat([partial, partial.at(-1) === lineFeed ? Buffer.from('\n') : blankLine]));
        if (this.#ended) return;
      } else if (!this.#sawData) {
        // Not a stream at all; an OpenAI error in JSON is still told apart.
        const body = parseJson(text.trim());
        this.#fail(isObject(body) && isObject(body.error) ? upstreamErrorEvent(body.error) : malformedStreamError());
        return;
      }
      // Otherwise the upstream stopped mid-event: that half event is not relayed.
    }
    if (!this.#sawData) {
      this.#fail(malformedStreamError());
      return;
    }
    if (!this.#sawDone && !this.#sawFinish) {
      this.#fail(
        new AirlockError('upstream_unavailable', 'The answer was cut off before it finished.', {
          cause: new Error('The upstream stream ended without a finish reason or [DONE].'),
        }),
      );
      return;
    }
    // A complete answer whose `[DONE]` the upstream left out: clients wait for it.
    if (!this.#sawDone) this.#queue(doneEvent);
    this.#flush();
    this.#finish();
    this.#watchAfterEnd();
    this.#sink!.end();
  }

  readonly #flush = (): void => {
    const pending = this.#pending;
    if (pending.length === 0 || this.#ended) return;
    this.#pending = [];
    const sink = this.#sink!;
    const accepted = sink.write(pending.length === 1 ? pending[0]! : Buffer.concat(pending));
    // A slow client gets up to the buffer limit in memory; past it the
    // upstream waits (TCP back-pressure) until the client catches up.
    if (!accepted && this.#blockedSince === undefined && sink.buffered() > this.#bufferLimit) {
      this.#blockedSince = Date.now();
      this.#source.pause();
    }
  };

  readonly #unblock = (): void => {
    if (this.#blockedSince === undefined) return;
    this.#blockedSince = undefined;
    // The upstream was not silent while it waited for the client.
    this.#lastChunkAt = Date.now();
    if (!this.#ended) this.#source.resume();
  };

  // One timer per stream, armed for whichever comes first: the watchdog
  // deadline (the upstream's silence, or a blocked client's) or the next
  // heartbeat. Chunks only stamp the time, so the hot path does no timer work at all.
  #arm(): void {
    const deadline =
      this.#blockedSince !== undefined
        ? this.#blockedSince + this.#slowClientMs
        : this.#lastChunkAt + (this.#received ? this.#options.idleTimeoutMs : this.#options.firstChunkTimeoutMs);
    const wait = Math.min(deadline, this.#lastSentAt + this.#heartbeatMs) - Date.now();
    this.#timer = setTimeout(this.#tick, Math.max(1, wait));
  }

  readonly #tick = (): void => {
    if (this.#ended) return;
    const now = Date.now();
    const overdue =
      this.#blockedSince !== undefined
        ? now - this.#blockedSince >= this.#slowClientMs
        : now - this.#lastChunkAt >= (this.#received ? this.#options.idleTimeoutMs : this.#options.firstChunkTimeoutMs);
    if (overdue && !this.#rechecking) {
      // After the event loop was held up (a long synchronous task), timers
      // run before the reads that came meanwhile: look again once those
      // have been handled, so a stall of this process is not the upstream's.
      this.#rechecking = true;
      setImmediate(this.#tick);
      return;
    }
    this.#rechecking = false;
    if (overdue && this.#blockedSince !== undefined) {
      this.#giveUpOnClient();
      return;
    }
    if (overdue) {
      // #fail destroys the upstream body: its connection closes and the generation stops.
      this.#fail(new AirlockError('upstream_timeout', 'The AI service stopped answering.'));
      return;
    }
    // Only between events (a held half event is never sent), and only to a client that keeps up.
    if (now - this.#lastSentAt >= this.#heartbeatMs && this.#sink && this.#sink.buffered() === 0) {
      this.#lastSentAt = now;
      this.#sink.write(heartbeat);
    }
    this.#arm();
  };

  #finish(error?: AirlockError | 'cancelled'): void {
    this.#ended = true;
    clearTimeout(this.#timer);
    this.#scanner.meter.text = this.#scanner.text();
    this.#options.onEnd?.(this.#scanner.meter, error);
  }

  // The answer is complete but may still wait for a slow client: it too has
  // the slow-client limit to take the rest, or its connection is broken off.
  #watchAfterEnd(): void {
    const sink = this.#sink!;
    if (sink.buffered() <= this.#bufferLimit) return;
    const timer = setTimeout(() => {
      if (sink.buffered() > 0) sink.destroy();
    }, this.#slowClientMs);
    timer.unref();
  }

  // A failure after the first byte ends the stream with an error event; it is never retried.
  #fail(failure: AirlockError): void {
    if (this.#ended) return;
    this.#flush();
    this.#partial = undefined;
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

  // The client left the buffer untaken too long: treated as gone.
  #giveUpOnClient(): void {
    this.#finish('cancelled');
    this.#source.destroy();
    this.#sink?.destroy();
  }

  // The client went away: stop the upstream generation.
  #cancel(): void {
    if (this.#ended) return;
    this.#finish('cancelled');
    this.#source.destroy();
  }
}
