// Every adapter meets thousands of malformed and random requests over raw
// sockets (methods the Fetch API forbids, odd request targets, broken Host
// headers, random header names, values and bodies): each gets an answer below
// 500 or a closed connection, the process never dies, and a valid request is
// still answered afterwards.
import { serve as serveHono } from '@hono/node-server';
import express from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { connect } from 'node:net';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toExpress } from '../src/adapters/express.js';
import { toFastify } from '../src/adapters/fastify.js';
import { toHono } from '../src/adapters/hono.js';
import { toNextHandlers } from '../src/adapters/next.js';
import { serve } from '../src/adapters/node.js';
import { allowedOrigin, startHarness, type Harness } from './harness.js';

const requestsPerAdapter = 2000;
const concurrency = 24;

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ mintRateLimits: { perAddress: { limit: 100_000, windowSeconds: 60 } } });
});
afterAll(async () => {
  await harness.close();
});

/** A small seeded generator, so a failing run can be replayed. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
  const integer = (below: number) => Math.floor(next() * below);
  const pick = <T>(items: readonly T[]): T => items[integer(items.length)]!;
  const text = (length: number, alphabet: string) => Array.from({ length }, () => alphabet[integer(alphabet.length)]).join('');
  return { next, integer, pick, text };
}

const tokenCharacters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
const printable = Array.from({ length: 95 }, (_, index) => String.fromCharCode(32 + index)).join('');
const methods = [
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'CONNECT',
  'TRACK',
  'PROPFIND',
  'PURGE',
  'SEARCH',
  'M-SEARCH',
  'get',
  'FOO',
  'QUERY',
];
const hosts = ['localhost', '127.0.0.1:1', '', 'a b', 'x:99999', 'x:abc', '[::1', '[::1]:80', 'évil', 'host:0', 'a..b', 'x y:80', 'h\tx', '%41'];

function randomTarget(random: ReturnType<typeof generator>, widgetId: string): string {
  const paths = [
    '/airlock/token',
    '/airlock/v1/chat/completions',
    '/airlock/v1/images/generations',
    `/airlock/embed/${widgetId}`,
    `/airlock/embed/${widgetId}/token`,
    '/airlock/admin/api/widgets',
    '/airlock/admin/',
    '/airlock/.well-known/jwks.json',
    '/airlock/widget.js',
    '/airlock/healthz',
  ];
  switch (random.integer(10)) {
    case 0:
      return '*';
    case 1:
      return `http://evil.example${random.pick(paths)}`;
    case 2:
      return `//evil${random.pick(paths)}`;
    case 3:
      return 'evil.example:443';
    case 4:
      return `/airlock/${random.text(random.integer(40), printable.replace(/[ ]/g, ''))}`;
    case 5:
      return `${random.pick(paths)}?token=${random.text(8, tokenCharacters)}`;
    case 6:
      return `/airlock/%${random.text(2, 'zZ0g')}`;
    default:
      return random.pick(paths);
  }
}

function randomRequest(random: ReturnType<typeof generator>, widgetId: string): Buffer {
  const method = random.pick(methods);
  const lines = [`${method} ${randomTarget(random, widgetId)} HTTP/1.1`];
  const host = random.integer(6) === 0 ? undefined : random.next() < 0.5 ? 'localhost' : random.pick(hosts);
  if (host !== undefined) lines.push(`Host: ${host}`);
  const known = [
    ['origin', random.pick([allowedOrigin, 'null', 'https://evil.example', 'http://[::1', random.text(12, printable)])],
    [
      'content-type',
      random.pick(['application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', random.text(10, printable)]),
    ],
    ['authorization', `Bearer ${random.text(random.integer(60), tokenCharacters)}`],
    ['sec-fetch-site', random.pick(['same-origin', 'cross-site', 'none', random.text(5, printable)])],
    ['x-forwarded-for', random.pick(['1.2.3.4', '::1, 2001:db8::1', random.text(20, printable)])],
    ['accept-encoding', random.pick(['gzip, br', 'br;q=0', '*', random.text(10, printable)])],
    ['cookie', `airlock_admin=${random.text(20, printable.replace(/[;]/g, ''))}`],
    ['idempotency-key', random.text(random.integer(300), printable)],
    ['x-airlock-widget-id', random.pick([widgetId, random.text(10, printable)])],
    ['range', `bytes=${random.integer(100)}-`],
  ];
  for (let count = random.integer(6); count > 0; count -= 1) {
    const [name, value] = random.pick(known);
    lines.push(`${name}: ${value}`);
  }
  for (let count = random.integer(4); count > 0; count -= 1) {
    const name = random.integer(8) === 0 ? random.text(1 + random.integer(10), printable) : random.text(1 + random.integer(20), tokenCharacters);
    // Now and then a value with bytes outside ASCII.
    const value = random.text(random.integer(50), printable) + (random.integer(8) === 0 ? '\u00ff\u00e9' : '');
    lines.push(`${name}: ${value}`);
  }
  lines.push('Connection: close');
  const bodyKind = random.integer(5);
  let body = Buffer.alloc(0);
  if (bodyKind === 1)
    body = Buffer.from(
      JSON.stringify({
        widgetId,
        visitorId: random.text(random.integer(20), printable),
        messages: [{ role: 'user', content: 'hi' }],
        stream: random.next() < 0.5,
      }),
    );
  if (bodyKind === 2) body = Buffer.from(Array.from({ length: random.integer(3000) }, () => random.integer(256)));
  if (bodyKind === 3) body = Buffer.from(random.text(random.integer(200), printable));
  if (bodyKind === 4 && random.next() < 0.5) {
    lines.push('Transfer-Encoding: chunked');
    const chunked =
      body.length > 0 ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : Buffer.from('0\r\n\r\n');
    return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), chunked]);
  }
  if (body.length > 0 || random.next() < 0.3) lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

/** Sends raw bytes and reads until the server closes; resolves the status code, or 0 for a connection closed without an answer. */
function sendRaw(port: number, bytes: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 10 s to ${JSON.stringify(bytes.subarray(0, 200).toString('latin1'))}`));
    }, 10_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const head = Buffer.concat(chunks).subarray(0, 64).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve(match ? Number(match[1]) : 0);
    });
    socket.write(bytes, () => socket.end());
  });
}

async function fuzz(port: number, seed: number): Promise<Map<number, number>> {
  const random = generator(seed);
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  let sent = 0;
  const worker = async () => {
    while (sent < requestsPerAdapter) {
      sent += 1;
      const bytes = randomRequest(random, harness.widget.id);
      const status = await sendRaw(port, bytes);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status >= 500) failures.push(`${status} for ${JSON.stringify(bytes.subarray(0, 300).toString('latin1'))}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  expect(failures.slice(0, 5)).toEqual([]);
  return statuses;
}

