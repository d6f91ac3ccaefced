import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toNodeListener, writeWebResponse } from '../src/adapters/node.js';
import { createNodeTransport } from '../src/adapters/node-upstream.js';
import { clientSignal, readRequestBytes } from '../src/http/request-parts.js';
import { pipeableBodyOf, type ServerRequest } from '../src/http/server-runtime.js';
import { SseUsageScanner } from '../src/proxy/sse-pass-through.js';
import type { UpstreamBody } from '../src/proxy/upstream-transport.js';
import type { WidgetRecord } from '../src/stores/store.js';
import { allowedOrigin, canaryKey, eventually, sseEvents, startProxyHarness, streamedText, type ProxyHarness } from './proxy-helpers.js';

// The proxy's fast path (adapters/node-upstream.ts, the SSE relay, the Node
// adapter's direct pipe) and the Web-stream paths it must stay equal to.

const admin = { authorization: 'Bearer admin-secret-token' };
const today = new Date().toISOString().slice(0, 10);
const hello = { messages: [{ role: 'user', content: 'Hello there' }], stream: true };

function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

async function outputTokens(harness: ProxyHarness, widget: WidgetRecord): Promise<number | undefined> {
  const response = await fetch(`${harness.url}/airlock/admin/widgets/${widget.id}/usage?from=${today}&to=${today}`, { headers: admin });
  return ((await response.json()) as { days: { outputTokens: number }[] }).days[0]?.outputTokens;
}

describe('the SSE relay', () => {
  let harness: ProxyHarness;
  beforeAll(async () => {
    harness = await startProxyHarness({ upstream: { idleTimeoutMs: 300, heartbeatIntervalMs: 40 } });
  });
  afterAll(async () => {
    await harness.close();
  });

  it('streams through the Web body when a runtime reads it instead of the Node pipe', async () => {
    const widget = await harness.widget();
    const token = await harness.token(widget);
    harness.upstream.next({ type: 'answer', text: 'Read as a Web stream.', chunks: 4, usage: { prompt_tokens: 5, completion_tokens: 4 } });
    const response = await harness.airlock.fetch(
      new Request('http://localhost/airlock/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', origin: allowedOrigin },
        body: JSON.stringify(hello),
      }),
    );
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const direct = pipeableBodyOf(response);
    expect(direct).toBeDefined();
    const events = await sseEvents(response);
    // Once the Web body has been read, the Node pipe refuses (one reader only).
    expect(direct!.pipeTo(undefined as never)).toBeUndefined();
    expect(streamedText(events).text).toBe('Read as a Web stream.');
    await eventually(async () => (await outputTokens(harness, widget)) === 4);
  });

  it('leaves the Web body out when the Node adapter will write the Node body', async () => {
    const widget = await harness.widget();
    const token = await harness.token(widget);
    harness.upstream.next({ type: 'answer', text: 'Only piped.', chunks: 3, usage: { prompt_tokens: 5, completion_tokens: 3 } });
    // As adapters/node.ts builds it for airlock.fetch.
    const request: ServerRequest = Object.assign(
      new Request('http://localhost/airlock/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', origin: allowedOrigin },
      }),
      { runtime: { name: 'node', body: Buffer.from(JSON.stringify(hello)), signal: new AbortController().signal, pipesResponses: true } },
    );
    const response = await harness.airlock.fetch(request);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(response.body).toBeNull();
    const server = createHttpServer((_incoming, outgoing) => void writeWebResponse(response, outgoing));
    const port = await listen(server);
    try {
      const events = await sseEvents(await fetch(`http://127.0.0.1:${port}/`));
      expect(streamedText(events).text).toBe('Only piped.');
    } finally {
      server.close();
    }
  });

  it('ends a Web-read stream that stalls with an error event, after heartbeats', async () => {
    const widget = await harness.widget();
    const token = await harness.token(widget);
    harness.upstream.next({ type: 'stall', afterChunks: 2 });
    const response = await harness.airlock.fetch(
      new Request('http://localhost/airlock/v1/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', origin: allowedOrigin },
        body: JSON.stringify(hello),
      }),
    );
    const text = await response.text();
    expect(text).toContain(': keep-alive');
    expect(text).toContain('"code":"upstream_timeout"');
  });

  it('meters a stream relayed through the Node pipe from its usage chunk', async () => {
    const widget = await harness.widget();
    const token = await harness.token(widget);
    harness.upstream.next({ type: 'answer', text: 'Piped.', chunks: 3, usage: { prompt_tokens: 9, completion_tokens: 7 } });
    const events = await sseEvents(await harness.post('/v1/chat/completions', token, hello));
    expect(streamedText(events).text).toBe('Piped.');
    await eventually(async () => (await outputTokens(harness, widget)) === 7);
  });

  it('keeps serving after a client leaves before sending its whole body', async () => {
    const { port } = new URL(harness.url);
    await new Promise<void>((resolve) => {
      const request = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/airlock/v1/chat/completions', headers: { 'content-length': '500' } });
      request.on('error', () => resolve());
      request.write('{"messages":');
      setTimeout(() => {
        request.destroy();
        resolve();
      }, 50);
    });
    const widget = await harness.widget();
    harness.upstream.next({ type: 'answer', text: 'Still fine.' });
    const events = await sseEvents(await harness.post('/v1/chat/completions', await harness.token(widget), hello));
    expect(streamedText(events).text).toBe('Still fine.');
  });
});

