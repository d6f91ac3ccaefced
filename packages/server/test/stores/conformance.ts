// One conformance suite for every Store implementation. Each store's test
// file calls `defineStoreConformance` with a factory for fresh, empty
// databases; the same tests then run against SQLite and PostgreSQL.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { openAiKeyBinding } from '../../src/keys/account-keys.js';
import { summaryBinding } from '../../src/proxy/conversation-summaries.js';
import { SHARED_KEY_OWNER, type NewWidget, type Store } from '../../src/stores/store.js';
import { SigningKeys } from '../../src/tokens/signing-keys.js';
import { createKeyring } from '../../src/vault/key-encryption.js';
import { rotateMasterKey } from '../../src/vault/rotate-master.js';
import { Vault, type SealedSecret } from '../../src/vault/vault.js';

/** A fresh database: `open()` gives another (unmigrated) store instance on it, as a second server instance would. */
export interface StoreFixture {
  open(): Store;
  /** Drops the database (or deletes the file). */
  dispose?(): Promise<void>;
}

const sealed = (tag = randomBytes(6).toString('hex')): SealedSecret => ({
  format: 1,
  kekVersion: 'v1',
  wrappedKey: Buffer.from(`wrapped-${tag}`).toString('base64'),
  ciphertext: Buffer.from(`ciphertext-${tag}`).toString('base64'),
});

const newWidget = (overrides: Partial<NewWidget> = {}): NewWidget => ({
  name: 'support',
  type: 'chat',
  allowedOrigins: ['https://shop.example.com'],
  presentation: { title: 'Support', theme: 'auto', greeting: 'Hi!' },
  behaviour: { model: 'gpt-4o-mini', systemPrompt: 'Be brief.', memory: { strategy: 'recent-context', messages: 4 } },
  ...overrides,
});

/**
 * Registers the store conformance tests for one implementation.
 *
 * @example
 * ```ts
 * defineStoreConformance('sqlite', async () => ({ open: () => new SqliteStore({ path }) }));
 * ```
 */
