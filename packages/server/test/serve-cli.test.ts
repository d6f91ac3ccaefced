// `airlock serve` as operators run it (the built CLI): what it refuses to start
// with, and the timeouts and connection cap it takes from the environment, on
// its own node:http server and towards the upstream.
import { readStreamedText, startUpstream, type Upstream } from '@airlock/testing';
import { freePort } from '@airlock/test-services';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'airlock-serve-cli-'));
const origin = 'https://serve.example.com';
let upstream: Upstream;
const running: ChildProcess[] = [];

const baseEnvironment = (): NodeJS.ProcessEnv => ({
  ...process.env,
  AIRLOCK_DATABASE_URL: `sqlite:${join(dir, 'airlock.db')}`,
  AIRLOCK_MASTER_KEYS: `s1:${Buffer.alloc(32, 9).toString('base64')}`,
  AIRLOCK_ADMIN_TOKEN: randomBytes(32).toString('base64url'),
  OPENAI_API_KEY: 'sk-serve-test',
  OPENAI_BASE_URL: upstream.baseURL,
  AIRLOCK_LOG_REQUESTS: '0',
  AIRLOCK_LOG_LEVEL: 'warn',
});

function airlock(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `airlock serve` on a free port; answers its base URL and port. */
async function serve(env: NodeJS.ProcessEnv): Promise<{ url: string; port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [cli, 'serve', '--port', String(port)], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (String(chunk).includes('Airlock listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`airlock serve exited with ${String(code)}: ${output}`)));
  });
  return { url: `http://127.0.0.1:${port}/airlock`, port };
}

/** A raw TCP connection to the server, with when it was closed by the other side. */
async function rawConnection(port: number): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk));
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  return { socket, received: () => received, closed };
}

beforeAll(async () => {
  upstream = await startUpstream();
});

afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('airlock serve', () => {
  it('refuses an admin token under 32 characters, saying how to make one and without repeating it', async () => {
    const token = 'admin-secret-123';
    const result = await airlock(['serve', '--port', '0'], { ...baseEnvironment(), AIRLOCK_ADMIN_TOKEN: token });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^airlock: AIRLOCK_ADMIN_TOKEN has 16 characters; it needs at least 32 random ones\. Make one with: openssl rand -base64 32 .*\n$/,
    );
    expect(result.stderr).not.toContain(token);
    expect(result.stdout).toBe('');
  });

  it('refuses HTTP timeouts that contradict each other, naming the variables', async () => {
    const result = await airlock(['serve', '--port', '0'], {
      ...baseEnvironment(),
      AIRLOCK_HTTP_HEADERS_TIMEOUT_MS: '5000',
      AIRLOCK_HTTP_REQUEST_TIMEOUT_MS: '1000',
    });
    expect(result).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('AIRLOCK_HTTP_HEADERS_TIMEOUT_MS must not be longer than AIRLOCK_HTTP_REQUEST_TIMEOUT_MS'),
    });
    expect(await airlock(['serve', '--port', '0'], { ...baseEnvironment(), AIRLOCK_UPSTREAM_IDLE_TIMEOUT_MS: 'soon' })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('AIRLOCK_UPSTREAM_IDLE_TIMEOUT_MS must be a whole number of at least 1'),
    });
  });

  it('bounds slow clients with the header, request and keep-alive timeouts, and caps connections', async () => {
    const { port } = await serve({
      ...baseEnvironment(),
      AIRLOCK_HTTP_HEADERS_TIMEOUT_MS: '500',
      AIRLOCK_HTTP_REQUEST_TIMEOUT_MS: '1000',
      AIRLOCK_HTTP_KEEP_ALIVE_TIMEOUT_MS: '300',
      AIRLOCK_MAX_CONNECTIONS: '3',
    });

    // Headers that never finish: cut after about the headers timeout (Node's default is 60 s).
    const trickle = await rawConnection(port);
    const trickleStarted = performance.now();
    trickle.socket.write('GET /airlock/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const trickleClosed = (await trickle.closed) - trickleStarted;
    expect(trickle.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(trickleClosed).toBeGreaterThan(400);
    expect(trickleClosed).toBeLessThan(2_500);

    // A body that never arrives: cut after about the request timeout (Node's default is 300 s).
    const slowBody = await rawConnection(port);
    const slowStarted = performance.now();
    slowBody.socket.write('POST /airlock/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"wid');
    const slowClosed = (await slowBody.closed) - slowStarted;
    expect(slowClosed).toBeGreaterThan(900);
    expect(slowClosed).toBeLessThan(3_000);

    // An idle kept-alive connection: closed after the keep-alive timeout.
    const idle = await rawConnection(port);
    idle.socket.write('GET /airlock/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await expect.poll(() => idle.received(), { timeout: 2_000 }).toMatch(/^HTTP\/1\.1 200/);
    const answered = performance.now();
    const idleClosed = (await idle.closed) - answered;
    expect(idleClosed).toBeLessThan(1_500);

    // Three connections open at once at most: a fourth is closed as it arrives.
    const held = await Promise.all([rawConnection(port), rawConnection(port), rawConnection(port)]);
    const fourth = await rawConnection(port);
    fourth.socket.write('GET /airlock/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await fourth.closed;
    expect(fourth.received()).toBe('');
    for (const connection of held) connection.socket.destroy();
  }, 30_000);

  it('takes the knowledge limits from the environment, refusing a malformed one by name', async () => {
    expect(await airlock(['serve', '--port', '0'], { ...baseEnvironment(), AIRLOCK_KNOWLEDGE_MAX_FILE_MB: 'ten' })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('AIRLOCK_KNOWLEDGE_MAX_FILE_MB must be a whole number of at least 1'),
    });
    const env: NodeJS.ProcessEnv = { ...baseEnvironment(), AIRLOCK_KNOWLEDGE_MAX_FILE_MB: '1' };
    const created = await airlock(['widgets', 'create', '--name', 'knowledge-limits', '--origin', origin, '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const widgetId = (JSON.parse(created.stdout) as { id: string }).id;
    const { url } = await serve(env);
    const upload = (bytes: number) => {
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(bytes).fill(97)]), 'notes.txt');
      return fetch(`${url}/admin/widgets/${widgetId}/knowledge`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.AIRLOCK_ADMIN_TOKEN}` },
        body: form,
      });
    };
    const refused = await upload(1024 * 1024 + 1);
    expect(refused.status).toBe(413);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('1 MB');
    expect((await upload(1000)).status).toBe(202);
  });

  it('takes the upstream timeouts from the environment', async () => {
    const env = {
      ...baseEnvironment(),
      AIRLOCK_UPSTREAM_HEADERS_TIMEOUT_MS: '400',
      AIRLOCK_UPSTREAM_FIRST_CHUNK_TIMEOUT_MS: '400',
      AIRLOCK_UPSTREAM_IDLE_TIMEOUT_MS: '400',
      // A streamed answer takes longer than this; it must not be cut by it.
      AIRLOCK_HTTP_REQUEST_TIMEOUT_MS: '1000',
      AIRLOCK_HTTP_HEADERS_TIMEOUT_MS: '1000',
    };
    const created = await airlock(['widgets', 'create', '--name', 'timeouts', '--origin', origin, '--key-source', 'shared', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const widgetId = (JSON.parse(created.stdout) as { id: string }).id;
    const { url } = await serve(env);

    const mint = async (): Promise<string> => {
      const minted = await airlock(['tokens', 'mint', '--widget', widgetId, '--origin', origin, '--json'], env);
      expect(minted.code, minted.stderr).toBe(0);
      return (JSON.parse(minted.stdout) as { token: string }).token;
    };
    const timed = async (behaviour: Parameters<Upstream['next']>[0]): Promise<{ ms: number; text: string; error?: string; status: number }> => {
      const token = await mint();
      upstream.next(behaviour);
      const started = performance.now();
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', origin },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hello' }], stream: true }),
      });
      if (!response.ok) {
        const body = (await response.json()) as { error: { code: string } };
        return { ms: performance.now() - started, text: '', error: body.error.code, status: response.status };
      }
      const read = await readStreamedText(response);
      return { ms: performance.now() - started, ...read, status: response.status };
    };

    // No headers at all (the default wait is 30 s).
    const silent = await timed({ type: 'stall' });
    expect(silent).toMatchObject({ error: 'upstream_timeout' });
    expect(silent.ms).toBeLessThan(3_000);
    // Silence after two chunks (the default idle limit is 60 s).
    const stalled = await timed({ type: 'stall', afterChunks: 2 });
    expect(stalled).toMatchObject({ status: 200, error: 'upstream_timeout' });
    expect(stalled.ms).toBeLessThan(3_000);
    // A healthy answer slower than the HTTP request timeout still completes.
    const slow = await timed({ type: 'answer', text: 'one two three four five six', delayMs: 300 });
    expect(slow).toMatchObject({ status: 200, text: 'one two three four five six' });
    expect(slow.error).toBeUndefined();
    expect(slow.ms).toBeGreaterThan(1_500);
  }, 60_000);
});
