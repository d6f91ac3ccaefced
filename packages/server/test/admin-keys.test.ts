// Accounts and their OpenAI keys through the admin HTTP API and the proxy,
// end to end, against SQLite and a real PostgreSQL: write-only keys, own vs
// shared key (proved by the stand-in upstream's recorded Authorization
// header), rotation with a request in flight, 401 → invalid without
// fallback (also while another request of the widget is opening the key),
// revoke with and without force, concurrent saves, and canary keys that must
// never appear in a response, a log line or the database.
import { faults, readSse, startUpstream, type Upstream } from '@airlock/testing';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../src/adapters/node.js';
import { createAccessToken } from '../src/admin/session.js';
import { createAirlock, type Airlock } from '../src/airlock.js';
import { createLogger } from '../src/logging/logger.js';
import { SHARED_KEY_OWNER, type NewWidget, type WidgetRecord } from '../src/stores/store.js';
import { startPostgres, type PostgresServer } from '@airlock/test-services';
import { createKeyring, type KeyEncryptionProvider } from '../src/vault/key-encryption.js';
import { chatRequest, errorCode, startHarness } from './harness.js';

const canary = (name: string) => `sk-canary-${name}-${randomBytes(12).toString('hex')}`;
const adminToken = `admin-${randomBytes(16).toString('hex')}`;

interface Setup {
  kind: 'sqlite' | 'postgres';
  airlock: Airlock;
  upstream: Upstream;
  url: string;
  logs: string[];
  seen: string[];
  keys: Record<'envShared' | 'own' | 'ownNext' | 'refused' | 'storedShared' | 'wrong', string>;
  /** Every byte of the database as stored: SQLite files, or a pg_dump. */
  databaseBytes(): Promise<Buffer>;
  close(): Promise<void>;
}

let postgres: PostgresServer | undefined;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(async () => {
  await postgres?.stop();
});

