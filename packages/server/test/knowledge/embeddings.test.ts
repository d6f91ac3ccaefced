import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { faults, startUpstream } from '@airlock/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { AirlockError } from '../../src/errors.js';
import { createEmbeddings, isEmbeddingsUnavailable } from '../../src/knowledge/embeddings.js';
import { cosineSimilarity } from '../../src/knowledge/rank.js';

interface Received {
  authorization: string | undefined;
  body: { model: string; input: string[]; dimensions?: number; encoding_format?: string };
}

type Handler = (received: Received, response: ServerResponse) => void;

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

// A real HTTP server speaking OpenAI's embeddings format: each input's
// vector is [length, first character code, index in its batch].
async function embeddingsServer(handler?: Handler): Promise<{ baseURL: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = { authorization: request.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString()) as Received['body'] };
      received.push(entry);
      if (handler) return handler(entry, response);
      const data = entry.body.input.map((input, index) => ({ object: 'embedding', index, embedding: [input.length, input.charCodeAt(0), index] }));
      // Answered out of order, as the API allows: the index says which input each vector is for.
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          object: 'list',
          data: data.reverse(),
          model: `${entry.body.model}-v1`,
          usage: { prompt_tokens: entry.body.input.length * 2, total_tokens: 0 },
        }),
      );
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, received };
}

