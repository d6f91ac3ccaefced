// Two Airlock instances, each on its own node:http port, sharing one SQLite
// file and one real Redis: every limit must hold across both, not per process.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTokens } from '../../src/cli/commands/tokens.js';
import type { AirlockOptions } from '../../src/airlock.js';
import { errorCode, sseEvents, startProxyHarness, type ProxyHarness } from '../proxy-helpers.js';
import { startRedis, type RedisServer } from '@airlock/test-services';

let redis: RedisServer;
let sharedDir: string;
let a: ProxyHarness;
let b: ProxyHarness;
const masterKeys = `t1:${randomBytes(32).toString('base64')}`;

beforeAll(async () => {
  redis = await startRedis();
  sharedDir = mkdtempSync(join(tmpdir(), 'airlock-two-'));
  const shared: Partial<AirlockOptions> = {
    masterKeys,
    databaseUrl: `sqlite:${join(sharedDir, 'airlock.db')}`,
    redis: { url: redis.url },
    proxy: {
      limits: { widgetRequestsPerMinute: 5, visitorRequestsPerMinute: 100, tokenRequestsPerMinute: 100, concurrentStreamsPerVisitor: 2 },
    },
  };
  // One after the other, so the migrations run once.
  a = await startProxyHarness(shared);
  b = await startProxyHarness(shared);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await redis?.close();
  rmSync(sharedDir, { recursive: true, force: true });
});

const hello = { messages: [{ role: 'user', content: 'hi' }] };
const both = () => [a, b] as const;