describe('the SSE relay over a Web-stream upstream body (a custom upstream fetch)', () => {
  let harness: ProxyHarness;
  beforeAll(async () => {
    harness = await startProxyHarness({ upstream: { idleTimeoutMs: 300, fetch: (input, init) => fetch(input, init) } });
  });
  afterAll(async () => {
    await harness.close();
  });

  it('relays, meters and reports a drop mid-stream as with the built-in fetch', async () => {
    const widget = await harness.widget();
    const token = await harness.token(widget);
    harness.upstream.next({ type: 'answer', text: 'Through undici.', chunks: 3, usage: { prompt_tokens: 3, completion_tokens: 5 } });
    expect(streamedText(await sseEvents(await harness.post('/v1/chat/completions', token, hello))).text).toBe('Through undici.');
    await eventually(async () => (await outputTokens(harness, widget)) === 5);
    harness.upstream.next({ type: 'drop', afterChunks: 2 });
    const dropped = streamedText(await sseEvents(await harness.post('/v1/chat/completions', token, hello)));
    expect(dropped.error).toBe('upstream_unavailable');
    expect(dropped.text.length).toBeGreaterThan(0);
  });
});

describe('SseUsageScanner', () => {
  const usageEvent = 'data: {"id":"c","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":40,"total_tokens":52}}\n\n';
  const contentEvent = 'data: {"choices":[{"delta":{"content":"Hi"}}],"usage":null}\n\n';

  it('finds the usage object wherever a read splits it, also mid-marker', () => {
    const whole = Buffer.from(contentEvent + contentEvent + usageEvent);
    for (let at = 1; at < whole.length; at += 1) {
      const scanner = new SseUsageScanner();
      scanner.feed(whole.subarray(0, at));
      scanner.feed(whole.subarray(at));
      expect(scanner.meter.usage, `split at ${at}`).toEqual({ prompt_tokens: 12, completion_tokens: 40, total_tokens: 52 });
    }
  });

  it('counts content deltas and leaves usage unset for a stream cut short', () => {
    const scanner = new SseUsageScanner();
    for (let index = 0; index < 3; index += 1) scanner.feed(Buffer.from(contentEvent));
    expect(scanner.meter).toEqual({ contentChunks: 3 });
  });
});

// Every chunk of a body, as its listener gets them.
function chunksOf(body: UpstreamBody): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    body.start({ data: (chunk) => (text += Buffer.from(chunk).toString()), end: () => resolve(text), error: reject });
  });
}

