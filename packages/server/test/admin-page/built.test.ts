import { launchBrowser } from '@airlock/test-services/browser';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type * as NodeAdapterModule from '../../src/adapters/node.js';
import type * as ServerModule from '../../src/index.js';

// The published output, as operators run it (the test command builds before testing).
const dist = fileURLToPath(new URL('../../dist/', import.meta.url));
const builtAssets = `${dist}admin-page/assets/`;
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
      // Every file the build copied (index.html is the page itself), so that each module the page imports is served.
      const files = readdirSync(builtAssets).filter((name) => name !== 'index.html');
      expect(files).toEqual(expect.arrayContaining(['admin.js', 'api.js', 'dom.js', 'admin.css']));
      for (const path of ['/airlock/admin/', ...files.map((name) => `/airlock/admin/assets/${name}`)]) {
        const response = await airlock.fetch(new Request(`http://admin.test${path}`));
        expect(response.status, path).toBe(200);
        expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
        if (path.endsWith('.js')) expect(response.headers.get('content-type'), path).toBe('text/javascript; charset=utf-8');
      }
    } finally {
      await airlock.close();
    }
  });

  // 18 KB until the knowledge section (uploads with progress, the file list, the retrieval test) added about 4.6 KB.
  // Measured as built: the modules without their comments and whitespace (tsup.config.ts); as written, with their JSDoc types, they are over.
  it('keeps the page small: HTML, script and styles together under 24 KB gzip', () => {
    const total = readdirSync(builtAssets).reduce((sum, name) => sum + gzipSync(readFileSync(join(builtAssets, name)), { level: 9 }).length, 0);
    console.log(`admin page: ${(total / 1024).toFixed(1)} KB gzip`);
    expect(total).toBeLessThan(24 * 1024);
  });

  // The browser tests run the page's sources; this runs the built modules (comments and whitespace
  // stripped by the build) in Chromium, so that a module the build broke or left out is found.
  it('runs the built page in Chromium: signs in and shows each section without a script error', async () => {
    const { createAirlock } = (await import(`${dist}index.js`)) as typeof ServerModule;
    const { serve } = (await import(`${dist}adapters/node.js`)) as typeof NodeAdapterModule;
    const airlock = createAirlock({ databaseUrl: environment.AIRLOCK_DATABASE_URL, masterKeys, adminToken: 'operator-token' });
    await airlock.ready();
    const server = await serve(airlock.fetch, { port: 0, host: '127.0.0.1' });
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(10_000);
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(error.message));
      const modules: string[] = [];
      page.on('response', (response) => {
        if (response.url().endsWith('.js')) modules.push(`${response.status()} ${new URL(response.url()).pathname}`);
      });
      await page.goto(`${server.url}/airlock/admin/`);
      await page.getByLabel('Admin token or account access token').fill('operator-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'OpenAI API key' }).waitFor();
      await page.getByRole('link', { name: 'Widgets' }).click();
      await page.getByRole('heading', { name: 'Widgets' }).waitFor();
      await page.getByRole('link', { name: 'New widget' }).click();
      await page.getByRole('heading', { name: 'New widget' }).waitFor();
      await page.getByRole('link', { name: 'Usage' }).click();
      await page.getByRole('heading', { name: 'Usage' }).waitFor();
      await page.getByTestId('allowance').getByText('Unlimited.').waitFor();
      const served = readdirSync(builtAssets).filter((name) => name.endsWith('.js') && name !== 'preview.js');
      expect(modules.sort()).toEqual(served.map((name) => `200 /airlock/admin/assets/${name}`).sort());
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
      await server.close();
      await airlock.close();
    }
  });
});
