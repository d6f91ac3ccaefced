// The operator's shared key is the operator's to grant: per account (none, listed models, any
// model), with a limited default allowance and an allow-list of models, enforced when an account
// owner saves a widget and before every call opens the key.
import { startPostgres, type PostgresServer } from '@airlock/test-services';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessToken } from '../src/admin/session.js';
import { createAirlock, type AirlockOptions } from '../src/airlock.js';
import { runAccounts } from '../src/cli/commands/accounts.js';
import { runUsage } from '../src/cli/commands/usage.js';
import { defaultSharedKeyAllowance, SharedKeyPolicy, sharedKeyModelsFrom } from '../src/keys/shared-key-policy.js';
import { sqliteMigrations, type Migration } from '../src/stores/migrations.js';
import { postgresMigrations } from '../src/stores/postgres-migrations.js';
import { PostgresStore } from '../src/stores/postgres-store.js';
import { SqliteStore } from '../src/stores/sqlite-store.js';
import type { NewWidget, SharedKeyGrant, Store, WidgetRecord } from '../src/stores/store.js';
import { startProxyHarness, type ProxyHarness } from './proxy-helpers.js';

const operator = { authorization: 'Bearer admin-secret-token', 'content-type': 'application/json' };
const ownKey = `sk-own-${'5'.repeat(40)}`;

interface ErrorBody {
  error: { code: string; message: string };
}