describe('two instances sharing one Redis', () => {
  it('admits exactly N requests of a per-widget limit of N, alternating between instances', async () => {
    for (const instance of both()) instance.upstream.setDefault({ type: 'answer', text: 'ok' });
    const widget = await a.widget();
    const statuses: number[] = [];
    for (let index = 0; index < 10; index += 1) {
      const instance = index % 2 === 0 ? a : b;
      const response = await instance.post('/v1/chat/completions', await instance.token(widget, `visitor-${index}`), hello);
      statuses.push(response.status);
      if (response.status === 429) expect(await errorCode(response)).toBe('rate_limited');
      else await response.text();
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(5);
    expect(statuses.slice(5)).toEqual([429, 429, 429, 429, 429]);
  });

  it('admits exactly N when requests race on both instances at once', async () => {
    const widget = await a.widget();
    const tokens = await Promise.all(Array.from({ length: 16 }, (_, index) => a.token(widget, `racer-${index}`)));
    const responses = await Promise.all(tokens.map((token, index) => (index % 2 === 0 ? a : b).post('/v1/chat/completions', token, hello)));
    await Promise.all(responses.map((response) => response.text()));
    expect(responses.filter((response) => response.status === 200)).toHaveLength(5);
  });

  it('shares a visitor\u2019s concurrent stream slots', async () => {
    for (const instance of both()) instance.upstream.setDefault({ type: 'stream', chunks: ['a', 'b', 'c'], delayMs: 150 });
    const widget = await a.widget();
    const token = await a.token(widget, 'streamer');
    const open = [
      await a.post('/v1/chat/completions', token, { ...hello, stream: true }),
      await b.post('/v1/chat/completions', token, { ...hello, stream: true }),
    ];
    expect(open.map((response) => response.status)).toEqual([200, 200]);
    for (const instance of both()) {
      const third = await instance.post('/v1/chat/completions', token, { ...hello, stream: true });
      expect(third.status).toBe(429);
      expect(await errorCode(third)).toBe('rate_limited');
    }
    await Promise.all(open.map((response) => sseEvents(response)));
    // Released on both when the streams end.
    const again = await b.post('/v1/chat/completions', token, { ...hello, stream: true });
    expect(again.status).toBe(200);
    await again.text();
    for (const instance of both()) instance.upstream.reset();
  });

  it('holds a token\u2019s request budget across both', async () => {
    for (const instance of both()) instance.upstream.setDefault({ type: 'answer', text: 'ok' });
    const widget = await a.widget();
    const token = await b.token(widget, 'budgeted', { requests: 3 });
    const statuses: number[] = [];
    // Five, as the widget's own limit (5 a minute) refuses a sixth.
    for (let index = 0; index < 5; index += 1) {
      const response = await (index % 2 === 0 ? a : b).post('/v1/chat/completions', token, hello);
      statuses.push(response.status);
      if (response.status === 429) expect(await errorCode(response)).toBe('quota_exhausted');
      else await response.text();
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });

  it('holds a token\u2019s output-token budget across both', async () => {
    const widget = await a.widget();
    const token = await a.token(widget, 'thrifty', { outputTokens: 10 });
    a.upstream.next({ type: 'answer', text: 'six words in this answer here', usage: { prompt_tokens: 3, completion_tokens: 6 } });
    await (await a.post('/v1/chat/completions', token, hello)).text();
    // The spend is written after the answer; give it a moment to land.
    await new Promise((resolve) => setTimeout(resolve, 50));
    b.upstream.next({ type: 'answer', text: 'four more words here', usage: { prompt_tokens: 3, completion_tokens: 4 } });
    await (await b.post('/v1/chat/completions', token, hello)).text();
    expect((b.upstream.requests.at(-1)!.body as { max_completion_tokens: number }).max_completion_tokens).toBe(4);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await a.post('/v1/chat/completions', token, hello);
    expect(refused.status).toBe(429);
    expect(await errorCode(refused)).toBe('quota_exhausted');
  });

  it('refuses an Idempotency-Key on one instance that was used on the other', async () => {
    const widget = await a.widget();
    const token = await a.token(widget, 'retrier');
    a.upstream.next({ type: 'answer', text: 'a slow answer', delayMs: 200 });
    const first = await a.post('/v1/chat/completions', token, { ...hello, stream: true }, { headers: { 'idempotency-key': 'turn-1' } });
    expect(first.status).toBe(200);
    const whileRunning = await b.post('/v1/chat/completions', token, { ...hello, stream: true }, { headers: { 'idempotency-key': 'turn-1' } });
    expect(whileRunning.status).toBe(409);
    expect(await errorCode(whileRunning)).toBe('conflict');
    expect(await first.text()).toContain('[DONE]');
    const afterwards = await b.post('/v1/chat/completions', token, hello, { headers: { 'idempotency-key': 'turn-1' } });
    expect(afterwards.status).toBe(409);
    const fresh = await b.post('/v1/chat/completions', token, hello, { headers: { 'idempotency-key': 'turn-2' } });
    expect(fresh.status).toBe(200);
    await fresh.text();
  });

  it('refuses, within a second on the other instance, tokens of a signing key retired on one', async () => {
    for (const instance of both()) instance.upstream.setDefault({ type: 'answer', text: 'ok' });
    const widget = await a.widget();
    const token = await a.token(widget, 'signed-before');
    expect((await b.post('/v1/chat/completions', token, hello)).status).toBe(200);
    const rotated = await fetch(`${a.url}/airlock/admin/signing-keys/rotate`, {
      method: 'POST',
      headers: { authorization: 'Bearer admin-secret-token', 'content-type': 'application/json' },
      body: JSON.stringify({ retirePrevious: true }),
    });
    expect(rotated.status).toBe(201);
    const retiredAt = Date.now();
    // Authentication comes before the rate limits, so a 429 still means "token accepted".
    let status = 200;
    while (status !== 401 && Date.now() - retiredAt < 2_000) {
      const response = await b.post('/v1/chat/completions', token, hello);
      status = response.status;
      await response.text();
      if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(401);
    expect(Date.now() - retiredAt).toBeLessThan(1_000);
    // Tokens of the new key work on both.
    const fresh = await b.token(widget, 'signed-after');
    expect((await a.post('/v1/chat/completions', fresh, hello)).status).toBe(200);
  });

  it('hears the CLI\u2019s `tokens rotate-signing-key --retire-previous-now` as well', async () => {
    const widget = await a.widget();
    const token = await b.token(widget, 'signed-before-cli');
    expect((await a.post('/v1/chat/completions', token, hello)).status).toBe(200);
    const saved = { ...process.env };
    Object.assign(process.env, {
      AIRLOCK_DATABASE_URL: `sqlite:${join(sharedDir, 'airlock.db')}`,
      AIRLOCK_MASTER_KEYS: masterKeys,
      AIRLOCK_REDIS_URL: redis.url,
    });
    const printed: string[] = [];
    const log = console.log;
    console.log = (line: string) => printed.push(line);
    try {
      expect(await runTokens(['rotate-signing-key', '--retire-previous-now'])).toBe(0);
    } finally {
      console.log = log;
      for (const name of ['AIRLOCK_DATABASE_URL', 'AIRLOCK_MASTER_KEYS', 'AIRLOCK_REDIS_URL']) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
    expect(printed.join('\n')).toContain('pick it up at once');
    const retiredAt = Date.now();
    const statuses: number[] = [];
    for (const instance of both()) {
      let status = 200;
      while (status !== 401 && Date.now() - retiredAt < 2_000) {
        const response = await instance.post('/v1/chat/completions', token, hello);
        status = response.status;
        await response.text();
        if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      statuses.push(status);
    }
    expect(statuses).toEqual([401, 401]);
    expect(Date.now() - retiredAt).toBeLessThan(1_000);
  });
});