describe('createNodeTransport', () => {
  const transport = createNodeTransport();
  afterAll(() => transport.close());
  const get = (url: string, signal?: AbortSignal) => transport.send({ url, method: 'GET', headers: {}, ...(signal && { signal }) });

  it('speaks TLS to https URLs', async () => {
    let firstByte: number | undefined;
    const server = createTcpServer((socket) => {
      socket.once('data', (data) => {
        firstByte = data[0];
        socket.destroy();
      });
    });
    const port = await listen(server);
    await expect(get(`https://127.0.0.1:${port}/v1/models`)).rejects.toThrow();
    server.close();
    // 0x16: a TLS handshake record (the ClientHello).
    expect(firstByte).toBe(0x16);
  });

  it('sends the method, headers and body, and reads JSON and error bodies', async () => {
    let seen: { method?: string; authorization?: string; body: string } = { body: '' };
    const server = createHttpServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        seen = { method: request.method, authorization: request.headers.authorization, body };
        response.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3' });
        response.end('{"error":{"code":"rate_limit_exceeded"}}');
      });
    });
    const port = await listen(server);
    const reply = await transport.send({
      url: `http://127.0.0.1:${port}/v1/chat/completions`,
      method: 'POST',
      headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json' },
      body: '{"model":"m"}',
    });
    expect(reply.status).toBe(429);
    expect(reply.headers.get('retry-after')).toBe('3');
    expect(JSON.parse(await reply.body.text())).toEqual({ error: { code: 'rate_limit_exceeded' } });
    expect(seen).toEqual({ method: 'POST', authorization: 'Bearer sk-test', body: '{"model":"m"}' });
    server.close();
  });

  it('hands over the socket chunks without building a Web stream', async () => {
    const server = createHttpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end('data: 1\n\ndata: [DONE]\n\n');
    });
    const port = await listen(server);
    const original = globalThis.ReadableStream;
    let built = 0;
    globalThis.ReadableStream = new Proxy(original, {
      construct(target, args, newTarget) {
        built += 1;
        return Reflect.construct(target, args, newTarget) as object;
      },
    });
    try {
      const reply = await get(`http://127.0.0.1:${port}/v1/chat/completions`);
      expect(await chunksOf(reply.body)).toBe('data: 1\n\ndata: [DONE]\n\n');
      expect(built).toBe(0);
      // A body has one reader.
      expect(() => reply.body.start({ data() {}, end() {}, error() {} })).toThrow();
    } finally {
      globalThis.ReadableStream = original;
      server.close();
    }
  });

  it('keeps a connection that is silent mid-body past the idle-connection timeout', async () => {
    const shortLived = createNodeTransport({ freeSocketTimeoutMs: 200 });
    const server = createHttpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: 1\n\n');
      setTimeout(() => response.end('data: 2\n\n'), 600);
    });
    const port = await listen(server);
    const reply = await shortLived.send({ url: `http://127.0.0.1:${port}/v1/chat/completions`, method: 'GET', headers: {} });
    expect(await reply.body.text()).toBe('data: 1\n\ndata: 2\n\n');
    shortLived.close();
    server.close();
  });

  it('closes the connection within 200 ms when aborted while the body streams', async () => {
    let closedAt: number | undefined;
    const server = createHttpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: {}\n\n');
      response.on('close', () => (closedAt = Date.now()));
    });
    const port = await listen(server);
    const controller = new AbortController();
    const reply = await get(`http://127.0.0.1:${port}/v1/chat/completions`, controller.signal);
    let failed: unknown;
    const first = new Promise<void>((resolve) => reply.body.start({ data: () => resolve(), end() {}, error: (error) => (failed = error) }));
    await first;
    const abortedAt = Date.now();
    controller.abort();
    await eventually(() => closedAt !== undefined, 1_000);
    expect(closedAt! - abortedAt).toBeLessThan(200);
    await eventually(() => failed !== undefined, 1_000);
    server.close();
  });
});