function defineGrantTests(kind: 'sqlite' | 'postgres', options: () => Promise<Partial<AirlockOptions>>) {
  describe(`shared key grants (${kind})`, () => {
    let harness: ProxyHarness;
    let accounts = 0;
    beforeAll(async () => {
      const { canaryKey } = await import('./harness.js');
      harness = await startProxyHarness(
        // Costly enough that three answers pass the default allowance of 1,000 generations.
        { ...(await options()), proxy: { generationCosts: { 'gpt-4.1-mini': 400 } } },
        { acceptedKeys: [canaryKey, ownKey] },
      );
    });
    afterAll(async () => {
      await harness?.close();
    });

    const api = (path: string, method: string, headers: Record<string, string>, body?: unknown) =>
      fetch(`${harness.url}/airlock/admin${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const chat = async (widget: WidgetRecord, body: Record<string, unknown> = {}) =>
      harness.post('/v1/chat/completions', await harness.token(widget), { messages: [{ role: 'user', content: 'hi' }], ...body });
    const codeOf = async (response: Response) => (response.status < 400 ? response.status : ((await response.json()) as ErrorBody).error.code);

    /** A new account with an owner's access token, granted `grant` by the operator. */
    async function account(grant?: SharedKeyGrant) {
      accounts += 1;
      const id = `acct-${kind}-${accounts}`;
      await harness.airlock.store.createAccount({ id, name: `Account ${accounts}` });
      if (grant) expect((await api(`/accounts/${id}/shared-key`, 'PUT', operator, { grant })).status).toBe(200);
      const { token } = await createAccessToken(harness.airlock.store, { accountId: id });
      return { id, owner: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } };
    }

    it('starts new accounts without the grant and the default account with any model, unlimited', async () => {
      const { id } = await account();
      expect(await harness.airlock.store.getAccount(id)).toMatchObject({ sharedKey: 'none' });
      expect(await (await api(`/accounts/${id}`, 'GET', operator)).json()).toMatchObject({ id, sharedKey: 'none' });
      expect(await harness.airlock.store.getAccount('default')).toMatchObject({ sharedKey: 'any-model' });
      expect(await (await api('/accounts/default/generations', 'GET', operator)).json()).toMatchObject({ allowance: null });
      // Not unlimited for an account the operator has set no allowance for.
      expect(await (await api(`/accounts/${id}/generations`, 'GET', operator)).json()).toMatchObject({ allowance: defaultSharedKeyAllowance });
    });

    it('lets only the operator change the grant', async () => {
      const { id, owner } = await account();
      const byOwner = await api(`/accounts/${id}/shared-key`, 'PUT', owner, { grant: 'any-model' });
      expect(byOwner.status).toBe(403);
      expect(((await byOwner.json()) as ErrorBody).error.code).toBe('forbidden');
      expect(await harness.airlock.store.getAccount(id)).toMatchObject({ sharedKey: 'none' });
      expect(await codeOf(await api(`/accounts/${id}/shared-key`, 'PUT', operator, { grant: 'all' }))).toBe('input_invalid');
      expect(await codeOf(await api('/accounts/acct-nobody/shared-key', 'PUT', operator, { grant: 'none' }))).toBe('not_found');
      const granted = await api(`/accounts/${id}/shared-key`, 'PUT', operator, { grant: 'listed-models' });
      expect(await granted.json()).toMatchObject({ id, sharedKey: 'listed-models' });
    });

    it('refuses an owner who moves a widget to the shared key without the grant', async () => {
      const { owner } = await account();
      const created = await api('/widgets', 'POST', owner, { name: 'mine', keySource: 'shared', behaviour: { model: 'o1' } });
      expect(created.status).toBe(403);
      expect(((await created.json()) as ErrorBody).error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('shared OpenAI key') });
      // Without a key source the widget is saved; the proxy refuses its calls until there is a key it may use.
      const unset = await api('/widgets', 'POST', owner, { name: 'unset', allowedOrigins: ['https://shop.example.com'] });
      expect(unset.status).toBe(201);
      const widget = (await unset.json()) as WidgetRecord;
      const moved = await api(`/widgets/${widget.id}`, 'PATCH', owner, { keySource: 'shared' });
      expect(await codeOf(moved)).toBe('forbidden');
      const before = harness.upstream.requests.length;
      expect(await codeOf(await chat(widget))).toBe('forbidden');
      expect(harness.upstream.requests.length).toBe(before);
    });

    it('holds a listed-models grant to the allow-list on save, naming the field', async () => {
      const { owner } = await account('listed-models');
      const costly = await api('/widgets', 'POST', owner, { name: 'costly', keySource: 'shared', behaviour: { model: 'o1' } });
      expect(costly.status).toBe(400);
      expect(((await costly.json()) as ErrorBody).error).toMatchObject({ code: 'input_invalid', message: expect.stringContaining('"behaviour.model": o1') });
      const extra = await api('/widgets', 'POST', owner, {
        name: 'extra',
        behaviour: { model: 'gpt-4o-mini', allowedModels: ['gpt-4o-mini-2024-07-18', 'o1'] },
      });
      expect(((await extra.json()) as ErrorBody).error.message).toContain('"behaviour.allowedModels[1]"');
      const image = await api('/widgets', 'POST', owner, {
        name: 'image',
        type: 'image',
        keySource: 'shared',
        behaviour: { model: 'dall-e-2', image: { model: 'dall-e-3' } },
      });
      expect(((await image.json()) as ErrorBody).error.message).toContain('"behaviour.image.model"');

      const cheap = await api('/widgets', 'POST', owner, { name: 'cheap', keySource: 'shared', allowedOrigins: ['https://shop.example.com'] });
      expect(cheap.status).toBe(201);
      const widget = (await cheap.json()) as WidgetRecord;
      expect(await codeOf(await api(`/widgets/${widget.id}`, 'PATCH', owner, { behaviour: { model: 'gpt-4o' } }))).toBe('input_invalid');
      harness.upstream.next({ type: 'answer', text: 'on the shared key' });
      expect(await codeOf(await chat(widget))).toBe(200);
    });

    it('lets an owner with an own key pick any model, and turn off a widget the rules now refuse', async () => {
      const { id, owner } = await account();
      expect((await api(`/accounts/${id}/key`, 'PUT', operator, { apiKey: ownKey, validate: false })).status).toBe(200);
      const own = await api('/widgets', 'POST', owner, { name: 'own', behaviour: { model: 'o1' }, allowedOrigins: ['https://shop.example.com'] });
      expect(own.status).toBe(201);
      const widget = (await own.json()) as WidgetRecord;
      harness.upstream.next({ type: 'answer', text: 'on my key' });
      expect(await codeOf(await chat(widget))).toBe(200);
      expect(harness.upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${ownKey}`);
      expect(await codeOf(await api(`/widgets/${widget.id}`, 'PATCH', owner, { keySource: 'shared' }))).toBe('forbidden');

      // A widget the operator put on the shared key stays the owner's to turn off or rename.
      const shared = await harness.widget({ accountId: id, keySource: 'shared', behaviour: { model: 'o1' } });
      expect((await api(`/widgets/${shared.id}`, 'PATCH', owner, { enabled: false, name: 'off' })).status).toBe(200);
    });

    it('refuses calls on the shared key before it is opened: no grant, or a model the allow-list refuses', async () => {
      const { id } = await account();
      // Written by the operator (or straight into the store): the proxy checks every call anyway.
      const cheap = await harness.widget({ accountId: id, keySource: 'shared' });
      const costly = await harness.widget({ accountId: id, keySource: 'shared', behaviour: { model: 'gpt-4o-mini', allowedModels: ['o1'] } });
      const image = await harness.widget({ accountId: id, type: 'image', behaviour: { model: 'dall-e-3' } });
      const before = harness.upstream.requests.length;
      for (const widget of [cheap, costly]) {
        const refused = await chat(widget);
        expect(refused.status).toBe(403);
        expect(((await refused.json()) as ErrorBody).error).toMatchObject({ code: 'forbidden', message: expect.not.stringContaining('o1') });
      }
      expect(harness.upstream.requests.length).toBe(before);

      await harness.airlock.store.setSharedKeyGrant(id, 'listed-models');
      harness.upstream.setDefault({ type: 'answer', text: 'granted' });
      try {
        expect(await codeOf(await chat(cheap))).toBe(200);
        // Refused even when the request names the cheap model: the widget may send o1.
        expect(await codeOf(await chat(costly))).toBe('forbidden');
        expect(await codeOf(await harness.post('/v1/images/generations', await harness.token(image), { prompt: 'a cat' }))).toBe('forbidden');

        await harness.airlock.store.setSharedKeyGrant(id, 'any-model');
        expect(await codeOf(await chat(costly, { model: 'o1' }))).toBe(200);
        expect((harness.upstream.requests.at(-1)!.body as { model: string }).model).toBe('o1');

        // Taking the grant back stops the very next call.
        await harness.airlock.store.setSharedKeyGrant(id, 'none');
        expect(await codeOf(await chat(cheap))).toBe('forbidden');
      } finally {
        harness.upstream.reset();
      }
    });

    it('gives a granted account the default allowance, not an unlimited one', async () => {
      const { id } = await account('listed-models');
      const widget = await harness.widget({ accountId: id, keySource: 'shared', behaviour: { model: 'gpt-4.1-mini' } });
      harness.upstream.setDefault({ type: 'answer', text: 'counted' });
      try {
        const codes = [];
        for (let index = 0; index < 3; index += 1) codes.push(await codeOf(await chat(widget)));
        expect(codes).toEqual([200, 200, 'quota_exhausted']);
        expect(await harness.airlock.store.getGenerationBalance(id)).toMatchObject({ allowance: defaultSharedKeyAllowance, used: 800 });
      } finally {
        harness.upstream.reset();
      }
    });
  });
}

