import { ChatClient, SseParser, TokenClient, WidgetError } from '@airlock/widget';
import { faults, type Behaviour } from '@airlock/testing';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTurnTokens } from '../src/proxy/memory.js';
import type { WidgetRecord } from '../src/stores/store.js';
import { allowedOrigin, canaryKey, eventually, startProxyHarness, type ProxyHarness } from './proxy-helpers.js';

// Every upstream fault against two real clients: the `openai` SDK and the
// widget's headless core. Each request must end in a complete answer or a
// clean Airlock error: never a parse error, never a silent half answer.

const admin = { authorization: 'Bearer admin-secret-token' };
const today = new Date().toISOString().slice(0, 10);
const answerText = 'The quick brown fox jumps over the lazy dog.';

let harness: ProxyHarness;
let widget: WidgetRecord;

beforeAll(async () => {
  harness = await startProxyHarness({
    // Heartbeats every 30 ms: a stream that stalls mid-event gets several before the idle limit.
    upstream: { headersTimeoutMs: 1_500, firstChunkTimeoutMs: 1_500, idleTimeoutMs: 600, heartbeatIntervalMs: 30 },
    proxy: {
      limits: {
        visitorRequestsPerMinute: 10_000,
        tokenRequestsPerMinute: 10_000,
        widgetRequestsPerMinute: 10_000,
        addressRequestsPerMinute: 10_000,
        concurrentStreamsPerVisitor: 50,
      },
    },
  });
  widget = await harness.widget();
});

afterAll(async () => {
  await harness.close();
});

type Outcome = { kind: 'answer'; text: string } | { kind: 'error'; code: string; text: string } | { kind: 'broken'; detail: string; text: string };

async function withOpenAiSdk(): Promise<Outcome> {
  const client = new OpenAI({ apiKey: await harness.token(widget), baseURL: `${harness.url}/airlock/v1`, maxRetries: 0 });
  let text = '';
  try {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }], stream: true });
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    return { kind: 'answer', text };
  } catch (error) {
    if (error instanceof OpenAI.APIError && typeof error.code === 'string') return { kind: 'error', code: error.code, text };
    return { kind: 'broken', detail: String(error), text };
  }
}

async function withWidgetCore(): Promise<Outcome> {
  const token = await harness.token(widget);
  const apiBase = `${harness.url}/airlock`;
  const withOrigin: typeof fetch = (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), origin: allowedOrigin } });
  const tokens = new TokenClient({ widgetId: widget.id, apiBase, fetch: withOrigin, getToken: async () => ({ token, expiresAt: Date.now() + 600_000 }) });
  const chat = new ChatClient({ apiBase, tokens, fetch: withOrigin });
  let text = '';
  try {
    for await (const delta of chat.stream([{ role: 'user', content: 'Hello' }])) text += delta;
    return { kind: 'answer', text };
  } catch (error) {
    // `internal` is what the widget reports for a stream it could not parse.
    if (WidgetError.isInstance(error) && error.code !== 'internal') return { kind: 'error', code: error.code, text };
    return { kind: 'broken', detail: String(error), text };
  }
}

/** The raw bytes of one stream, split by the widget's own SSE parser: every event must be JSON or `[DONE]`. */
async function rawEvents(): Promise<{ status: number; raw: string; events: string[] }> {
  const response = await harness.post('/v1/chat/completions', await harness.token(widget), { messages: [{ role: 'user', content: 'Hello' }], stream: true });
  const raw = await harness.text(response);
  const events = new SseParser().push(raw).map((event) => event.data);
  return { status: response.status, raw, events };
}

const serverError = { message: 'The server had an error processing your request. Sorry about that! sk-proj-LEAKED1234', type: 'server_error', code: null };

// [name, fault, the expected end: a complete answer or this error code]
const matrix: [string, Behaviour, 'answer' | string][] = [
  ['a healthy stream', { type: 'answer', text: answerText }, 'answer'],
  ['refused before the first byte (503)', faults.serverError(503), 'upstream_unavailable'],
  ['refused before the first byte (429)', faults.rateLimited(1), 'upstream_rate_limited'],
  ['reset before the first byte', { type: 'drop' }, 'upstream_unavailable'],
  ['cut mid-event (socket closed)', { type: 'drop', afterChunks: 2, midEvent: true, text: answerText }, 'upstream_unavailable'],
  ['cut mid-event (response ended)', { type: 'cut', afterChunks: 2, midEvent: true, text: answerText }, 'upstream_unavailable'],
  ['cut after 3 events (socket closed)', { type: 'drop', afterChunks: 3, text: answerText }, 'upstream_unavailable'],
  ['cut after 3 events (response ended, no [DONE], no finish reason)', { type: 'cut', afterChunks: 3, text: answerText }, 'upstream_unavailable'],
  ['ended right after the headers', { type: 'cut', afterChunks: 0 }, 'upstream_unavailable'],
  ['stalled before the headers', { type: 'stall' }, 'upstream_timeout'],
  ['stalled after 2 events', { type: 'stall', afterChunks: 2, text: answerText }, 'upstream_timeout'],
  ['stalled mid-event (heartbeats due meanwhile)', { type: 'stall', afterChunks: 2, midEvent: true, text: answerText }, 'upstream_timeout'],
  ['reset mid-stream (TCP RST)', { type: 'drop', afterChunks: 2, reset: true, text: answerText }, 'upstream_unavailable'],
  ['reset mid-event (TCP RST)', { type: 'drop', afterChunks: 2, midEvent: true, reset: true, text: answerText }, 'upstream_unavailable'],
  ['a JSON error under a 200 stream', { type: 'raw', body: JSON.stringify({ error: serverError }) }, 'upstream_unavailable'],
  ['a JSON answer under a 200 stream', { type: 'raw', body: JSON.stringify({ id: 'x', object: 'chat.completion', choices: [] }) }, 'upstream_unavailable'],
  [
    'an HTML page under a 200 stream',
    { type: 'raw', body: '<!DOCTYPE html>\n<html>\n\n<body><h1>502 Bad Gateway</h1></body>\n\n</html>\n' },
    'upstream_unavailable',
  ],
  ['garbage under a 200 stream', { type: 'raw', body: 'x7#\u0000\u00ff garbage\n\nmore: garbage\n\n' }, 'upstream_unavailable'],
  ['an empty 200 stream', { type: 'raw', body: '' }, 'upstream_unavailable'],
  ['an error event first', { ...faults.streamError(0), error: serverError }, 'upstream_unavailable'],
  ['an error event after 2 deltas', { ...faults.streamError(2), error: serverError, text: answerText }, 'upstream_unavailable'],
  [
    'a rate-limit error event',
    { type: 'stream-error', afterChunks: 1, error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } },
    'upstream_rate_limited',
  ],
  ['no usage reported', { type: 'answer', text: answerText, reportUsage: false }, 'answer'],
];