async function setUp(kind: 'sqlite' | 'postgres'): Promise<Setup> {
  const keys = {
    envShared: canary('env'),
    own: canary('own'),
    ownNext: canary('next'),
    refused: canary('refused'),
    storedShared: canary('stored'),
    wrong: canary('wrong'),
  };
  const upstream = await startUpstream({ acceptedKeys: [keys.envShared, keys.own, keys.ownNext, keys.storedShared] });
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-keys-'));
  const databaseUrl = kind === 'sqlite' ? `sqlite:${join(dataDir, 'airlock.db')}` : await postgres!.createDatabase();
  const logs: string[] = [];
  const airlock = createAirlock({
    dataDir,
    databaseUrl,
    masterKeys: `k1:${randomBytes(32).toString('base64')}`,
    adminToken,
    logger: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    upstream: { apiKey: keys.envShared, baseURL: upstream.baseURL },
  });
  await airlock.ready();
  const server = await serve(airlock.fetch, { port: 0 });
  return {
    kind,
    airlock,
    upstream,
    url: server.url,
    logs,
    seen: [],
    keys,
    async databaseBytes() {
      if (kind === 'postgres') return postgres!.dump(new URL(databaseUrl).pathname.slice(1));
      const path = join(dataDir, 'airlock.db');
      return Buffer.concat([path, `${path}-wal`, `${path}-shm`].filter((file) => existsSync(file)).map((file) => readFileSync(file)));
    },
    async close() {
      await server.close();
      await upstream.close();
      await airlock.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

describe.each(['sqlite', 'postgres'] as const)('accounts and keys (%s)', (kind) => {
  let setup: Setup;
  beforeAll(async () => {
    setup = await setUp(kind);
  });
  afterAll(async () => {
    await setup?.close();
  });

  async function admin(method: string, path: string, body?: unknown, token = adminToken): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${setup.url}/airlock/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    setup.seen.push(text);
    return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
  }

  async function widget(input: Partial<NewWidget>): Promise<WidgetRecord> {
    return setup.airlock.store.createWidget({
      name: 'w',
      type: 'chat',
      allowedOrigins: ['https://shop.example.com'],
      presentation: { title: 'W', theme: 'auto' },
      behaviour: { model: 'gpt-4o-mini' },
      ...input,
    });
  }

  async function chat(target: WidgetRecord, stream = false): Promise<Response> {
    const { token } = await setup.airlock.mintToken({ widgetId: target.id, userId: 'user-1' });
    return fetch(`${setup.url}/airlock/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'Hello' }], stream }),
    });
  }

  async function chatText(target: WidgetRecord): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await chat(target);
    const text = await response.text();
    setup.seen.push(text);
    return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
  }

  const lastAuthorization = () => setup.upstream.requests.at(-1)?.headers.authorization;
  const chatRequests = () => setup.upstream.requests.filter((request) => request.path.endsWith('/chat/completions')).length;

  let ownWidget: WidgetRecord;
  let pinnedOwnWidget: WidgetRecord;
  let sharedWidget: WidgetRecord;
  let defaultWidget: WidgetRecord;

  it('refuses the admin API without the admin token', async () => {
    expect(await admin('GET', '/accounts', undefined, 'wrong')).toMatchObject({ status: 401, body: { error: { code: 'admin_unauthorized' } } });
    const response = await fetch(`${setup.url}/airlock/admin/accounts/default/key`, { method: 'PUT', body: JSON.stringify({ apiKey: setup.keys.own }) });
    expect(response.status).toBe(401);
    setup.seen.push(await response.text());
  });

  it('creates, lists and shows accounts', async () => {
    expect(await admin('POST', '/accounts', { id: 'acme', name: 'Acme Ltd' })).toMatchObject({ status: 201, body: { id: 'acme', name: 'Acme Ltd' } });
    // Its widget set to the shared key below needs the operator's grant.
    expect(await admin('PUT', '/accounts/acme/shared-key', { grant: 'listed-models' })).toMatchObject({ status: 200, body: { sharedKey: 'listed-models' } });
    expect(await admin('POST', '/accounts', { id: 'acme', name: 'Again' })).toMatchObject({ status: 409, body: { error: { code: 'conflict' } } });
    expect(await admin('POST', '/accounts', { id: 'no spaces', name: 'x' })).toMatchObject({ status: 400, body: { error: { code: 'input_invalid' } } });
    const generated = await admin('POST', '/accounts', { name: 'Generated' });
    expect(generated.body.id).toMatch(/^acct_/);
    const list = await admin('GET', '/accounts');
    expect((list.body.accounts as { id: string }[]).map((account) => account.id)).toEqual(expect.arrayContaining(['default', 'acme', generated.body.id]));
    expect(await admin('GET', '/accounts/acme')).toMatchObject({ status: 200, body: { id: 'acme', key: null } });
    expect(await admin('GET', '/accounts/nobody')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
  });

  it('validates a key upstream before saving it, and answers only a fingerprint', async () => {
    const refused = await admin('PUT', '/accounts/acme/key', { apiKey: setup.keys.wrong });
    expect(refused).toMatchObject({ status: 502, body: { error: { code: 'upstream_key_invalid' } } });
    expect(await admin('GET', '/accounts/acme/key')).toMatchObject({ status: 404 });
    expect(setup.upstream.requests.at(-1)).toMatchObject({ path: '/v1/models', headers: { authorization: `Bearer ${setup.keys.wrong}` } });
    expect(await admin('PUT', '/accounts/acme/key', { apiKey: 'short' })).toMatchObject({ status: 400, body: { error: { code: 'input_invalid' } } });
    expect(await admin('PUT', '/accounts/nobody/key', { apiKey: setup.keys.own })).toMatchObject({ status: 404 });

    const saved = await admin('PUT', '/accounts/acme/key', { apiKey: setup.keys.own });
    expect(saved.status).toBe(200);
    expect(Object.keys(saved.body).sort()).toEqual(['fingerprint', 'savedAt', 'status']);
    expect(saved.body).toMatchObject({ fingerprint: `sk-…${setup.keys.own.slice(-4)}`, status: 'active' });
  });

  it('uses the account\u2019s own key for its widgets and the shared key otherwise', async () => {
    ownWidget = await widget({ accountId: 'acme', name: 'acme-default' });
    pinnedOwnWidget = await widget({ accountId: 'acme', name: 'acme-own', keySource: 'own' });
    sharedWidget = await widget({ accountId: 'acme', name: 'acme-shared', keySource: 'shared' });
    defaultWidget = await widget({ accountId: 'default', name: 'default-account' });

    for (const [target, key] of [
      [ownWidget, setup.keys.own],
      [pinnedOwnWidget, setup.keys.own],
      [sharedWidget, setup.keys.envShared],
      [defaultWidget, setup.keys.envShared],
    ] as const) {
      const answer = await chatText(target);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(lastAuthorization()).toBe(`Bearer ${key}`);
    }

    const shown = await admin('GET', '/accounts/acme/key');
    expect(shown.body).toMatchObject({ status: 'active', fingerprint: `sk-…${setup.keys.own.slice(-4)}`, lastUsedAt: expect.any(String) });
    expect((shown.body.widgets as { name: string }[]).map((item) => item.name).sort()).toEqual(['acme-default', 'acme-own']);
  });

  it('replaces a key atomically while a request started with the old key finishes with it', async () => {
    setup.upstream.next({ type: 'answer', text: 'one two three four five six seven eight', delayMs: 40 });
    const streaming = await chat(ownWidget, true);
    expect(streaming.status).toBe(200);
    expect(lastAuthorization()).toBe(`Bearer ${setup.keys.own}`);

    const saved = await admin('PUT', '/accounts/acme/key', { apiKey: setup.keys.ownNext });
    expect(saved).toMatchObject({ status: 200, body: { fingerprint: `sk-…${setup.keys.ownNext.slice(-4)}` } });
    const events: string[] = [];
    for await (const data of readSse(streaming)) events.push(data);
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.join('')).toContain('eight');

    expect((await chatText(ownWidget)).status).toBe(200);
    expect(lastAuthorization()).toBe(`Bearer ${setup.keys.ownNext}`);
  });

  it('marks an own key refused upstream (401) invalid and never falls back to the shared key', async () => {
    await admin('PUT', '/accounts/acme/key', { apiKey: setup.keys.refused, validate: false });
    const before = chatRequests();
    const refused = await chatText(ownWidget);
    expect(refused).toMatchObject({ status: 502, body: { error: { code: 'upstream_key_invalid' } } });
    expect(chatRequests()).toBe(before + 1);
    expect(lastAuthorization()).toBe(`Bearer ${setup.keys.refused}`);
    expect(await admin('GET', '/accounts/acme/key')).toMatchObject({ body: { status: 'invalid', lastErrorCode: 'upstream_key_invalid' } });

    // Refused at once from now on, without calling the upstream with any key.
    expect(await chatText(pinnedOwnWidget)).toMatchObject({ status: 502, body: { error: { code: 'upstream_key_invalid' } } });
    expect(chatRequests()).toBe(before + 1);
    // Widgets on the shared key are not affected.
    expect((await chatText(sharedWidget)).status).toBe(200);
    expect(lastAuthorization()).toBe(`Bearer ${setup.keys.envShared}`);
  });

  it('refuses to revoke a key in use (409 with the widgets); force destroys it and those widgets fail cleanly', async () => {
    await admin('PUT', '/accounts/acme/key', { apiKey: setup.keys.own });
    const refused = await admin('DELETE', '/accounts/acme/key');
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'key_in_use' } } });
    expect((refused.body.widgets as { id: string }[]).map((item) => item.id).sort()).toEqual([ownWidget.id, pinnedOwnWidget.id].sort());
    expect((refused.body.error as { message: string }).message).toContain('acme-default');

    const revoked = await admin('DELETE', '/accounts/acme/key?force=true');
    expect(revoked).toMatchObject({ status: 200, body: { status: 'revoked', revokedAt: expect.any(String) } });
    const record = await setup.airlock.store.getOpenAiKey('acme');
    expect(record).toMatchObject({ status: 'revoked' });
    expect(record?.sealed).toBeUndefined();
    expect((await setup.airlock.store.listSealedRecords()).some((item) => item.ownerId === 'acme')).toBe(false);

    const before = chatRequests();
    for (const target of [ownWidget, pinnedOwnWidget]) {
      expect(await chatText(target)).toMatchObject({ status: 502, body: { error: { code: 'upstream_key_invalid' } } });
    }
    expect(chatRequests()).toBe(before);
    expect((await setup.airlock.store.getWidget(ownWidget.id))?.keySource).toBe('own');
    expect((await chatText(sharedWidget)).status).toBe(200);
    expect(await admin('DELETE', '/accounts/acme/key')).toMatchObject({ status: 404 });

    // The owner acts: a new key, and the widgets work again.
    await admin('PUT', '/accounts/acme/key', { apiKey: setup.keys.own });
    expect((await chatText(ownWidget)).status).toBe(200);
    expect(lastAuthorization()).toBe(`Bearer ${setup.keys.own}`);
  });

  it('stores a shared key in the vault, preferred over OPENAI_API_KEY, and revokes it', async () => {
    expect(await admin('GET', '/shared-key')).toMatchObject({ status: 200, body: { source: 'environment', key: null } });
    expect(await admin('PUT', '/shared-key', { apiKey: setup.keys.storedShared })).toMatchObject({ status: 200, body: { status: 'active' } });
    expect((await chatText(defaultWidget)).status).toBe(200);
    expect(lastAuthorization()).toBe(`Bearer ${setup.keys.storedShared}`);
    const shown = await admin('GET', '/shared-key');
    expect(shown.body).toMatchObject({ source: 'vault', key: { fingerprint: `sk-…${setup.keys.storedShared.slice(-4)}` } });
    expect((shown.body.widgets as { name: string }[]).map((item) => item.name)).toEqual(expect.arrayContaining(['acme-shared', 'default-account']));
    expect((shown.body.widgets as { name: string }[]).map((item) => item.name)).not.toContain('acme-default');

    expect(await admin('DELETE', '/shared-key')).toMatchObject({ status: 409, body: { error: { code: 'key_in_use' } } });
    expect(await admin('DELETE', '/shared-key?force=true')).toMatchObject({ status: 200, body: { status: 'revoked' } });
    expect((await setup.airlock.store.getOpenAiKey(SHARED_KEY_OWNER))?.sealed).toBeUndefined();
    expect((await chatText(defaultWidget)).status).toBe(200);
    expect(lastAuthorization()).toBe(`Bearer ${setup.keys.envShared}`);
  });

  it('leaves exactly one active key after concurrent saves for one account', async () => {
    const candidates = Array.from({ length: 12 }, (_, index) => canary(`race${index}`));
    const results = await Promise.all(candidates.map((apiKey) => admin('PUT', '/accounts/acme/key', { apiKey, validate: false })));
    expect(results.every((result) => result.status === 200)).toBe(true);
    const sealed = (await setup.airlock.store.listSealedRecords()).filter((record) => record.ownerId === 'acme');
    expect(sealed).toHaveLength(1);
    const current = await admin('GET', '/accounts/acme/key');
    expect(current.body.status).toBe('active');
    expect(candidates.map((key) => `sk-…${key.slice(-4)}`)).toContain(current.body.fingerprint);
  });

  it('lets an account owner manage only their own account’s key, never the shared key', async () => {
    await admin('POST', '/accounts', { id: 'other', name: 'Other' });
    const { token } = await createAccessToken(setup.airlock.store, { accountId: 'acme' });
    const accounts = await admin('GET', '/accounts', undefined, token);
    expect((accounts.body.accounts as { id: string }[]).map((account) => account.id)).toEqual(['acme']);
    expect(await admin('GET', '/accounts/acme/key', undefined, token)).toMatchObject({ status: 200, body: { status: 'active' } });
    expect(await admin('GET', '/accounts/other', undefined, token)).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    expect(await admin('PUT', '/accounts/other/key', { apiKey: setup.keys.own, validate: false }, token)).toMatchObject({ status: 403 });
    expect(await admin('DELETE', '/accounts/other/key?force=true', undefined, token)).toMatchObject({ status: 403 });
    expect(await admin('GET', '/shared-key', undefined, token)).toMatchObject({ status: 403 });
    expect(await admin('PUT', '/shared-key', { apiKey: setup.keys.own, validate: false }, token)).toMatchObject({ status: 403 });
    expect(await admin('POST', '/accounts', { id: 'mine', name: 'Mine' }, token)).toMatchObject({ status: 403 });
    expect(await setup.airlock.store.getOpenAiKey('other')).toBeUndefined();
  });

  it('never lets a key appear in a response, a log line or the stored database', async () => {
    const all = Object.values(setup.keys);
    const texts = [...setup.seen, ...setup.logs].join('\n');
    const bytes = await setup.databaseBytes();
    expect(bytes.length).toBeGreaterThan(1000);
    expect(bytes.includes(Buffer.from('openai_keys'))).toBe(true);
    for (const key of all) {
      expect(texts).not.toContain(key);
      expect(texts).not.toContain(key.slice(10));
      expect(bytes.includes(Buffer.from(key))).toBe(false);
      expect(bytes.includes(Buffer.from(key.slice(10)))).toBe(false);
    }
    expect(texts).toContain('sk-…');
    // Saves and revocations are logged by fingerprint.
    expect(setup.logs.some((line) => line.includes('OpenAI key saved') && line.includes('sk-…'))).toBe(true);
    expect(setup.logs.some((line) => line.includes('OpenAI key revoked'))).toBe(true);
  });
});

describe('a refused own key, while another request of the same widget opens its key', () => {
  it('is marked invalid by the request it failed, whatever the other request does meanwhile', async () => {
    // The upstream call of the second chat (the first to be refused) is held until released.
    let releaseFirst!: () => void;
    const firstReleased = new Promise<void>((resolve) => (releaseFirst = resolve));
    let firstArrived!: () => void;
    const firstArrival = new Promise<void>((resolve) => (firstArrived = resolve));
    let calls = 0;
    const heldFetch: typeof fetch = async (input, init) => {
      calls += 1;
      if (calls === 2) {
        firstArrived();
        await firstReleased;
      }
      return fetch(input, init);
    };

    // The master keys: unwrapping a data key waits while held (as a remote key service might).
    const keyring = createKeyring(`k1:${randomBytes(32).toString('base64')}`);
    let held: Promise<void> | undefined;
    let unwrapping!: () => void;
    const masterKeys: KeyEncryptionProvider = {
      primaryVersion: keyring.primaryVersion,
      has: (version) => keyring.has(version),
      wrap: (dataKey, context) => keyring.wrap(dataKey, context),
      async unwrap(version, wrapped, context) {
        if (held) {
          unwrapping();
          await held;
        }
        return keyring.unwrap(version, wrapped, context);
      },
    };
    // Any key is accepted until the refusals are queued.
    const harness = await startHarness({ adminToken, masterKeys, upstream: { fetch: heldFetch } }, {});
    try {
      const saved = await fetch(`${harness.url}/airlock/admin/accounts/${harness.widget.accountId}/key`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey: canary('refused'), validate: false }),
      });
      expect(saved.status).toBe(200);
      const [first, second] = [await harness.mint(), await harness.mint()];
      const turn = { messages: [{ role: 'user', content: 'Hello' }] };
      // One answered call first: the key's use is noted (a store write, then none for a
      // minute) and the usage it metered is written, so the two requests below read the
      // widget from the store with nothing written in between: the same kept record.
      expect((await chatRequest(harness.url, first, turn)).status).toBe(200);
      const flushed = await fetch(`${harness.url}/airlock/admin/accounts/${harness.widget.accountId}/generations`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      expect(flushed.status).toBe(200);
      harness.upstream.next(faults.invalidKey());
      harness.upstream.next(faults.invalidKey());

      // The first request opens the key and waits on the upstream, which will refuse it.
      const firstAnswer = chatRequest(harness.url, first, turn);
      await firstArrival;
      // The second request, for the same widget, is opening the key when the first is refused.
      let release!: () => void;
      held = new Promise<void>((resolve) => (release = resolve));
      const unwrapped = new Promise<void>((resolve) => (unwrapping = resolve));
      const secondAnswer = chatRequest(harness.url, second, turn);
      await unwrapped;
      releaseFirst();
      expect(await errorCode(await firstAnswer)).toBe('upstream_key_invalid');
      expect(await harness.airlock.store.getOpenAiKey(harness.widget.accountId)).toMatchObject({
        status: 'invalid',
        lastErrorCode: 'upstream_key_invalid',
      });

      release();
      expect(await errorCode(await secondAnswer)).toBe('upstream_key_invalid');
    } finally {
      await harness.close();
    }
  });
});