describe('the Node adapter and request parts', () => {
  // Serves `handler`, sends it one small POST and leaves once the handler has
  // read it; resolves with what the handler saw of its request.
  async function seenBy(read: (request: Request) => Promise<{ body: string; signal: AbortSignal }>, marked: boolean) {
    let received!: () => void;
    const gotRequest = new Promise<void>((resolve) => (received = resolve));
    let report!: (value: unknown) => void;
    const seen = new Promise<unknown>((resolve) => (report = resolve));
    const handler = async (request: Request) => {
      const { body, signal } = await read(request);
      received();
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      report({ body, webBody: request.body === null ? 'none' : 'stream', aborted: signal.aborted });
      return new Response('too late');
    };
    const server = createHttpServer(toNodeListener(marked ? Object.assign(handler, { readsRuntimeParts: true as const }) : handler));
    const port = await listen(server);
    const client = httpRequest({ port, host: '127.0.0.1', method: 'POST', path: '/x', headers: { 'content-type': 'application/json' } });
    client.on('error', () => {});
    client.end('{"hello":"world"}');
    await gotRequest;
    client.destroy();
    const result = await seen;
    server.close();
    return result;
  }

  it('hands airlock.fetch (which reads request parts) the body and the disconnect signal on the side', async () => {
    const result = await seenBy(async (request) => {
      expect(await readRequestBytes(request, 4)).toBeUndefined();
      return { body: Buffer.from((await readRequestBytes(request, 1024))!).toString(), signal: clientSignal(request) };
    }, true);
    expect(result).toEqual({ body: '{"hello":"world"}', webBody: 'none', aborted: true });
  });

  it('hands any other handler a complete Request: a readable body and a signal that aborts', async () => {
    const result = await seenBy(async (request) => ({ body: await request.text(), signal: request.signal }), false);
    expect(result).toEqual({ body: '{"hello":"world"}', webBody: 'stream', aborted: true });
  });
});

describe('store reads per proxied request', () => {
  const ownKey = `sk-own-${Date.now().toString(16)}-0000`;
  let harness: ProxyHarness;
  beforeAll(async () => {
    harness = await startProxyHarness({}, { acceptedKeys: [canaryKey, ownKey] });
  });
  afterAll(async () => {
    await harness.close();
  });

  // Counts calls to the store's widget and key reads while `work` runs.
  async function readsDuring(work: () => Promise<void>): Promise<Record<string, number>> {
    const store = harness.airlock.store as unknown as Record<string, (...args: unknown[]) => unknown>;
    const counts: Record<string, number> = {};
    const originals = ['getWidget', 'getWidgetForCall', 'getOpenAiKey'].map((name) => {
      const original = store[name]!;
      store[name] = (...args: unknown[]) => {
        counts[name] = (counts[name] ?? 0) + 1;
        return original.apply(harness.airlock.store, args);
      };
      return [name, original] as const;
    });
    try {
      await work();
    } finally {
      for (const [name, original] of originals) store[name] = original;
    }
    return counts;
  }

  const chat = async (token: string) => {
    const response = await harness.post('/v1/chat/completions', token, hello);
    expect(response.status).toBe(200);
    await harness.text(response);
  };

  it('reads the widget and both keys in one call, on the shared key and on an own key', async () => {
    const shared = await harness.widget();
    const sharedToken = await harness.token(shared);
    expect(await readsDuring(() => chat(sharedToken))).toEqual({ getWidgetForCall: 1 });
    expect(harness.upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer ${canaryKey}`);

    const saved = await fetch(`${harness.url}/airlock/admin/accounts/${shared.accountId}/key`, {
      method: 'PUT',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey: ownKey }),
    });
    expect(saved.status).toBe(200);
    const ownToken = await harness.token(await harness.widget());
    expect(await readsDuring(() => chat(ownToken))).toEqual({ getWidgetForCall: 1 });
    expect(harness.upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer ${ownKey}`);
  });
});
