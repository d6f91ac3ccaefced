// Redis taken away mid-run and brought back: limited requests fail closed,
// promptly and with one log line (or are served with failOpen), and recover
// on their own when Redis returns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterCoordinator } from '../../src/cluster/coordinator.js';
import { resolveRedisOptions } from '../../src/cluster/redis.js';
import { MemoryLimitCounters } from '../../src/limits/counters.js';
import { createLogger } from '../../src/logging/logger.js';
import { allowedOrigin, errorCode, eventually, startProxyHarness, type ProxyHarness } from '../proxy-helpers.js';
import { startRedis, type RedisServer } from '@airlock/test-services';

let redis: RedisServer;
let closed: ProxyHarness;
let open: ProxyHarness;
let coordinator: ClusterCoordinator;
const coordinatorLogs: string[] = [];

beforeAll(async () => {
  redis = await startRedis();
  closed = await startProxyHarness({ redis: { url: redis.url } });
  open = await startProxyHarness({ redis: { url: redis.url, failOpen: true } });
  coordinator = new ClusterCoordinator({
    redis: resolveRedisOptions({ url: redis.url })!,
    logger: createLogger({ level: 'debug', write: (line) => coordinatorLogs.push(line) }),
    fallback: new MemoryLimitCounters(),
  });
  await coordinator.connected();
});
afterAll(async () => {
  await closed?.close();
  await open?.close();
  await coordinator?.close();
  await redis?.close();
});

const hello = { messages: [{ role: 'user', content: 'hi' }] };
const mint = (harness: ProxyHarness, widgetId: string) =>
  fetch(`${harness.url}/airlock/token`, {
    method: 'POST',
    headers: { origin: allowedOrigin, 'content-type': 'application/json' },
    body: JSON.stringify({ widgetId }),
  });
const lines = (harness: ProxyHarness, text: string) => harness.logs.filter((line) => line.includes(text));

describe('Redis stopped and restarted mid-run', () => {
  it('fails closed promptly with one warn line, serves with failOpen, and recovers by itself', async () => {
    for (const harness of [closed, open]) harness.upstream.setDefault({ type: 'answer', text: 'ok' });
    const closedWidget = await closed.widget();
    const openWidget = await open.widget();
    const closedToken = await closed.token(closedWidget, 'visitor');
    const openToken = await open.token(openWidget, 'visitor');
    expect((await closed.post('/v1/chat/completions', closedToken, hello)).status).toBe(200);
    expect((await mint(closed, closedWidget.id)).status).toBe(200);
    await coordinator.ping();

    await redis.stop();

    // Fail closed: every limited request answers 503 limits_unavailable, well under a second.
    const timings: number[] = [];
    for (let index = 0; index < 5; index += 1) {
      const startedAt = performance.now();
      const response = await closed.post('/v1/chat/completions', closedToken, hello);
      timings.push(performance.now() - startedAt);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(await errorCode(response)).toBe('limits_unavailable');
    }
    const startedAt = performance.now();
    const minted = await mint(closed, closedWidget.id);
    timings.push(performance.now() - startedAt);
    expect(minted.status).toBe(503);
    expect(await errorCode(minted)).toBe('limits_unavailable');
    expect(Math.max(...timings)).toBeLessThan(300);
    expect(lines(closed, 'Redis is unreachable')).toHaveLength(1);
    expect(lines(closed, 'Redis is unreachable')[0]).toContain('"level":"warn"');
    await expect(coordinator.ping()).rejects.toMatchObject({ code: 'limits_unavailable' });

    // Fail open: served from this instance's own counters.
    const served = await open.post('/v1/chat/completions', openToken, hello);
    expect(served.status).toBe(200);
    await served.text();
    expect((await mint(open, openWidget.id)).status).toBe(200);
    expect(lines(open, 'Redis is unreachable')).toHaveLength(1);

    await redis.restart();

    // No restart of Airlock: the connection comes back on its own.
    await eventually(async () => {
      const response = await closed.post('/v1/chat/completions', closedToken, hello);
      await response.text();
      return response.status === 200;
    }, 5_000);
    expect((await mint(closed, closedWidget.id)).status).toBe(200);
    expect(lines(closed, 'Redis is reachable again')).toHaveLength(1);
    expect(lines(closed, 'Redis is unreachable')).toHaveLength(1);
    await eventually(
      () =>
        coordinator.ping().then(
          () => true,
          () => false,
        ),
      5_000,
    );
  });

  it('answers promptly while Redis is connected but hung, and recovers when it answers again', async () => {
    closed.upstream.setDefault({ type: 'answer', text: 'ok' });
    const widget = await closed.widget();
    const token = await closed.token(widget, 'visitor');
    expect((await closed.post('/v1/chat/completions', token, hello)).status).toBe(200);
    const warnings = lines(closed, 'Redis is unreachable').length;
    redis.pause();
    try {
      // The first request waits out the command timeout (500 ms); the ones
      // after it, while that probe runs, are answered at once.
      const startedAt = performance.now();
      const responses = await Promise.all(Array.from({ length: 6 }, () => closed.post('/v1/chat/completions', token, hello)));
      const elapsed = performance.now() - startedAt;
      expect(responses.map((response) => response.status)).toEqual([503, 503, 503, 503, 503, 503]);
      expect(elapsed).toBeLessThan(900);
      const quick = performance.now();
      const next = await closed.post('/v1/chat/completions', token, hello);
      expect(next.status).toBe(503);
      expect(performance.now() - quick).toBeLessThan(700);
      expect(lines(closed, 'Redis is unreachable')).toHaveLength(warnings + 1);
    } finally {
      redis.resume();
    }
    await eventually(async () => {
      const response = await closed.post('/v1/chat/completions', token, hello);
      await response.text();
      return response.status === 200;
    }, 5_000);
  });

  it('starts while Redis is down, refuses limited requests, and serves once Redis comes up', async () => {
    const late = await startRedis();
    await late.stop();
    const startedAt = performance.now();
    const harness = await startProxyHarness({ redis: { url: late.url } });
    let closeMs = 0;
    try {
      // ready() waits for the first connection attempt only, not for Redis.
      expect(performance.now() - startedAt).toBeLessThan(2_500);
      harness.upstream.setDefault({ type: 'answer', text: 'ok' });
      const widget = await harness.widget();
      const token = await harness.token(widget, 'early');
      const refused = await harness.post('/v1/chat/completions', token, hello);
      expect(refused.status).toBe(503);
      expect(await errorCode(refused)).toBe('limits_unavailable');
      await late.restart();
      await eventually(async () => {
        const response = await harness.post('/v1/chat/completions', token, hello);
        await response.text();
        return response.status === 200;
      }, 5_000);
      expect(lines(harness, 'Redis is unreachable')).toHaveLength(1);
      await late.stop();
    } finally {
      // Closing must not wait for the Redis that is gone again.
      const closing = performance.now();
      await harness.close();
      closeMs = performance.now() - closing;
      await late.close();
    }
    // Asserted after the finally, so a failure above is reported as itself.
    expect(closeMs).toBeLessThan(1_000);
  });
});
