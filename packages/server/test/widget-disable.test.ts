// Disabling a widget revokes every token minted before it: enabling it again
// later must not bring them back. Through a real server, and in both stores.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '@airlock/test-services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../src/stores/postgres-store.js';
import { SqliteStore } from '../src/stores/sqlite-store.js';
import type { Store } from '../src/stores/store.js';
import { chatRequest, errorCode, startHarness, type Harness } from './harness.js';

const adminToken = 'admin-token-for-disable-tests-0123456789';
const hello = { messages: [{ role: 'user', content: 'hi' }] };
let harness: Harness;
let postgres: PostgresServer;
const root = mkdtempSync(join(tmpdir(), 'airlock-disable-'));
beforeAll(async () => {
  [harness, postgres] = await Promise.all([startHarness({ adminToken }), startPostgres()]);
});
afterAll(async () => {
  await harness?.close();
  await postgres?.stop();
  rmSync(root, { recursive: true, force: true });
});

function patchWidget(id: string, body: unknown): Promise<Response> {
  return fetch(`${harness.url}/airlock/admin/widgets/${id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('disabling a widget, through the admin API', () => {
  it('stops public and backend tokens minted before it for good', async () => {
    harness.upstream.setDefault({ type: 'answer', text: 'ok' });
    const publicToken = await harness.mint();
    const { token: backendToken } = await harness.airlock.mintToken({ widgetId: harness.widget.id, userId: 'user-1' });
    expect((await chatRequest(harness.url, publicToken, hello)).status).toBe(200);

    expect((await patchWidget(harness.widget.id, { enabled: false })).status).toBe(200);
    expect(await errorCode(await chatRequest(harness.url, publicToken, hello))).toBe('widget_disabled');
    expect((await patchWidget(harness.widget.id, { enabled: true })).status).toBe(200);

    for (const token of [publicToken, backendToken]) {
      const response = await chatRequest(harness.url, token, hello);
      expect(response.status).toBe(401);
      expect(await errorCode(response)).toBe('token_invalid');
    }
    // Tokens minted after it is enabled again work.
    expect((await chatRequest(harness.url, await harness.mint(), hello)).status).toBe(200);
    harness.upstream.reset();
  });
});

async function epochsThroughDisable(store: Store): Promise<number[]> {
  await store.migrate();
  const widget = await store.createWidget({
    name: 'toggled',
    type: 'chat',
    allowedOrigins: ['https://shop.example.com'],
    presentation: { title: 'Toggled', theme: 'auto' },
    behaviour: { model: 'gpt-4o-mini' },
  });
  const epochs = [widget.epoch];
  // Disable, disable again, enable, rename: only the first disable revokes.
  for (const patch of [{ enabled: false }, { enabled: false }, { enabled: true }, { name: 'renamed' }]) {
    const updated = await store.updateWidget(widget.id, patch);
    expect((await store.getWidget(widget.id))?.epoch).toBe(updated.epoch);
    epochs.push(updated.epoch);
  }
  return epochs;
}

describe('disabling a widget, in the stores', () => {
  it('SQLite bumps the epoch once per disable', async () => {
    const store = new SqliteStore({ path: join(root, 'disable.db') });
    try {
      expect(await epochsThroughDisable(store)).toEqual([0, 1, 1, 1, 1]);
    } finally {
      await store.close();
    }
  });

  it('PostgreSQL bumps the epoch once per disable', async () => {
    const url = await postgres.createDatabase();
    const store = new PostgresStore({ connectionString: url });
    try {
      expect(await epochsThroughDisable(store)).toEqual([0, 1, 1, 1, 1]);
    } finally {
      await store.close();
      const client = new pg.Client({ connectionString: postgres.url() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
      await client.end();
    }
  });
});
