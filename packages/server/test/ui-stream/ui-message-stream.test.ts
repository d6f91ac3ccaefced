// The UI message stream built from the chat SSE the relay writes. The AI
// SDK's own reader checks this output in packages/client-tests; here each
// chunk is checked exactly, from real chat streams (the stand-in upstream,
// directly and through the relay) and from hand-made ones for the edges.
import { startUpstream, type Upstream } from '@airlock/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseResponse } from '../../src/proxy/sse-pass-through.js';
import { chatStreamToUIMessageStream, UIMessageStreamTranslator, uiMessageStreamHeaders, type UIStreamChunk } from '../../src/proxy/ui-stream/index.js';

let upstream: Upstream;
beforeAll(async () => {
  upstream = await startUpstream({ acceptedKeys: ['sk-test'] });
});
afterAll(() => upstream?.close());

async function upstreamChat(): Promise<Response> {
  const response = await fetch(`${upstream.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } }),
  });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  return response;
}

/** The stand-in upstream's chat stream as the proxy sends it to a client: through the relay. */
async function relayedChat(): Promise<ReadableStream<Uint8Array>> {
  return sseResponse(await upstreamChat(), { 'content-type': 'text/event-stream' }, { firstChunkTimeoutMs: 5_000, idleTimeoutMs: 5_000 }).body!;
}

const sse = (text: string) => new Response(text).body!;

/** Every SSE event of the output: its data parsed (`'[DONE]'` as is), comments as `':…'`. */
async function eventsOf(stream: ReadableStream<Uint8Array>): Promise<(UIStreamChunk | string)[]> {
  const text = await new Response(stream).text();
  expect(text.endsWith('\n\n')).toBe(true);
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((block) => {
      if (block.startsWith(':')) return block;
      expect(block).toMatch(/^data: [^\n]+$/);
      const data = block.slice(6);
      return data === '[DONE]' ? data : (JSON.parse(data) as UIStreamChunk);
    });
}

const chunk = (content: string | null, finishReason: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finishReason }] })}`;

describe('chatStreamToUIMessageStream', () => {
  it('turns the upstream\u2019s real chat stream, relayed, into start, one step with the sources and one text part, finish and [DONE]', async () => {
    upstream.next({ type: 'answer', text: 'Hello there, visitor.' });
    const sources = [
      { id: 'src-1', url: 'https://example.com/pricing', title: 'Pricing' },
      { id: 'src-2', title: 'Handbook', mediaType: 'application/pdf', filename: 'handbook.pdf' },
    ];
    const events = await eventsOf((await relayedChat()).pipeThrough(chatStreamToUIMessageStream({ messageId: 'msg-1', sources })));
    const deltas = events.filter((event) => typeof event === 'object' && event.type === 'text-delta');
    expect(deltas.length).toBeGreaterThanOrEqual(3);
    expect(events).toEqual([
      { type: 'start', messageId: 'msg-1' },
      { type: 'start-step' },
      { type: 'source-url', sourceId: 'src-1', url: 'https://example.com/pricing', title: 'Pricing' },
      { type: 'source-document', sourceId: 'src-2', mediaType: 'application/pdf', title: 'Handbook', filename: 'handbook.pdf' },
      { type: 'text-start', id: 'text-0' },
      ...deltas,
      { type: 'text-end', id: 'text-0' },
      { type: 'finish-step' },
      { type: 'finish', finishReason: 'stop' },
      '[DONE]',
    ]);
    expect(deltas.map((delta) => (delta as { id: string; delta: string }).id)).toEqual(deltas.map(() => 'text-0'));
    expect(deltas.map((delta) => (delta as { delta: string }).delta).join('')).toBe('Hello there, visitor.');
  });

  it('reads the upstream\u2019s stream straight, without the relay, too', async () => {
    upstream.next({ type: 'answer', text: 'Straight from upstream.' });
    const events = await eventsOf((await upstreamChat()).body!.pipeThrough(chatStreamToUIMessageStream()));
    const start = events[0] as Extract<UIStreamChunk, { type: 'start' }>;
    // A new id when none is given.
    expect(start).toEqual({ type: 'start', messageId: expect.stringMatching(/^msg-[0-9a-f-]{36}$/) });
    expect(events.slice(-3)).toEqual([{ type: 'finish-step' }, { type: 'finish', finishReason: 'stop' }, '[DONE]']);
    const text = events.flatMap((event) => (typeof event === 'object' && event.type === 'text-delta' ? [event.delta] : [])).join('');
    expect(text).toBe('Straight from upstream.');
  });

  it('keeps heartbeat comments, so the connection stays alive while the model is silent', async () => {
    const events = await eventsOf(
      sse(`: keep-alive\n\n${chunk('Hi', 'stop')}\n\n: keep-alive\n\ndata: [DONE]\n\n`).pipeThrough(chatStreamToUIMessageStream({ messageId: 'm' })),
    );
    expect(events).toEqual([
      { type: 'start', messageId: 'm' },
      { type: 'start-step' },
      ': keep-alive',
      { type: 'text-start', id: 'text-0' },
      { type: 'text-delta', id: 'text-0', delta: 'Hi' },
      ': keep-alive',
      { type: 'text-end', id: 'text-0' },
      { type: 'finish-step' },
      { type: 'finish', finishReason: 'stop' },
      '[DONE]',
    ]);
  });

  it('reads chat events split anywhere across chunks, CRLF and multi-byte characters included', async () => {
    const whole = [chunk('Split '), chunk('\u00fcn\u00efc\u00f6de \ud83d\ude80', 'stop'), 'data: [DONE]', ''].join('\r\n\r\n');
    const bytes = new TextEncoder().encode(whole);
    for (const size of [1, 7, 50]) {
      const source = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < bytes.length; at += size) controller.enqueue(bytes.slice(at, at + size));
          controller.close();
        },
      });
      const events = await eventsOf(source.pipeThrough(chatStreamToUIMessageStream({ messageId: 'm' })));
      const text = events.flatMap((event) => (typeof event === 'object' && event.type === 'text-delta' ? [event.delta] : [])).join('');
      expect(text).toBe('Split \u00fcn\u00efc\u00f6de \ud83d\ude80');
      expect(events.slice(-2)).toEqual([{ type: 'finish', finishReason: 'stop' }, '[DONE]']);
    }
  });

  it('names the finish reason in the AI SDK\u2019s terms, and none when the upstream gave none', async () => {
    const finishOf = async (reason: string | null) => {
      const events = await eventsOf(sse(`${chunk('Cut', reason)}\n\ndata: [DONE]\n\n`).pipeThrough(chatStreamToUIMessageStream()));
      return events.at(-2);
    };
    expect(await finishOf('length')).toEqual({ type: 'finish', finishReason: 'length' });
    expect(await finishOf('content_filter')).toEqual({ type: 'finish', finishReason: 'content-filter' });
    expect(await finishOf('something_new')).toEqual({ type: 'finish', finishReason: 'other' });
    expect(await finishOf(null)).toEqual({ type: 'finish' });
  });

  it('sends no text part for an answer without text', async () => {
    const events = await eventsOf(sse(`${chunk('', 'stop')}\n\ndata: [DONE]\n\n`).pipeThrough(chatStreamToUIMessageStream({ messageId: 'm' })));
    expect(events).toEqual([
      { type: 'start', messageId: 'm' },
      { type: 'start-step' },
      { type: 'finish-step' },
      { type: 'finish', finishReason: 'stop' },
      '[DONE]',
    ]);
  });

  it('turns Airlock\u2019s error event into an error chunk with its message, and stops there: no finish', async () => {
    const failed = `${chunk('Half')}\n\n: keep-alive\n\ndata: {"error":{"message":"The AI service took too long to answer.","type":"airlock_error","code":"upstream_timeout"}}\n\n${chunk('ignored')}\n\n`;
    const events = await eventsOf(sse(failed).pipeThrough(chatStreamToUIMessageStream({ messageId: 'm' })));
    expect(events).toEqual([
      { type: 'start', messageId: 'm' },
      { type: 'start-step' },
      { type: 'text-start', id: 'text-0' },
      { type: 'text-delta', id: 'text-0', delta: 'Half' },
      ': keep-alive',
      { type: 'error', errorText: 'The AI service took too long to answer.' },
      '[DONE]',
    ]);
  });

  it('passes on no error text but Airlock\u2019s own', async () => {
    const foreign = 'data: {"error":{"message":"Incorrect API key provided: sk-live-abc123","type":"invalid_request_error","code":"invalid_api_key"}}\n\n';
    const events = await eventsOf(sse(foreign).pipeThrough(chatStreamToUIMessageStream({ messageId: 'm' })));
    expect(events.at(-2)).toEqual({ type: 'error', errorText: 'The AI service failed.' });
    expect(JSON.stringify(events)).not.toContain('sk-live');
  });

  it('reports an upstream error inside the stream, relayed, with Airlock\u2019s message only', async () => {
    upstream.next({
      type: 'stream-error',
      afterChunks: 2,
      text: 'One two three four',
      error: { message: 'Key sk-live-abc123 exploded', type: 'server_error', code: null },
    });
    const events = await eventsOf((await relayedChat()).pipeThrough(chatStreamToUIMessageStream({ messageId: 'm' })));
    expect(events.slice(-2)).toEqual([{ type: 'error', errorText: 'The AI service is unavailable right now.' }, '[DONE]']);
    expect(events.some((event) => typeof event === 'object' && event.type === 'finish')).toBe(false);
    expect(JSON.stringify(events)).not.toContain('sk-live');
  });

  it('ends an answer the upstream cut off with an error chunk, not a finish: through the relay, and straight', async () => {
    upstream.next({ type: 'cut', afterChunks: 2, text: 'One two three four' });
    const relayed = await eventsOf((await relayedChat()).pipeThrough(chatStreamToUIMessageStream({ messageId: 'm' })));
    expect(relayed.slice(-2)).toEqual([{ type: 'error', errorText: 'The answer was cut off before it finished.' }, '[DONE]']);

    for (const cut of [`${chunk('One ')}\n\n`, `${chunk('One ')}\n\ndata: {"id":"c","obj`]) {
      const straight = await eventsOf(sse(cut).pipeThrough(chatStreamToUIMessageStream({ messageId: 'm' })));
      expect(straight).toEqual([
        { type: 'start', messageId: 'm' },
        { type: 'start-step' },
        { type: 'text-start', id: 'text-0' },
        { type: 'text-delta', id: 'text-0', delta: 'One ' },
        { type: 'error', errorText: 'The answer was cut off before it finished.' },
        '[DONE]',
      ]);
    }
  });

  it('reads a last event without its blank line when it is whole', async () => {
    const events = await eventsOf(sse(`${chunk('Done', 'stop')}\n\ndata: [DONE]`).pipeThrough(chatStreamToUIMessageStream({ messageId: 'm' })));
    expect(events.slice(-2)).toEqual([{ type: 'finish', finishReason: 'stop' }, '[DONE]']);
  });

  it('fails on an event that is not JSON, and on one too long to hold', async () => {
    const garbage = await eventsOf(
      sse(`${chunk('A')}\n\ndata: <html>\n\n${chunk('B', 'stop')}\n\ndata: [DONE]\n\n`).pipeThrough(chatStreamToUIMessageStream({ messageId: 'm' })),
    );
    expect(garbage.slice(-2)).toEqual([{ type: 'error', errorText: 'The AI service sent an answer Airlock could not read.' }, '[DONE]']);
    const huge = await eventsOf(sse(`data: "${'x'.repeat(1024 * 1024 + 10)}`).pipeThrough(chatStreamToUIMessageStream({ messageId: 'm' })));
    expect(huge.slice(-2)).toEqual([{ type: 'error', errorText: 'The AI service sent an answer Airlock could not read.' }, '[DONE]']);
  });

  it('gives a source without a URL the document fields the protocol requires', () => {
    const translator = new UIMessageStreamTranslator({
      messageId: 'm',
      sources: [{ id: 'doc-7' }, { id: 'doc-8', filename: 'faq.md', mediaType: 'text/markdown' }],
    });
    expect(translator.start()).toEqual([
      { type: 'start', messageId: 'm' },
      { type: 'start-step' },
      { type: 'source-document', sourceId: 'doc-7', mediaType: 'text/plain', title: 'doc-7' },
      { type: 'source-document', sourceId: 'doc-8', mediaType: 'text/markdown', title: 'faq.md', filename: 'faq.md' },
    ]);
  });

  it('exports the headers the AI SDK expects of a UI message stream', () => {
    expect(uiMessageStreamHeaders).toMatchObject({ 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-vercel-ai-ui-message-stream': 'v1' });
  });
});
