// Token lifecycle across instances, backend minting and the public minting hooks.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../src/adapters/node.js';
import { createAirlock, type Airlock } from '../src/airlock.js';
import { silentLogger } from '../src/logging/logger.js';
import type { TokenMintedEvent } from '../src/tokens/public-minting.js';
import { SigningKeys } from '../src/tokens/signing-keys.js';
import { TokenService } from '../src/tokens/token-service.js';
import { createKeyring } from '../src/vault/key-encryption.js';
import { Vault } from '../src/vault/vault.js';
import { allowedOrigin, canaryKey, chatRequest, startHarness, type Harness } from './harness.js';

const masterKeys = `t1:${randomBytes(32).toString('base64')}`;
const adminToken = 'admin-token-for-token-tests';
let clock = Date.now();
const minted: TokenMintedEvent[] = [];
let humanAnswer = true;
let harness: Harness;
// A second instance on the same database: what several servers behind a load balancer look like.
let second: { airlock: Airlock; url: string; close(): Promise<void> };

beforeAll(async () => {
  harness = await startHarness({
    masterKeys,
    adminToken,
    now: () => new Date(clock),
    onTokenMinted: (event) => {
      minted.push(event);
    },
    verifyHuman: (_request, { body }) => humanAnswer || body.human === 'ok',
  });
  const airlock = createAirlock({
    masterKeys,
    adminToken,
    databaseUrl: `sqlite:${join(harness.dataDir, 'airlock.db')}`,
    logger: silentLogger,
    now: () => new Date(clock),
    upstream: { apiKey: canaryKey, baseURL: harness.upstream.baseURL },
  });
  await airlock.ready();
  const server = await serve(airlock.fetch, { port: 0 });
  second = { airlock, url: server.url, close: async () => (await server.close(), await airlock.close()) };
});
afterAll(async () => {
  await second.close();
  await harness.close();
});

const chat = { messages: [{ role: 'user', content: 'hi' }] };

async function status(response: Promise<Response>): Promise<number> {
  const answer = await response;
  await answer.text();
  return answer.status;
}

describe('several instances on one store', () => {
  it('a token minted on one instance works on the other', async () => {
    const token = await harness.mint();
    expect(await status(chatRequest(second.url, token, chat))).toBe(200);
  });

  it('revoke-tokens on one instance stops the tokens on the other at once', async () => {
    const token = await harness.mint();
    expect(await status(chatRequest(second.url, token, chat))).toBe(200);
    await second.airlock.revokeTokens(harness.widget.id);
    expect(await status(chatRequest(harness.url, token, chat))).toBe(401);
    expect(await status(chatRequest(second.url, token, chat))).toBe(401);
    expect(await status(chatRequest(second.url, await harness.mint(), chat))).toBe(200);
  });

  it('a key rotated on one instance verifies on the other at once and signs there after the refresh interval', async () => {
    clock += 1000;
    const before = decodeProtectedHeader(await harness.mint()).kid;
    const rotated = await harness.airlock.rotateSigningKey();
    const fresh = await harness.mint();
    expect(decodeProtectedHeader(fresh).kid).toBe(rotated.kid);
    // The second instance has not re-read the keys: the unknown kid makes it do so.
    expect(await status(chatRequest(second.url, fresh, chat))).toBe(200);
    // It may still sign with the old key until its refresh interval passes (both verify meanwhile).
    const lagging = (await second.airlock.mintToken({ widgetId: harness.widget.id, userId: 'u' })).token;
    expect([before, rotated.kid]).toContain(decodeProtectedHeader(lagging).kid);
    expect(await status(chatRequest(harness.url, lagging, chat))).toBe(200);
    clock += 61_000;
    const later = (await second.airlock.mintToken({ widgetId: harness.widget.id, userId: 'u' })).token;
    expect(decodeProtectedHeader(later).kid).toBe(rotated.kid);
  });
});

