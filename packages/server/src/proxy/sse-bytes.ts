// The byte-level reading of an upstream's SSE answer that the relay
// (sse-pass-through.ts) does as chunks pass: event boundaries, metering,
// and the few rewrites of whole events. Chunks are Node `Buffer`s (a global
// in Node, Bun and Deno) for their native byte search.
import type { AirlockError } from '../errors.js';

const encoder = new TextEncoder();
export const heartbeat = Buffer.from(': keep-alive\n\n');
export const doneEvent = Buffer.from('data: [DONE]\n\n');
export const usageMarker = Buffer.from('"usage":{');
const contentMarker = Buffer.from('"content":"');
// A key outside any string: inside a JSON string every quote is escaped, so
// content that mentions "error" never matches.
export const errorMarker = Buffer.from('"error":');
// A finish reason is a string; every chunk before the last carries `null`.
export const finishMarker = Buffer.from('"finish_reason":"');
export const blankLine = Buffer.from('\n\n');
const blankLineCrlf = Buffer.from('\n\r\n');
export const lineFeed = 0x0a;
const carriageReturn = 0x0d;
const quote = 0x22;
const backslash = 0x5c;
// Longest event the relay holds while waiting for its end; OpenAI's are a few hundred bytes.
export const maxEventBytes = 1024 * 1024;

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
export function wholeEventsLength(bytes: Buffer): number {
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
export function endsWithDone(bytes: Buffer): boolean {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === lineFeed || bytes[end - 1] === carriageReturn)) end -= 1;
  if (end < 6 || bytes[end - 1] !== 0x5d) return false;
  const line = bytes.toString('latin1', Math.max(0, end - 13), end);
  return /(?:^|\n)data: ?\[DONE\]$/.test(line);
}

const fieldLine = /^(?:data|event|id|retry)(?::|$)/;

// The bounds of the whole event that holds byte `at` (through its blank line).
export function eventAround(bytes: Buffer, at: number): { start: number; end: number } {
  const before = Math.max(bytes.lastIndexOf(blankLine, at), bytes.lastIndexOf(blankLineCrlf, at));
  const start = before === -1 ? 0 : bytes[before + 1] === lineFeed ? before + 2 : before + 3;
  const lf = bytes.indexOf(blankLine, at);
  const crlf = bytes.indexOf(blankLineCrlf, at);
  const end = lf !== -1 && (crlf === -1 || lf < crlf) ? lf + 2 : crlf !== -1 ? crlf + 3 : bytes.length;
  return { start, end };
}

// The JSON data of the event in `bytes[start, end)`, when it has one.
export function eventJson(bytes: Buffer, start: number, end: number): unknown {
  const events = eventData(bytes.toString('utf8', start, end));
  const data = events === false ? undefined : events[0];
  return data === undefined ? undefined : parseJson(data);
}

// Whole events whose first data event (a JSON object, as opensAnswer found)
// is written again with `fields` added; the rest stay byte for byte.
export function withFirstChunkFields(bytes: Buffer, fields: Record<string, unknown>): Buffer {
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
export function withoutUsage(bytes: Buffer): Buffer {
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
 * Whether whole events open an SSE answer: every line is SSE and the first
 * data event's data is a JSON object (`true`); `false` for anything else (a
 * page, JSON, garbage); `undefined` while no event has data yet (comments only).
 */
export function opensAnswer(bytes: Buffer): boolean | undefined {
  const events = eventData(bytes.toString('utf8'));
  if (events === false) return false;
  for (const data of events) {
    if (data !== undefined) return isObject(parseJson(data));
  }
  return undefined;
}

/**
 * The first OpenAI error event (`data: {"error": …}`) in whole events, with
 * where it starts; `undefined` when the `"error":` keys found are only text.
 */
export function errorEventIn(bytes: Buffer): { start: number; error: Record<string, unknown> } | undefined {
  let from = 0;
  for (let at = bytes.indexOf(errorMarker, from); at !== -1; at = bytes.indexOf(errorMarker, from)) {
    const { start, end } = eventAround(bytes, at);
    const parsed = eventJson(bytes, start, end);
    if (isObject(parsed) && isObject(parsed.error)) return { start, error: parsed.error };
    from = end;
  }
  return undefined;
}

/**
 * The `data` of each event in `text` (whole events), or `undefined` for an
 * event with none (comments only); `false` when a line is not SSE at all
 * (an HTML page, JSON, garbage).
 */
export function eventData(text: string): (string | undefined)[] | false {
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

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