async function failure(promise: Promise<unknown>): Promise<AirlockError> {
  try {
    await promise;
  } catch (error) {
    if (AirlockError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('The call succeeded, but should have failed.');
}

describe('createEmbeddings', () => {
  test('batches the inputs, keeps their order, and reports the model and usage', async () => {
    const { baseURL, received } = await embeddingsServer();
    const inputs = Array.from({ length: 250 }, (_, index) => `passage ${'x'.repeat(index)}`);
    const result = await createEmbeddings(inputs, { apiKey: 'sk-test-1', baseURL, batchSize: 100, dimensions: 3 });
    expect(received.map((request) => request.body.input.length)).toEqual([100, 100, 50]);
    expect(received[0]!.authorization).toBe('Bearer sk-test-1');
    expect(received[0]!.body).toMatchObject({ model: 'text-embedding-3-small', dimensions: 3, encoding_format: 'float' });
    expect(result.vectors).toHaveLength(250);
    result.vectors.forEach((vector, index) => expect([...vector]).toEqual([inputs[index]!.length, 'p'.charCodeAt(0), index % 100]));
    expect(result.vectors[0]).toBeInstanceOf(Float32Array);
    expect(result).toMatchObject({ model: 'text-embedding-3-small-v1', promptTokens: 500, usageReported: true });
  });

  test('batches by characters too, embeds empty inputs as a space, and honours a configured model', async () => {
    const { baseURL, received } = await embeddingsServer();
    await createEmbeddings(['a'.repeat(600), 'b'.repeat(600), ''], { apiKey: 'k', baseURL, maxBatchCharacters: 1_000, model: 'nomic-embed' });
    expect(received.map((request) => request.body.input.map((input) => input.length))).toEqual([[600], [600, 1]]);
    expect(received[1]!.body.input[1]).toBe(' ');
    expect(received[0]!.body.model).toBe('nomic-embed');
  });

  test('reads base64 vectors, and counts tokens itself when the upstream reports no usage', async () => {
    const { baseURL } = await embeddingsServer((entry, response) => {
      const vector = Buffer.alloc(8);
      vector.writeFloatLE(0.25, 0);
      vector.writeFloatLE(-2, 4);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ data: entry.body.input.map((_, index) => ({ index, embedding: vector.toString('base64') })), model: 'm' }));
    });
    const result = await createEmbeddings(['Hello there', 'General Kenobi'], { apiKey: 'k', baseURL });
    expect(result.vectors.map((vector) => [...vector])).toEqual([
      [0.25, -2],
      [0.25, -2],
    ]);
    expect(result).toMatchObject({ usageReported: false, promptTokens: 5 });
  });

  test('an upstream without embeddings (the stand-in started with embeddings: false answers 404) is recognised, so retrieval can fall back to keywords', async () => {
    const upstream = await startUpstream({ embeddings: false });
    try {
      const error = await failure(createEmbeddings(['hello'], { apiKey: 'sk-test-1', baseURL: upstream.baseURL }));
      expect(error.code).toBe('upstream_rejected');
      expect(error.message).toBe('The AI service does not offer embeddings with the model text-embedding-3-small; only keyword search is used.');
      expect(isEmbeddingsUnavailable(error)).toBe(true);
    } finally {
      await upstream.close();
    }
  });

  test('a refused key maps to upstream_key_invalid, and no message carries the key or the upstream body', async () => {
    const upstream = await startUpstream({ acceptedKeys: ['sk-test-good'] });
    try {
      const error = await failure(createEmbeddings(['hello'], { apiKey: 'sk-test-secret-1234', baseURL: upstream.baseURL }));
      expect(error.code).toBe('upstream_key_invalid');
      expect(error.message).not.toMatch(/sk-|1234|Incorrect/);
      expect(JSON.stringify(error.toJSON())).not.toMatch(/sk-|1234/);
      expect(isEmbeddingsUnavailable(error)).toBe(false);
    } finally {
      await upstream.close();
    }
  });

  test('rate limits, server errors, timeouts, unreachable servers and malformed answers map to stable codes', async () => {
    const rateLimited = await embeddingsServer((_, response) => {
      response.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
      response.end(JSON.stringify({ error: { message: 'Slow down', type: 'requests', code: 'rate_limit_exceeded' } }));
    });
    const limited = await failure(createEmbeddings(['a'], { apiKey: 'k', baseURL: rateLimited.baseURL }));
    expect([limited.code, limited.headers['retry-after']]).toEqual(['upstream_rate_limited', '7']);

    const broken = await embeddingsServer((_, response) => {
      response.writeHead(500, { 'content-type': 'text/html' });
      response.end('<h1>Oops</h1>');
    });
    expect((await failure(createEmbeddings(['a'], { apiKey: 'k', baseURL: broken.baseURL }))).code).toBe('upstream_unavailable');

    const silent = await embeddingsServer(() => {});
    const started = performance.now();
    expect((await failure(createEmbeddings(['a'], { apiKey: 'k', baseURL: silent.baseURL, timeoutMs: 200 }))).code).toBe('upstream_timeout');
    expect(performance.now() - started).toBeLessThan(2_000);

    expect((await failure(createEmbeddings(['a'], { apiKey: 'k', baseURL: 'http://127.0.0.1:9/v1' }))).code).toBe('upstream_unavailable');

    const wrongCount = await embeddingsServer((_, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ data: [{ index: 0, embedding: [1] }], model: 'm' }));
    });
    const malformed = await failure(createEmbeddings(['a', 'b'], { apiKey: 'k', baseURL: wrongCount.baseURL }));
    expect([malformed.code, malformed.message]).toEqual(['upstream_unavailable', 'The AI service sent embeddings Airlock could not read.']);

    const notNumbers = await embeddingsServer((_, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ data: [{ index: 0, embedding: ['x'] }] }));
    });
    expect((await failure(createEmbeddings(['a'], { apiKey: 'k', baseURL: notNumbers.baseURL }))).code).toBe('upstream_unavailable');
  });

  test('a caller that aborts gets its own reason, not an upstream error', async () => {
    const silent = await embeddingsServer(() => {});
    const controller = new AbortController();
    const call = createEmbeddings(['a'], { apiKey: 'k', baseURL: silent.baseURL, signal: controller.signal });
    const reason = new Error('visitor left');
    setTimeout(() => controller.abort(reason), 50);
    await expect(call).rejects.toBe(reason);
  });

  test('uses the fetch it is given', async () => {
    const calls: string[] = [];
    const { baseURL } = await embeddingsServer();
    const counting = ((input: string | URL | Request, init?: RequestInit) => {
      calls.push(String(input));
      return fetch(input, init);
    }) as typeof fetch;
    await createEmbeddings(['a'], { apiKey: 'k', baseURL: `${baseURL}/`, fetch: counting });
    expect(calls).toEqual([`${baseURL}/embeddings`]);
  });

  test('works against the stand-in upstream: vectors of its dimensions, texts sharing words closest, usage metered', async () => {
    const upstream = await startUpstream();
    try {
      const inputs = ['Refunds are paid within 14 days of a return.', 'The widget loads from a script tag.', 'How long do refunds take after a return?'];
      const result = await createEmbeddings(inputs, { apiKey: 'sk-test-1', baseURL: upstream.baseURL, batchSize: 2 });
      expect(upstream.requests.map((request) => request.path)).toEqual(['/v1/embeddings', '/v1/embeddings']);
      expect(result.vectors.map((vector) => vector.length)).toEqual([256, 256, 256]);
      expect(result).toMatchObject({ model: 'text-embedding-3-small', usageReported: true });
      expect(result.promptTokens).toBeGreaterThan(10);
      const [refunds, widget, question] = result.vectors;
      expect(cosineSimilarity(question!, refunds!)).toBeGreaterThan(cosineSimilarity(question!, widget!) + 0.2);

      const shortened = await createEmbeddings(['Refunds'], { apiKey: 'sk-test-1', baseURL: upstream.baseURL, dimensions: 32 });
      expect(shortened.vectors[0]).toHaveLength(32);

      upstream.setDefault(faults.embeddingsUnavailable());
      expect(isEmbeddingsUnavailable(await failure(createEmbeddings(['Refunds'], { apiKey: 'sk-test-1', baseURL: upstream.baseURL })))).toBe(true);
    } finally {
      await upstream.close();
    }
  });
});
