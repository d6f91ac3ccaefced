// Each framework adapter with the real framework: a token is minted, a chat
// answer streams through it, and a client disconnect reaches the upstream.
import { serve as serveHono } from '@hono/node-server';
import { readStreamedText } from '@airlock/testing';
import express from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import { Hono } from 'hono';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toExpress } from '../src/adapters/express.js';
import { toFastify } from '../src/adapters/fastify.js';
import { toHono } from '../src/adapters/hono.js';
import { toNextHandlers } from '../src/adapters/next.js';
import { serve } from '../src/adapters/node.js';
import { allowedOrigin, chatRequest, startHarness, type Harness } from './harness.js';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ mintRateLimits: { perAddress: { limit: 1000, windowSeconds: 60 } } });
});
afterAll(async () => {
  await harness.close();
});

const authenticate = (request: Request) => (request.headers.get('cookie') === 'session=alice' ? { id: 'alice' } : null);

interface Mounted {
  url: string;
  close(): Promise<void>;
}

async function mint(url: string): Promise<string> {
  const response = await fetch(`${url}/airlock/token`, {
    method: 'POST',
    headers: { origin: allowedOrigin, 'content-type': 'application/json' },
    body: JSON.stringify({ widgetId: harness.widget.id, visitorId: 'adapter-visitor' }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  expect(response.headers.get('access-control-allow-origin')).toBe(allowedOrigin);
  return ((await response.json()) as { token: string }).token;
}

/** The checks every adapter must pass. */
async function exercise(mounted: Mounted, options: { tokenPath?: string; ownRoute?: string } = {}): Promise<void> {
  const token = await mint(mounted.url);
  // A body without a content type (or with an unusual one) still reaches Airlock whole.
  const untyped = await fetch(`${mounted.url}/airlock/token`, {
    method: 'POST',
    headers: { origin: allowedOrigin },
    body: new TextEncoder().encode(JSON.stringify({ widgetId: harness.widget.id })),
  });
  expect(untyped.status).toBe(200);
  await untyped.text();
  const oversized = await fetch(`${mounted.url}/airlock/token`, {
    method: 'POST',
    headers: { origin: allowedOrigin, 'content-type': 'text/plain' },
    body: JSON.stringify({ widgetId: harness.widget.id, padding: 'x'.repeat(8 * 1024) }),
  });
  expect(oversized.status).toBe(413);
  await oversized.text();

  harness.upstream.next({ type: 'answer', text: 'Streamed through the framework.', delayMs: 2 });
  const response = await chatRequest(mounted.url, token, { messages: [{ role: 'user', content: 'Hello' }], stream: true });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  expect(await readStreamedText(response)).toEqual({ text: 'Streamed through the framework.' });

  const preflight = await fetch(`${mounted.url}/airlock/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: { origin: allowedOrigin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
  });
  expect(preflight.status).toBe(204);
  expect(preflight.headers.get('access-control-allow-origin')).toBe(allowedOrigin);
  expect(preflight.headers.get('vary')).toContain('Origin');

  harness.upstream.next({ type: 'stream', chunks: Array.from({ length: 300 }, (_, index) => `chunk ${index} `), delayMs: 20 });
  const controller = new AbortController();
  const streaming = await chatRequest(mounted.url, token, { messages: [{ role: 'user', content: 'Long' }], stream: true }, {}, controller.signal);
  const reader = streaming.body!.getReader();
  await reader.read();
  const closed = harness.upstream.waitForClose({ timeoutMs: 3000 });
  const abortedAt = performance.timeOrigin + performance.now();
  controller.abort();
  const event = await closed;
  expect(event.closedAt - abortedAt).toBeLessThan(500);

  if (options.tokenPath) {
    const refused = await fetch(`${mounted.url}${options.tokenPath}`, { method: 'POST' });
    expect(refused.status).toBe(401);
    const answer = await fetch(`${mounted.url}${options.tokenPath}`, { method: 'POST', headers: { cookie: 'session=alice' } });
    expect(answer.status).toBe(200);
    const { token: userToken } = (await answer.json()) as { token: string };
    const chat = await chatRequest(mounted.url, userToken, { messages: [{ role: 'user', content: 'hi' }] });
    expect(chat.status).toBe(200);
    await chat.text();
  }
  if (options.ownRoute) {
    const own = await fetch(`${mounted.url}${options.ownRoute}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await own.json()).toEqual({ echoed: { a: 1 } });
  }
}

function listen(app: { listen(port: number, host: string, callback: () => void): Server }): Promise<Mounted> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise((done) => (server.closeAllConnections(), server.close(() => done()))),
      });
    });
  });
}

