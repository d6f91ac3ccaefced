import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { DEFAULT_ANSWER_TEXT, faults, readSse, startUpstream, type Upstream } from '../src/index.js';

const API_KEY = 'sk-test-upstream-0001';
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let upstream: Upstream;
let openai: OpenAI;

beforeAll(async () => {
  upstream = await startUpstream();
  openai = new OpenAI({ apiKey: API_KEY, baseURL: upstream.baseURL, maxRetries: 0 });
});

afterAll(async () => {
  await upstream.close();
});

beforeEach(() => {
  upstream.reset();
});

function rawChat(body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${upstream.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

async function collectDeltas(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>): Promise<string[]> {
  const deltas: string[] = [];
  for await (const chunk of stream) {
    const content = chunk.choices[0]?.delta.content;
    if (content) deltas.push(content);
  }
  return deltas;
}

describe('chat completions', () => {
  it('answers a JSON request with a chat.completion and records the request', async () => {
    upstream.next({ type: 'answer', text: 'Scripted reply.', usage: { prompt_tokens: 7, completion_tokens: 3 } });

    const completion = await openai.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Say something' }],
    });

    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe('gpt-4o');
    expect(completion.choices[0]?.message).toMatchObject({ role: 'assistant', content: 'Scripted reply.' });
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage).toEqual({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });

    expect(upstream.requests).toHaveLength(1);
    const recorded = upstream.requests[0];
    expect(recorded).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });
    expect(recorded?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(recorded?.body).toMatchObject({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Say something' }] });
    expect(recorded?.receivedAt).toBeGreaterThan(Date.now() - 5_000);
  });

  it('approximates usage from the words sent and the chunks answered', async () => {
    upstream.next({ type: 'answer', text: 'one two three' });
    const completion = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'count these four words' }] },
      ],
    });
    expect(completion.usage).toEqual({ prompt_tokens: 6, completion_tokens: 3, total_tokens: 9 });
  });

  it('streams the default answer word by word, with usage when include_usage is set', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    const deltas = chunks.flatMap((chunk) => (chunk.choices[0]?.delta.content ? [chunk.choices[0].delta.content] : []));
    expect(deltas.join('')).toBe(DEFAULT_ANSWER_TEXT);
    expect(deltas).toEqual(['Hello ', 'from ', 'the ', 'Airlock ', 'test ', 'upstream.']);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 1, completion_tokens: 6, total_tokens: 7 });
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(chunks.every((chunk) => chunk.model === 'gpt-4o-mini' && chunk.object === 'chat.completion.chunk')).toBe(true);
  });

  it('frames the stream exactly like OpenAI on the wire', async () => {
    upstream.next({ type: 'answer', text: 'abcdef', chunks: 3 });
    const response = await rawChat({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'x' }] });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);

    const events: string[] = [];
    for await (const data of readSse(response)) events.push(data);

    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((data) => JSON.parse(data) as Record<string, unknown>);
    expect(Object.keys(chunks[0] ?? {})).toEqual(['id', 'object', 'created', 'model', 'choices']);
    expect(chunks[0]).toEqual({
      id: expect.stringMatching(/^chatcmpl-/),
      object: 'chat.completion.chunk',
      created: expect.any(Number),
      model: 'gpt-4o',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    });
    expect(chunks.slice(1, 4).map((chunk) => chunk.choices)).toEqual(
      ['ab', 'cd', 'ef'].map((content) => [{ index: 0, delta: { content }, finish_reason: null }]),
    );
    expect(chunks[4]?.choices).toEqual([{ index: 0, delta: {}, finish_reason: 'stop' }]);
    // Without include_usage there is no usage chunk and no usage field.
    expect(chunks).toHaveLength(5);
    expect(chunks.some((chunk) => 'usage' in chunk)).toBe(false);
  });

  it('paces explicit stream chunks', async () => {
    upstream.next({ type: 'stream', chunks: ['A', 'B', 'C'], delayMs: 40, firstChunkDelayMs: 60 });
    const started = Date.now();
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    const headersAfter = Date.now() - started;
    const deltas = await collectDeltas(stream);
    const elapsed = Date.now() - started;

    expect(deltas).toEqual(['A', 'B', 'C']);
    expect(headersAfter).toBeGreaterThanOrEqual(55);
    expect(elapsed).toBeGreaterThanOrEqual(55 + 2 * 35);
  });

  it('joins explicit stream chunks for a JSON request', async () => {
    upstream.next({ type: 'stream', chunks: ['Hel', 'lo'] });
    const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [] });
    expect(completion.choices[0]?.message.content).toBe('Hello');
  });

  it('serves queued behaviours first in, first out, then the default', async () => {
    upstream.next({ type: 'answer', text: 'first' });
    upstream.next({ type: 'answer', text: 'second' });
    const ask = async () => (await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [] })).choices[0]?.message.content;

    expect(await ask()).toBe('first');
    expect(await ask()).toBe('second');
    expect(await ask()).toBe(DEFAULT_ANSWER_TEXT);

    upstream.setDefault({ type: 'answer', text: 'new default' });
    expect(await ask()).toBe('new default');
    upstream.reset();
    expect(await ask()).toBe(DEFAULT_ANSWER_TEXT);
    expect(upstream.requests).toHaveLength(1);
  });

  it('keeps a behaviour matched to another path queued', async () => {
    upstream.next({ ...faults.serverError(), match: { path: '/v1/images/generations' } });

    const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [] });
    expect(completion.choices[0]?.message.content).toBe(DEFAULT_ANSWER_TEXT);
    await expect(openai.images.generate({ prompt: 'a cat' })).rejects.toMatchObject({ status: 500 });
  });
});

