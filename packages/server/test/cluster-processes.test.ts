// Several instances as operators run them: two (and for shutdown, three)
// `airlock serve` processes of the built CLI on one PostgreSQL and one Redis,
// each started by this file on loopback ports, with requests alternating
// between the instances. Redis and PostgreSQL are stopped and started again
// mid-run.
import { startUpstream, type Upstream } from '@airlock/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startPostgres, startRedis, type PostgresServer, type RedisServer } from '@airlock/test-services';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const canary = `sk-canary-${randomBytes(12).toString('hex')}`;
const ownKey = `sk-own-${randomBytes(12).toString('hex')}`;
const adminToken = `admin-${randomBytes(16).toString('hex')}`;
const origin = 'https://shop.example.com';
const widgetLimit = 60;

interface Instance {
  url: string;
  process: ChildProcess;
  logs: string[];
  exited: Promise<number | null>;
}

let postgres: PostgresServer;
let redis: RedisServer;
let upstream: Upstream;
let environment: NodeJS.ProcessEnv;
const instances: Instance[] = [];

async function startInstance(extraArgs: string[] = []): Promise<Instance> {
  const port = await freePort();
  const child = spawn(process.execPath, [cli, 'serve', '--port', String(port), ...extraArgs], { env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  let stdout = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // An instance that dies unasked shows why in the test output.
  void exited.then((code) => {
    if (code !== 0 && !child.killed) console.error(`airlock serve on port ${port} exited with ${code}:\n${logs.join('\n')}\n${partial}`);
  });
  child.stderr!.setEncoding('utf8');
  let partial = '';
  child.stderr!.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    logs.push(...lines);
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      stdout += text;
      if (stdout.includes('Airlock listening on')) resolve();
    });
    void exited.then((code) => reject(new Error(`airlock serve exited with ${code}: ${logs.join('\n')}`)));
  });
  const instance = { url: `http://127.0.0.1:${port}/airlock`, process: child, logs, exited };
  instances.push(instance);
  return instance;
}