let postgres: PostgresServer | undefined;
afterAll(async () => {
  await postgres?.stop();
});
defineGrantTests('sqlite', async () => ({}));
defineGrantTests('postgres', async () => {
  postgres ??= await startPostgres();
  return { databaseUrl: await postgres.createDatabase() };
});

describe('upgrading a database from before the grant', () => {
  it.each(['sqlite', 'postgres'] as const)('grants the default account only, and keeps an allowance it had (%s)', async (kind) => {
    const before = (migrations: Migration[]) => migrations.filter((migration) => migration.version < 10);
    let open: (migrations?: Migration[]) => Store;
    let dataDir: string | undefined;
    if (kind === 'sqlite') {
      dataDir = mkdtempSync(join(tmpdir(), 'airlock-grant-upgrade-'));
      const path = join(dataDir, 'airlock.db');
      open = (migrations) => new SqliteStore({ path, ...(migrations && { migrations }) });
    } else {
      postgres ??= await startPostgres();
      const connectionString = await postgres.createDatabase();
      open = (migrations) => new PostgresStore({ connectionString, ...(migrations && { migrations }) });
    }
    const old = open(before(kind === 'sqlite' ? sqliteMigrations : postgresMigrations));
    await old.migrate();
    await old.createAccount({ id: 'acme', name: 'Acme' });
    await old.setGenerationAllowance('default', 500);
    await old.close();
    const store = open();
    try {
      await store.migrate();
      expect(await store.getAccount('acme')).toMatchObject({ sharedKey: 'none' });
      expect(await store.getAccount('default')).toMatchObject({ sharedKey: 'any-model' });
      expect(await store.getGenerationBalance('default')).toMatchObject({ allowance: 500 });
    } finally {
      await store.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('the operator\u2019s allow-list of models', () => {
  it('matches names, their dated snapshots and prefixes ending in *', () => {
    const policy = new SharedKeyPolicy({ models: ['gpt-4o-mini', 'gpt-4.1-*'] });
    expect(policy.allows('gpt-4o-mini')).toBe(true);
    expect(policy.allows('gpt-4o-mini-2024-07-18')).toBe(true);
    expect(policy.allows('gpt-4o-mini-tts')).toBe(false);
    expect(policy.allows('gpt-4.1-nano')).toBe(true);
    expect(policy.allows('gpt-4o')).toBe(false);
    expect(policy.allows('o1')).toBe(false);
    expect(new SharedKeyPolicy({ models: ['*'] }).allows('o1')).toBe(true);
    // The default list holds low-cost models only.
    expect(new SharedKeyPolicy().allows('gpt-4o-mini')).toBe(true);
    expect(new SharedKeyPolicy().allows('o1')).toBe(false);
    expect(new SharedKeyPolicy().allows('gpt-4o')).toBe(false);
  });

  it('reads AIRLOCK_SHARED_KEY_MODELS, refusing an entry that is no model name', () => {
    expect(sharedKeyModelsFrom(' gpt-4o-mini , gpt-4.1-*,')).toEqual(['gpt-4o-mini', 'gpt-4.1-*']);
    expect(sharedKeyModelsFrom('')).toBeUndefined();
    expect(() => sharedKeyModelsFrom('gpt 4o')).toThrow(/AIRLOCK_SHARED_KEY_MODELS/);
    expect(() => sharedKeyModelsFrom('gpt-*-mini')).toThrow(/AIRLOCK_SHARED_KEY_MODELS/);
  });

  it('takes the list from createAirlock options, else from the environment', async () => {
    const harness = await startProxyHarness({ sharedKey: { models: ['gpt-4o'] } });
    const saved = process.env.AIRLOCK_SHARED_KEY_MODELS;
    try {
      await harness.airlock.store.createAccount({ id: 'listed', name: 'Listed' });
      await harness.airlock.store.setSharedKeyGrant('listed', 'listed-models');
      const widget = (input: Partial<NewWidget>) => harness.widget({ accountId: 'listed', keySource: 'shared', ...input });
      const allowed = await widget({ behaviour: { model: 'gpt-4o' } });
      const refused = await widget({ behaviour: { model: 'gpt-4o-mini' } });
      harness.upstream.next({ type: 'answer', text: 'gpt-4o on the shared key' });
      const ask = async (target: WidgetRecord) =>
        (await harness.post('/v1/chat/completions', await harness.token(target), { messages: [{ role: 'user', content: 'hi' }] })).status;
      expect(await ask(allowed)).toBe(200);
      expect(await ask(refused)).toBe(403);

      process.env.AIRLOCK_SHARED_KEY_MODELS = 'not a model';
      expect(() => createAirlock({ dev: true, dataDir: harness.dataDir, store: harness.airlock.store })).toThrow(/AIRLOCK_SHARED_KEY_MODELS/);
    } finally {
      if (saved === undefined) delete process.env.AIRLOCK_SHARED_KEY_MODELS;
      else process.env.AIRLOCK_SHARED_KEY_MODELS = saved;
      await harness.close();
    }
  });
});

describe('CLI', () => {
  it('shows and sets an account\u2019s grant with `airlock accounts shared-key`, and its default allowance with `airlock usage`', async () => {
    const harness = await startProxyHarness();
    process.env.AIRLOCK_DATABASE_URL = `sqlite:${join(harness.dataDir, 'airlock.db')}`;
    const lines: string[] = [];
    const log = console.log;
    console.log = (...parts: unknown[]) => lines.push(parts.join(' '));
    try {
      await harness.airlock.store.createAccount({ id: 'cli-acct', name: 'CLI' });
      expect(await runAccounts(['shared-key', '--account', 'cli-acct'])).toBe(0);
      expect(await runAccounts(['shared-key', '--account', 'cli-acct', '--grant', 'listed-models'])).toBe(0);
      expect(lines).toEqual(['cli-acct\tshared key none', 'cli-acct\tshared key listed-models']);
      expect(await harness.airlock.store.getAccount('cli-acct')).toMatchObject({ sharedKey: 'listed-models' });
      await expect(runAccounts(['shared-key', '--account', 'cli-acct', '--grant', 'everything'])).rejects.toThrow(/--grant/);
      await expect(runAccounts(['shared-key', '--account', 'nobody', '--grant', 'none'])).rejects.toThrow(/no account/);

      // `airlock usage` shows the default allowance for an account without one, and a reset keeps it rather than lifting it.
      lines.length = 0;
      expect(await runUsage(['--account', 'cli-acct'])).toBe(0);
      expect(await runUsage(['--account', 'cli-acct', '--reset'])).toBe(0);
      expect(lines).toEqual([`cli-acct\tallowance ${defaultSharedKeyAllowance}\tused 0`, `cli-acct\tallowance ${defaultSharedKeyAllowance}\tused 0`]);
      expect(await harness.airlock.store.getGenerationBalance('cli-acct')).toMatchObject({ allowance: defaultSharedKeyAllowance });
    } finally {
      console.log = log;
      delete process.env.AIRLOCK_DATABASE_URL;
      await harness.close();
    }
  });
});
