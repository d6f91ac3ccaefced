import type { ServerResponse } from 'node:http';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient, TokenClient, readChatStream, type AnswerSource } from '../src/index';
import { chunkEvent, readJson, sendJson, startServer, type TestServer } from './support/http-server';

const widget = { id: 'wgt_knows', type: 'chat', title: 'Help', theme: 'auto' } as const;

/** The first chunk of a stream, as the server sends it: the role, and the answer's sources when it has any. */
function firstChunk(sources?: unknown): string {
  const chunk = {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    ...(sources !== undefined && { airlock_sources: sources }),
  };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}
const finish = `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`;

// Stands in for the Airlock server at the HTTP boundary: each chat request is answered with `body`.
let server: TestServer;
let body = '';
beforeAll(async () => {
  server = await startServer(async (request, response: ServerResponse) => {
    await readJson(request);
    if (request.url === '/airlock/token') {
      sendJson(response, 200, { token: 'token-1', expiresAt: Date.now() + 600_000, widget });
      return;
    }
    response.writeHead(200, { 'Content-Type': 'text/event-stream' });
    // Written in two pieces, so the first chunk and the text arrive apart as on a real answer.
    response.write(body.slice(0, 40));
    setTimeout(() => response.end(body.slice(40)), 5);
  });
  return () => server.close();
});

/** Asks the stand-in, whose stream carries `sources` in its first chunk, and records what the client hands over. */
async function ask(sources?: unknown): Promise<{ text: string; calls: AnswerSource[][]; order: string[] }> {
  body = firstChunk(sources) + chunkEvent('Annual plans') + chunkEvent(' cost 10% less.') + finish + 'data: [DONE]\n\n';
  const apiBase = `${server.url}/airlock`;
  const chat = new ChatClient({ apiBase, tokens: new TokenClient({ widgetId: widget.id, apiBase }) });
  const calls: AnswerSource[][] = [];
  const order: string[] = [];
  let text = '';
  const stream = chat.stream([{ role: 'user', content: 'How much is the annual plan?' }], {
    onSources: (received) => {
      calls.push(received);
      order.push('sources');
    },
  });
  for await (const delta of stream) {
    text += delta;
    order.push('delta');
  }
  return { text, calls, order };
}

const pricing: AnswerSource = { id: 'file_1:3', title: 'Pricing.pdf', location: 'page 3', url: 'https://example.com/pricing' };

describe('ChatClient: an answer’s sources (airlock_sources)', () => {
  afterEach(() => {
    body = '';
  });

  it('hands over the sources of the first chunk once, before the text, and the text is unchanged', async () => {
    const faq: AnswerSource = { id: 'file_2:0', title: 'FAQ.md' };
    const result = await ask([pricing, faq]);
    expect(result.text).toBe('Annual plans cost 10% less.');
    expect(result.calls).toEqual([[pricing, faq]]);
    expect(result.order).toEqual(['sources', 'delta', 'delta']);
  });

  it('hands over nothing when the answer has no sources', async () => {
    const result = await ask();
    expect(result.text).toBe('Annual plans cost 10% less.');
    expect(result.calls).toEqual([]);
    expect((await ask([])).calls).toEqual([]);
  });

  it('ignores an airlock_sources that is not an array, and still streams the text', async () => {
    for (const malformed of ['Pricing.pdf', { id: 'file_1:0', title: 'Pricing.pdf' }, null, 42, true]) {
      const result = await ask(malformed);
      expect(result.calls, JSON.stringify(malformed)).toEqual([]);
      expect(result.text).toBe('Annual plans cost 10% less.');
    }
  });

  it('drops items without an id or a title, and keeps a url only when it is http(s)', async () => {
    const result = await ask([
      null,
      'Pricing.pdf',
      { id: 'f:1' },
      { id: 'f:2', title: '' },
      { id: 3, title: 'Numbered id' },
      { id: 'f:4', title: 42 },
      { id: 'f:5', title: 'Script.md', location: 7, url: 'javascript:alert(1)' },
      { id: 'f:6', title: 'Data.html', url: 'data:text/html,<script>alert(1)</script>' },
      { id: 'f:7', title: 'Relative', location: '', url: '//evil.example/x' },
      { id: 'f:8', title: 'Not a string url', url: { href: 'https://example.com' } },
      { id: 'f:9', title: 'Web page', location: 'Plans › Annual', url: 'http://example.com/a b' },
    ]);
    expect(result.calls).toEqual([
      [
        { id: 'f:5', title: 'Script.md' },
        { id: 'f:6', title: 'Data.html' },
        { id: 'f:7', title: 'Relative' },
        { id: 'f:8', title: 'Not a string url' },
        // Normalised by the URL parser, as the link will be.
        { id: 'f:9', title: 'Web page', location: 'Plans › Annual', url: 'http://example.com/a%20b' },
      ],
    ]);
  });

  it('hands over nothing when no item is usable', async () => {
    expect((await ask([{ id: 'f:1' }, null])).calls).toEqual([]);
  });

  it('caps a huge list at 20 sources', async () => {
    const many = Array.from({ length: 500 }, (_, index) => ({ id: `f:${index}`, title: `File ${index}` }));
    const [sources] = (await ask(many)).calls;
    expect(sources).toHaveLength(20);
    expect(sources?.[19]).toEqual({ id: 'f:19', title: 'File 19' });
  });

  it('readChatStream hands them over too, for a UI of your own', async () => {
    const received: AnswerSource[][] = [];
    let text = '';
    const response = new Response(firstChunk([pricing]) + chunkEvent('Hi') + 'data: [DONE]\n\n');
    for await (const delta of readChatStream(response.body!, { onSources: (sources) => received.push(sources) })) text += delta;
    expect(text).toBe('Hi');
    expect(received).toEqual([[pricing]]);
  });
});
