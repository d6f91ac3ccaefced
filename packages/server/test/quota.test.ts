import { faults } from '@airlock/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AirlockOptions } from '../src/airlock.js';
import { createLogger } from '../src/logging/logger.js';
import { SqliteStore } from '../src/stores/sqlite-store.js';
import type { NewWidget, WidgetRecord } from '../src/stores/store.js';
import { UsageMeter } from '../src/usage/usage-meter.js';
import { canaryKey, sseEvents, startProxyHarness, streamedText, type ProxyHarness } from './proxy-helpers.js';
import { startPostgres, type PostgresServer } from '@airlock/test-services';

const admin = { authorization: 'Bearer admin-secret-token' };
const ownKey = `sk-own-${'7'.repeat(40)}`;

function defineQuotaTests(kind: 'sqlite' | 'postgres', options: () => Promise<Partial<AirlockOptions>>) {
  describe(`generations (${kind})`, () => {
    let harness: ProxyHarness;
    beforeAll(async () => {
      harness = await startProxyHarness(
        // Unlimited until set, as these tests start; the server's own default is a limited allowance.
        { ...(await options()), proxy: { generationCosts: { 'gpt-4o': 3 }, defaultGenerationAllowance: null } },
        { acceptedKeys: [canaryKey, ownKey] },
      );
    });

    // Each account here spends the shared key, which the operator grants per account (any model: the tests price several).
    async function grantedWidget(input: Partial<NewWidget> & { accountId: string }) {
      await harness.airlock.store.createAccount({ id: input.accountId, name: input.accountId });
      await harness.airlock.store.setSharedKeyGrant(input.accountId, 'any-model');
      return harness.widget(input);
    }
    afterAll(async () => {
      await harness?.close();
    });

    async function setAllowance(accountId: string, allowance: number | null, resetUsed = true) {
      const response = await fetch(`${harness.url}/airlock/admin/accounts/${accountId}/generations`, {
        method: 'PUT',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ allowance, resetUsed }),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as { allowance: number | null; used: number; remaining: number | null };
    }
    async function balance(accountId: string) {
      const response = await fetch(`${harness.url}/airlock/admin/accounts/${accountId}/generations`, { headers: admin });
      return (await response.json()) as { allowance: number | null; used: number; remaining: number | null };
    }
    const ask = async (widget: WidgetRecord, stream = false) =>
      harness.post('/v1/chat/completions', await harness.token(widget), { messages: [{ role: 'user', content: 'hi' }], stream });

    it('never overspends under 50 concurrent requests', async () => {
      const widget = await grantedWidget({ accountId: `acct-${kind}-race` });
      await setAllowance(widget.accountId, 10);
      harness.upstream.setDefault({ type: 'answer', text: 'paid answer', delayMs: 5 });
      const before = harness.upstream.requests.length;
      const tokens = await Promise.all(Array.from({ length: 50 }, (_, index) => harness.token(widget, `visitor-${index}`)));
      const responses = await Promise.all(
        tokens.map((token, index) => harness.post('/v1/chat/completions', token, { messages: [{ role: 'user', content: 'hi' }], stream: index % 2 === 0 })),
      );
      const statuses = responses.map((response) => response.status);
      await Promise.all(responses.map((response) => response.text()));
      expect(statuses.filter((status) => status === 200)).toHaveLength(10);
      expect(statuses.filter((status) => status === 429)).toHaveLength(40);
      expect(harness.upstream.requests.length - before).toBe(10);
      expect(await balance(widget.accountId)).toMatchObject({ allowance: 10, used: 10, remaining: 0 });
      const refused = await ask(widget);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('quota_exhausted');
      harness.upstream.reset();
    });

    it('deducts by model from the configurable table', async () => {
      const widget = await grantedWidget({ accountId: `acct-${kind}-models`, behaviour: { model: 'gpt-4o' } });
      await setAllowance(widget.accountId, 7);
      for (let index = 0; index < 2; index += 1) {
        harness.upstream.next({ type: 'answer', text: 'costly' });
        expect((await ask(widget)).status).toBe(200);
      }
      expect((await balance(widget.accountId)).used).toBe(6);
      expect((await ask(widget)).status).toBe(429);
      const gpt4 = await grantedWidget({ accountId: `acct-${kind}-gpt4`, behaviour: { model: 'gpt-4' } });
      await setAllowance(gpt4.accountId, 45);
      for (let index = 0; index < 3; index += 1) harness.upstream.next({ type: 'answer', text: 'costly' });
      expect((await ask(gpt4)).status).toBe(200);
      expect((await ask(gpt4)).status).toBe(200);
      expect((await ask(gpt4)).status).toBe(429);
      expect((await balance(gpt4.accountId)).used).toBe(40);
      harness.upstream.reset();
    });

    it('gives generations back when the upstream fails before answering, and keeps them for a partial answer', async () => {
      const widget = await grantedWidget({ accountId: `acct-${kind}-refund` });
      await setAllowance(widget.accountId, 5);
      harness.upstream.next(faults.serverError(500));
      expect((await ask(widget, true)).status).toBe(502);
      harness.upstream.next({ type: 'drop' });
      expect((await ask(widget)).status).toBe(502);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await balance(widget.accountId)).used).toBe(0);
      harness.upstream.next({ type: 'drop', afterChunks: 3 });
      const partial = await ask(widget, true);
      expect(streamedText(await sseEvents(partial)).error).toBe('upstream_unavailable');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await balance(widget.accountId)).used).toBe(1);
    });

    it('charges images per image delivered', async () => {
      const widget = await grantedWidget({
        type: 'image',
        accountId: `acct-${kind}-images`,
        behaviour: { model: 'dall-e-2', image: { sizes: ['512x512'], maxImages: 3 } },
      });
      await setAllowance(widget.accountId, 7);
      const token = await harness.token(widget);
      const generate = (n: number) => harness.post('/v1/images/generations', token, { prompt: 'a cat', n });
      expect((await generate(3)).status).toBe(200);
      expect((await balance(widget.accountId)).used).toBe(6);
      const refused = await generate(1);
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('quota_exhausted');
    });

    it('is unlimited until an allowance is set, and resets on request', async () => {
      const widget = await grantedWidget({ accountId: `acct-${kind}-open` });
      harness.upstream.next({ type: 'answer', text: 'free' });
      expect((await ask(widget)).status).toBe(200);
      expect(await balance(widget.accountId)).toMatchObject({ allowance: null, used: 1, remaining: null });
      expect(await setAllowance(widget.accountId, 1, false)).toMatchObject({ allowance: 1, used: 1, remaining: 0 });
      expect((await ask(widget)).status).toBe(429);
      expect(await setAllowance(widget.accountId, 1, true)).toMatchObject({ used: 0, remaining: 1 });
    });

    it('counts an unlimited account without a reservation per request, and reserves again once a limit is set', async () => {
      const widget = await grantedWidget({ accountId: `acct-${kind}-unlimited` });
      await setAllowance(widget.accountId, null);
      const store = harness.airlock.store;
      const reserve = store.reserveGenerations.bind(store);
      let reservations = 0;
      store.reserveGenerations = (...args) => {
        reservations += 1;
        return reserve(...args);
      };
      try {
        harness.upstream.setDefault({ type: 'answer', text: 'unlimited' });
        const statuses = await Promise.all(
          Array.from({ length: 6 }, async (_, index) => {
            const response = await ask(widget, index % 2 === 0);
            await response.text();
            return response.status;
          }),
        );
        expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
        expect(reservations).toBe(0);
        // Written with the usage counts; the balance route flushes them first.
        expect(await balance(widget.accountId)).toMatchObject({ allowance: null, used: 6 });

        await setAllowance(widget.accountId, 7, false);
        expect((await ask(widget)).status).toBe(200);
        expect(reservations).toBe(1);
        const refused = await ask(widget);
        expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('quota_exhausted');
        expect(await balance(widget.accountId)).toMatchObject({ allowance: 7, used: 7, remaining: 0 });
      } finally {
        store.reserveGenerations = reserve;
        harness.upstream.reset();
      }
    });

    it('does not consume generations on an account\u2019s own key (still metered and rate-limited)', async () => {
      const accountId = `own-${kind}`;
      const created = await fetch(`${harness.url}/airlock/admin/accounts`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ id: accountId, name: 'Own key account' }),
      });
      expect(created.status).toBe(201);
      const saved = await fetch(`${harness.url}/airlock/admin/accounts/${accountId}/key`, {
        method: 'PUT',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey: ownKey, validate: false }),
      });
      expect(saved.status).toBe(200);
      const widget = await harness.widget({ accountId });
      await setAllowance(accountId, 0);
      harness.upstream.next({ type: 'answer', text: 'on my own key' });
      expect((await ask(widget)).status).toBe(200);
      expect(harness.upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${ownKey}`);
      expect((await balance(accountId)).used).toBe(0);
    });

    it('guards the allowance routes with the admin token and checks their input', async () => {
      const url = `${harness.url}/airlock/admin/accounts/acct-x/generations`;
      expect((await fetch(url)).status).toBe(401);
      const bad = await fetch(url, { method: 'PUT', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ allowance: -1 }) });
      expect(bad.status).toBe(400);
    });
  });
}

defineQuotaTests('sqlite', async () => ({}));

let postgres: PostgresServer | undefined;
afterAll(async () => {
  await postgres?.stop();
});
defineQuotaTests('postgres', async () => {
  postgres ??= await startPostgres();
  return { databaseUrl: await postgres.createDatabase() };
});

describe('generations with a default allowance, and their write-behind', () => {
  it('reserves in the store for an account without a row when the default allowance is limited', async () => {
    const harness = await startProxyHarness({ proxy: { defaultGenerationAllowance: 2 } });
    try {
      await harness.airlock.store.createAccount({ id: 'acct-default-limited', name: 'Limited' });
      await harness.airlock.store.setSharedKeyGrant('acct-default-limited', 'listed-models');
      const widget = await harness.widget({ accountId: 'acct-default-limited' });
      harness.upstream.setDefault({ type: 'answer', text: 'counted' });
      const codes: (number | string)[] = [];
      for (let index = 0; index < 3; index += 1) {
        const response = await harness.post('/v1/chat/completions', await harness.token(widget), { messages: [{ role: 'user', content: 'hi' }] });
        codes.push(response.status === 200 ? 200 : ((await response.json()) as { error: { code: string } }).error.code);
      }
      expect(codes).toEqual([200, 200, 'quota_exhausted']);
      expect(await harness.airlock.store.getGenerationBalance('acct-default-limited')).toEqual({ accountId: 'acct-default-limited', allowance: 2, used: 2 });
    } finally {
      await harness.close();
    }
  });

  it('keeps generations whose write failed and writes them at the next flush', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'airlock-meter-'));
    const store = new SqliteStore({ path: join(dataDir, 'airlock.db') });
    await store.migrate();
    const logs: string[] = [];
    const meter = new UsageMeter({ store, logger: createLogger({ write: (line) => logs.push(line) }), flushIntervalMs: 60_000 });
    const add = store.addGenerationsUsed.bind(store);
    let failures = 1;
    store.addGenerationsUsed = async (increments) => {
      if (failures-- > 0) throw new Error('database restarting');
      return add(increments);
    };
    try {
      meter.recordGenerationsUsed('acme', 2);
      meter.recordGenerationsUsed('acme', 3);
      meter.recordGenerationsUsed('acme', 0);
      await meter.flush();
      expect(await store.getGenerationBalance('acme')).toBeUndefined();
      expect(logs.some((line) => line.includes('generations flush failed; will retry'))).toBe(true);
      meter.recordGenerationsUsed('acme', 1);
      await meter.flush();
      expect(await store.getGenerationBalance('acme')).toEqual({ accountId: 'acme', allowance: null, used: 6 });
    } finally {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
