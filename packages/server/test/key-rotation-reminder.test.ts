// A saved OpenAI key shows its age, and once it is older than the operator's
// reminder period (90 days unless set) it is shown as due for replacement;
// replacing it clears the reminder and the widgets using it keep answering.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatRequest, startHarness, type Harness } from './harness.js';

const adminToken = `admin-${randomBytes(24).toString('hex')}`;
const dayMs = 86_400_000;
// The store stamps savedAt with the real time; the reminder reads this clock, set from it.
let clock = Date.now();
let harness: Harness;
const ownKeys = [`sk-own-${randomBytes(12).toString('hex')}`, `sk-own-${randomBytes(12).toString('hex')}`];

beforeAll(async () => {
  harness = await startHarness({ adminToken, now: () => new Date(clock) }, { acceptedKeys: ownKeys });
});
afterAll(async () => {
  await harness?.close();
});

async function admin(method: string, path: string, body?: unknown) {
  const response = await fetch(`${harness.url}/airlock/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('key rotation reminder', () => {
  it('shows the age, reminds after 90 days, and a replacement clears it with the widget kept working', async () => {
    const saved = await admin('PUT', '/accounts/default/key', { apiKey: ownKeys[0], validate: false });
    expect(saved.status).toBe(200);
    clock = Date.parse(saved.body.savedAt as string);
    await harness.airlock.store.updateWidget(harness.widget.id, { keySource: 'own' });
    expect((await admin('GET', '/accounts/default/key')).body).toMatchObject({ ageDays: 0, rotationDue: false });

    clock += 89 * dayMs;
    expect((await admin('GET', '/accounts/default/key')).body).toMatchObject({ ageDays: 89, rotationDue: false });
    clock += 2 * dayMs;
    expect((await admin('GET', '/accounts/default/key')).body).toMatchObject({ ageDays: 91, rotationDue: true });

    const replaced = await admin('PUT', '/accounts/default/key', { apiKey: ownKeys[1], validate: false });
    expect(replaced.status).toBe(200);
    clock = Date.parse(replaced.body.savedAt as string);
    expect((await admin('GET', '/accounts/default/key')).body).toMatchObject({ ageDays: 0, rotationDue: false });
    const token = await harness.mint();
    harness.upstream.next({ type: 'answer', text: 'still here' });
    const answer = await chatRequest(harness.url, token, { messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.status).toBe(200);
    await answer.text();
    expect(harness.upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer ${ownKeys[1]}`);
  });
});