/** After the fuzzing, the same server still mints a token. */
async function stillServes(url: string): Promise<void> {
  const response = await fetch(`${url}/airlock/token`, {
    method: 'POST',
    headers: { origin: allowedOrigin, 'content-type': 'application/json' },
    body: JSON.stringify({ widgetId: harness.widget.id }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  expect(((await response.json()) as { token: string }).token).toMatch(/^ey/);
}

function listen(app: { listen(port: number, host: string, callback: () => void): Server }): Promise<{ port: number; url: string; close(): Promise<void> }> {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ port, url: `http://127.0.0.1:${port}`, close: () => new Promise((done) => (server.closeAllConnections(), server.close(() => done()))) });
    });
  });
}

describe('every adapter survives malformed and random requests', () => {
  it('node:http (toNodeListener)', async () => {
    const server = await serve(harness.airlock.fetch, { port: 0 });
    try {
      const port = Number(new URL(server.url).port);
      // The requests the review found each killed the process.
      for (const bytes of [
        'TRACE /airlock/token HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
        'TRACK /airlock/token HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
        'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\nConnection: close\r\n\r\n',
        'GET /airlock/healthz HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n',
        'GET /airlock/healthz HTTP/1.1\r\nHost: x:99999\r\nConnection: close\r\n\r\n',
        'GET http://evil/airlock/healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
        'OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
        'TRACE /airlock/token HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}',
      ]) {
        const status = await sendRaw(port, Buffer.from(bytes, 'latin1'));
        expect(status === 0 || (status >= 400 && status < 500), `${status} for ${bytes}`).toBe(true);
      }
      await fuzz(port, 1);
      await stillServes(server.url);
    } finally {
      await server.close();
    }
  });

  for (const [name, factory, parser] of [
    ['Express 5 with express.json()', express, true],
    ['Express 5 without a body parser', express, false],
    ['Express 4 with express.json()', express4, true],
    ['Express 4 without a body parser', express4, false],
  ] as const) {
    it(name, async () => {
      const app = factory();
      if (parser) app.use(factory.json());
      app.use(toExpress(harness.airlock));
      const mounted = await listen(app);
      try {
        await fuzz(mounted.port, 2);
        await stillServes(mounted.url);
      } finally {
        await mounted.close();
      }
    });
  }

  it('Fastify 5', async () => {
    const app = Fastify();
    await app.register(toFastify(harness.airlock));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    try {
      await fuzz(port, 3);
      await stillServes(`http://127.0.0.1:${port}`);
    } finally {
      app.server.closeAllConnections();
      await app.close();
    }
  });

  it('Hono 4 on @hono/node-server', async () => {
    const app = new Hono();
    app.all('/airlock/*', toHono(harness.airlock));
    const { port, close } = await new Promise<{ port: number; close(): Promise<void> }>((resolve) => {
      const server = serveHono({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
        resolve({ port: info.port, close: () => new Promise((done) => server.close(() => done())) });
      });
    });
    try {
      await fuzz(port, 4);
      await stillServes(`http://127.0.0.1:${port}`);
    } finally {
      await close();
    }
  });

  it('Next.js route handlers, given every Request the Fetch API can represent', async () => {
    const handlers = toNextHandlers(harness.airlock);
    const random = generator(5);
    const failures: string[] = [];
    for (let index = 0; index < requestsPerAdapter; index += 1) {
      const method = random.pick(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const);
      const url = new URL(`http://localhost${randomTarget(random, harness.widget.id).replace(/^(\*|http:\/\/evil\.example|\/\/evil|evil\.example:443)/, '/')}`);
      const headers = new Headers();
      for (let count = random.integer(6); count > 0; count -= 1) {
        try {
          headers.append(random.text(1 + random.integer(20), tokenCharacters), random.text(random.integer(50), printable).trim());
        } catch {
          // A name or value the Fetch API refuses never reaches a handler.
        }
      }
      if (random.next() < 0.5) headers.set('origin', random.pick([allowedOrigin, 'null', 'https://evil.example']));
      const body =
        method === 'GET' || method === 'HEAD' ? undefined : random.pick([undefined, '{}', '{"widgetId":1}', random.text(random.integer(500), printable)]);
      const response = await handlers[method](new Request(url, { method, headers, body }));
      if (response.status >= 500) failures.push(`${response.status} for ${method} ${url.pathname}: ${await response.text()}`);
      else await response.body?.cancel();
    }
    expect(failures.slice(0, 5)).toEqual([]);
  });
});
