import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type * as ServerModule from '../../src/index.js';

// The published output, as operators run it (the test command builds before testing).
const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
const run = promisify(execFile);
const dataDir = mkdtempSync(join(tmpdir(), 'airlock-admin-cli-'));
const masterKeys = `t1:${randomBytes(32).toString('base64')}`;
const environment = { ...process.env, AIRLOCK_DATABASE_URL: `sqlite:${join(dataDir, 'airlock.db')}`, AIRLOCK_MASTER_KEYS: masterKeys, OPENAI_API_KEY: '' };

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('the built admin page and CLI', () => {
  it('prints an access token once with `airlock accounts access-token`; the built server signs in with it and serves the page', async () => {
    await run(process.execPath, [`${dist}cli/main.js`, 'accounts', 'create', '--name', 'Acme', '--id', 'acme'], { env: environment });
    const created = await run(process.execPath, [`${dist}cli/main.js`, 'accounts', 'access-token', '--account', 'acme', '--label', 'Jane'], {
      env: environment,
    });
    const token = created.stdout.trim();
    expect(token).toMatch(/^alat_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain('shown only now');
    await expect(run(process.execPath, [`${dist}cli/main.js`, 'accounts', 'access-token', '--account', 'nobody'], { env: environment })).rejects.toMatchObject({
      code: expect.any(Number),
    });
    const bytes = readdirSync(dataDir)
      .filter((name) => name.startsWith('airlock.db'))
      .map((name) => readFileSync(join(dataDir, name)).toString('latin1'))
      .join('');
    expect(bytes).not.toContain(token);

    const { createAirlock } = (await import(`${dist}index.js`)) as typeof ServerModule;
    const airlock = createAirlock({ databaseUrl: environment.AIRLOCK_DATABASE_URL, masterKeys, adminToken: 'operator-token' });
    try {
      const signIn = await airlock.fetch(
        new Request('http://admin.test/airlock/admin/session', {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: 'http://admin.test' },
          body: JSON.stringify({ token }),
        }),
      );
      expect(signIn.status).toBe(201);
      expect(await signIn.json()).toMatchObject({ principal: { kind: 'account', accountId: 'acme' } });
      for (const path of ['/airlock/admin/', '/airlock/admin/assets/admin.js', '/airlock/admin/assets/admin.css']) {
        const response = await airlock.fetch(new Request(`http://admin.test${path}`));
        expect(response.status, path).toBe(200);
        expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      }
    } finally {
      await airlock.close();
    }
  });

  // 18 KB until the knowledge section (uploads with progress, the file list, the retrieval test) added about 4.6 KB.
  it('keeps the page small: HTML, script and styles together under 24 KB gzip', () => {
    const folder = `${dist}admin-page/assets/`;
    const total = readdirSync(folder).reduce((sum, name) => sum + gzipSync(readFileSync(join(folder, name)), { level: 9 }).length, 0);
    console.log(`admin page: ${(total / 1024).toFixed(1)} KB gzip`);
    expect(total).toBeLessThan(24 * 1024);
  });
});