describe('the fault matrix', () => {
  for (const [name, fault, expected] of matrix) {
    it(`${name}: ${expected === 'answer' ? 'a complete answer' : expected}, for the openai SDK and the widget`, async () => {
      for (const client of [withOpenAiSdk, withWidgetCore]) {
        harness.upstream.next(fault);
        const outcome = await client();
        harness.seen.push(outcome.text);
        if (expected === 'answer') expect(outcome, client.name).toEqual({ kind: 'answer', text: answerText });
        else expect(outcome, `${client.name} ${JSON.stringify(outcome)}`).toMatchObject({ kind: 'error', code: expected });
      }
      // The bytes themselves: whole events only, each JSON or [DONE], ending in [DONE] or an Airlock error.
      harness.upstream.next(fault);
      const { status, raw, events } = await rawEvents();
      harness.seen.push(raw);
      if (status !== 200) return;
      for (const data of events) if (data !== '[DONE]') expect(() => JSON.parse(data), data).not.toThrow();
      const last = events.at(-1);
      if (expected === 'answer') expect(last).toBe('[DONE]');
      else expect(JSON.parse(last ?? '{}')).toMatchObject({ error: { type: 'airlock_error', code: expected } });
      // Nothing after the last event but comments and blank lines.
      expect(raw.endsWith('\n\n')).toBe(true);
    });
  }

  it('never relays the upstream\u2019s own error text', () => {
    for (const text of harness.seen) {
      expect(text).not.toContain('LEAKED1234');
      expect(text).not.toContain('Sorry about that');
      expect(text).not.toContain('Bad Gateway');
      expect(text).not.toContain(canaryKey);
    }
  });
});

async function usageToday(): Promise<{ outputTokens: number; generations: number; errors: Record<string, number> }> {
  const response = await fetch(`${harness.url}/airlock/admin/widgets/${widget.id}/usage?from=${today}&to=${today}`, { headers: admin });
  const body = (await response.json()) as { days: { outputTokens: number; generations: number; errors: Record<string, number> }[] };
  return body.days[0] ?? { outputTokens: 0, generations: 0, errors: {} };
}

describe('metering under faults', () => {
  it('counts an error event inside a 200 stream as an error of its widget', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const before = (await usageToday()).errors.upstream_rate_limited ?? 0;
    harness.upstream.next({ type: 'stream-error', error: { message: 'Slow down', type: 'requests', code: 'rate_limit_exceeded' } });
    expect((await withOpenAiSdk()).kind).toBe('error');
    await eventually(async () => ((await usageToday()).errors.upstream_rate_limited ?? 0) === before + 1, 4_000);
  });

  it('charges a delivered answer the upstream reported no usage for, counting its tokens', async () => {
    const expected = (await countTurnTokens([{ role: 'assistant', content: answerText }])) - 4;
    // One event carrying the role, the whole text and the finish reason, and no usage.
    const oneEvent = `data: ${JSON.stringify({
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta: { role: 'assistant', content: answerText }, finish_reason: 'stop' }],
    })}\n\ndata: [DONE]\n\n`;
    for (const [index, fault] of [
      { type: 'raw', body: oneEvent },
      { type: 'answer', text: answerText, reportUsage: false },
      { type: 'stream', chunks: [answerText], reportUsage: false },
    ].entries()) {
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const before = await usageToday();
      harness.upstream.next(fault as Behaviour);
      expect(await withOpenAiSdk(), `fault ${index}`).toEqual({ kind: 'answer', text: answerText });
      await eventually(async () => (await usageToday()).outputTokens > before.outputTokens, 4_000).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const after = await usageToday();
      expect(after.outputTokens - before.outputTokens, `fault ${index}`).toBe(expected);
      expect(after.generations - before.generations, `fault ${index}`).toBe(1);
    }
  });
});

describe('after the matrix', () => {
  it('still serves, and leaves no upstream or client socket open', async () => {
    harness.upstream.next({ type: 'answer', text: answerText });
    expect(await withOpenAiSdk()).toEqual({ kind: 'answer', text: answerText });
    await eventually(async () => harness.upstream.openConnections === 0 && (await harness.serverConnections()) === 0, 10_000);
  }, 15_000);
});
