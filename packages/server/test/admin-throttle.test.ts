// Failed admin credentials are throttled per client address, on the bearer
// path and at sign-in alike; without a known address nobody shares a bucket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, startAdminServer, type AdminServer } from './admin-page/setup.js';

let server: AdminServer;
let unknownAddress: AdminServer;
beforeAll(async () => {
  [server, unknownAddress] = await Promise.all([
    // The test's own header stands in for the address a trusted proxy would report.
    startAdminServer({ clientAddress: (request) => request.headers.get('x-test-address') ?? undefined, adminSessions: { signInPerMinute: 1_000 } }),
    startAdminServer(),
  ]);
});
afterAll(async () => {
  await Promise.all([server?.close(), unknownAddress?.close()]);
});

function bearer(token: string, address: string): Promise<Response> {
  return fetch(`${server.url}/airlock/admin/widgets`, { headers: { authorization: `Bearer ${token}`, 'x-test-address': address } });
}

function signIn(token: string, address: string): Promise<Response> {
  return fetch(`${server.url}/airlock/admin/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: server.url, 'x-test-address': address },
    body: JSON.stringify({ token }),
  });
}

async function code(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

describe('failed admin bearer tokens', () => {
  it('lock the address out after 10, even for the right token, with Retry-After', async () => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const response = await bearer(`wrong-${attempt}`, '198.51.100.7');
      expect(response.status, `attempt ${attempt}`).toBe(401);
      expect(await code(response)).toBe('admin_unauthorized');
    }
    const locked = await bearer('wrong-again', '198.51.100.7');
    expect(locked.status).toBe(429);
    expect(await code(locked)).toBe('rate_limited');
    expect(Number(locked.headers.get('retry-after'))).toBe(15 * 60);
    // A guess that happens to be right gains nothing while locked out.
    expect((await bearer(adminToken, '198.51.100.7')).status).toBe(429);
    // Another address, and the operator's own calls from it, are not touched.
    expect((await bearer(adminToken, '198.51.100.8')).status).toBe(200);
    expect(server.logs.some((line) => line.includes('admin address locked out'))).toBe(true);
  });

  it('count on /metrics too, which takes the admin token', async () => {
    const metrics = (token: string) =>
      fetch(`${server.url}/airlock/metrics`, { headers: { authorization: `Bearer ${token}`, 'x-test-address': '198.51.100.9' } });
    for (let attempt = 0; attempt < 10; attempt++) expect((await metrics(`wrong-${attempt}`)).status).toBe(401);
    expect((await metrics(adminToken)).status).toBe(429);
    expect((await bearer(adminToken, '198.51.100.9')).status).toBe(429);
  });

  it('count a whole IPv6 /64 as one address', async () => {
    for (let host = 1; host <= 10; host++) expect((await bearer('wrong', `2001:db8:7:7::${host.toString(16)}`)).status).toBe(401);
    expect((await bearer(adminToken, '2001:db8:7:7:ffff:ffff:ffff:ffff')).status).toBe(429);
    expect((await bearer(adminToken, '2001:db8:7:8::1')).status).toBe(200);
  });

  it('are not cleared by a success: a valid access token does not buy more guesses', async () => {
    await server.airlock.store.createAccount({ id: 'acme', name: 'Acme' });
    const created = await server.admin('POST', '/accounts/acme/access-tokens', { label: 'owner' });
    const { token: accessToken } = (await created.json()) as { token: string };
    for (let attempt = 0; attempt < 20; attempt++) {
      const guess = await bearer(`guess-${attempt}`, '203.0.113.50');
      if (attempt >= 10) expect(guess.status).toBe(429);
      expect((await bearer(accessToken, '203.0.113.50')).status).toBe(attempt >= 9 ? 429 : 200);
    }
  });
});

describe('failed sign-ins', () => {
  it('share the address count with the bearer path', async () => {
    for (let attempt = 0; attempt < 5; attempt++) expect((await bearer('wrong', '192.0.2.20')).status).toBe(401);
    for (let attempt = 0; attempt < 5; attempt++) expect((await signIn('wrong', '192.0.2.20')).status).toBe(401);
    const locked = await signIn(adminToken, '192.0.2.20');
    expect(locked.status).toBe(429);
    expect(locked.headers.get('set-cookie')).toBeNull();
    expect((await signIn(adminToken, '192.0.2.21')).status).toBe(201);
  });

  it('end their lockout after failureLockoutMinutes', async () => {
    const brief = await startAdminServer({
      clientAddress: (request) => request.headers.get('x-test-address') ?? undefined,
      adminSessions: { failedAttemptsPerAddress: 2, failureLockoutMinutes: 0.02 },
    });
    try {
      const attempt = (token: string) =>
        fetch(`${brief.url}/airlock/admin/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: brief.url, 'x-test-address': '192.0.2.99' },
          body: JSON.stringify({ token }),
        });
      expect((await attempt('wrong')).status).toBe(401);
      expect((await attempt('wrong')).status).toBe(401);
      expect((await attempt(adminToken)).status).toBe(429);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect((await attempt(adminToken)).status).toBe(201);
    } finally {
      await brief.close();
    }
  });
});

describe('without a known client address', () => {
  // As on a runtime that reports no socket address (Next.js) and no clientAddress option.
  const signInWithoutAddress = (token: string) =>
    unknownAddress.airlock.fetch(
      new Request('http://admin.example.com/airlock/admin/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: 'http://admin.example.com' },
        body: JSON.stringify({ token }),
      }),
    );

  it('one client cannot lock every operator out: nothing is shared', async () => {
    for (let attempt = 0; attempt < 30; attempt++) {
      expect((await signInWithoutAddress(`wrong-${attempt}`)).status, `attempt ${attempt}`).toBe(401);
    }
    expect((await signInWithoutAddress(adminToken)).status).toBe(201);
    const bearerCall = await unknownAddress.airlock.fetch(
      new Request('http://admin.example.com/airlock/admin/widgets', { headers: { authorization: `Bearer ${adminToken}` } }),
    );
    expect(bearerCall.status).toBe(200);
    expect(unknownAddress.logs.filter((line) => line.includes('not throttled')).length).toBe(1);
  });
});
