// The proxy pipeline's order (proxy/call.ts): a failure at any step gives
// back exactly what the steps before it took (the turn's Idempotency-Key
// claim, the visitor's stream slot, the account's reserved generations), on
// every endpoint, images included.
import { faults } from '@airlock/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewWidget, WidgetRecord } from '../src/stores/store.js';
import { canaryKey, errorCode, startProxyHarness, type ProxyHarness } from './proxy-helpers.js';

const admin = { authorization: 'Bearer admin-secret-token', 'content-type': 'application/json' };
const hello = { messages: [{ role: 'user', content: 'Hello' }] };

let harness: ProxyHarness;
beforeAll(async () => {
  harness = await startProxyHarness(
    // One stream slot per visitor, so a slot that is not given back shows at once.
    { proxy: { limits: { concurrentStreamsPerVisitor: 1 }, defaultGenerationAllowance: null, generationCosts: { 'gpt-4o-mini': 1, 'dall-e-2': 1 } } },
    { acceptedKeys: [canaryKey] },
  );
});
afterAll(async () => {
  await harness?.close();
});

let accounts = 0;
async function paidWidget(input: Partial<NewWidget> = {}): Promise<WidgetRecord> {
  accounts += 1;
  const accountId = `acct-pipeline-${accounts}`;
  await harness.airlock.store.createAccount({ id: accountId, name: accountId });
  await harness.airlock.store.setSharedKeyGrant(accountId, 'any-model');
  return harness.widget({ accountId, ...input });
}
async function setAllowance(accountId: string, allowance: number | null): Promise<void> {
  const response = await fetch(`${harness.url}/airlock/admin/accounts/${accountId}/generations`, {
    method: 'PUT',
    headers: admin,
    body: JSON.stringify({ allowance, resetUsed: false }),
  });
  expect(response.status).toBe(200);
}
async function used(accountId: string): Promise<number> {
  const response = await fetch(`${harness.url}/airlock/admin/accounts/${accountId}/generations`, { headers: admin });
  return ((await response.json()) as { used: number }).used;
}
const upstreamCalls = (path: string) => harness.upstream.requests.filter((request) => request.path === path).length;
const send = (path: string, token: string, key: string, body: unknown = hello) => harness.post(path, token, body, { headers: { 'idempotency-key': key } });

describe('the proxy pipeline gives back what earlier steps took', () => {
  it('takes nothing for a request its endpoint refuses', async () => {
    const widget = await paidWidget();
    await setAllowance(widget.accountId, 1);
    const token = await harness.token(widget, 'visitor-prepare');
    const refused = await send('/v1/chat/completions', token, 'turn-a', { messages: 'not a list' });
    expect(refused.status).toBe(400);
    expect(await errorCode(refused)).toBe('input_invalid');
    // The same turn goes through (no claim), on the only slot, with the only generation.
    const answered = await send('/v1/chat/completions', token, 'turn-a');
    expect(answered.status).toBe(200);
    await answered.text();
    expect(await used(widget.accountId)).toBe(1);
  });

  it('gives back the claim when the stream slot is refused', async () => {
    const widget = await paidWidget();
    const token = await harness.token(widget, 'visitor-slot');
    harness.upstream.next({ type: 'answer', text: 'a slow answer in many words', delayMs: 150 });
    const holding = await send('/v1/chat/completions', token, 'turn-1', { ...hello, stream: true });
    expect(holding.status).toBe(200);
    const refused = await send('/v1/chat/completions', token, 'turn-2', { ...hello, stream: true });
    expect(refused.status).toBe(429);
    await refused.text();
    expect(await holding.text()).toContain('[DONE]');
    // Nothing reserved for the refused request; its turn may be sent again.
    expect(await used(widget.accountId)).toBe(1);
    const retried = await send('/v1/chat/completions', token, 'turn-2', { ...hello, stream: true });
    expect(retried.status).toBe(200);
    expect(await retried.text()).toContain('[DONE]');
  });

  it('gives back the slot and the claim when the reservation is refused', async () => {
    const widget = await paidWidget();
    await setAllowance(widget.accountId, 0);
    const token = await harness.token(widget, 'visitor-reserve');
    const before = upstreamCalls('/v1/chat/completions');
    const refused = await send('/v1/chat/completions', token, 'turn-r');
    expect(refused.status).toBe(429);
    expect(await errorCode(refused)).toBe('quota_exhausted');
    expect(upstreamCalls('/v1/chat/completions')).toBe(before);
    await setAllowance(widget.accountId, 1);
    const retried = await send('/v1/chat/completions', token, 'turn-r');
    expect(retried.status).toBe(200);
    await retried.text();
    expect(await used(widget.accountId)).toBe(1);
  });

  it('gives back the reservation, the slot and the claim when the upstream fails', async () => {
    const widget = await paidWidget();
    await setAllowance(widget.accountId, 1);
    const token = await harness.token(widget, 'visitor-upstream');
    harness.upstream.next(faults.serverError(503));
    const failed = await send('/v1/chat/completions', token, 'turn-u', { ...hello, stream: true });
    expect(failed.status).toBe(502);
    await failed.text();
    expect(await used(widget.accountId)).toBe(0);
    const retried = await send('/v1/chat/completions', token, 'turn-u', { ...hello, stream: true });
    expect(retried.status).toBe(200);
    expect(await retried.text()).toContain('[DONE]');
    expect(await used(widget.accountId)).toBe(1);
  });
});

describe('images on the pipeline', () => {
  const imageWidget = () => paidWidget({ type: 'image', behaviour: { model: 'dall-e-2', image: { sizes: ['512x512'], maxImages: 2 } } });

  it('sends one image turn once: a retry with its Idempotency-Key is refused', async () => {
    const widget = await imageWidget();
    const token = await harness.token(widget, 'visitor-image');
    const before = upstreamCalls('/v1/images/generations');
    const first = await send('/v1/images/generations', token, 'image-1', { prompt: 'a cat', n: 2 });
    expect(first.status).toBe(200);
    expect(((await first.json()) as { data: unknown[] }).data).toHaveLength(2);
    const again = await send('/v1/images/generations', token, 'image-1', { prompt: 'a cat', n: 2 });
    expect(again.status).toBe(409);
    expect(await errorCode(again)).toBe('conflict');
    expect(upstreamCalls('/v1/images/generations') - before).toBe(1);
    expect(await used(widget.accountId)).toBe(2);
  });

  it('lets a failed image turn be retried with its key, and charges only what was delivered', async () => {
    const widget = await imageWidget();
    const token = await harness.token(widget, 'visitor-image-retry');
    harness.upstream.next(faults.serverError(503));
    const failed = await send('/v1/images/generations', token, 'image-2', { prompt: 'a dog' });
    expect(failed.status).toBe(502);
    await failed.text();
    expect(await used(widget.accountId)).toBe(0);
    const retried = await send('/v1/images/generations', token, 'image-2', { prompt: 'a dog' });
    expect(retried.status).toBe(200);
    await retried.text();
    expect(await used(widget.accountId)).toBe(1);
  });

  it('names the model an image widget allows when another is asked for', async () => {
    const widget = await imageWidget();
    const refused = await harness.post('/v1/images/generations', await harness.token(widget), { prompt: 'a cat', model: 'gpt-image-1' });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('dall-e-2');
  });
});
