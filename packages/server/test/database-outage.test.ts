// PostgreSQL going away under a running Airlock (in process): requests in
// between fail cleanly with 503 service_unavailable, an answer already
// streaming is not cut, its usage is written once the database is back, and
// the server recovers without a restart.
import { readStreamedText } from '@airlock/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardedClientAddress } from '../src/http/client-address.js';
import { errorCode, eventually, startProxyHarness, type ProxyHarness } from './proxy-helpers.js';
import { startPostgres, type PostgresServer } from '@airlock/test-services';

const chat = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hello' }] };

describe('a PostgreSQL restart under load', () => {
  let postgres: PostgresServer;
  let harness: ProxyHarness;
  beforeAll(async () => {
    postgres = await startPostgres();
    harness = await startProxyHarness({ databaseUrl: await postgres.createDatabase() });
  }, 60_000);
  afterAll(async () => {
    await harness?.close();
    await postgres?.stop();
  });

  it('answers 503 while the database is away, keeps an open stream and its usage, and recovers', async () => {
    const widget = await harness.widget();
    const token = await harness.token(widget);
    harness.upstream.next({ type: 'stream', chunks: ['kept ', 'to ', 'the ', 'end'], delayMs: 250 });
    const open = await harness.post('/v1/chat/completions', token, chat);
    expect(open.status).toBe(200);

    await postgres.shutDown();
    const refused = await harness.post('/v1/chat/completions', token, chat);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await errorCode(refused)).toBe('service_unavailable');
    expect((await fetch(`${harness.url}/airlock/readyz`)).status).toBe(503);
    expect(harness.logs.some((line) => line.includes('"database unreachable"'))).toBe(true);

    expect(await readStreamedText(open)).toEqual({ text: 'kept to the end' });
    // The usage flush fails while the database is down…
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(harness.logs.some((line) => line.includes('usage flush failed; will retry'))).toBe(true);

    await postgres.start();
    await eventually(async () => (await fetch(`${harness.url}/airlock/readyz`)).status === 200, 10_000);
    harness.upstream.next({ type: 'answer', text: 'Back.' });
    const again = await harness.post('/v1/chat/completions', token, { ...chat, stream: false });
    expect(again.status).toBe(200);
    // …and the counts kept in memory reach it afterwards: the stream's request and this one.
    const today = new Date().toISOString().slice(0, 10);
    await eventually(async () => {
      const [day] = await harness.airlock.store.listUsage(widget.id, today, today);
      return (day?.requests ?? 0) >= 2;
    }, 10_000);
  });
});

describe('behind a load balancer', () => {
  let harness: ProxyHarness;
  beforeAll(async () => {
    harness = await startProxyHarness({
      clientAddress: forwardedClientAddress(1),
      mintRateLimits: { perAddress: { limit: 2, windowSeconds: 60 } },
    });
  });
  afterAll(() => harness.close());

  it('limits public minting by the address the balancer saw, whatever the client wrote in X-Forwarded-For', async () => {
    const widget = await harness.widget();
    const mint = (forwardedFor: string) =>
      fetch(`${harness.url}/airlock/token`, {
        method: 'POST',
        headers: { origin: 'https://shop.example.com', 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
        body: JSON.stringify({ widgetId: widget.id }),
      }).then((response) => response.status);
    expect(await mint('203.0.113.7')).toBe(200);
    // A client that writes its own X-Forwarded-For only adds entries to the left of the balancer's.
    expect(await mint('198.51.100.1, 203.0.113.7')).toBe(200);
    expect(await mint('198.51.100.2, 203.0.113.7')).toBe(429);
    expect(await mint('203.0.113.8')).toBe(200);
  });

  it('refuses a hop count that is not a whole number of at least 1', () => {
    expect(() => forwardedClientAddress(0)).toThrow(RangeError);
  });
});
