// The token attack suite: every forged, stale or misused token is answered
// 401 (403 for origins) with the right code, never a 5xx, never a detail.
import { TOKEN_AUDIENCE } from '@airlock/protocol';
import { exportSPKI, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WidgetRecord } from '../src/stores/store.js';
import { createKeyring } from '../src/vault/key-encryption.js';
import { Vault } from '../src/vault/vault.js';
import { allowedOrigin, chatRequest, startHarness, type Harness } from './harness.js';

const masterKeys = `t1:${randomBytes(32).toString('base64')}`;
const adminToken = 'admin-token-for-attack-tests';
let clock = Date.now();
let harness: Harness;
let widgetB: WidgetRecord;

beforeAll(async () => {
  // The mint limits have their own test below; here they must not interfere.
  harness = await startHarness({ masterKeys, adminToken, now: () => new Date(clock), mintRateLimits: { perAddress: { limit: 1000, windowSeconds: 60 } } });
  widgetB = await harness.airlock.store.createWidget({
    name: 'other',
    type: 'chat',
    allowedOrigins: ['https://other.example.net'],
    presentation: { title: 'Other', theme: 'auto' },
    behaviour: { model: 'gpt-4o-mini' },
  });
});
afterAll(async () => {
  await harness.close();
});

const chat = { messages: [{ role: 'user', content: 'hi' }] };

async function expectRefused(response: Response, status: number, code: string): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  // Refusals say what to do, never why verification failed.
  expect(body.error.message).not.toMatch(/kid|alg|signature|claim|iss|aud|jws|jwt/i);
}

/** The private half of a stored signing key, opened the way the server opens it. */
async function signingKey(kid?: string): Promise<{ kid: string; key: CryptoKey }> {
  const records = await harness.airlock.store.listSigningKeys();
  const record = kid ? records.find((candidate) => candidate.kid === kid)! : records[records.length - 1]!;
  const vault = new Vault(createKeyring(masterKeys));
  const jwk = JSON.parse(
    (await vault.open(record.sealedPrivateKey, { accountId: 'system', recordId: record.kid, purpose: 'token-signing-key' })).toString('utf8'),
  ) as JWK;
  return { kid: record.kid, key: (await importJWK(jwk, 'EdDSA')) as CryptoKey };
}

