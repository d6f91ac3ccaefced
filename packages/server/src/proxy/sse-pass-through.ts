import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebStream } from 'node:stream/web';
import { withNodeBody, type NodeBody } from '../adapters/node-body.js';
import { AirlockError } from '../errors.js';
import { malformedStreamError, upstreamError, upstreamErrorEvent } from './upstream-errors.js';
import { claimUpstreamBody } from './upstream-fetch.js';

const encoder = new TextEncoder();
const heartbeat = Buffer.from(': keep-alive\n\n');
const doneEvent = Buffer.from('data: [DONE]\n\n');
const usageMarker = Buffer.from('"usage":{');
const contentMarker = Buffer.from('"content":"');
// A key outside any string: inside a JSON string every quote is escaped, so
// content that mentions "error" never matches.
const errorMarker = Buffer.from('"error":');
// A finish reason is a string; every chunk before the last carries `null`.
const finishMarker = Buffer.from('"finish_reason":"');
const blankLine = Buffer.from('\n\n');
const blankLineCrlf = Buffer.from('\n\r\n');
const lineFeed = 0x0a;
const carriageReturn = 0x0d;
const quote = 0x22;
const backslash = 0x5c;
// Longest event the relay holds while waiting for its end; OpenAI's are a few hundred bytes.
const maxEventBytes = 1024 * 1024;

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
 */
export interface ReportedUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
}

/**
 * What a stream carried, for metering.
 */
export interface StreamMeter {
  /** The usage chunk (`stream_options.include_usage`), when the stream got that far. */
  usage?: ReportedUsage;
  /** Content deltas seen (the role chunk's empty one included). */
  contentChunks: number;
  /**
   * The answer's text as relayed to the client, set when the stream ends:
   * what is counted with the tokenizer when the upstream reported no usage.
   */
  text?: string;
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
  // Content deltas as they appear in the JSON (still escaped), joined and decoded once by text().
  readonly #contentParts: string[] = [];

