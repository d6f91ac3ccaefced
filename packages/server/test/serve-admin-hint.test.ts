// What `airlock serve` tells the operator on start (the built CLI): where the admin page is,
// and how to set an admin token when none is set.
import { startUpstream, type Upstream } from '@airlock/testing';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'airlock-serve-hint-'));
let upstream: Upstream;
beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(async () => {
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `airlock serve --port 0`, waits for its first lines, stops it; answers stdout and stderr. */
function startAndStop(env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'serve', '--port', '0'], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      if (stdout.includes('Admin page:')) setTimeout(() => child.kill('SIGTERM'), 200);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', () => resolve({ stdout, stderr }));
  });
}

const environment = (): NodeJS.ProcessEnv => ({
  ...process.env,
  AIRLOCK_DATABASE_URL: `sqlite:${join(dir, 'airlock.db')}`,
  AIRLOCK_MASTER_KEYS: `h1:${Buffer.alloc(32, 7).toString('base64')}`,
  OPENAI_API_KEY: 'sk-hint-test',
  OPENAI_BASE_URL: upstream.baseURL,
  AIRLOCK_LOG_LEVEL: 'warn',
});

describe('airlock serve on start', () => {
  it('without AIRLOCK_ADMIN_TOKEN, says where the admin page is and how to set a token', async () => {
    const { AIRLOCK_ADMIN_TOKEN: _unset, ...env } = environment();
    const { stdout, stderr } = await startAndStop(env);
    expect(stdout).toMatch(/Admin page: http:\/\/127\.0\.0\.1:\d+\/airlock\/admin\//);
    expect(stderr).toContain('No AIRLOCK_ADMIN_TOKEN is set, so nobody can sign in to the admin page');
    expect(stderr).toContain('export AIRLOCK_ADMIN_TOKEN="$(openssl rand -base64 32)"');
  });

  it('with a token, names the admin page and warns of nothing', async () => {
    const { stdout, stderr } = await startAndStop({ ...environment(), AIRLOCK_ADMIN_TOKEN: randomBytes(32).toString('base64url') });
    expect(stdout).toContain('/airlock/admin/');
    expect(stderr).not.toContain('AIRLOCK_ADMIN_TOKEN');
  });
});
