// Smoke test with the real framework: `next build`, then `next start` on a free
// loopback port, with the stand-in upstream and a temp SQLite file. It mints
// both kinds of token over HTTP, streams answers through the route handlers,
// and checks that a client disconnect reaches the upstream. Next.js loads
// `@airlock/server` as published (serverExternalPackages), that is from its
// `dist/`: build it first (see the README).
// Measured on two shared cores: build 29-64 s, start 0.9-1.4 s, whole file 33-70 s.
import { readStreamedText, startUpstream, type Upstream } from '@airlock/testing';
import { freePort } from '@airlock/test-services';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';

const exampleDir = dirname(dirname(fileURLToPath(import.meta.url)));
const nextBin = join(exampleDir, 'node_modules', 'next', 'dist', 'bin', 'next');
const canaryKey = `sk-canary-${randomBytes(12).toString('hex')}`;
const dataDir = mkdtempSync(join(tmpdir(), 'airlock-next-server-'));
const children = new Set<ChildProcess>();
let output = '';
let upstream: Upstream;
let baseUrl: string;
let widgetId: string;

/** Runs `next <args>` in its own process group, so that the whole tree can be stopped. */
function next(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [nextBin, ...args], {
    cwd: exampleDir,
    // vitest sets NODE_ENV=test, which Next.js rejects for builds.
    env: { ...process.env, ...env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function stop(child: ChildProcess): Promise<void> {
  const done = exited(child);
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // The group has already gone.
    }
  };
  kill('SIGTERM');
  const timer = setTimeout(() => kill('SIGKILL'), 5_000);
  await done;
  clearTimeout(timer);
  // next start may leave workers behind in the group after its own exit.
  kill('SIGKILL');
}

async function listening(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`next start exited with ${child.exitCode}:\n${output}`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`next start did not listen within ${timeoutMs} ms:\n${output}`);
}

beforeAll(async () => {
  if (!existsSync(join(exampleDir, 'node_modules', '@airlock', 'server', 'dist', 'index.js'))) {
    throw new Error('Build @airlock/server first: Next.js loads it from dist/ (see examples/nextjs/README.md).');
  }
  upstream = await startUpstream({ defaultBehaviour: { type: 'answer', text: 'Hello through Next.js.', delayMs: 5 } });
  const started = performance.now();
  const build = next(['build', '--no-lint'], {});
  const code = await exited(build);
  if (code !== 0) throw new Error(`next build failed (${code}):\n${output}`);
  const built = performance.now();
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const server = next(['start', '-p', String(port), '-H', '127.0.0.1'], {
    OPENAI_API_KEY: canaryKey,
    OPENAI_BASE_URL: upstream.baseURL,
    AIRLOCK_DATA_DIR: dataDir,
    AIRLOCK_MASTER_KEYS: `v1:${randomBytes(32).toString('base64')}`,
  });
  await listening(`${baseUrl}/favicon.ico`, server, 30_000);
  console.info(`next build ${Math.round(built - started)} ms, next start ${Math.round(performance.now() - built)} ms`);
  // The page registers the example's widget for its own origin.
  const page = await fetch(`${baseUrl}/`);
  expect(page.status).toBe(200);
  widgetId = /data-widget-id="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  expect(widgetId).not.toBe('');
}, 180_000);

afterAll(async () => {
  await Promise.all([...children].map(stop));
  await upstream?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function streamedText(response: Response): Promise<string> {
  expect(response.status).toBe(200);
  const { text, error } = await readStreamedText(response);
  expect(error).toBeUndefined();
  return text;
}

function chat(token: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${baseUrl}/airlock/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', origin: baseUrl },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Hello' }], stream: true }),
    signal,
  });
}

async function publicToken(): Promise<string> {
  const minted = await fetch(`${baseUrl}/airlock/token`, {
    method: 'POST',
    headers: { origin: baseUrl, 'content-type': 'application/json' },
    body: JSON.stringify({ widgetId }),
  });
  expect(minted.status).toBe(200);
  expect(minted.headers.get('access-control-allow-origin')).toBe(baseUrl);
  return ((await minted.json()) as { token: string }).token;
}

it('answers the CORS preflight, mints a public token for the page origin and streams an answer', async () => {
  const preflight = await fetch(`${baseUrl}/airlock/token`, {
    method: 'OPTIONS',
    headers: { origin: baseUrl, 'access-control-request-method': 'POST' },
  });
  expect(preflight.status).toBe(204);
  const refused = await fetch(`${baseUrl}/airlock/token`, {
    method: 'POST',
    headers: { origin: 'https://elsewhere.example', 'content-type': 'application/json' },
    body: JSON.stringify({ widgetId }),
  });
  expect(refused.status).toBe(403);
  expect(await streamedText(await chat(await publicToken()))).toBe('Hello through Next.js.');
  expect(upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer ${canaryKey}`);
});

it('mints a backend token only for a signed-in user', async () => {
  const refused = await fetch(`${baseUrl}/api/airlock-token`, { method: 'POST' });
  expect(refused.status).toBe(401);
  const minted = await fetch(`${baseUrl}/api/airlock-token`, { method: 'POST', headers: { cookie: 'user=ada', origin: baseUrl } });
  expect(minted.status).toBe(200);
  const { token } = (await minted.json()) as { token: string };
  expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())).toMatchObject({ sub: 'user:ada', limits: { requests: 50 } });
  upstream.next({ type: 'answer', text: 'Hello, Ada.', delayMs: 5 });
  expect(await streamedText(await chat(token))).toBe('Hello, Ada.');
});

it('closes the upstream connection soon after the client disconnects', async () => {
  upstream.next({ type: 'stream', chunks: Array.from({ length: 400 }, () => 'tick '), delayMs: 50 });
  const controller = new AbortController();
  const response = await chat(await publicToken(), controller.signal);
  expect(response.status).toBe(200);
  await response.body!.getReader().read();
  const closed = upstream.waitForClose({ timeoutMs: 5_000 });
  const abortedAt = performance.timeOrigin + performance.now();
  controller.abort();
  const event = await closed;
  const lag = event.closedAt - abortedAt;
  console.info(`upstream closed ${Math.round(lag)} ms after the client disconnected`);
  expect(lag).toBeLessThan(1_000);
});

it('never shows the OpenAI key in a log line of the server', () => {
  expect(output).not.toContain(canaryKey);
});

it('limits mints by the address the proxy saw, not by the X-Forwarded-For entries a client writes', async () => {
  // A client varies the leftmost entry at every request; the proxy in front appended the real address.
  const statuses: number[] = [];
  for (let attempt = 0; attempt < 31; attempt += 1) {
    const minted = await fetch(`${baseUrl}/airlock/token`, {
      method: 'POST',
      headers: { origin: baseUrl, 'content-type': 'application/json', 'x-forwarded-for': `198.51.100.${attempt}, 203.0.113.7` },
      body: JSON.stringify({ widgetId }),
    });
    statuses.push(minted.status);
    await minted.text();
  }
  // 30 mints a minute per address: the 31st from 203.0.113.7 is refused, whatever the client wrote.
  expect(statuses.slice(0, 30).every((status) => status === 200)).toBe(true);
  expect(statuses[30]).toBe(429);
});
