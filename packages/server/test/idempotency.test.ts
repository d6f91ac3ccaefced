import { faults } from '@airlock/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatRequest, errorCode, startHarness, type Harness } from './harness.js';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => {
  await harness.close();
});

const body = { messages: [{ role: 'user', content: 'Hello' }], stream: true };
const send = (token: string, key: string) => chatRequest(harness.url, token, body, { 'idempotency-key': key });
const chatCalls = () => harness.upstream.requests.filter((request) => request.path === '/v1/chat/completions').length;

describe('Idempotency-Key: a retried visitor turn is never sent twice', () => {
  it('refuses the same turn while it is answered and after, but not a new turn', async () => {
    const token = await harness.mint();
    harness.upstream.next({ type: 'answer', text: 'one two three four five', delayMs: 30 });
    const before = chatCalls();
    const first = await send(token, 'turn-1');
    expect(first.status).toBe(200);

    const whileRunning = await send(token, 'turn-1');
    expect(whileRunning.status).toBe(409);
    expect(await errorCode(whileRunning)).toBe('conflict');

    expect(await first.text()).toContain('[DONE]');
    const afterwards = await send(token, 'turn-1');
    expect(afterwards.status).toBe(409);
    expect(chatCalls() - before).toBe(1);

    const next = await send(token, 'turn-2');
    expect(next.status).toBe(200);
    await next.text();
  });

  it('lets a turn that failed upstream be retried with its key', async () => {
    const token = await harness.mint();
    harness.upstream.next(faults.serverError(503));
    const failed = await send(token, 'turn-3');
    expect(failed.status).toBe(502);
    await failed.text();
    const retried = await send(token, 'turn-3');
    expect(retried.status).toBe(200);
    expect(await retried.text()).toContain('[DONE]');
  });

  it('keeps keys per visitor, and refuses a malformed key', async () => {
    const first = await harness.mint();
    const other = await (async () => {
      const response = await fetch(`${harness.url}/airlock/token`, {
        method: 'POST',
        headers: { origin: 'https://shop.example.com', 'content-type': 'application/json' },
        body: JSON.stringify({ widgetId: harness.widget.id, visitorId: 'another-visitor' }),
      });
      return ((await response.json()) as { token: string }).token;
    })();
    const mine = await send(first, 'shared-key');
    expect(mine.status).toBe(200);
    await mine.text();
    const theirs = await send(other, 'shared-key');
    expect(theirs.status).toBe(200);
    await theirs.text();

    const malformed = await send(first, 'has spaces in it');
    expect(malformed.status).toBe(400);
    expect(await errorCode(malformed)).toBe('input_invalid');
  });
});
