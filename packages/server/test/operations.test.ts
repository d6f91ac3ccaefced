import { readStreamedText } from '@airlock/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logging/logger.js';
import { routeLabel } from '../src/operations/metrics.js';
import { canaryKey, errorCode, startProxyHarness, type ProxyHarness } from './proxy-helpers.js';

const adminToken = 'admin-secret-token';
const chat = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hello' }] };

describe('operations endpoints', () => {
  let harness: ProxyHarness;
  beforeAll(async () => {
    harness = await startProxyHarness({ logRequests: true });
  });
  afterAll(() => harness.close());

  it('answers /healthz and /readyz', async () => {
    const health = await fetch(`${harness.url}/airlock/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${harness.url}/airlock/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { store: 'ok' } });
  });

  it('gives every response a request id, keeps a well-formed incoming one, and logs it on each line', async () => {
    const fresh = await fetch(`${harness.url}/airlock/healthz`);
    expect(fresh.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    const kept = await fetch(`${harness.url}/airlock/healthz`, { headers: { 'x-request-id': 'lb-1234.abc' } });
    expect(kept.headers.get('x-request-id')).toBe('lb-1234.abc');
    // A client cannot put arbitrary text into the logs through the header.
    const injected = await fetch(`${harness.url}/airlock/healthz`, { headers: { 'x-request-id': 'x"} {"level":"error' } });
    expect(injected.headers.get('x-request-id')).toMatch(/^req_/);

    const widget = await harness.widget();
    const token = await harness.token(widget);
    const response = await harness.post('/v1/chat/completions', token, chat, { headers: { 'x-request-id': 'trace-42' } });
    expect(response.status).toBe(200);
    await harness.text(response);
    const lines = harness.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    const access = lines.find((line) => line.message === 'request' && line.requestId === 'trace-42');
    expect(access).toMatchObject({ level: 'info', method: 'POST', route: '/v1/chat/completions', status: 200 });
    expect(typeof access!.durationMs).toBe('number');
    // Nothing of the token or the key reaches the log.
    expect(harness.logs.join('\n')).not.toContain(token);
    expect(harness.logs.join('\n')).not.toContain(canaryKey);
  });

  it('logs the error code of a refused request', async () => {
    const response = await harness.post('/v1/chat/completions', 'not-a-token', chat, { headers: { 'x-request-id': 'refused-1' } });
    expect(response.status).toBe(401);
    const line = harness.logs.map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry.requestId === 'refused-1');
    expect(line).toMatchObject({ message: 'request', status: 401, code: 'token_invalid' });
  });

  it('serves Prometheus metrics to the admin token only', async () => {
    expect((await fetch(`${harness.url}/airlock/metrics`)).status).toBe(401);
    const wrong = await fetch(`${harness.url}/airlock/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);

    const widget = await harness.widget();
    const token = await harness.token(widget);
    harness.upstream.next({ type: 'answer', text: 'Counted.', delayMs: 1 });
    await harness.text(await harness.post('/v1/chat/completions', token, chat));
    await harness.post('/v1/chat/completions', undefined, chat);

    const response = await fetch(`${harness.url}/airlock/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await response.text();
    const value = (series: string) => {
      const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    expect(value('airlock_http_requests_total{route="/v1/chat/completions",method="POST",status="200"}')).toBeGreaterThanOrEqual(2);
    expect(value('airlock_errors_total{code="token_missing"}')).toBe(1);
    expect(value('airlock_tokens_minted_total{via="backend"}')).toBeGreaterThanOrEqual(2);
    expect(value('airlock_active_streams')).toBe(0);
    expect(value('airlock_upstream_latency_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(value('airlock_upstream_latency_seconds_bucket{le="+Inf"}')).toBe(value('airlock_upstream_latency_seconds_count'));

    // An error that ends a stream already answered 200 is counted too.
    harness.upstream.next({ type: 'drop', afterChunks: 1, text: 'cut short' });
    const cut = await readStreamedText(await harness.post('/v1/chat/completions', token, chat));
    expect(cut.error).toBe('upstream_unavailable');
    const after = await (await fetch(`${harness.url}/airlock/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })).text();
    expect(after).toContain('airlock_errors_total{code="upstream_unavailable"} 1');
    expect(after).not.toContain(canaryKey);
    expect(text).toContain('# TYPE airlock_upstream_latency_seconds histogram');
    expect(text).not.toContain(canaryKey);
    expect(text).not.toContain(token);
  });

  it('counts a stream as active while it runs', async () => {
    const widget = await harness.widget();
    const token = await harness.token(widget);
    harness.upstream.next({ type: 'stream', chunks: ['a', 'b', 'c', 'd'], delayMs: 150 });
    const response = await harness.post('/v1/chat/completions', token, chat);
    const metrics = async () =>
      (await (await fetch(`${harness.url}/airlock/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })).text())
        .split('\n')
        .find((line) => line.startsWith('airlock_active_streams '));
    expect(await metrics()).toBe('airlock_active_streams 1');
    expect((await readStreamedText(response)).text).toBe('abcd');
    await expect.poll(metrics).toBe('airlock_active_streams 0');
  });

  it('keeps keys, tokens and connection passwords out of log lines', () => {
    const lines: string[] = [];
    const logger = createLogger({ write: (line) => lines.push(line) });
    logger.warn('database unreachable', {
      url: 'postgres://airlock:pg-s3cret@db.internal:5432/airlock',
      redis: 'rediss://default:redis-s3cret@cache:6380',
      error: new Error(`upstream refused ${canaryKey}`),
      header: 'Bearer abc.def.ghi',
    });
    const text = lines.join('\n');
    for (const secret of ['pg-s3cret', 'redis-s3cret', canaryKey, 'abc.def.ghi']) expect(text).not.toContain(secret);
    expect(text).toContain('postgres://airlock:[redacted]@db.internal:5432/airlock');
  });

  it('names pattern routes by their parameters', () => {
    expect(routeLabel('/token')).toBe('/token');
    expect(routeLabel(/^\/admin\/widgets\/(?<id>[A-Za-z0-9_-]{1,100})\/usage$/)).toBe('/admin/widgets/:id/usage');
    expect(routeLabel(/^\/admin\/assets\/(?<name>[a-z0-9-]+\.(?:js|css|svg))$/)).toBe('/admin/assets/:name');
  });
});

describe('draining', () => {
  let harness: ProxyHarness;
  beforeAll(async () => {
    harness = await startProxyHarness();
  });
  afterAll(() => harness.close());

  it('lets an open stream finish while refusing new requests and failing /readyz', async () => {
    const widget = await harness.widget();
    const token = await harness.token(widget);
    harness.upstream.next({ type: 'stream', chunks: ['still ', 'here'], delayMs: 200 });
    const open = await harness.post('/v1/chat/completions', token, chat);
    expect(open.status).toBe(200);

    harness.airlock.drain();
    const ready = await fetch(`${harness.url}/airlock/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable', checks: { store: 'ok', accepting: 'failing' } });
    const refused = await harness.post('/v1/chat/completions', token, chat);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('connection')).toBe('close');
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await errorCode(refused)).toBe('service_unavailable');
    expect((await fetch(`${harness.url}/airlock/healthz`)).status).toBe(200);

    expect((await readStreamedText(open)).text).toBe('still here');
  });
});