/** A token with a valid signature by a real server key and the given claims. */
async function forge(claims: JWTPayload, options: { kid?: string; key?: CryptoKey; omit?: string[] } = {}): Promise<string> {
  const signer = options.key ? { kid: options.kid!, key: options.key } : await signingKey(options.kid);
  const now = Math.floor(clock / 1000);
  const payload: JWTPayload = {
    iss: 'airlock',
    aud: TOKEN_AUDIENCE,
    sub: 'attacker',
    jti: `jti-${randomBytes(6).toString('hex')}`,
    iat: now,
    exp: now + 600,
    wid: harness.widget.id,
    epoch: 0,
    origin: allowedOrigin,
    ...claims,
  };
  for (const name of options.omit ?? []) delete payload[name];
  return new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: 'JWT' }).sign(signer.key);
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('forged and stale tokens', () => {
  it('accepts a well-formed forged-by-the-server token (so the refusals below are about the one change each makes)', async () => {
    const response = await chatRequest(harness.url, await forge({}), chat);
    expect(response.status).toBe(200);
    await response.text();
  });

  it('refuses alg: none', async () => {
    const { kid } = await signingKey();
    const now = Math.floor(clock / 1000);
    const claims = { iss: 'airlock', aud: TOKEN_AUDIENCE, sub: 'x', jti: 'j', iat: now, exp: now + 600, wid: harness.widget.id, epoch: 0 };
    for (const token of [`${encode({ alg: 'none', typ: 'JWT', kid })}.${encode(claims)}.`, `${encode({ alg: 'none' })}.${encode(claims)}.`]) {
      await expectRefused(await chatRequest(harness.url, token, chat), 401, 'token_invalid');
    }
  });

  it('refuses HS256 signed with the public key as the secret', async () => {
    const jwks = (await (await fetch(`${harness.url}/airlock/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    const publicJwk = jwks.keys[jwks.keys.length - 1]!;
    const publicKey = (await importJWK(publicJwk, 'EdDSA')) as CryptoKey;
    const secrets = [
      new TextEncoder().encode(await exportSPKI(publicKey)),
      Buffer.from(publicJwk.x!, 'base64url'),
      new TextEncoder().encode(JSON.stringify(publicJwk)),
    ];
    const now = Math.floor(clock / 1000);
    for (const secret of secrets) {
      const token = await new SignJWT({ wid: harness.widget.id, epoch: 0 })
        .setProtectedHeader({ alg: 'HS256', kid: publicJwk.kid })
        .setIssuer('airlock')
        .setAudience(TOKEN_AUDIENCE)
        .setSubject('x')
        .setJti('j')
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(secret);
      await expectRefused(await chatRequest(harness.url, token, chat), 401, 'token_invalid');
    }
  });

  it('refuses an expired token with token_expired (after the 60 s skew), and accepts it within the skew', async () => {
    const now = Math.floor(clock / 1000);
    const withinSkew = await forge({ iat: now - 700, exp: now - 30 });
    const response = await chatRequest(harness.url, withinSkew, chat);
    expect(response.status).toBe(200);
    await response.text();
    await expectRefused(await chatRequest(harness.url, await forge({ iat: now - 700, exp: now - 61 }), chat), 401, 'token_expired');
  });

  it('refuses a token minted here once the clock passes its expiry', async () => {
    const minted = await harness.airlock.mintToken({ widgetId: harness.widget.id, userId: 'u1', ttlSeconds: 60 });
    clock += 122_000;
    await expectRefused(await chatRequest(harness.url, minted.token, chat), 401, 'token_expired');
  });

  it('refuses a token that is not yet valid (nbf or iat in the future beyond the skew)', async () => {
    const now = Math.floor(clock / 1000);
    await expectRefused(await chatRequest(harness.url, await forge({ nbf: now + 300 }), chat), 401, 'token_invalid');
    await expectRefused(await chatRequest(harness.url, await forge({ iat: now + 300, exp: now + 900 }), chat), 401, 'token_invalid');
  });

  it('refuses a wrong issuer or audience, and missing exp, iat, jti or sub', async () => {
    await expectRefused(await chatRequest(harness.url, await forge({ iss: 'someone-else' }), chat), 401, 'token_invalid');
    await expectRefused(await chatRequest(harness.url, await forge({ aud: 'another-api' }), chat), 401, 'token_invalid');
    for (const claim of ['exp', 'iat', 'jti', 'sub', 'wid', 'epoch']) {
      await expectRefused(await chatRequest(harness.url, await forge({}, { omit: [claim] }), chat), 401, 'token_invalid');
    }
    await expectRefused(await chatRequest(harness.url, await forge({ limits: { requests: 'lots' } }), chat), 401, 'token_invalid');
  });

  it('refuses a tampered payload', async () => {
    const token = await harness.mint();
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    for (const change of [{ wid: widgetB.id }, { exp: (claims.exp as number) + 86_400 }, { epoch: 99 }, { sub: 'admin' }]) {
      const tampered = `${header}.${encode({ ...claims, ...change })}.${signature}`;
      await expectRefused(await chatRequest(harness.url, tampered, chat), 401, 'token_invalid');
    }
  });

  it('refuses an unknown kid, and a known kid on a foreign key', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    await expectRefused(await chatRequest(harness.url, await forge({}, { kid: 'sig_unknown', key: privateKey }), chat), 401, 'token_invalid');
    const { kid } = await signingKey();
    await expectRefused(await chatRequest(harness.url, await forge({}, { kid, key: privateKey }), chat), 401, 'token_invalid');
    // Many unknown kids in a row stay 401 (the re-read on unknown kid is rate limited, not an error).
    const responses = await Promise.all(
      Array.from({ length: 20 }, async (_, index) => chatRequest(harness.url, await forge({}, { kid: `sig_x${index}`, key: privateKey }), chat)),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(401));
  });

  it("refuses widget A's token for widget B", async () => {
    const tokenA = await harness.mint();
    // The client names widget B (X-Airlock-Widget-Id): the token must be for it.
    await expectRefused(await chatRequest(harness.url, tokenA, chat, { 'x-airlock-widget-id': widgetB.id }), 401, 'token_invalid');
    // Used from widget B's site: A's token is bound to A's origin.
    await expectRefused(await chatRequest(harness.url, tokenA, chat, { origin: 'https://other.example.net' }), 403, 'origin_not_allowed');
    // A token forged to say widget B under A's signature was covered by the tampering case; naming A is fine.
    const response = await chatRequest(harness.url, tokenA, chat, { 'x-airlock-widget-id': harness.widget.id });
    expect(response.status).toBe(200);
    await response.text();
  });

  it('refuses a token issued before revoke-tokens, at once; tokens minted after work', async () => {
    const before = await harness.mint();
    const revoke = await fetch(`${harness.url}/airlock/admin/widgets/${harness.widget.id}/revoke-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(revoke.status).toBe(200);
    expect(((await revoke.json()) as { epoch: number }).epoch).toBe(1);
    await expectRefused(await chatRequest(harness.url, before, chat), 401, 'token_invalid');
    await expectRefused(await chatRequest(harness.url, await forge({ epoch: 0 }), chat), 401, 'token_invalid');
    const after = await chatRequest(harness.url, await harness.mint(), chat);
    expect(after.status).toBe(200);
    await after.text();
  });

  it('refuses a request without Authorization, or with a malformed one', async () => {
    await expectRefused(await chatRequest(harness.url, undefined, chat), 401, 'token_missing');
    const token = await harness.mint();
    for (const authorization of [`Basic ${token}`, token, 'Bearer', `Bearer ${token} extra`]) {
      await expectRefused(await chatRequest(harness.url, undefined, chat, { authorization }), 401, 'token_invalid');
    }
  });

  it('refuses a token passed in the query string, even alongside a good header', async () => {
    const token = await harness.mint();
    for (const name of ['token', 'access_token', 'api_key', 'key']) {
      const bare = await fetch(`${harness.url}/airlock/v1/chat/completions?${name}=${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: allowedOrigin },
        body: JSON.stringify(chat),
      });
      await expectRefused(bare, 401, 'token_invalid');
      const both = await fetch(`${harness.url}/airlock/v1/chat/completions?${name}=${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: allowedOrigin, authorization: `Bearer ${token}` },
        body: JSON.stringify(chat),
      });
      await expectRefused(both, 401, 'token_invalid');
    }
  });

  it('refuses a token signed by a key rotated out after its tokens expired; honours it until then', async () => {
    const old = await signingKey();
    const oldToken = await harness.mint();
    const rotate = await fetch(`${harness.url}/airlock/admin/signing-keys/rotate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(rotate.status).toBe(201);
    const rotated = (await rotate.json()) as { kid: string; retiring: { kid: string; acceptedUntil: string }[] };
    expect(rotated.kid).not.toBe(old.kid);
    expect(rotated.retiring.map((key) => key.kid)).toContain(old.kid);
    // New tokens use the new key; the old token still works.
    const newToken = await harness.mint();
    expect(JSON.parse(Buffer.from(newToken.split('.')[0]!, 'base64url').toString()).kid).toBe(rotated.kid);
    const stillGood = await chatRequest(harness.url, oldToken, chat);
    expect(stillGood.status).toBe(200);
    await stillGood.text();
    // A day (the longest token lifetime) and the refresh interval and skew later, the old key is out.
    clock += (86_400 + 60 + 60) * 1000 + 1000;
    const lateForgery = await forge({ epoch: 1 }, { kid: old.kid, key: old.key });
    await expectRefused(await chatRequest(harness.url, lateForgery, chat), 401, 'token_invalid');
    const jwks = (await (await fetch(`${harness.url}/airlock/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    expect(jwks.keys.map((key) => key.kid)).toEqual([rotated.kid]);
    const current = await chatRequest(harness.url, await forge({ epoch: 1 }), chat);
    expect(current.status).toBe(200);
    await current.text();
  });
});

describe('public minting abuse', () => {
  async function mintFrom(origin: string | undefined, widgetId = harness.widget.id, url = harness.url): Promise<Response> {
    return fetch(`${url}/airlock/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(origin && { origin }) },
      body: JSON.stringify({ widgetId }),
    });
  }

  it('refuses an origin that is not allowed, and no Origin at all', async () => {
    await expectRefused(await mintFrom('https://attacker.example.net'), 403, 'origin_not_allowed');
    await expectRefused(await mintFrom(undefined), 403, 'origin_not_allowed');
    await expectRefused(await mintFrom(allowedOrigin, widgetB.id), 403, 'origin_not_allowed');
  });

  it('matches wildcards on whole labels only', async () => {
    const wildcard = await harness.airlock.store.createWidget({
      name: 'wildcard',
      type: 'chat',
      allowedOrigins: ['https://*.example.com'],
      presentation: { title: 'W', theme: 'auto' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    for (const origin of ['https://a.example.com', 'https://a.b.example.com']) {
      expect((await mintFrom(origin, wildcard.id)).status, origin).toBe(200);
    }
    for (const origin of [
      'https://evil-example.com',
      'https://example.com.evil.net',
      'https://example.com',
      'http://a.example.com',
      'https://a.example.com:8443',
      'https://a.example.com.',
      'https://aexample.com',
      'https://a.example.com/path',
      'null',
    ]) {
      await expectRefused(await mintFrom(origin, wildcard.id), 403, 'origin_not_allowed');
    }
  });

  it('answers 429 rate_limited with Retry-After per address and per widget', async () => {
    const limited = await startHarness({ mintRateLimits: { perAddress: { limit: 3, windowSeconds: 60 }, perWidget: { limit: 1000, windowSeconds: 60 } } });
    try {
      const statuses = [];
      for (let attempt = 0; attempt < 3; attempt += 1) statuses.push((await mintFrom(allowedOrigin, limited.widget.id, limited.url)).status);
      expect(statuses).toEqual([200, 200, 200]);
      const refused = await mintFrom(allowedOrigin, limited.widget.id, limited.url);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      await expectRefused(refused, 429, 'rate_limited');
      // Failed attempts count too: an attacker cannot probe origins for free.
      await expectRefused(await mintFrom('https://attacker.example.net', limited.widget.id, limited.url), 429, 'rate_limited');
    } finally {
      await limited.close();
    }
    const perWidget = await startHarness({ mintRateLimits: { perWidget: { limit: 2, windowSeconds: 3600 } } });
    try {
      expect((await mintFrom(allowedOrigin, perWidget.widget.id, perWidget.url)).status).toBe(200);
      expect((await mintFrom(allowedOrigin, perWidget.widget.id, perWidget.url)).status).toBe(200);
      const refused = await mintFrom(allowedOrigin, perWidget.widget.id, perWidget.url);
      // Past the origin check, the refusal is readable by the widget's site, so it can back off.
      expect(refused.headers.get('access-control-allow-origin')).toBe(allowedOrigin);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(60);
      await expectRefused(refused, 429, 'rate_limited');
    } finally {
      await perWidget.close();
    }
  });
});
