import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRateLimiter } from '../src/limits/rate-limiter.js';
import { errorCode, sseEvents, startProxyHarness, type ProxyHarness } from './proxy-helpers.js';

let harness: ProxyHarness;
// Generous rate limits, for the tests of other limits.
let roomy: ProxyHarness;
beforeAll(async () => {
  harness = await startProxyHarness({
    proxy: { limits: { visitorRequestsPerMinute: 3, tokenRequestsPerMinute: 2, widgetRequestsPerMinute: 6 } },
  });
  roomy = await startProxyHarness({ proxy: { limits: { concurrentStreamsPerVisitor: 2 } } });
});
afterAll(async () => {
  await harness.close();
  await roomy.close();
});

const hello = { messages: [{ role: 'user', content: 'hi' }] };

describe('rate limits', () => {
  it('limits requests per token, per visitor and per widget, with Retry-After', async () => {
    harness.upstream.setDefault({ type: 'answer', text: 'ok' });
    const widget = await harness.widget();
    const first = await harness.token(widget, 'visitor-a');
    expect((await harness.post('/v1/chat/completions', first, hello)).status).toBe(200);
    expect((await harness.post('/v1/chat/completions', first, hello)).status).toBe(200);
    const perToken = await harness.post('/v1/chat/completions', first, hello);
    expect(perToken.status).toBe(429);
    expect(Number(perToken.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await errorCode(perToken)).toBe('rate_limited');

    // A fresh token for the same visitor: the visitor's own limit (3) still counts.
    const second = await harness.token(widget, 'visitor-a');
    expect((await harness.post('/v1/chat/completions', second, hello)).status).toBe(200);
    const perVisitor = await harness.post('/v1/chat/completions', second, hello);
    expect(perVisitor.status).toBe(429);
    expect(perVisitor.headers.get('retry-after')).toMatch(/^\d+$/);

    // Other visitors share the widget's limit (6).
    let allowed = 0;
    for (let index = 0; index < 5; index += 1) {
      const response = await harness.post('/v1/chat/completions', await harness.token(widget, `visitor-${index}`), hello);
      const text = await response.text();
      if (response.status === 200) allowed += 1;
      else expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe('rate_limited');
    }
    expect(allowed).toBe(3);
    harness.upstream.reset();
  });

  it('allows only a few concurrent streams per visitor', async () => {
    const widget = await roomy.widget();
    roomy.upstream.setDefault({ type: 'stream', chunks: ['a', 'b', 'c'], delayMs: 150 });
    const tokens = await Promise.all([1, 2, 3].map(() => roomy.token(widget, 'streamer')));
    const open = await Promise.all(tokens.slice(0, 2).map((token) => roomy.post('/v1/chat/completions', token, { ...hello, stream: true })));
    expect(open.map((response) => response.status)).toEqual([200, 200]);
    const third = await roomy.post('/v1/chat/completions', tokens[2]!, { ...hello, stream: true });
    expect(third.status).toBe(429);
    expect(await errorCode(third)).toBe('rate_limited');
    await Promise.all(open.map((response) => sseEvents(response)));
    // Slots are released when streams end.
    const again = await roomy.post('/v1/chat/completions', tokens[2]!, { ...hello, stream: true });
    expect(again.status).toBe(200);
    await again.text();
    roomy.upstream.reset();
  });
});

describe('per-token limits from the token claims', () => {
  it('enforces a token\u2019s request allowance', async () => {
    const widget = await roomy.widget();
    roomy.upstream.setDefault({ type: 'answer', text: 'ok' });
    const token = await roomy.token(widget, 'limited', { requests: 1 });
    expect((await roomy.post('/v1/chat/completions', token, hello)).status).toBe(200);
    const refused = await roomy.post('/v1/chat/completions', token, hello);
    expect(refused.status).toBe(429);
    expect(await errorCode(refused)).toBe('quota_exhausted');
    roomy.upstream.reset();
  });

  it('caps output by what the token\u2019s output-token allowance has left, then refuses', async () => {
    const widget = await roomy.widget();
    const token = await roomy.token(widget, 'thrifty', { outputTokens: 10 });
    roomy.upstream.next({ type: 'answer', text: 'six words in this answer here', usage: { prompt_tokens: 3, completion_tokens: 6 } });
    const first = await roomy.post('/v1/chat/completions', token, { ...hello, stream: true });
    await sseEvents(first);
    expect((roomy.upstream.requests.at(-1)!.body as { max_completion_tokens: number }).max_completion_tokens).toBe(10);
    roomy.upstream.next({ type: 'answer', text: 'four more words here', usage: { prompt_tokens: 3, completion_tokens: 4 } });
    const second = await roomy.post('/v1/chat/completions', token, hello);
    await second.text();
    expect((roomy.upstream.requests.at(-1)!.body as { max_completion_tokens: number }).max_completion_tokens).toBe(4);
    const third = await roomy.post('/v1/chat/completions', token, hello);
    expect(third.status).toBe(429);
    expect(await errorCode(third)).toBe('quota_exhausted');
  });
});

describe('MemoryRateLimiter', () => {
  it('refuses past the limit and recovers after the window', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ now: () => now });
    for (let index = 0; index < 3; index += 1) expect((await limiter.hit('k', 3, 60_000)).allowed).toBe(true);
    const refused = await limiter.hit('k', 3, 60_000);
    expect(refused).toMatchObject({ allowed: false, remaining: 0 });
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    now = 120_001;
    expect((await limiter.hit('k', 3, 60_000)).allowed).toBe(true);
  });
});
