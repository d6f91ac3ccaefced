import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// The CLI as users run it: the built file (the test command builds before testing).
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const run = promisify(execFile);
const dataDir = mkdtempSync(join(tmpdir(), 'airlock-cli-'));
const environment = { ...process.env, AIRLOCK_DATABASE_URL: `sqlite:${join(dataDir, 'airlock.db')}`, AIRLOCK_MASTER_KEYS: '', OPENAI_API_KEY: '' };

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('airlock CLI', () => {
  it('creates and lists widgets', async () => {
    const created = await run(process.execPath, [cli, 'widgets', 'create', '--name', 'help', '--origin', 'https://example.com'], { env: environment });
    const id = created.stdout.trim();
    expect(id).toMatch(/^wgt_[A-Za-z0-9_-]{22}$/);
    const listed = await run(process.execPath, [cli, 'widgets', 'list'], { env: environment });
    expect(listed.stdout).toContain(`${id}\thelp\tchat\tenabled\thttps://example.com`);
  });

  it('refuses a malformed origin with a clear message', async () => {
    await expect(
      run(process.execPath, [cli, 'widgets', 'create', '--name', 'x', '--origin', 'https://example.com/path'], { env: environment }),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('is not an origin') });
  });

  it('refuses to serve without a master key outside development mode', async () => {
    await expect(run(process.execPath, [cli, 'serve', '--port', '0'], { env: environment })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('AIRLOCK_MASTER_KEYS'),
    });
  });

  it('refuses a limit in the environment that is not a whole number, naming the variable', async () => {
    const withKeys = { ...environment, AIRLOCK_MASTER_KEYS: `c1:${Buffer.alloc(32, 1).toString('base64')}` };
    await expect(
      run(process.execPath, [cli, 'serve', '--port', '0'], { env: { ...withKeys, AIRLOCK_WIDGET_REQUESTS_PER_MINUTE: 'lots' } }),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('AIRLOCK_WIDGET_REQUESTS_PER_MINUTE must be a whole number of at least 1') });
    await expect(
      run(process.execPath, [cli, 'serve', '--port', '0'], { env: { ...withKeys, AIRLOCK_DEFAULT_GENERATION_ALLOWANCE: '-1' } }),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('AIRLOCK_DEFAULT_GENERATION_ALLOWANCE must be a whole number of at least 0') });
  });

  it('rejects an unknown command', async () => {
    await expect(run(process.execPath, [cli, 'constructor'], { env: environment })).rejects.toMatchObject({ code: 2 });
  });
});