describe('Express', () => {
  for (const [name, factory] of [
    ['Express 5', express],
    ['Express 4', express4],
  ] as const) {
    it(`${name}: mounted after express.json(), mints, streams and passes on disconnects`, async () => {
      const app = factory();
      // The app parses JSON for its own routes before Airlock sees the request.
      app.use(factory.json());
      app.use(toExpress(harness.airlock));
      app.post('/api/airlock-token', toExpress(harness.airlock.tokenHandler({ widgetId: harness.widget.id, authenticate })));
      app.post('/api/echo', (request, response) => {
        response.json({ echoed: request.body });
      });
      const mounted = await listen(app);
      try {
        await exercise(mounted, { tokenPath: '/api/airlock-token', ownRoute: '/api/echo' });
      } finally {
        await mounted.close();
      }
    });
  }

  it('Express 5 without a body parser and under a mount path', async () => {
    const app = express();
    app.use('/airlock', toExpress(harness.airlock));
    const mounted = await listen(app);
    try {
      await exercise(mounted);
    } finally {
      await mounted.close();
    }
  });
});

describe('Fastify 5', () => {
  it('as a plugin, with the app parsing JSON elsewhere', async () => {
    const app = Fastify();
    await app.register(toFastify(harness.airlock));
    await app.register(toFastify(harness.airlock.tokenHandler({ widgetId: harness.widget.id, authenticate }), { path: '/api/airlock-token' }));
    app.post('/api/echo', async (request) => ({ echoed: request.body }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    try {
      await exercise({ url: `http://127.0.0.1:${port}`, close: async () => {} }, { tokenPath: '/api/airlock-token', ownRoute: '/api/echo' });
    } finally {
      app.server.closeAllConnections();
      await app.close();
    }
  });
});

describe('Hono 4', () => {
  it('on @hono/node-server', async () => {
    const app = new Hono();
    app.all('/airlock/*', toHono(harness.airlock));
    app.post('/api/airlock-token', toHono(harness.airlock.tokenHandler({ widgetId: harness.widget.id, authenticate })));
    app.post('/api/echo', async (context) => context.json({ echoed: await context.req.json() }));
    const mounted = await new Promise<Mounted>((resolve) => {
      const server = serveHono({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
        resolve({
          url: `http://127.0.0.1:${info.port}`,
          close: () => new Promise((done) => server.close(() => done())),
        });
      });
    });
    try {
      await exercise(mounted, { tokenPath: '/api/airlock-token', ownRoute: '/api/echo' });
    } finally {
      await mounted.close();
    }
  });

  it('as middleware, leaving other paths to the app', async () => {
    const app = new Hono();
    app.use(toHono(harness.airlock));
    app.get('/hello', (context) => context.text('hello'));
    const response = await app.request('http://localhost/hello');
    expect(await response.text()).toBe('hello');
    const jwks = await app.request('http://localhost/airlock/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
  });
});

describe('Next.js route handlers', () => {
  it('serve through real Request and Response objects on a node server', async () => {
    // As Next.js calls them: the method's export with the request (and a context argument).
    const handlers = toNextHandlers(harness.airlock);
    const tokenHandlers = toNextHandlers(harness.airlock.tokenHandler({ widgetId: harness.widget.id, authenticate }));
    const server = await serve(
      async (request) => {
        const path = new URL(request.url).pathname;
        const table = path === '/api/airlock-token' ? tokenHandlers : handlers;
        const handler = table[request.method as keyof typeof table];
        return (handler as (request: Request, context: unknown) => Promise<Response>)(request, { params: Promise.resolve({}) });
      },
      { port: 0 },
    );
    try {
      await exercise(server, { tokenPath: '/api/airlock-token' });
    } finally {
      await server.close();
    }
  });
});