export function defineStoreConformance(kind: 'sqlite' | 'postgres', createFixture: () => Promise<StoreFixture>): void {
  describe(`Store conformance: ${kind}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function fresh(): Promise<{ store: Store; fixture: StoreFixture; another(): Promise<Store> }> {
      const fixture = await createFixture();
      if (fixture.dispose) cleanups.push(fixture.dispose);
      const track = (store: Store) => {
        cleanups.push(() => store.close());
        return store;
      };
      const store = track(fixture.open());
      await store.migrate();
      return {
        store,
        fixture,
        async another() {
          const other = track(fixture.open());
          await other.migrate();
          return other;
        },
      };
    }

    it(`reports kind "${kind}"`, async () => {
      const { store } = await fresh();
      expect(store.kind).toBe(kind);
    });

    it('applies migrations once when several instances start at the same moment', async () => {
      const fixture = await createFixture();
      if (fixture.dispose) cleanups.push(fixture.dispose);
      const stores = Array.from({ length: 4 }, () => fixture.open());
      for (const store of stores) cleanups.push(() => store.close());
      await Promise.all(stores.map((store) => store.migrate()));
      await stores[0]!.migrate(); // and again: nothing left to do
      const widget = await stores[1]!.createWidget(newWidget());
      expect(await stores[3]!.getWidget(widget.id)).toEqual(widget);
    });

    it('creates, reads, lists, updates and deletes widgets', async () => {
      const { store } = await fresh();
      const first = await store.createWidget(newWidget());
      const second = await store.createWidget(newWidget({ name: 'sales', accountId: 'acme', keySource: 'shared', enabled: false }));
      expect(first).toMatchObject({ accountId: 'default', enabled: true, epoch: 0 });
      expect(first.keySource).toBeUndefined();
      expect(first.id).toMatch(/^wgt_/);
      expect(await store.getWidget(first.id)).toEqual(first);
      expect(await store.getWidget('wgt_missing')).toBeUndefined();
      expect(await store.findWidgetByName('sales')).toEqual(second);
      expect(await store.findWidgetByName('nobody')).toBeUndefined();
      expect((await store.listWidgets()).map((widget) => widget.id).sort()).toEqual([first.id, second.id].sort());

      const updated = await store.updateWidget(second.id, { enabled: true, keySource: 'own', allowedOrigins: ['https://*.example.org'] });
      expect(updated).toMatchObject({ enabled: true, keySource: 'own', allowedOrigins: ['https://*.example.org'], name: 'sales' });
      expect(await store.getWidget(second.id)).toEqual(updated);
      const cleared = await store.updateWidget(second.id, { keySource: undefined });
      expect((await store.getWidget(second.id))?.keySource).toBeUndefined();
      expect(cleared.keySource).toBeUndefined();
      await expect(store.updateWidget('wgt_missing', { enabled: false })).rejects.toMatchObject({ code: 'widget_not_found' });

      expect(await store.bumpWidgetEpoch(first.id)).toBe(1);
      expect(await store.bumpWidgetEpoch(first.id)).toBe(2);
      expect((await store.getWidget(first.id))?.epoch).toBe(2);
      await expect(store.bumpWidgetEpoch('wgt_missing')).rejects.toMatchObject({ code: 'widget_not_found' });

      expect(await store.deleteWidget(first.id)).toBe(true);
      expect(await store.deleteWidget(first.id)).toBe(false);
      expect(await store.getWidget(first.id)).toBeUndefined();
    });

    it('keeps concurrent epoch bumps from being lost', async () => {
      const { store, another } = await fresh();
      const other = await another();
      const widget = await store.createWidget(newWidget());
      await Promise.all(Array.from({ length: 10 }, (_, index) => (index % 2 ? store : other).bumpWidgetEpoch(widget.id)));
      expect((await store.getWidget(widget.id))?.epoch).toBe(10);
    });

    it('stores, lists and deletes signing keys', async () => {
      const { store } = await fresh();
      const record = { kid: 'sig_1', publicJwk: { kty: 'OKP', crv: 'Ed25519', x: 'abc' }, sealedPrivateKey: sealed(), createdAt: new Date(1000).toISOString() };
      const later = { ...record, kid: 'sig_2', createdAt: new Date(2000).toISOString() };
      await store.addSigningKey(later);
      await store.addSigningKey(record);
      expect(await store.listSigningKeys()).toEqual([record, later]);
      await store.deleteSigningKey('sig_1');
      expect((await store.listSigningKeys()).map((key) => key.kid)).toEqual(['sig_2']);
    });

    it('creates and lists accounts, with a default account from the start', async () => {
      const { store } = await fresh();
      expect(await store.getAccount('default')).toMatchObject({ id: 'default' });
      const account = await store.createAccount({ id: 'acme', name: 'Acme Ltd' });
      expect(account).toMatchObject({ id: 'acme', name: 'Acme Ltd' });
      expect(await store.getAccount('acme')).toEqual(account);
      expect(await store.getAccount('nobody')).toBeUndefined();
      expect((await store.listAccounts()).map((item) => item.id).sort()).toEqual(['acme', 'default']);
      await expect(store.createAccount({ id: 'acme', name: 'Again' })).rejects.toMatchObject({ code: 'conflict' });
      await store.createWidget(newWidget({ accountId: 'acme', name: 'a' }));
      await store.createWidget(newWidget({ accountId: 'other', name: 'b' }));
      expect((await store.listAccountWidgets('acme')).map((widget) => widget.name)).toEqual(['a']);
    });

    it('keeps one current OpenAI key per owner and destroys replaced ciphertexts', async () => {
      const { store } = await fresh();
      expect(await store.getOpenAiKey('acme')).toBeUndefined();
      const first = await store.putOpenAiKey({ id: 'oak_1', ownerId: 'acme', fingerprint: 'sk-…aaaa', sealed: sealed('1') });
      expect(first).toMatchObject({ id: 'oak_1', status: 'active', fingerprint: 'sk-…aaaa' });
      expect(await store.getOpenAiKey('acme')).toEqual(first);
      await store.putOpenAiKey({ id: 'oak_s', ownerId: SHARED_KEY_OWNER, fingerprint: 'sk-…ssss', sealed: sealed('s') });

      const second = await store.putOpenAiKey({ id: 'oak_2', ownerId: 'acme', fingerprint: 'sk-…bbbb', sealed: sealed('2') });
      expect(await store.getOpenAiKey('acme')).toEqual(second);
      expect((await store.getOpenAiKey(SHARED_KEY_OWNER))?.id).toBe('oak_s');
      const records = await store.listSealedRecords();
      expect(
        records
          .filter((record) => record.kind === 'openai-key')
          .map((record) => record.id)
          .sort(),
      ).toEqual(['oak_2', 'oak_s']);

      await store.recordOpenAiKeyUse('oak_2');
      await store.recordOpenAiKeyError('oak_2', 'upstream_rate_limited');
      expect(await store.getOpenAiKey('acme')).toMatchObject({ status: 'active', lastErrorCode: 'upstream_rate_limited', lastUsedAt: expect.any(String) });
      await store.recordOpenAiKeyError('oak_2', 'upstream_key_invalid', { invalidate: true });
      expect(await store.getOpenAiKey('acme')).toMatchObject({ status: 'invalid', lastErrorCode: 'upstream_key_invalid' });
      // An invalid key is still the current key until replaced or revoked.
      await store.recordOpenAiKeyError('oak_1', 'upstream_key_invalid', { invalidate: true });
      expect((await store.getOpenAiKey('acme'))?.id).toBe('oak_2');
    });

    it('revokes a key by destroying its ciphertext, and pins widgets on request', async () => {
      const { store } = await fresh();
      const defaulted = await store.createWidget(newWidget({ accountId: 'acme', name: 'defaulted' }));
      const shared = await store.createWidget(newWidget({ accountId: 'acme', name: 'shared', keySource: 'shared' }));
      const elsewhere = await store.createWidget(newWidget({ accountId: 'other', name: 'elsewhere' }));
      await store.putOpenAiKey({ id: 'oak_1', ownerId: 'acme', fingerprint: 'sk-…aaaa', sealed: sealed() });
      const revoked = await store.revokeOpenAiKey('acme', { pinWidgets: true });
      expect(revoked).toMatchObject({ id: 'oak_1', status: 'revoked', revokedAt: expect.any(String) });
      expect(revoked?.sealed).toBeUndefined();
      const shown = await store.getOpenAiKey('acme');
      expect(shown).toMatchObject({ id: 'oak_1', status: 'revoked', fingerprint: 'sk-…aaaa' });
      expect(shown?.sealed).toBeUndefined();
      expect(await store.listSealedRecords()).toEqual([]);
      expect((await store.getWidget(defaulted.id))?.keySource).toBe('own');
      expect((await store.getWidget(shared.id))?.keySource).toBe('shared');
      expect((await store.getWidget(elsewhere.id))?.keySource).toBeUndefined();
      expect(await store.revokeOpenAiKey('acme')).toBeUndefined();

      // A new key after a revocation is the current one again.
      await store.putOpenAiKey({ id: 'oak_2', ownerId: 'acme', fingerprint: 'sk-…bbbb', sealed: sealed() });
      expect(await store.getOpenAiKey('acme')).toMatchObject({ id: 'oak_2', status: 'active' });
      expect(await store.revokeOpenAiKey('acme')).toMatchObject({ id: 'oak_2' });
      expect(await store.getOpenAiKey('acme')).toMatchObject({ id: 'oak_2', status: 'revoked' });
    });

    it('reads a widget with its keys in one call, as the separate reads give them', async () => {
      const { store } = await fresh();
      const widget = await store.createWidget(newWidget({ accountId: 'acme' }));
      const other = await store.createWidget(newWidget({ accountId: 'other', name: 'other', keySource: 'shared' }));
      const separately = async (id: string) => {
        const found = (await store.getWidget(id))!;
        return {
          widget: found,
          keys: { own: await store.getOpenAiKey(found.accountId), shared: await store.getOpenAiKey(SHARED_KEY_OWNER) },
          generations: await store.getGenerationBalance(found.accountId),
        };
      };
      const states: [string, () => Promise<unknown>][] = [
        ['no keys', async () => {}],
        ['an own key', () => store.putOpenAiKey({ id: 'oak_1', ownerId: 'acme', fingerprint: 'sk-…aaaa', sealed: sealed('1') })],
        ['a shared key', () => store.putOpenAiKey({ id: 'oak_s', ownerId: SHARED_KEY_OWNER, fingerprint: 'sk-…ssss', sealed: sealed('s') })],
        ['a replaced own key', () => store.putOpenAiKey({ id: 'oak_2', ownerId: 'acme', fingerprint: 'sk-…bbbb', sealed: sealed('2') })],
        [
          'a used and refused own key',
          () => store.recordOpenAiKeyUse('oak_2').then(() => store.recordOpenAiKeyError('oak_2', 'upstream_key_invalid', { invalidate: true })),
        ],
        ['a revoked own key', () => store.revokeOpenAiKey('acme')],
        ['a revoked shared key', () => store.revokeOpenAiKey(SHARED_KEY_OWNER)],
        ['generations reserved', () => store.reserveGenerations('acme', 3, 10)],
        ['an unlimited allowance', () => store.setGenerationAllowance('other', null)],
      ];
      for (const [state, change] of states) {
        await change();
        for (const id of [widget.id, other.id]) {
          expect({ state, ...(await store.getWidgetForCall(id)) }).toEqual({ state, ...(await separately(id)) });
        }
      }
      const last = (await store.getWidgetForCall(widget.id))!;
      expect(last.keys.own).toMatchObject({ id: 'oak_2', status: 'revoked', revokedAt: expect.any(String) });
      expect(last.keys.shared).toMatchObject({ id: 'oak_s', status: 'revoked' });
      expect(last.generations).toEqual({ accountId: 'acme', allowance: 10, used: 3 });
      expect((await store.getWidgetForCall(other.id))!.generations).toEqual({ accountId: 'other', allowance: null, used: 0 });
      expect(await store.getWidgetForCall('wgt_missing')).toBeUndefined();
    });

    it('reads every change made through another instance on the next call for a widget', async () => {
      const { store, another } = await fresh();
      const elsewhere = await another();
      const widget = await store.createWidget(newWidget({ accountId: 'acme' }));
      const read = async () => (await store.getWidgetForCall(widget.id))!;
      const before = await read();
      expect(before).toMatchObject({ widget: { epoch: 0, enabled: true }, keys: { own: undefined } });
      await elsewhere.bumpWidgetEpoch(widget.id);
      expect((await read()).widget.epoch).toBe(1);
      await elsewhere.putOpenAiKey({ id: 'oak_1', ownerId: 'acme', fingerprint: 'sk-…aaaa', sealed: sealed() });
      expect((await read()).keys.own).toMatchObject({ id: 'oak_1', status: 'active' });
      await elsewhere.revokeOpenAiKey('acme');
      expect((await read()).keys.own).toMatchObject({ id: 'oak_1', status: 'revoked' });
      await elsewhere.setGenerationAllowance('acme', 5);
      await elsewhere.reserveGenerations('acme', 2, null);
      expect((await read()).generations).toEqual({ accountId: 'acme', allowance: 5, used: 2 });
      await elsewhere.updateWidget(widget.id, { enabled: false });
      expect((await read()).widget.enabled).toBe(false);
      await elsewhere.deleteWidget(widget.id);
      expect(await store.getWidgetForCall(widget.id)).toBeUndefined();
    });

    it('leaves exactly one active key after concurrent saves for one owner', async () => {
      const { store, another } = await fresh();
      const instances = [store, await another(), await another()];
      await Promise.all(
        Array.from({ length: 24 }, (_, index) =>
          instances[index % instances.length]!.putOpenAiKey({ id: `oak_${index}`, ownerId: 'acme', fingerprint: `sk-…${index}`, sealed: sealed() }),
        ),
      );
      const records = (await store.listSealedRecords()).filter((record) => record.ownerId === 'acme');
      expect(records).toHaveLength(1);
      const current = await store.getOpenAiKey('acme');
      expect(current).toMatchObject({ id: records[0]!.id, status: 'active' });
    });

    it('replaces sealed values only when they are unchanged (compare-and-set)', async () => {
      const { store } = await fresh();
      await store.putOpenAiKey({ id: 'oak_1', ownerId: 'acme', fingerprint: 'sk-…aaaa', sealed: sealed('old') });
      await store.addSigningKey({ kid: 'sig_1', publicJwk: { kty: 'OKP' }, sealedPrivateKey: sealed('sig'), createdAt: new Date().toISOString() });
      const records = await store.listSealedRecords();
      expect(records.map((record) => [record.kind, record.id, record.ownerId])).toEqual([
        ['openai-key', 'oak_1', 'acme'],
        ['signing-key', 'sig_1', 'system'],
      ]);
      for (const record of records) {
        const next = { ...record.sealed, kekVersion: 'v2', wrappedKey: Buffer.from(`rewrapped-${record.id}`).toString('base64') };
        expect(await store.replaceSealed(record, next)).toBe(true);
        expect(await store.replaceSealed(record, { ...next, kekVersion: 'v3' })).toBe(false);
      }
      const after = await store.listSealedRecords();
      expect(after.map((record) => record.sealed.kekVersion)).toEqual(['v2', 'v2']);
      expect((await store.getOpenAiKey('acme'))?.sealed?.kekVersion).toBe('v2');
      expect((await store.listSigningKeys())[0]?.sealedPrivateKey.kekVersion).toBe('v2');
      // A revoked key cannot be brought back by a late compare-and-set.
      await store.revokeOpenAiKey('acme');
      expect(await store.replaceSealed(after[0]!, sealed('late'))).toBe(false);
      expect((await store.getOpenAiKey('acme'))?.sealed).toBeUndefined();
    });

    it('carries a master-key rotation through: every key opens under the new version only', async () => {
      const { store } = await fresh();
      const v1 = `v1:${randomBytes(32).toString('base64')}`;
      const v2 = `v2:${randomBytes(32).toString('base64')}`;
      const oldVault = new Vault(createKeyring(v1));
      await SigningKeys.load(store, oldVault);
      const secrets = new Map<string, string>();
      for (let index = 0; index < 20; index += 1) {
        const ownerId = index === 0 ? SHARED_KEY_OWNER : `acct_${index}`;
        const apiKey = `sk-rotation-${randomBytes(8).toString('hex')}`;
        const id = `oak_${index}`;
        await store.putOpenAiKey({ id, ownerId, fingerprint: 'sk-…test', sealed: await oldVault.seal(Buffer.from(apiKey), openAiKeyBinding(ownerId, id)) });
        secrets.set(ownerId, apiKey);
      }
      const both = new Vault(createKeyring(`${v2},${v1}`));
      expect(await rotateMasterKey(store, both)).toMatchObject({ total: 21, rewrapped: 21 });
      expect(await rotateMasterKey(store, both)).toMatchObject({ total: 21, rewrapped: 0, alreadyCurrent: 21 });
      const newVault = new Vault(createKeyring(v2));
      for (const [ownerId, apiKey] of secrets) {
        const record = (await store.getOpenAiKey(ownerId))!;
        expect((await newVault.open(record.sealed!, openAiKeyBinding(ownerId, record.id))).toString()).toBe(apiKey);
      }
      await expect(SigningKeys.load(store, newVault)).resolves.toBeDefined();
    });

    it('adds and lists usage per widget and day', async () => {
      const { store } = await fresh();
      await store.addUsage([
        { widgetId: 'wgt_1', day: '2026-11-26', requests: 1, inputTokens: 10, outputTokens: 20, errors: { rate_limited: 1 } },
        { widgetId: 'wgt_1', day: '2026-11-27', views: 2 },
        { widgetId: 'wgt_2', day: '2026-11-27', requests: 5 },
      ]);
      await store.addUsage([{ widgetId: 'wgt_1', day: '2026-11-26', requests: 2, generations: 1, errors: { rate_limited: 2, internal: 1 } }]);
      await store.addUsage([{ widgetId: 'wgt_1', day: '2026-11-25', errors: { upstream_timeout: 1 } }]);
      expect(await store.listUsage('wgt_1', '2026-11-25', '2026-11-26')).toEqual([
        { day: '2026-11-25', views: 0, requests: 0, inputTokens: 0, outputTokens: 0, generations: 0, errors: { upstream_timeout: 1 } },
        { day: '2026-11-26', views: 0, requests: 3, inputTokens: 10, outputTokens: 20, generations: 1, errors: { rate_limited: 3, internal: 1 } },
      ]);
      expect(await store.listUsage('wgt_2', '2026-11-01', '2026-11-30')).toMatchObject([{ day: '2026-11-27', requests: 5 }]);
    });

    it('reserves generations atomically and never overspends', async () => {
      const { store, another } = await fresh();
      const other = await another();
      expect(await store.getGenerationBalance('acme')).toBeUndefined();
      const results = await Promise.all(Array.from({ length: 12 }, (_, index) => (index % 2 ? store : other).reserveGenerations('acme', 1, 5)));
      expect(results.filter(Boolean)).toHaveLength(5);
      expect(await store.getGenerationBalance('acme')).toEqual({ accountId: 'acme', allowance: 5, used: 5 });
      await store.refundGenerations('acme', 2);
      expect((await store.getGenerationBalance('acme'))?.used).toBe(3);
      await store.refundGenerations('acme', 10);
      expect((await store.getGenerationBalance('acme'))?.used).toBe(0);
      expect(await store.setGenerationAllowance('acme', null)).toEqual({ accountId: 'acme', allowance: null, used: 0 });
      expect(await store.reserveGenerations('acme', 1000, 5)).toEqual({ accountId: 'acme', allowance: null, used: 1000 });
      expect(await store.setGenerationAllowance('acme', 10, { resetUsed: true })).toEqual({ accountId: 'acme', allowance: 10, used: 0 });
      expect(await store.reserveGenerations('unlimited', 3, null)).toEqual({ accountId: 'unlimited', allowance: null, used: 3 });
    });

    it('records a leased reservation with its deduction and settles it once, keeping only what was spent', async () => {
      const { store, another } = await fresh();
      const other = await another();
      const lease = (holder = 'inst_a') => ({ id: `gres_${randomBytes(6).toString('hex')}`, holder, ttlMs: 60_000 });
      // Concurrent leased reservations through two instances never overspend.
      const leases = Array.from({ length: 12 }, (_, index) => lease(index % 2 ? 'inst_a' : 'inst_b'));
      const results = await Promise.all(leases.map((each, index) => (index % 2 ? store : other).reserveGenerations('acme', 2, 10, each)));
      expect(results.filter(Boolean)).toHaveLength(5);
      expect((await store.getGenerationBalance('acme'))?.used).toBe(10);
      const held = leases.filter((_, index) => results[index]);
      // Kept 2 of 2, 1 of 2, 0 of 2: 2 + 1 + 0 stay used, the rest is given back.
      await store.settleGenerations({ id: held[0]!.id, accountId: 'acme', kept: 2 });
      await other.settleGenerations({ id: held[1]!.id, accountId: 'acme', kept: 1 });
      await store.settleGenerations({ id: held[2]!.id, accountId: 'acme', kept: 0 });
      expect((await store.getGenerationBalance('acme'))?.used).toBe(2 + 1 + 0 + 4);
      // Settled leases are gone: an expiry sweep gives nothing back for them.
      expect(await store.releaseExpiredGenerations()).toBe(0);
      // A refused reservation records no lease.
      const refused = lease();
      expect(await store.reserveGenerations('acme', 50, 10, refused)).toBeUndefined();
      await store.settleGenerations({ id: refused.id, accountId: 'acme', kept: 0 });
      expect((await store.getGenerationBalance('acme'))?.used).toBe(7);
      // A first reservation on a new account (default allowance) is leased too.
      const first = { ...lease(), ttlMs: 1 };
      expect(await store.reserveGenerations('fresh', 3, 5, first)).toEqual({ accountId: 'fresh', allowance: 5, used: 3 });
      const big = { ...lease(), ttlMs: 1 };
      expect(await store.reserveGenerations('roomy', 8, 5, big)).toBeUndefined();
      await store.setGenerationAllowance('roomy', 10);
      expect(await store.reserveGenerations('roomy', 8, 5, big)).toEqual({ accountId: 'roomy', allowance: 10, used: 8 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await store.releaseExpiredGenerations()).toBe(3 + 8);
      expect((await store.getGenerationBalance('fresh'))?.used).toBe(0);
      expect((await store.getGenerationBalance('roomy'))?.used).toBe(0);
    });

    it('gives back expired leases once, even when instances sweep at once, and never a renewed one', async () => {
      const { store, another } = await fresh();
      const other = await another();
      await store.setGenerationAllowance('acme', 100);
      const dead = Array.from({ length: 6 }, (_, index) => ({ id: `gres_dead_${index}`, holder: 'inst_dead', ttlMs: 300 }));
      const live = Array.from({ length: 4 }, (_, index) => ({ id: `gres_live_${index}`, holder: 'inst_live', ttlMs: 300 }));
      for (const each of [...dead, ...live]) expect(await store.reserveGenerations('acme', 5, null, each)).toBeDefined();
      expect((await store.getGenerationBalance('acme'))?.used).toBe(50);
      // Not expired yet: nothing is given back.
      expect(await store.releaseExpiredGenerations()).toBe(0);
      // The live holder renews; the dead one does not.
      expect(await other.renewGenerationLeases('inst_live', 60_000)).toBe(4);
      await new Promise((resolve) => setTimeout(resolve, 400));
      const swept = await Promise.all([store.releaseExpiredGenerations(), other.releaseExpiredGenerations(), store.releaseExpiredGenerations()]);
      expect(swept.reduce((sum, each) => sum + each, 0)).toBe(30);
      expect((await store.getGenerationBalance('acme'))?.used).toBe(20);
      // A call whose lease was released after all charges what it spent, once.
      await other.settleGenerations({ id: dead[0]!.id, accountId: 'acme', kept: 5 });
      await other.settleGenerations({ id: dead[1]!.id, accountId: 'acme', kept: 0 });
      expect((await store.getGenerationBalance('acme'))?.used).toBe(25);
      // The renewed leases settle as usual.
      for (const each of live) await store.settleGenerations({ id: each.id, accountId: 'acme', kept: 1 });
      expect((await store.getGenerationBalance('acme'))?.used).toBe(25 - 4 * 4);
      expect(await store.renewGenerationLeases('inst_live', 60_000)).toBe(0);
    });

    it('adds generations spent without a reservation, creating unlimited rows', async () => {
      const { store } = await fresh();
      await store.setGenerationAllowance('limited', 5);
      await store.addGenerationsUsed([
        { accountId: 'fresh', amount: 2 },
        { accountId: 'limited', amount: 4 },
      ]);
      await store.addGenerationsUsed([{ accountId: 'fresh', amount: 3 }]);
      await store.addGenerationsUsed([]);
      expect(await store.getGenerationBalance('fresh')).toEqual({ accountId: 'fresh', allowance: null, used: 5 });
      // Spent while the allowance was unlimited: counted even past a limit set since.
      expect(await store.getGenerationBalance('limited')).toEqual({ accountId: 'limited', allowance: 5, used: 4 });
      expect(await store.reserveGenerations('limited', 2, null)).toBeUndefined();
    });

    it('stores admin access tokens by hash, notes their use and revokes them with their sessions', async () => {
      const { store } = await fresh();
      const createdAt = new Date(1_000).toISOString();
      await store.createAdminAccessToken({ id: 'aat_1', accountId: 'acme', tokenHash: 'hash-1', label: 'Jane', createdAt });
      await store.createAdminAccessToken({ id: 'aat_2', accountId: 'acme', tokenHash: 'hash-2', createdAt: new Date(2_000).toISOString() });
      await store.createAdminAccessToken({ id: 'aat_3', accountId: 'other', tokenHash: 'hash-3', createdAt });
      await expect(store.createAdminAccessToken({ id: 'aat_4', accountId: 'acme', tokenHash: 'hash-1', createdAt })).rejects.toThrow();
      expect(await store.findAdminAccessToken('hash-1')).toMatchObject({ id: 'aat_1', accountId: 'acme', label: 'Jane', lastUsedAt: expect.any(String) });
      expect(await store.findAdminAccessToken('nope')).toBeUndefined();
      expect((await store.listAdminAccessTokens('acme')).map((token) => token.id)).toEqual(['aat_1', 'aat_2']);

      const session = {
        idHash: 'session-1',
        principal: 'account' as const,
        accountId: 'acme',
        accessTokenId: 'aat_1',
        credentialHash: 'credential',
        createdAt,
        lastSeenAt: createdAt,
        expiresAt: new Date(9_000_000).toISOString(),
      };
      await store.createAdminSession(session);
      expect(await store.getAdminSession('session-1')).toEqual(session);
      expect(await store.revokeAdminAccessToken('other', 'aat_1')).toBe(false);
      expect(await store.revokeAdminAccessToken('acme', 'aat_1')).toBe(true);
      expect(await store.revokeAdminAccessToken('acme', 'aat_1')).toBe(false);
      expect(await store.findAdminAccessToken('hash-1')).toBeUndefined();
      expect(await store.getAdminSession('session-1')).toBeUndefined();
      expect((await store.listAdminAccessTokens('acme'))[0]).toMatchObject({ id: 'aat_1', revokedAt: expect.any(String) });
    });

    it('keeps admin sessions until they are deleted or expire', async () => {
      const { store } = await fresh();
      const at = (ms: number) => new Date(ms).toISOString();
      const operator = { idHash: 's-op', principal: 'operator' as const, credentialHash: 'c', createdAt: at(0), lastSeenAt: at(0), expiresAt: at(100_000) };
      await store.createAdminSession(operator);
      await store.createAdminSession({ ...operator, idHash: 's-idle', lastSeenAt: at(0) });
      await store.createAdminSession({ ...operator, idHash: 's-old', expiresAt: at(10_000) });
      expect(await store.getAdminSession('s-op')).toEqual(operator);
      await store.touchAdminSession('s-op', at(50_000));
      expect((await store.getAdminSession('s-op'))?.lastSeenAt).toBe(at(50_000));
      expect(await store.deleteExpiredAdminSessions(at(20_000), at(40_000))).toBe(2);
      expect(await store.getAdminSession('s-op')).toBeDefined();
      await store.deleteAdminSession('s-op');
      expect(await store.getAdminSession('s-op')).toBeUndefined();
    });

    it('stores sealed conversation summaries once per key', async () => {
      const { store } = await fresh();
      expect(await store.getConversationSummary('k1')).toBeUndefined();
      const first = sealed('first');
      await store.putConversationSummary({ key: 'k1', widgetId: 'wgt_1', sealed: first });
      await store.putConversationSummary({ key: 'k1', widgetId: 'wgt_1', sealed: sealed('second') });
      expect(await store.getConversationSummary('k1')).toEqual({ key: 'k1', widgetId: 'wgt_1', sealed: first, createdAt: expect.any(String) });
    });

    it('re-wraps sealed conversation summaries in a master-key rotation, so they open under the new version only', async () => {
      const { store } = await fresh();
      const v1 = `v1:${randomBytes(32).toString('base64')}`;
      const v2 = `v2:${randomBytes(32).toString('base64')}`;
      const widget = await store.createWidget(newWidget({ accountId: 'acme', name: 'summarised' }));
      const binding = summaryBinding(widget, 'k-rotated');
      await store.putConversationSummary({
        key: 'k-rotated',
        widgetId: widget.id,
        sealed: await new Vault(createKeyring(v1)).seal(Buffer.from('tea'), binding),
      });
      // A summary whose widget is gone is not listed (nor kept: deleting a widget deletes them).
      await store.putConversationSummary({ key: 'k-orphan', widgetId: 'wgt_gone', sealed: sealed() });
      const listed = (await store.listSealedRecords()).filter((record) => record.kind === 'conversation-summary');
      expect(listed).toEqual([{ kind: 'conversation-summary', id: `${widget.id}/k-rotated`, ownerId: 'acme', sealed: expect.any(Object) }]);
      const report = await rotateMasterKey(store, new Vault(createKeyring(`${v2},${v1}`)));
      expect(report.rewrapped).toBe(1);
      const rotated = (await store.getConversationSummary('k-rotated'))!;
      expect(rotated.sealed.kekVersion).toBe('v2');
      expect((await new Vault(createKeyring(v2)).open(rotated.sealed, binding)).toString()).toBe('tea');
    });

    it('deletes conversation summaries with their widget, and past their retention', async () => {
      const { store } = await fresh();
      const kept = await store.createWidget(newWidget({ name: 'kept' }));
      const deleted = await store.createWidget(newWidget({ name: 'deleted' }));
      await store.putConversationSummary({ key: 'k-kept', widgetId: kept.id, sealed: sealed() });
      await store.putConversationSummary({ key: 'k-deleted-1', widgetId: deleted.id, sealed: sealed() });
      await store.putConversationSummary({ key: 'k-deleted-2', widgetId: deleted.id, sealed: sealed() });
      expect(await store.deleteWidget(deleted.id)).toBe(true);
      expect(await store.getConversationSummary('k-deleted-1')).toBeUndefined();
      expect(await store.getConversationSummary('k-deleted-2')).toBeUndefined();
      expect(await store.deleteWidget(deleted.id)).toBe(false);

      const { createdAt } = (await store.getConversationSummary('k-kept'))!;
      const made = new Date(createdAt!);
      // Read only when made at or after notBefore.
      expect(await store.getConversationSummary('k-kept', { notBefore: made })).toBeDefined();
      expect(await store.getConversationSummary('k-kept', { notBefore: new Date(made.getTime() + 1) })).toBeUndefined();
      expect(await store.deleteConversationSummaries(made)).toBe(0);
      expect(await store.deleteConversationSummaries(new Date(made.getTime() + 1))).toBe(1);
      expect(await store.getConversationSummary('k-kept')).toBeUndefined();
    });
  });
}
