import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/admin/session.js';
import { adminToken, signInByApi, startAdminServer, type AdminServer } from './setup.js';

let server: AdminServer;
let now = new Date('2026-11-27T10:00:00.000Z');

beforeAll(async () => {
  server = await startAdminServer({
    now: () => now,
    adminSessions: { idleMinutes: 30, maxHours: 2 },
    // Sign-in attempts are limited per address; the test that exhausts the limit uses an address of its own.
    clientAddress: (request) => request.headers.get('x-test-address') ?? `test-${Math.random()}`,
  });
  await server.airlock.store.createAccount({ id: 'acme', name: 'Acme' });
  await server.airlock.store.createAccount({ id: 'rival', name: 'Rival' });
});
afterAll(async () => server?.close());

function withSession(session: { cookie: string; csrfToken?: string }, init: RequestInit & { csrf?: boolean } = {}): RequestInit {
  const headers = new Headers(init.headers);
  headers.set('cookie', session.cookie);
  headers.set('origin', server.url);
  if (init.csrf !== false && session.csrfToken) headers.set('x-csrf-token', session.csrfToken);
  if (init.body) headers.set('content-type', 'application/json');
  return { ...init, headers };
}

describe('admin page sessions', () => {
  it('signs in with the admin token: an HttpOnly, SameSite=Strict cookie scoped to the admin path, not Secure over http', async () => {
    const session = await signInByApi(server.url, adminToken);
    expect(session.setCookie).toMatch(/^airlock_admin=[A-Za-z0-9_-]{43}; /);
    expect(session.setCookie).toContain('HttpOnly');
    expect(session.setCookie).toContain('SameSite=Strict');
    expect(session.setCookie).toContain('Path=/airlock/admin');
    expect(session.setCookie).not.toContain('Secure');
    const answer = await fetch(`${server.url}/airlock/admin/session`, withSession(session));
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ principal: { kind: 'operator' }, csrfToken: session.csrfToken });
    // The session cookie authenticates the existing admin API.
    expect((await fetch(`${server.url}/airlock/admin/widgets`, withSession(session))).status).toBe(200);
  });

  it('marks the cookie Secure over https, and behind a proxy only when told to trust X-Forwarded-Proto', async () => {
    const signIn = (url: string, headers: Record<string, string> = {}) =>
      server.airlock.fetch(
        new Request(`${url}/airlock/admin/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: url, ...headers },
          body: JSON.stringify({ token: adminToken }),
        }),
      );
    expect((await signIn('https://admin.example.com')).headers.get('set-cookie')).toContain('Secure');
    const forwarded = await signIn('http://admin.example.com', { 'x-forwarded-proto': 'https' });
    expect(forwarded.status).toBe(201);
    expect(forwarded.headers.get('set-cookie')).not.toContain('Secure');
  });

  it('refuses a wrong token, a cross-origin sign-in, and too many attempts', async () => {
    const attempt = (token: string, origin = server.url) =>
      fetch(`${server.url}/airlock/admin/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin, 'x-test-address': 'guesser' },
        body: JSON.stringify({ token }),
      });
    const wrong = await attempt('not-the-token');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect((await attempt(adminToken, 'https://evil.example')).status).toBe(403);
    const statuses: number[] = [];
    for (let index = 0; index < 12; index++) statuses.push((await attempt('still-wrong')).status);
    expect(statuses).toContain(429);
  });

  it('refuses a change without the CSRF token, with a wrong one, or from another origin; allows it with the token', async () => {
    const session = await signInByApi(server.url, adminToken);
    const body = JSON.stringify({ name: 'csrf-check', allowedOrigins: ['https://shop.example.com'] });
    const without = await fetch(`${server.url}/airlock/admin/widgets`, withSession(session, { method: 'POST', body, csrf: false }));
    expect(without.status).toBe(403);
    expect(((await without.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    const wrong = await fetch(
      `${server.url}/airlock/admin/widgets`,
      withSession({ cookie: session.cookie, csrfToken: 'x'.repeat(43) }, { method: 'POST', body }),
    );
    expect(wrong.status).toBe(403);
    const crossOrigin = await fetch(`${server.url}/airlock/admin/widgets`, {
      ...withSession(session, { method: 'POST', body }),
      headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken, origin: 'https://evil.example', 'content-type': 'application/json' },
    });
    expect(crossOrigin.status).toBe(403);
    expect((await server.airlock.store.listWidgets()).some((widget) => widget.name === 'csrf-check')).toBe(false);
    const allowed = await fetch(`${server.url}/airlock/admin/widgets`, withSession(session, { method: 'POST', body }));
    expect(allowed.status).toBe(201);
  });

  it('ends sessions when idle, at the absolute limit, on sign-out, and when the admin token changes', async () => {
    const idle = await signInByApi(server.url, adminToken);
    now = new Date(now.getTime() + 31 * 60_000);
    expect((await fetch(`${server.url}/airlock/admin/session`, withSession(idle))).status).toBe(401);

    const active = await signInByApi(server.url, adminToken);
    for (let step = 0; step < 5; step++) {
      now = new Date(now.getTime() + 20 * 60_000);
      expect((await fetch(`${server.url}/airlock/admin/session`, withSession(active))).status).toBe(200);
    }
    now = new Date(now.getTime() + 20 * 60_000); // 2 h after sign-in, though active
    expect((await fetch(`${server.url}/airlock/admin/session`, withSession(active))).status).toBe(401);

    const leaving = await signInByApi(server.url, adminToken);
    const refused = await fetch(`${server.url}/airlock/admin/session`, withSession(leaving, { method: 'DELETE', csrf: false }));
    expect(refused.status).toBe(403);
    const out = await fetch(`${server.url}/airlock/admin/session`, withSession(leaving, { method: 'DELETE' }));
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    expect((await fetch(`${server.url}/airlock/admin/widgets`, withSession(leaving))).status).toBe(401);

    const rotated = await startAdminServer({ adminToken: 'first-token' });
    try {
      const session = await signInByApi(rotated.url, 'first-token');
      const stored = rotated.airlock.store;
      // A second server on the same store with a new admin token: the old session is void.
      const { createAirlock } = await import('../../src/airlock.js');
      const next = createAirlock({ store: stored, masterKeys: rotated.masterKeys, adminToken: 'second-token' });
      const answer = await next.fetch(new Request(`${rotated.url}/airlock/admin/session`, { headers: { cookie: session.cookie } }));
      expect(answer.status).toBe(401);
    } finally {
      await rotated.close();
    }
  });

  it('creates per-account access tokens (shown once, stored hashed) that sign in to that account only', async () => {
    const created = await server.admin('POST', '/accounts/acme/access-tokens', { label: 'Jane' });
    expect(created.status).toBe(201);
    const { token, id } = (await created.json()) as { token: string; id: string };
    expect(token).toMatch(/^alat_/);
    const listed = (await (await server.admin('GET', '/accounts/acme/access-tokens')).json()) as { accessTokens: object[] };
    expect(JSON.stringify(listed)).not.toContain(token);
    expect(listed.accessTokens).toEqual([expect.objectContaining({ id, accountId: 'acme', label: 'Jane' })]);
    expect((await server.admin('POST', '/accounts/nobody/access-tokens', {})).status).toBe(404);

    const session = await signInByApi(server.url, token);
    const who = (await (await fetch(`${server.url}/airlock/admin/session`, withSession(session))).json()) as { principal: unknown };
    expect(who.principal).toEqual({ kind: 'account', accountId: 'acme' });
    // Operator-only routes stay closed to account owners, by session or bearer.
    for (const init of [withSession(session, { method: 'POST', body: '{}' }), { method: 'POST', headers: { authorization: `Bearer ${token}` } }]) {
      expect((await fetch(`${server.url}/airlock/admin/signing-keys/rotate`, init)).status).toBe(403);
    }
    expect((await fetch(`${server.url}/airlock/admin/accounts/acme/access-tokens`, withSession(session, { method: 'POST', body: '{}' }))).status).toBe(403);
    // Only the operator may create them: an account owner cannot mint tokens for another account.
    expect((await fetch(`${server.url}/airlock/admin/accounts/rival/access-tokens`, withSession(session, { method: 'POST', body: '{}' }))).status).toBe(403);

    // Revoking the token ends its sessions.
    expect((await server.admin('DELETE', `/accounts/acme/access-tokens/${id}`)).status).toBe(204);
    expect((await fetch(`${server.url}/airlock/admin/session`, withSession(session))).status).toBe(401);
    const again = await fetch(`${server.url}/airlock/admin/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: server.url },
      body: JSON.stringify({ token }),
    });
    expect(again.status).toBe(401);
  });

  it('serves the preview frame only to signed-in sessions that may see the widget, and its tokens only to the page itself', async () => {
    const acme = await server.airlock.store.createWidget({
      accountId: 'acme',
      name: 'acme-preview',
      type: 'chat',
      allowedOrigins: [],
      presentation: { title: 'Acme', theme: 'auto' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    const rival = await server.airlock.store.createWidget({
      accountId: 'rival',
      name: 'rival-preview',
      type: 'chat',
      allowedOrigins: [],
      presentation: { title: 'Rival', theme: 'auto' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    const previewUrl = (id: string) => `${server.url}/airlock/admin/preview/${id}`;
    expect((await fetch(previewUrl(acme.id))).status).toBe(401);
    // A bearer token is for scripts, not for the frame.
    expect((await fetch(previewUrl(acme.id), { headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(401);

    const { token } = (await (await server.admin('POST', '/accounts/acme/access-tokens', {})).json()) as { token: string };
    const owner = await signInByApi(server.url, token);
    const page = await fetch(previewUrl(acme.id), { headers: { cookie: owner.cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'self'");
    expect(await page.text()).toContain(`data-token-url="/airlock/admin/preview/${acme.id}/token"`);
    expect((await fetch(previewUrl(rival.id), { headers: { cookie: owner.cookie } })).status).toBe(403);

    const mint = (id: string, origin: string) =>
      fetch(`${previewUrl(id)}/token`, { method: 'POST', headers: { cookie: owner.cookie, origin, 'content-type': 'application/json' }, body: '{}' });
    const minted = await mint(acme.id, server.url);
    expect(minted.status).toBe(200);
    expect(((await minted.json()) as { token: string }).token).toMatch(/^ey/);
    expect((await mint(acme.id, 'https://evil.example')).status).toBe(403);
    expect((await mint(rival.id, server.url)).status).toBe(403);
  });

  it('serves the page with strict headers and never lets another site frame it', async () => {
    for (const path of ['/airlock/admin/', '/airlock/admin/assets/admin.js', '/airlock/admin/assets/admin.css']) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-security-policy')).toBe(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
      );
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
    expect((await fetch(`${server.url}/airlock/admin/assets/..%2Fsession.ts`)).status).toBe(404);
    const redirect = await fetch(`${server.url}/airlock/admin`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/airlock/admin/');
  });

  it('keeps no secret in the database: sessions and access tokens are stored as hashes', async () => {
    const session = await signInByApi(server.url, adminToken);
    const { token } = (await (await server.admin('POST', '/accounts/acme/access-tokens', {})).json()) as { token: string };
    await signInByApi(server.url, token);
    const secret = session.cookie.split('=')[1]!;
    const files = readdirSync(server.dataDir).filter((name) => name.startsWith('airlock.db'));
    const bytes = files.map((name) => readFileSync(join(server.dataDir, name)).toString('latin1')).join('');
    expect(bytes).toContain(sha256Hex(secret));
    for (const value of [secret, token, adminToken, session.csrfToken]) expect(bytes).not.toContain(value);
  });
});
