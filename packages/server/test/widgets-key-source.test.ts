import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';

const adminToken = 'admin-token-for-key-source-tests';
let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ adminToken });
});
afterAll(async () => {
  await harness.close();
});

function admin(path: string, method: string, body?: unknown) {
  return fetch(`${harness.url}/airlock/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

describe('widgets: account and key source through the admin API', () => {
  it('creates a widget in an account with a key source, changes and clears it', async () => {
    const account = (await (await admin('/accounts', 'POST', { name: 'Shop' })).json()) as { id: string };
    const created = await admin('/widgets', 'POST', {
      accountId: account.id,
      name: 'shop-help',
      allowedOrigins: ['https://shop.example.com'],
      keySource: 'shared',
    });
    expect(created.status).toBe(201);
    const widget = (await created.json()) as { id: string; accountId: string; keySource?: string };
    expect(widget).toMatchObject({ accountId: account.id, keySource: 'shared' });

    const own = (await (await admin(`/widgets/${widget.id}`, 'PATCH', { keySource: 'own' })).json()) as { keySource?: string };
    expect(own.keySource).toBe('own');
    const cleared = (await (await admin(`/widgets/${widget.id}`, 'PATCH', { keySource: null })).json()) as { keySource?: string };
    expect(cleared.keySource).toBeUndefined();
    expect((await harness.airlock.store.getWidget(widget.id))?.keySource).toBeUndefined();
  });

  it('refuses an unknown account and a bad key source', async () => {
    const unknown = await admin('/widgets', 'POST', { accountId: 'acct_nope', name: 'x', allowedOrigins: [] });
    expect(unknown.status).toBe(404);
    const bad = await admin('/widgets', 'POST', { name: 'x', allowedOrigins: [], keySource: 'borrowed' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('input_invalid');
  });
});