describe('authentication and models', () => {
  let guarded: Upstream;

  beforeAll(async () => {
    guarded = await startUpstream({ acceptedKeys: ['sk-test-good-key-1234'], models: ['gpt-4o-mini', 'dall-e-3'] });
  });

  afterAll(async () => {
    await guarded.close();
  });

  it('lists models for an accepted key', async () => {
    const client = new OpenAI({ apiKey: 'sk-test-good-key-1234', baseURL: guarded.baseURL, maxRetries: 0 });
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models).toEqual([
      { id: 'gpt-4o-mini', object: 'model', created: expect.any(Number), owned_by: 'system' },
      { id: 'dall-e-3', object: 'model', created: expect.any(Number), owned_by: 'system' },
    ]);
  });

  it('refuses any other key with invalid_api_key, without echoing the key', async () => {
    const client = new OpenAI({ apiKey: 'sk-test-wrong-key-9876', baseURL: guarded.baseURL, maxRetries: 0 });
    const error = await client.models.list().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error).toMatchObject({ status: 401, code: 'invalid_api_key', type: 'invalid_request_error' });
    expect((error as Error).message).not.toContain('sk-test-wrong-key-9876');
    expect(guarded.requests.at(-1)?.headers.authorization).toBe('Bearer sk-test-wrong-key-9876');
  });

  it('refuses a request without an Authorization header like OpenAI', async () => {
    const response = await fetch(`${upstream.baseURL}/models`);
    expect(response.status).toBe(401);
    const body = (await response.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: null, param: null });
    expect(body.error.message).toMatch(/didn't provide an API key/);
  });

  it('answers unknown routes with 404 in OpenAI error shape', async () => {
    const response = await fetch(`${upstream.baseURL}/audio/speech`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}` },
      body: '{}',
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: { message: 'Invalid URL (POST /v1/audio/speech)', type: 'invalid_request_error', param: null, code: null },
    });
  });
});

describe('faults', () => {
  const request = () => openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });

  it.each([
    ['invalidKey', faults.invalidKey(), OpenAI.AuthenticationError, 401, 'invalid_api_key'],
    ['insufficientQuota', faults.insufficientQuota(), OpenAI.RateLimitError, 429, 'insufficient_quota'],
    ['rateLimited', faults.rateLimited(7), OpenAI.RateLimitError, 429, 'rate_limit_exceeded'],
    ['serverError', faults.serverError(), OpenAI.InternalServerError, 500, null],
    ['serverError(503)', faults.serverError(503), OpenAI.InternalServerError, 503, null],
  ] as const)('%s gives the SDK error with its status and code', async (_name, fault, errorClass, status, code) => {
    upstream.next(fault);
    const error = await request().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(errorClass);
    expect(error).toMatchObject({ status, code, type: fault.error.type });
  });

  it('sends retry-after with a rate limit', async () => {
    upstream.next(faults.rateLimited(7));
    const error = (await request().catch((caught: unknown) => caught)) as InstanceType<typeof OpenAI.RateLimitError>;
    expect(error.headers?.get('retry-after')).toBe('7');
    expect(error.message).toMatch(/try again in 7s/);
  });

  it('lets a stalled request run into the SDK timeout, then sees the connection close', async () => {
    upstream.next({ type: 'stall' });
    const client = new OpenAI({ apiKey: API_KEY, baseURL: upstream.baseURL, maxRetries: 0, timeout: 150 });
    const started = Date.now();

    await expect(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] })).rejects.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(Date.now() - started).toBeLessThan(2_000);
    const closed = await upstream.waitForClose({ timeoutMs: 1_000 });
    expect(closed.connectionId).toBe(upstream.requests[0]?.connectionId);
    expect(closed.closedAt - started).toBeLessThan(1_000);
  });

  it('stalls mid-stream after some chunks until the client aborts', async () => {
    upstream.next({ type: 'stall', afterChunks: 2, text: 'one two three four' });
    const controller = new AbortController();
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [], stream: true }, { signal: controller.signal });
    const deltas: string[] = [];
    let abortedAt = 0;
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta.content;
      if (content) deltas.push(content);
      if (deltas.length === 2) {
        abortedAt = Date.now();
        // Give the upstream a moment to prove it sends nothing more.
        setTimeout(() => controller.abort(), 100);
      }
    }
    expect(deltas).toEqual(['one ', 'two ']);
    const closed = await upstream.waitForClose({ timeoutMs: 1_000 });
    expect(closed.closedAt - abortedAt).toBeGreaterThanOrEqual(90);
    expect(closed.closedAt - abortedAt).toBeLessThan(1_000);
  });

  it('drops the socket before the headers', async () => {
    upstream.next({ type: 'drop' });
    await expect(request()).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    await upstream.waitForClose({ timeoutMs: 1_000 });
  });

  it('drops the socket mid-stream so the SDK iteration throws', async () => {
    upstream.next({ type: 'drop', afterChunks: 3, text: 'a b c d e' });
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [], stream: true });
    const deltas: string[] = [];
    const iterate = async () => {
      for await (const chunk of stream) {
        const content = chunk.choices[0]?.delta.content;
        if (content) deltas.push(content);
      }
    };
    await expect(iterate()).rejects.toThrow();
    expect(deltas).toEqual(['a ', 'b ', 'c ']);
  });
});

describe('images', () => {
  it('returns a URL on the upstream that serves a real PNG', async () => {
    const result = await openai.images.generate({ model: 'dall-e-3', prompt: 'a lighthouse' });
    expect(result.created).toEqual(expect.any(Number));
    expect(result.data).toEqual([{ url: `${upstream.url}/files/image.png` }]);

    const image = await fetch(result.data?.[0]?.url ?? '');
    expect(image.headers.get('content-type')).toBe('image/png');
    const bytes = new Uint8Array(await image.arrayBuffer());
    expect([...bytes.slice(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(upstream.requests[0]?.body).toMatchObject({ prompt: 'a lighthouse' });
  });

  it('returns n base64 images when asked for b64_json', async () => {
    const result = await openai.images.generate({ prompt: 'two cats', n: 2, response_format: 'b64_json' });
    expect(result.data).toHaveLength(2);
    const bytes = Buffer.from(result.data?.[0]?.b64_json ?? '', 'base64');
    expect([...bytes.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
  });

  it('returns scripted URLs', async () => {
    upstream.next({ type: 'image', urls: ['https://example.com/a.png', 'https://example.com/b.png'] });
    const result = await openai.images.generate({ prompt: 'anything' });
    expect(result.data?.map((image) => image.url)).toEqual(['https://example.com/a.png', 'https://example.com/b.png']);
  });
});

describe('connections', () => {
  it('close() destroys keep-alive and stalled sockets', async () => {
    const local = await startUpstream();
    const client = new OpenAI({ apiKey: API_KEY, baseURL: local.baseURL, maxRetries: 0 });
    await client.models.list();
    local.next({ type: 'stall' });
    const stalled = client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] }).catch((caught: unknown) => caught);
    while (local.requests.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(local.openConnections).toBeGreaterThanOrEqual(1);

    await local.close();

    expect(local.openConnections).toBe(0);
    expect(await stalled).toBeInstanceOf(OpenAI.APIConnectionError);
  });
});