describe('retiring a leaked key at once', () => {
  it('rotate with retirePrevious stops tokens of older keys here at once, and on the other instance at its next refresh', async () => {
    clock += 1000;
    const token = await harness.mint();
    const rotate = await fetch(`${harness.url}/airlock/admin/signing-keys/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ retirePrevious: true }),
    });
    expect(rotate.status).toBe(201);
    expect(((await rotate.json()) as { retiring: unknown[] }).retiring).toEqual([]);
    expect((await harness.airlock.store.listSigningKeys()).length).toBe(1);
    expect(await status(chatRequest(harness.url, token, chat))).toBe(401);
    clock += 61_000;
    expect(await status(chatRequest(second.url, token, chat))).toBe(401);
    expect(await status(chatRequest(second.url, await harness.mint(), chat))).toBe(200);
  });
});

describe('backend minting', () => {
  it('mintToken carries limits, origin and lifetime as claims, exposed on the verified token', async () => {
    const answer = await harness.airlock.mintToken({
      widgetId: harness.widget.id,
      userId: 'user_42',
      origin: allowedOrigin,
      ttlSeconds: 120,
      limits: { requests: 5, outputTokens: 1000 },
    });
    const claims = decodeJwt(answer.token);
    expect(claims).toMatchObject({ sub: 'user_42', wid: harness.widget.id, origin: allowedOrigin, limits: { requests: 5, outputTokens: 1000 } });
    expect(claims.exp! - claims.iat!).toBe(120);
    expect(answer.widget).toEqual({ id: harness.widget.id, type: 'chat', title: 'Support', theme: 'auto', greeting: 'Hi!' });
    // Verified with real keys from the same store, as the proxy does.
    const keys = await SigningKeys.load(harness.airlock.store, new Vault(createKeyring(masterKeys)), { now: () => new Date(clock) });
    const verified = await new TokenService({ keys, now: () => new Date(clock) }).verify(answer.token);
    expect(verified).toMatchObject({ subject: 'user_42', widgetId: harness.widget.id, limits: { requests: 5, outputTokens: 1000 } });
    expect(minted.at(-1)).toEqual({ widgetId: harness.widget.id, subject: 'user_42', via: 'backend', origin: allowedOrigin });
  });

  it('mintToken refuses bad input', async () => {
    const widgetId = harness.widget.id;
    await expect(harness.airlock.mintToken({ widgetId, userId: '' })).rejects.toMatchObject({ code: 'input_invalid' });
    await expect(harness.airlock.mintToken({ widgetId, userId: 'u', ttlSeconds: 0 })).rejects.toMatchObject({ code: 'input_invalid' });
    await expect(harness.airlock.mintToken({ widgetId, userId: 'u', ttlSeconds: 86_401 })).rejects.toMatchObject({ code: 'input_invalid' });
    await expect(harness.airlock.mintToken({ widgetId, userId: 'u', limits: { requests: 0 } })).rejects.toMatchObject({ code: 'input_invalid' });
    await expect(harness.airlock.mintToken({ widgetId: 'wgt_none', userId: 'u' })).rejects.toMatchObject({ code: 'widget_not_found' });
    await expect(harness.airlock.mintToken({ widgetId, userId: 'u', origin: 'https://x.example.com/path' })).rejects.toMatchObject({ code: 'input_invalid' });
  });

  it('the mounted token handler answers a token for the signed-in user, 401 unauthenticated otherwise', async () => {
    const handler = harness.airlock.tokenHandler({
      widgetId: harness.widget.id,
      limits: { requests: 3 },
      authenticate: (request) => (request.headers.get('cookie') === 'session=alice' ? { id: 'alice' } : null),
    });
    const app = await serve(handler, { port: 0 });
    try {
      const refused = await fetch(`${app.url}/api/token`, { method: 'POST' });
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
      const answer = await fetch(`${app.url}/api/token`, { method: 'POST', headers: { cookie: 'session=alice', origin: allowedOrigin } });
      expect(answer.status).toBe(200);
      const { token } = (await answer.json()) as { token: string };
      expect(decodeJwt(token)).toMatchObject({ sub: 'alice', origin: allowedOrigin, limits: { requests: 3 } });
      expect(await status(chatRequest(harness.url, token, chat))).toBe(200);
      expect(await status(chatRequest(harness.url, token, chat, { origin: 'https://elsewhere.example.net' }))).toBe(403);
      expect((await fetch(`${app.url}/api/token`, { headers: { cookie: 'session=alice' } })).status).toBe(405);
    } finally {
      await app.close();
    }
  });

  it('a token handler without a fixed widget takes widgetId from the body, within widgetIds', async () => {
    const handler = harness.airlock.tokenHandler({ widgetIds: [harness.widget.id], authenticate: () => ({ id: 'bob' }) });
    const app = await serve(handler, { port: 0 });
    try {
      const post = (body: unknown) => fetch(`${app.url}/t`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await post({ widgetId: harness.widget.id })).status).toBe(200);
      expect((await post({ widgetId: 'wgt_other' })).status).toBe(404);
      expect((await post({})).status).toBe(400);
    } finally {
      await app.close();
    }
  });
});

describe('public minting hooks', () => {
  it('counts a view for each public mint', async () => {
    const count = minted.length;
    await harness.mint();
    expect(minted.length).toBe(count + 1);
    expect(minted.at(-1)).toMatchObject({ widgetId: harness.widget.id, via: 'public', origin: allowedOrigin });
    // Public visitors' subjects are namespaced apart from backend user ids.
    expect(minted.at(-1)!.subject).toMatch(/^v:vis_/);
  });

  it('refuses with 403 forbidden when verifyHuman says no, readable by the widget', async () => {
    humanAnswer = false;
    try {
      const post = (body: Record<string, unknown>) =>
        fetch(`${harness.url}/airlock/token`, {
          method: 'POST',
          headers: { origin: allowedOrigin, 'content-type': 'application/json' },
          body: JSON.stringify({ widgetId: harness.widget.id, ...body }),
        });
      const refused = await post({});
      expect(refused.status).toBe(403);
      expect(refused.headers.get('access-control-allow-origin')).toBe(allowedOrigin);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('forbidden');
      expect((await post({ human: 'ok' })).status).toBe(200);
    } finally {
      humanAnswer = true;
    }
  });

  it('refuses a disabled widget (mint and existing tokens) and a deleted one', async () => {
    const widget = await harness.airlock.store.createWidget({
      name: 'temporary',
      type: 'chat',
      allowedOrigins: [allowedOrigin],
      presentation: { title: 'T', theme: 'auto' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    const { token } = await harness.airlock.mintToken({ widgetId: widget.id, userId: 'u' });
    await harness.airlock.store.updateWidget(widget.id, { enabled: false });
    expect(await status(chatRequest(harness.url, token, chat))).toBe(403);
    await expect(harness.airlock.mintToken({ widgetId: widget.id, userId: 'u' })).rejects.toMatchObject({ code: 'widget_disabled' });
    await harness.airlock.store.deleteWidget(widget.id);
    expect(await status(chatRequest(harness.url, token, chat))).toBe(401);
  });
});
