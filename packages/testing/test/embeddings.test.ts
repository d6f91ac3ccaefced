import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { DEFAULT_ANSWER_TEXT, faults, hashedEmbedding, startUpstream, type Upstream } from '../src/index.js';

const API_KEY = 'sk-test-embeddings-0001';

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

function rawEmbeddings(body: unknown): Promise<Response> {
  return fetch(`${upstream.baseURL}/embeddings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function dot(left: ArrayLike<number>, right: ArrayLike<number>): number {
  let sum = 0;
  for (let index = 0; index < left.length; index += 1) sum += left[index]! * right[index]!;
  return sum;
}

describe('POST /v1/embeddings', () => {
  it('answers the openai SDK with float vectors in OpenAI’s list shape, with usage', async () => {
    const answer = await openai.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['Returns are free within 30 days.', 'Shipping takes two days.'],
      encoding_format: 'float',
    });

    expect(answer.object).toBe('list');
    expect(answer.model).toBe('text-embedding-3-small');
    expect(answer.data.map((item) => [item.object, item.index])).toEqual([
      ['embedding', 0],
      ['embedding', 1],
    ]);
    for (const item of answer.data) {
      expect(item.embedding).toHaveLength(256);
      expect(Math.hypot(...item.embedding)).toBeCloseTo(1, 5);
    }
    expect(answer.usage.prompt_tokens).toBeGreaterThan(0);
    expect(answer.usage.total_tokens).toBe(answer.usage.prompt_tokens);
    expect(upstream.requests[0]).toMatchObject({ method: 'POST', path: '/v1/embeddings' });
    expect(upstream.requests[0]?.body).toMatchObject({ encoding_format: 'float' });
  });

  it('sends base64 float32 vectors the SDK decodes to the same numbers as float', async () => {
    const input = 'How do I reset my password?';
    const floats = await openai.embeddings.create({ model: 'text-embedding-3-small', input, encoding_format: 'float' });

    // Without encoding_format the SDK asks for base64 and decodes it itself.
    const decoded = await openai.embeddings.create({ model: 'text-embedding-3-small', input });
    expect(upstream.requests[1]?.body).toMatchObject({ encoding_format: 'base64' });
    expect(decoded.data[0]?.embedding).toEqual(floats.data[0]?.embedding);

    const raw = await rawEmbeddings({ model: 'text-embedding-3-small', input, encoding_format: 'base64' });
    const body = (await raw.json()) as { data: { embedding: string }[] };
    const bytes = Buffer.from(body.data[0]!.embedding, 'base64');
    expect(bytes.length).toBe(256 * 4);
    const vector = Array.from({ length: 256 }, (_, index) => bytes.readFloatLE(index * 4));
    expect(vector).toEqual(floats.data[0]?.embedding);
  });

  it('is deterministic, honours dimensions, and puts texts that share words closer than texts that do not', async () => {
    const answer = await openai.embeddings.create({
      model: 'text-embedding-3-small',
      encoding_format: 'float',
      dimensions: 64,
      input: [
        'What is the refund policy for returned orders?',
        'Our refund policy: returned orders are refunded within 14 days.',
        'The widget script loads asynchronously from a CDN.',
        'What is the refund policy for returned orders?',
      ],
    });
    const [question, related, unrelated, again] = answer.data.map((item) => item.embedding);
    expect(question).toHaveLength(64);
    expect(again).toEqual(question);
    expect(dot(question!, related!)).toBeGreaterThan(0.3);
    expect(dot(question!, related!)).toBeGreaterThan(dot(question!, unrelated!) + 0.2);
    // Character n-grams make a word's forms close even when the word differs.
    const forms = dot(hashedEmbedding('refunds'), hashedEmbedding('refunded'));
    expect(forms).toBeGreaterThan(0.2);
    expect(forms).toBeGreaterThan(dot(hashedEmbedding('refunds'), hashedEmbedding('shipping')) + 0.15);
  });

  it('accepts token-id arrays as OpenAI does', async () => {
    const answer = await openai.embeddings.create({
      model: 'text-embedding-3-small',
      input: [
        [1, 2, 3],
        [4, 5],
      ],
      encoding_format: 'float',
    });
    expect(answer.data).toHaveLength(2);
  });

  it.each([
    ['no model', { input: 'hello' }, 'you must provide a model parameter', null],
    ['no input', { model: 'text-embedding-3-small' }, "'input' is a required property", null],
    ['an empty input', { model: 'text-embedding-3-small', input: '' }, "'$.input' is invalid", null],
    ['a number among strings', { model: 'text-embedding-3-small', input: ['ok', 7] }, "'$.input' is invalid", null],
    ['an empty list', { model: 'text-embedding-3-small', input: [] }, "'$.input' is invalid", null],
    [
      'an unknown encoding_format',
      { model: 'text-embedding-3-small', input: 'x', encoding_format: 'int8' },
      "Invalid value for 'encoding_format'",
      'encoding_format',
    ],
    ['zero dimensions', { model: 'text-embedding-3-small', input: 'x', dimensions: 0 }, "Invalid value for 'dimensions'", 'dimensions'],
    ['2049 inputs', { model: 'text-embedding-3-small', input: Array.from({ length: 2049 }, () => 'x') }, 'too long', 'input'],
  ])('refuses %s with a 400 in OpenAI’s error shape', async (_case, body, message, param) => {
    const response = await rawEmbeddings(body);
    expect(response.status).toBe(400);
    const payload = (await response.json()) as { error: { message: string; type: string; code: unknown; param: unknown } };
    expect(payload.error.message).toContain(message);
    expect(payload.error).toMatchObject({ type: 'invalid_request_error', code: null, param });
  });

  it('refuses a body that is not JSON as the other routes do', async () => {
    const response = await rawEmbeddings('{not json');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });

  it('takes queued faults like the other routes', async () => {
    upstream.next(faults.rateLimited(3));
    const error = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const answer = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
    expect(answer.data).toHaveLength(1);
  });
});

describe('an upstream without embeddings', () => {
  it('answers 404 when started with embeddings: false, and still chats', async () => {
    const bare = await startUpstream({ embeddings: false });
    try {
      const client = new OpenAI({ apiKey: API_KEY, baseURL: bare.baseURL, maxRetries: 0 });
      const error = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect((error as InstanceType<typeof OpenAI.NotFoundError>).message).toContain('Invalid URL (POST /v1/embeddings)');
      const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
      expect(completion.choices[0]?.message.content).toBe(DEFAULT_ANSWER_TEXT);
    } finally {
      await bare.close();
    }
  });

  it('answers 404 while faults.embeddingsUnavailable() is the default, chat unaffected, until reset', async () => {
    upstream.setDefault(faults.embeddingsUnavailable());
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const error = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    }
    const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
    expect(completion.choices[0]?.message.content).toBe(DEFAULT_ANSWER_TEXT);
    upstream.reset();
    const answer = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
    expect(answer.data).toHaveLength(1);
  });

  it('gives vectors of embeddingDimensions when the upstream is started with it', async () => {
    const wide = await startUpstream({ embeddingDimensions: 1536 });
    try {
      const client = new OpenAI({ apiKey: API_KEY, baseURL: wide.baseURL, maxRetries: 0 });
      const answer = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
      expect(answer.data[0]?.embedding).toHaveLength(1536);
    } finally {
      await wide.close();
    }
  });
});