  feed(chunk: Uint8Array): void {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#usageBytes) {
      this.#collectUsage(bytes);
      return;
    }
    for (let at = bytes.indexOf(contentMarker); at !== -1; at = bytes.indexOf(contentMarker, at + contentMarker.length)) {
      this.meter.contentChunks += 1;
      const start = at + contentMarker.length;
      const end = stringEnd(bytes, start);
      if (end > start) this.#contentParts.push(bytes.toString('utf8', start, end));
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

  /** The content deltas seen so far, joined and unescaped. */
  text(): string {
    const joined = this.#contentParts.join('');
    try {
      return JSON.parse(`"${joined}"`) as string;
    } catch {
      return joined;
    }
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

// Where the JSON string starting at `start` ends (its closing quote), or -1 when it does not end in `bytes`.
function stringEnd(bytes: Buffer, start: number): number {
  for (let end = bytes.indexOf(quote, start); end !== -1; end = bytes.indexOf(quote, end + 1)) {
    let backslashes = 0;
    while (end - backslashes - 1 >= start && bytes[end - backslashes - 1] === backslash) backslashes += 1;
    if (backslashes % 2 === 0) return end;
  }
  return -1;
}

// How many leading bytes form whole events (through their blank line). A
// read usually ends on an event boundary, which the first test settles.
function wholeEventsLength(bytes: Buffer): number {
  const length = bytes.length;
  if (
    length >= 2 &&
    bytes[length - 1] === lineFeed &&
    (bytes[length - 2] === lineFeed || (bytes[length - 2] === carriageReturn && bytes[length - 3] === lineFeed))
  ) {
    return length;
  }
  const lf = bytes.lastIndexOf(blankLine);
  const crlf = bytes.lastIndexOf(blankLineCrlf);
  return Math.max(lf === -1 ? 0 : lf + 2, crlf === -1 ? 0 : crlf + 3);
}

// Whether whole events end with `data: [DONE]` (the last line before the blank line).
function endsWithDone(bytes: Buffer): boolean {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === lineFeed || bytes[end - 1] === carriageReturn)) end -= 1;
  if (end < 6 || bytes[end - 1] !== 0x5d) return false;
  const line = bytes.toString('latin1', Math.max(0, end - 13), end);
  return /(?:^|\n)data: ?\[DONE\]$/.test(line);
}

const fieldLine = /^(?:data|event|id|retry)(?::|$)/;

// The bounds of the whole event that holds byte `at` (through its blank line).
function eventAround(bytes: Buffer, at: number): { start: number; end: number } {
  const before = Math.max(bytes.lastIndexOf(blankLine, at), bytes.lastIndexOf(blankLineCrlf, at));
  const start = before === -1 ? 0 : bytes[before + 1] === lineFeed ? before + 2 : before + 3;
  const lf = bytes.indexOf(blankLine, at);
  const crlf = bytes.indexOf(blankLineCrlf, at);
  const end = lf !== -1 && (crlf === -1 || lf < crlf) ? lf + 2 : crlf !== -1 ? crlf + 3 : bytes.length;
  return { start, end };
}

// The JSON data of the event in `bytes[start, end)`, when it has one.
function eventJson(bytes: Buffer, start: number, end: number): unknown {
  const events = eventData(bytes.toString('utf8', start, end));
  const data = events === false ? undefined : events[0];
  return data === undefined ? undefined : parseJson(data);
}

// Whole events whose first data event (a JSON object, as #checkStart found)
// is written again with `fields` added; the rest stay byte for byte.
function withFirstChunkFields(bytes: Buffer, fields: Record<string, unknown>): Buffer {
  let from = 0;
  while (from < bytes.length) {
    const { end } = eventAround(bytes, from);
    const parsed = eventJson(bytes, from, end);
    if (isObject(parsed)) {
      const rewritten = Buffer.from(`data: ${JSON.stringify({ ...parsed, ...fields })}\n\n`);
      return Buffer.concat([bytes.subarray(0, from), rewritten, bytes.subarray(end)]);
    }
    if (end <= from) break;
    from = end;
  }
  return bytes;
}

// Whole events without their usage: an event that only carries usage (its
// `choices` empty, as OpenAI sends it) is left out; one that also carries a
// choice is written again without it.
function withoutUsage(bytes: Buffer): Buffer {
  const kept: Buffer[] = [];
  let from = 0;
  for (let at = bytes.indexOf(usageMarker, from); at !== -1; at = bytes.indexOf(usageMarker, from)) {
    const { start, end } = eventAround(bytes, at);
    const parsed = eventJson(bytes, start, end);
    if (!isObject(parsed) || !isObject(parsed.usage)) {
      kept.push(bytes.subarray(from, end));
      from = end;
      continue;
    }
    kept.push(bytes.subarray(from, start));
    const { usage: _usage, ...rest } = parsed;
    if (!Array.isArray(rest.choices) || rest.choices.length > 0) kept.push(Buffer.from(`data: ${JSON.stringify(rest)}\n\n`));
    from = end;
  }
  if (from === 0) return bytes;
  kept.push(bytes.subarray(from));
  return Buffer.concat(kept);
}

/**
 * The `data` of each event in `text` (whole events), or `undefined` for an
 * event with none (comments only); `false` when a line is not SSE at all
 * (an HTML page, JSON, garbage).
 */
function eventData(text: string): (string | undefined)[] | false {
  const events: (string | undefined)[] = [];
  for (const event of text.replace(/^\uFEFF/, '').split(/\r?\n\r?\n/)) {
    if (event === '') continue;
    const data: string[] = [];
    for (const line of event.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      if (!fieldLine.test(line)) return false;
      if (line.startsWith('data')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
    }
    events.push(data.length === 0 ? undefined : data.join('\n'));
  }
  return events;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Options of {@link sseResponse}. The relay stops the upstream generation
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
   * Whether the response gets a Web `body` besides its Node body. Default:
   * `true`. `false` when the Node adapters will write it
   * (`writesNodeBody(request)`): they never read the Web body, and building
   * its stream costs about as much as the rest of the relay's set-up.
   */
  webBody?: boolean;
}

// Where relayed bytes go: a Node response or a Web stream's controller.
interface Sink {
  /** Returns false when the receiver wants no more for now (it signals when it does: 'drain', or the next pull). */
  write(chunk: Uint8Array): boolean;
  /** Bytes written that the client has not taken yet. */
  buffered(): number;
  end(): void;
  /** Gives up on the client: its connection (or stream) is broken off. */
  destroy(): void;
}

/**
 * Relays one upstream SSE body, from a Node stream, to exactly one sink:
 * a Node response ({@link NodeBody.pipeTo}, the fast path of the Node
 * adapters) or a Web stream ({@link SseRelay.webStream}, every other
 * runtime). Whole events are passed on as they arrive, byte for byte, with
 * back-pressure; an event split across reads is held until its end, so
 * everything the relay writes itself (heartbeats, an error event, a
 * missing `[DONE]`) lands between events. The per-chunk work is a
 * timestamp and a few native byte searches; only the first event, and an
 * event that holds an `"error":` key, are parsed.
 */
class SseRelay implements NodeBody {
  readonly #source: Readable;
  readonly #options: PassThroughOptions;
  readonly #heartbeatMs: number;
  readonly #bufferLimit: number;
  readonly #slowClientMs: number;
  readonly #scanner = new SseUsageScanner();
  #sink: Sink | undefined;
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
  #timer: NodeJS.Timeout | undefined;
  // A deadline passed and is being looked at again after pending reads (#tick).
  #rechecking = false;

  constructor(source: Readable, options: PassThroughOptions) {
    this.#source = source;
    this.#options = options;
    this.#heartbeatMs = options.heartbeatIntervalMs ?? 15_000;
    this.#bufferLimit = options.clientBufferBytes ?? 256 * 1024;
    this.#slowClientMs = options.slowClientTimeoutMs ?? 60_000;
    source.on('error', (error) => this.#fail(upstreamError(error)));
    source.once('close', () => {
      if (!source.readableEnded) this.#fail(upstreamError(new Error('The upstream connection closed before the stream ended.')));
    });
    this.#arm();
  }

  pipeTo(outgoing: ServerResponse): Promise<void> | undefined {
    if (this.#sink) return undefined;
    return new Promise<void>((resolve) => {
      outgoing.on('drain', this.#unblock);
      outgoing.once('close', () => {
        if (!outgoing.writableFinished) this.#cancel();
        resolve();
      });
      outgoing.once('finish', resolve);
      // Headers leave with the first chunk (one packet, one wake-up for the
      // client) when that chunk has already arrived, as it usually has;
      // otherwise at once, so the client sees the stream has started.
      if (this.#source.readableLength === 0) outgoing.flushHeaders();
      this.#attach({
        write: (chunk) => outgoing.write(chunk),
        buffered: () => outgoing.writableLength,
        end: () => outgoing.end(),
        destroy: () => outgoing.destroy(),
      });
    });
  }

  webStream(): ReadableStream<Uint8Array> {
    let controllerOf: ReadableStreamDefaultController<Uint8Array> | undefined;
    return new ReadableStream<Uint8Array>(
      {
        pull: (controller) => {
          if (this.#sink) {
            this.#unblock();
            return;
          }
          controllerOf = controller;
          this.#attach({
            write(chunk) {
              controller.enqueue(chunk);
              return (controller.desiredSize ?? 0) > 0;
            },
            // Sized in bytes (below), so the shortfall is what waits.
            buffered: () => Math.max(0, -(controllerOf?.desiredSize ?? 0)),
            end() {
              try {
                controller.close();
              } catch {
                // Already cancelled by the reader.
              }
            },
            destroy() {
              controller.error(new Error('The client read the stream too slowly.'));
            },
          });
        },
        cancel: () => this.#cancel(),
      },
      // Nothing is read from upstream before the client asks: that keeps
      // back-pressure exact and leaves the body to pipeTo until then.
      { highWaterMark: 0, size: (chunk) => chunk.byteLength },
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
    this.#source.once('end', this.#onUpstreamEnd);
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#ended) return;
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
  };

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
    if (this.#pending.length === 0) process.nextTick(this.#flush);
    this.#pending.push(bytes);
  }

  // Until the first data event, every line must be SSE and that event's data
  // a JSON object: anything else (a page, JSON, garbage) is not an answer.
  #checkStart(bytes: Buffer): boolean {
    const events = eventData(bytes.toString('utf8'));
    if (events === false) {
      this.#fail(malformedStreamError());
      return false;
    }
    for (const data of events) {
      if (data === undefined) continue;
      if (!isObject(parseJson(data))) {
        this.#fail(malformedStreamError());
        return false;
      }
      this.#sawData = true;
      break;
    }
    return true;
  }

  // An OpenAI error event (`data: {"error": …}`) inside the 200 stream: the
  // events before it go out, it does not (its text may echo the key); the
  // client gets Airlock's own error event in its place.
  #failOnErrorEvent(bytes: Buffer): boolean {
    let from = 0;
    for (let at = bytes.indexOf(errorMarker, from); at !== -1; at = bytes.indexOf(errorMarker, from)) {
      const { start, end } = eventAround(bytes, at);
      const parsed = eventJson(bytes, start, end);
      if (isObject(parsed) && isObject(parsed.error)) {
        if (start > 0) this.#queue(bytes.subarray(0, start));
        this.#fail(upstreamErrorEvent(parsed.error));
        return true;
      }
      from = end;
    }
    return false;
  }

  readonly #onUpstreamEnd = (): void => {
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
  };

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

/**
 * Relays an upstream SSE response to the client byte for byte (no
 * re-encoding), with a first-chunk timeout, an idle watchdog on the
 * upstream, a bounded buffer and a time limit for slow clients, and comment
 * heartbeats during long silences, while metering usage from the passing
 * bytes. The client always gets a complete answer (ending in `[DONE]`) or
 * an Airlock error event, written between events: a failure after the
 * first byte, an upstream error event, a body that is not an SSE answer,
 * or a stream that ends without a finish reason or `[DONE]`. Failures are
 * never retried. When the client goes away the upstream is aborted. The
 * response works everywhere through its Web `body`; on Node it also
 * carries a {@link NodeBody}, so the Node adapters move the upstream's
 * socket chunks straight to the client's socket (for their own requests,
 * `webBody: false` leaves the Web body out).
 *
 * @example
 * ```ts
 * return sseResponse(upstreamResponse, { 'content-type': 'text/event-stream' }, { firstChunkTimeoutMs: 30_000, idleTimeoutMs: 60_000 });
 * ```
 */
export function sseResponse(upstream: Response, headers: ResponseInit['headers'], options: PassThroughOptions): Response {
  const source = claimUpstreamBody(upstream) ?? Readable.fromWeb(upstream.body! as NodeWebStream<Uint8Array>);
  const relay = new SseRelay(source, options);
  return withNodeBody(new Response(options.webBody === false ? null : relay.webStream(), { status: 200, headers }), relay);
}
