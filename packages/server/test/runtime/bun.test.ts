// The core's handler on a second runtime: Bun serves the built core with Bun.serve (no Node
// adapter), and everything here talks to it over real HTTP. The store is PostgreSQL through
// pg: better-sqlite3 is a V8-API addon that Bun refuses to load.
import { startPostgres, type PostgresServer } from '@airlock/test-services';
import { startUpstream, type Upstream } from '@airlock/testing';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServeOnBunInput, ServeOnBunReady } from './serve-on-bun.js';

const script = fileURLToPath(new URL('./serve-on-bun.ts', import.meta.url));
const builtCore = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
const builtAdminPage = fileURLToPath(new URL('../../dist/admin-page/assets/index.html', import.meta.url));
const builtWidget = fileURLToPath(new URL('../../../widget/dist/airlock.global.js', import.meta.url));
// Where scripts/provision.mjs installs the pinned Bun from npm when AIRLOCK_BUN is not set.
const provisionedModules = fileURLToPath(new URL('../../../../node_modules/.cache/airlock-bun/node_modules/', import.meta.url));

const upstreamKey = `sk-runtime-${randomBytes(12).toString('hex')}`;
const origin = 'https://shop.example.com';
// Few enough for the last test to reach, more than the tests before it mint.
const mintsPerAddress = 12;

/** Bun's path, or an error saying how to get it: a missing runtime fails the suite, never skips it. */
function findBun(): string {
  const fromEnvironment = process.env.AIRLOCK_BUN;
  if (fromEnvironment) {
    if (!existsSync(fromEnvironment)) throw new Error(`AIRLOCK_BUN is ${fromEnvironment}, which does not exist.`);
    return fromEnvironment;
  }
  // bin/bun.exe is the binary once bun's postinstall script has run, a placeholder otherwise.
  const oven = join(provisionedModules, '@oven');
  const candidates = [
    join(provisionedModules, 'bun', 'bin', 'bun.exe'),
    ...(existsSync(oven) ? readdirSync(oven).map((name) => join(oven, name, 'bin', 'bun')) : []),
  ];
  const provisioned = candidates.find((candidate) => existsSync(candidate) && spawnSync(candidate, ['--version']).status === 0);
  if (provisioned) return provisioned;
  throw new Error(
    'Bun is not installed: run `node scripts/provision.mjs` from the repository root (the test command does it; ' +
      'it installs bun from npm into node_modules/.cache/airlock-bun), or set AIRLOCK_BUN to a Bun binary.',
  );
}

/** Starts serve-on-bun.ts and waits for its ready line; rejects with its stderr if it exits first. */
function startOnBun(bun: string, input: ServeOnBunInput): Promise<{ child: ChildProcess; ready: ServeOnBunReady; stderr: () => string }> {
  const child = spawn(bun, [script, JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line) resolve({ child, ready: JSON.parse(line) as ServeOnBunReady, stderr: () => stderr });
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`Bun exited (${code ?? signal}) before serving:\n${stderr}${stdout}`)));
  });
}

let postgres: PostgresServer | undefined;
let upstream: Upstream | undefined;
let bun: Awaited<ReturnType<typeof startOnBun>> | undefined;
let url: string;

beforeAll(async () => {
  const bunPath = findBun();
  if (!existsSync(builtCore)) throw new Error(`${builtCore} is missing: build first (npx -y pnpm@12 build).`);
  [postgres, upstream] = await Promise.all([startPostgres(), startUpstream({ acceptedKeys: [upstreamKey] })]);
  bun = await startOnBun(bunPath, {
    databaseUrl: await postgres.createDatabase(),
    masterKeys: `t1:${randomBytes(32).toString('base64')}`,
    upstreamApiKey: upstreamKey,
    upstreamBaseURL: upstream.baseURL,
    allowedOrigin: origin,
    mintsPerAddress,
  });
  url = `http://127.0.0.1:${bun.ready.port}/airlock`;
});

afterAll(async () => {
  if (bun && bun.child.exitCode === null) {
    const exited = new Promise((resolve) => bun!.child.once('exit', resolve));
    bun.child.kill('SIGTERM');
    await exited;
  }
  await upstream?.close();
  await postgres?.stop();
});

async function mint(fromOrigin = origin): Promise<Response> {
  return fetch(`${url}/token`, {
    method: 'POST',
    headers: { origin: fromOrigin, 'content-type': 'application/json' },
    body: JSON.stringify({ widgetId: bun!.ready.widgetId }),
  });
}

async function client(): Promise<OpenAI> {
  const { token } = (await (await mint()).json()) as { token: string };
  return new OpenAI({ apiKey: token, baseURL: `${url}/v1`, maxRetries: 0, defaultHeaders: { origin } });
}

describe('the core handler on Bun (Bun.serve, no Node adapter)', () => {
  it('runs on Bun itself', () => {
    expect(bun!.ready.bunVersion).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('mints a public widget token for an allowed origin, and refuses another origin', async () => {
    const response = await mint();
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(origin);
    const body = (await response.json()) as { token: string; widget: { id: string } };
    expect(body.token.split('.')).toHaveLength(3);
    expect(body.widget.id).toBe(bun!.ready.widgetId);

    const refused = await mint('https://evil.example.net');
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('origin_not_allowed');
  });

  it('answers a chat completion through the openai SDK, with the vault key upstream', async () => {
    const openai = await client();
    upstream!.next({ type: 'answer', text: 'Served by Bun.' });
    const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]?.message.content).toBe('Served by Bun.');
    expect(upstream!.requests.at(-1)?.headers.authorization).toBe(`Bearer ${upstreamKey}`);
  });

  it('streams a chat completion: the deltas in order, then the end of the stream', async () => {
    const openai = await client();
    const chunks = ['One', ' two', ' three', ' four', ' five.'];
    upstream!.next({ type: 'stream', chunks, delayMs: 5 });
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'count' }], stream: true });
    const deltas: string[] = [];
    let finishReason: string | null | undefined;
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta.content;
      if (content) deltas.push(content);
      finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
    }
    expect(deltas).toEqual(chunks);
    expect(finishReason).toBe('stop');
  });

  it("refuses a request with OpenAI's error shape", async () => {
    const missingToken = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { origin, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(missingToken.status).toBe(401);
    expect(missingToken.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await missingToken.json()) as { error: Record<string, unknown> };
    expect(body).toEqual({ error: { message: expect.any(String), type: 'airlock_error', code: expect.any(String) } });

    const openai = await client();
    await expect(openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({
      status: 400,
      code: 'input_invalid',
      type: 'airlock_error',
    });
  });

  it('serves the widget script, compressed and plain', async () => {
    const expected = readFileSync(builtWidget, 'utf8');
    for (const encoding of ['br', 'gzip', 'identity']) {
      const response = await fetch(`${url}/widget.js`, { headers: { 'accept-encoding': encoding } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(response.headers.get('content-encoding') ?? 'identity').toBe(encoding);
      expect(await response.text()).toBe(expected);
    }
  });

  it("serves the admin page's index", async () => {
    const response = await fetch(`${url}/admin/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await response.text()).toBe(readFileSync(builtAdminPage, 'utf8'));
  });

  it('wrote nothing to stderr (no warning or error logged)', () => {
    expect(bun!.stderr()).toBe('');
  });

  // Last: it uses up this address's mints.
  it("counts public mints per client address, from the request's ip", async () => {
    const statuses: number[] = [];
    for (let count = 0; count <= mintsPerAddress; count += 1) statuses.push((await mint()).status);
    expect(statuses).toContain(429);
    const refused = await mint();
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
  });
});
