// `airlock accounts|keys|vault` as operators run them: the built CLI (the
// test command builds before testing), a SQLite file, the stand-in upstream.
import { startUpstream, type Upstream } from '@airlock/testing';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'airlock-keys-cli-'));
const databasePath = join(dir, 'airlock.db');
const canary = (name: string) => `sk-canary-${name}-${randomBytes(12).toString('hex')}`;
const keys = { own: canary('own'), refused: canary('refused'), shared: canary('shared'), argument: canary('argument') };
const masterV1 = `c1:${randomBytes(32).toString('base64')}`;
const masterV2 = `c2:${randomBytes(32).toString('base64')}`;
const outputs: string[] = [];
let upstream: Upstream;

beforeAll(async () => {
  upstream = await startUpstream({ acceptedKeys: [keys.own, keys.shared] });
});
afterAll(async () => {
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

function airlock(args: string[], options: { stdin?: string; masterKeys?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: dir,
      env: {
        ...process.env,
        AIRLOCK_DATABASE_URL: `sqlite:${databasePath}`,
        AIRLOCK_MASTER_KEYS: options.masterKeys ?? masterV1,
        OPENAI_BASE_URL: upstream.baseURL,
        OPENAI_API_KEY: '',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

describe('airlock accounts, keys and vault commands', () => {
  it('creates and lists accounts', async () => {
    expect(await airlock(['accounts', 'create', '--id', 'acme', '--name', 'Acme Ltd'])).toMatchObject({ code: 0, stdout: 'acme\n' });
    const listed = await airlock(['accounts', 'list']);
    expect(listed.stdout).toMatch(/^default\t/m);
    expect(listed.stdout).toMatch(/^acme\tAcme Ltd\t/m);
    expect(await airlock(['accounts', 'create', '--id', 'acme', '--name', 'x'])).toMatchObject({ code: 2, stderr: expect.stringContaining('already exists') });
  });

  it('saves a key read from standard input after validating it, and prints only its fingerprint', async () => {
    const saved = await airlock(['keys', 'set', '--account', 'acme'], { stdin: `${keys.own}\n` });
    expect(saved.code, saved.stderr).toBe(0);
    expect(saved.stdout).toContain(`Saved sk-…${keys.own.slice(-4)} for account acme (active`);
    expect(upstream.requests.at(-1)).toMatchObject({ path: '/v1/models', headers: { authorization: `Bearer ${keys.own}` } });

    const refused = await airlock(['keys', 'set', '--account', 'acme'], { stdin: keys.refused });
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringContaining('refused this key, so it was not saved') });
    expect(await airlock(['keys', 'set', '--account', 'acme'])).toMatchObject({ code: 2, stderr: expect.stringContaining('no key on standard input') });
  });

  it('never takes a key from the arguments, and does not repeat one given there', async () => {
    const result = await airlock(['keys', 'set', '--account', 'acme', keys.argument]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('read from standard input');
    expect(result.stderr).not.toContain(keys.argument.slice(10));
  });

  it('shows a key, refuses to revoke it while widgets use it, and revokes it with --force', async () => {
    expect((await airlock(['keys', 'set', '--account', 'default', '--no-validate'], { stdin: keys.refused })).code).toBe(0);
    const widget = await airlock(['widgets', 'create', '--name', 'help', '--origin', 'https://example.com']);
    expect(widget.code, widget.stderr).toBe(0);
    const widgetId = widget.stdout.trim();

    const shown = await airlock(['keys', 'show', '--account', 'default']);
    expect(shown.stdout).toContain(`fingerprint\tsk-…${keys.refused.slice(-4)}`);
    expect(shown.stdout).toContain('status\tactive');
    expect(shown.stdout).toContain('last used at\tnever');
    expect(shown.stdout).toMatch(/^saved at\t\S+ \(0 days ago\)$/m);
    expect(shown.stdout).not.toContain('rotation\t');
    // Saved 100 days ago: past the 90-day reminder.
    const database = new Database(databasePath);
    database
      .prepare("UPDATE openai_keys SET saved_at = ? WHERE owner_id = 'default' AND status = 'active'")
      .run(new Date(Date.now() - 100 * 86_400_000).toISOString());
    database.close();
    const old = await airlock(['keys', 'show', '--account', 'default']);
    expect(old.stdout).toContain('(100 days ago)');
    expect(old.stdout).toMatch(/^rotation\tdue: replace it with `airlock keys set`/m);
    expect(shown.stdout).toContain(`widgets\thelp (${widgetId})`);

    const inUse = await airlock(['keys', 'revoke', '--account', 'default']);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toContain(`${widgetId}\thelp`);
    const forced = await airlock(['keys', 'revoke', '--account', 'default', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('ciphertext is destroyed');
    expect((await airlock(['keys', 'show', '--account', 'default'])).stdout).toContain('status\trevoked');
  });

  it('saves and shows the shared key', async () => {
    expect(await airlock(['keys', 'set', '--shared'], { stdin: keys.shared })).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('for the shared key'),
    });
    expect((await airlock(['keys', 'show', '--shared'])).stdout).toContain(`fingerprint\tsk-…${keys.shared.slice(-4)}`);
    expect(await airlock(['keys', 'show'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--account ID or --shared') });
  });

  it('needs a master key, and names a master key version missing from the keyring', async () => {
    expect(await airlock(['keys', 'show', '--account', 'acme'], { masterKeys: '' })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('AIRLOCK_MASTER_KEYS'),
    });
    const missing = await airlock(['vault', 'rotate-master'], { masterKeys: masterV2 });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('master key version "c1", which is not in the keyring');
  });

  it('rotates the master key, after which the old version is no longer needed', async () => {
    const rotated = await airlock(['vault', 'rotate-master'], { masterKeys: `${masterV2},${masterV1}` });
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/Master key version c2: re-wrapped 2 of 2 secrets/);
    expect((await airlock(['vault', 'rotate-master'], { masterKeys: masterV2 })).stdout).toContain('re-wrapped 0 of 2');
  });

  it('never prints a key, nor stores one in plaintext', () => {
    const bytes = Buffer.concat(
      [databasePath, `${databasePath}-wal`, `${databasePath}-shm`].filter((file) => existsSync(file)).map((file) => readFileSync(file)),
    );
    expect(bytes.length).toBeGreaterThan(1000);
    const printed = outputs.join('\n');
    for (const key of Object.values(keys)) {
      expect(printed).not.toContain(key.slice(10));
      expect(bytes.includes(Buffer.from(key.slice(10)))).toBe(false);
    }
  });
});
