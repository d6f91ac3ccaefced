// What public answers carry: the JWKS is cacheable for a minute, and an
// error never repeats a visitor's own text back.
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, startProxyHarness, type ProxyHarness } from './proxy-helpers.js';

let harness: ProxyHarness;
beforeAll(async () => {
  harness = await startProxyHarness();
});
afterAll(async () => {
  await harness.close();
});

describe('the JWKS answer', () => {
  it('may be cached for a minute, and verifies a minted token', async () => {
    const response = await fetch(`${harness.url}/airlock/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=60');
    const jwks = (await response.json()) as Parameters<typeof createLocalJWKSet>[0];
    const widget = await harness.widget();
    const token = await harness.token(widget);
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { algorithms: ['EdDSA'] });
    expect(payload.wid).toBe(widget.id);
  });
});

describe('input errors', () => {
  it('a text-completion fill with an undeclared input name does not repeat the name', async () => {
    const widget = await harness.widget({
      type: 'completion',
      behaviour: {
        model: 'gpt-4o-mini',
        promptTemplate: 'Write about {{topic}}.',
        inputs: [{ name: 'topic', label: 'Topic', type: 'text', required: true }],
      },
    });
    const token = await harness.token(widget);
    const name = '<img src=x onerror=alert(1)>call-0800-SCAM';
    const response = await harness.post('/v1/completions/fill', token, { inputs: { topic: 'tides', [name]: 'x' } });
    expect(response.status).toBe(400);
    const body = await response.text();
    expect(JSON.parse(body).error.code).toBe('input_invalid');
    // No piece of the name, however short, comes back.
    for (const piece of ['<img', 'onerror', 'SCAM', name.slice(0, 10)]) expect(body).not.toContain(piece);
    expect(await errorCode(await harness.post('/v1/completions/fill', token, { inputs: { topic: 'tides', other: 1 } }))).toBe('input_invalid');
  });
});