function admin(instance: Instance, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${instance.url}/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

async function createWidget(instance: Instance, body: Record<string, unknown> = {}): Promise<string> {
  const response = await admin(instance, 'POST', '/widgets', { name: `w-${randomBytes(4).toString('hex')}`, allowedOrigins: [origin], ...body });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

async function mint(instance: Instance, widgetId: string, userId = 'visitor'): Promise<string> {
  const response = await admin(instance, 'POST', '/tokens', { widgetId, userId });
  expect(response.status).toBe(201);
  return ((await response.json()) as { token: string }).token;
}

function ask(instance: Instance, token: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${instance.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', origin, ...headers },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] }),
  });
}

async function codeOf(response: Response): Promise<string | undefined> {
  if (response.status === 200) {
    await response.arrayBuffer();
    return undefined;
  }
  return ((await response.json()) as { error: { code: string } }).error.code;
}

/** Polls `probe` every 20 ms until it returns true; resolves with the milliseconds it took. */
async function within(limitMs: number, probe: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (!(await probe())) {
    if (performance.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - started;
}

beforeAll(async () => {
  [postgres, redis, upstream] = await Promise.all([startPostgres(), startRedis(), startUpstream({ acceptedKeys: [canary, ownKey] })]);
  upstream.setDefault({ type: 'answer', text: 'Hello from the stand-in.' });
  environment = {
    ...process.env,
    AIRLOCK_DATABASE_URL: await postgres.createDatabase(),
    AIRLOCK_REDIS_URL: redis.url,
    AIRLOCK_MASTER_KEYS: `c1:${randomBytes(32).toString('base64')}`,
    AIRLOCK_ADMIN_TOKEN: adminToken,
    OPENAI_API_KEY: canary,
    OPENAI_BASE_URL: upstream.baseURL,
    AIRLOCK_WIDGET_REQUESTS_PER_MINUTE: String(widgetLimit),
    AIRLOCK_VISITOR_REQUESTS_PER_MINUTE: '1000',
    AIRLOCK_TOKEN_REQUESTS_PER_MINUTE: '1000',
    AIRLOCK_STREAMS_PER_VISITOR: '100',
    AIRLOCK_REDIS_FAIL_OPEN: '',
  };
  // The first instance migrates the database; the second finds it migrated.
  await startInstance();
  await startInstance();
}, 60_000);

afterAll(async () => {
  for (const instance of instances) instance.process.kill('SIGKILL');
  await Promise.all([postgres?.stop(), redis?.close(), upstream?.close()]);
});

describe('two airlock serve processes on PostgreSQL and Redis', () => {
  it('accepts on one instance a token minted on the other, and honours revoke-tokens from the other within a second', async () => {
    const [a, b] = instances as [Instance, Instance];
    const widgetId = await createWidget(a);
    const token = await mint(a, widgetId);
    expect(await codeOf(await ask(b, token))).toBeUndefined();
    expect(await codeOf(await ask(a, token))).toBeUndefined();

    expect((await admin(a, 'POST', `/widgets/${widgetId}/revoke-tokens`)).status).toBe(200);
    const tookMs = await within(1_000, async () => (await codeOf(await ask(b, token))) === 'token_invalid');
    expect(tookMs).toBeLessThan(1_000);
    // A token minted after the revocation works on both.
    const fresh = await mint(b, widgetId);
    expect(await codeOf(await ask(a, fresh))).toBeUndefined();
  });

  it('refuses on one instance an OpenAI key revoked on the other', async () => {
    const [a, b] = instances as [Instance, Instance];
    const account = (await (await admin(a, 'POST', '/accounts', { name: 'Own key' })).json()) as { id: string };
    expect((await admin(a, 'PUT', `/accounts/${account.id}/key`, { apiKey: ownKey })).status).toBe(200);
    const widgetId = await createWidget(a, { accountId: account.id, keySource: 'own' });
    const token = await mint(a, widgetId);
    expect(await codeOf(await ask(b, token))).toBeUndefined();
    expect(upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${ownKey}`);

    expect((await admin(b, 'DELETE', `/accounts/${account.id}/key?force=true`)).status).toBe(200);
    const before = upstream.requests.length;
    expect(await codeOf(await ask(a, token))).toBe('upstream_key_invalid');
    // Refused before reaching OpenAI, and never served with the shared key instead.
    expect(upstream.requests.length).toBe(before);
  });

  it(`admits exactly ${widgetLimit} requests a minute to one widget across both instances`, async () => {
    const widgetId = await createWidget(instances[0]!);
    const tokens = await Promise.all(Array.from({ length: 8 }, (_, index) => mint(instances[index % 2]!, widgetId, `visitor-${index}`)));
    const codes = await Promise.all(
      Array.from({ length: widgetLimit + 20 }, async (_, index) => codeOf(await ask(instances[index % 2]!, tokens[index % tokens.length]!))),
    );
    expect(codes.filter((code) => code === undefined)).toHaveLength(widgetLimit);
    expect(codes.filter((code) => code === 'rate_limited')).toHaveLength(20);
  });

  it('never overspends a nearly exhausted generation allowance under 50 concurrent requests', async () => {
    const [a, b] = instances as [Instance, Instance];
    const account = (await (await admin(a, 'POST', '/accounts', { name: 'Allowance' })).json()) as { id: string };
    expect((await admin(a, 'PUT', `/accounts/${account.id}/shared-key`, { grant: 'listed-models' })).status).toBe(200);
    // gpt-4o-mini costs 1 generation: 3 are left for 50 requests.
    expect((await admin(a, 'PUT', `/accounts/${account.id}/generations`, { allowance: 3 })).status).toBe(200);
    const widgetId = await createWidget(a, { accountId: account.id, keySource: 'shared' });
    const tokens = await Promise.all(Array.from({ length: 10 }, (_, index) => mint(a, widgetId, `spender-${index}`)));
    const codes = await Promise.all(Array.from({ length: 50 }, async (_, index) => codeOf(await ask(index % 2 === 0 ? a : b, tokens[index % tokens.length]!))));
    expect(codes.filter((code) => code === undefined)).toHaveLength(3);
    expect(codes.filter((code) => code === 'quota_exhausted')).toHaveLength(47);
    const balance = (await (await admin(b, 'GET', `/accounts/${account.id}/generations`)).json()) as { used: number; remaining: number };
    expect(balance).toMatchObject({ used: 3, remaining: 0 });
  });

  it('fails closed while Redis is stopped, and serves again once it is back, without a restart', async () => {
    const [a, b] = instances as [Instance, Instance];
    const widgetId = await createWidget(a);
    const token = await mint(b, widgetId);
    expect(await codeOf(await ask(a, token))).toBeUndefined();

    await redis.stop();
    for (const instance of [a, b]) {
      const started = performance.now();
      const response = await ask(instance, token);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(await codeOf(response)).toBe('limits_unavailable');
      expect(performance.now() - started).toBeLessThan(1_000);
      const ready = await fetch(`${instance.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: Record<string, string> }).checks).toMatchObject({ store: 'ok', redis: 'failing' });
    }
    // A second refused request does not log again: one line per outage.
    await ask(a, token);
    const warnings = a.logs.filter((line) => line.includes('"level":"warn"') && /redis/i.test(line));
    expect(warnings).toHaveLength(1);

    await redis.restart();
    for (const instance of [a, b]) {
      await within(5_000, async () => (await codeOf(await ask(instance, token))) === undefined);
      expect((await fetch(`${instance.url}/readyz`)).status).toBe(200);
    }
  });

  it('answers 503 service_unavailable while PostgreSQL restarts, then serves again by itself', async () => {
    const [a, b] = instances as [Instance, Instance];
    const widgetId = await createWidget(a);
    const token = await mint(a, widgetId);

    await postgres.shutDown();
    for (const instance of [a, b]) {
      const started = performance.now();
      const response = await ask(instance, token);
      expect(response.status).toBe(503);
      expect(await codeOf(response)).toBe('service_unavailable');
      expect(performance.now() - started).toBeLessThan(6_000);
      const ready = await fetch(`${instance.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: Record<string, string> }).checks).toMatchObject({ store: 'failing' });
      // Liveness does not depend on the database.
      expect((await fetch(`${instance.url}/healthz`)).status).toBe(200);
    }
    await postgres.start();
    for (const instance of [a, b]) {
      await within(10_000, async () => (await codeOf(await ask(instance, token))) === undefined);
      expect((await fetch(`${instance.url}/readyz`)).status).toBe(200);
    }
    expect(a.logs.join('\n') + b.logs.join('\n')).not.toContain(canary);
  });

  it('drains on SIGTERM: an open stream finishes, new requests are refused, the process exits 0', async () => {
    const instance = await startInstance();
    const widgetId = await createWidget(instance);
    const token = await mint(instance, widgetId);
    upstream.next({ type: 'stream', chunks: ['one ', 'two ', 'three'], delayMs: 300 });
    const open = await fetch(`${instance.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', origin },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Count' }] }),
    });
    expect(open.status).toBe(200);
    instance.process.kill('SIGTERM');
    await within(2_000, async () => instance.logs.some((line) => line.includes('shutting down')));
    // New connections are no longer taken (or, on a kept-alive one, refused with 503).
    // (/healthz would answer even while draining, so ask for something else.)
    const late = await fetch(`${instance.url}/.well-known/jwks.json`).then(
      (response) => response.status,
      () => 'refused',
    );
    expect(['refused', 503]).toContain(late);
    const text = await open.text();
    expect(text).toContain('three');
    expect(text).toContain('[DONE]');
    expect(await instance.exited).toBe(0);
    expect(instance.logs.some((line) => line.includes('"message":"stopped"') && line.includes('"outcome":"drained"'))).toBe(true);
  });

  it('cuts streams still open at the drain deadline', async () => {
    const instance = await startInstance(['--drain-seconds', '0.5']);
    const widgetId = await createWidget(instance);
    const token = await mint(instance, widgetId);
    upstream.next({ type: 'stream', chunks: ['slow ', 'answer'], delayMs: 5_000 });
    const open = await fetch(`${instance.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', origin },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Wait' }] }),
    });
    expect(open.status).toBe(200);
    const started = performance.now();
    instance.process.kill('SIGTERM');
    const received = await open.text().catch(() => '');
    expect(received).not.toContain('[DONE]');
    expect(await instance.exited).toBe(0);
    const tookMs = performance.now() - started;
    expect(tookMs).toBeGreaterThan(400);
    expect(tookMs).toBeLessThan(3_000);
    expect(instance.logs.some((line) => line.includes('shutdown deadline reached'))).toBe(true);
  });

  it('wrote no OpenAI key and no admin token to any log line of any instance', () => {
    const logs = instances.flatMap((instance) => instance.logs).join('\n');
    expect(logs).toContain('"level"');
    for (const secret of [canary, ownKey, adminToken]) expect(logs).not.toContain(secret);
  });
});
