// createAirlock reads its options and the environment once, into a frozen
// config; a change to either afterwards does not reach a running server.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAirlock, silentLogger } from '../src/index.js';
import { resolveConfig } from '../src/config.js';

describe('the resolved config', () => {
  it('applies the environment and the defaults, and is frozen all the way down without freezing the caller\u2019s options', () => {
    const proxy = { limits: { visitorRequestsPerMinute: 5 } };
    const config = resolveConfig(
      { basePath: '/chat/', proxy },
      {
        AIRLOCK_ADMIN_TOKEN: 'a'.repeat(40),
        AIRLOCK_PUBLIC_URL: 'https://chat.example.com',
        OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
        AIRLOCK_TRUST_FORWARDED_PROTO: 'true',
      },
    );
    expect(config).toMatchObject({
      basePath: '/chat',
      dataDir: '.airlock',
      databaseUrl: 'sqlite:.airlock/airlock.db',
      adminToken: 'a'.repeat(40),
      publicUrl: 'https://chat.example.com',
      upstream: { baseURL: 'http://127.0.0.1:9/v1' },
      adminSessions: { trustForwardedProto: true },
      redis: undefined,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.proxy.limits)).toBe(true);
    expect(() => {
      (config.proxy.limits as { visitorRequestsPerMinute?: number }).visitorRequestsPerMinute = 500;
    }).toThrow(TypeError);
    expect(Object.isFrozen(proxy.limits)).toBe(false);
    // Options win over the environment.
    expect(resolveConfig({ adminToken: 'b'.repeat(40) }, { AIRLOCK_ADMIN_TOKEN: 'a'.repeat(40) }).adminToken).toBe('b'.repeat(40));
  });

  it('is read once: a server keeps the admin token it started with when the environment changes', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'airlock-config-'));
    const before = process.env.AIRLOCK_ADMIN_TOKEN;
    const token = randomBytes(32).toString('base64url');
    process.env.AIRLOCK_ADMIN_TOKEN = token;
    const airlock = createAirlock({ dataDir, masterKeys: `c1:${randomBytes(32).toString('base64')}`, logger: silentLogger });
    try {
      process.env.AIRLOCK_ADMIN_TOKEN = randomBytes(32).toString('base64url');
      const widgets = (bearer: string) => airlock.fetch(new Request('http://local/airlock/admin/widgets', { headers: { authorization: `Bearer ${bearer}` } }));
      expect((await widgets(token)).status).toBe(200);
      expect((await widgets(process.env.AIRLOCK_ADMIN_TOKEN)).status).toBe(401);
    } finally {
      if (before === undefined) delete process.env.AIRLOCK_ADMIN_TOKEN;
      else process.env.AIRLOCK_ADMIN_TOKEN = before;
      await airlock.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
