// Generation reservations under kill -9: `airlock serve` processes of the
// built CLI, killed with SIGKILL while 100 answers stream from a slow
// stand-in upstream, on SQLite (then restarted) and on PostgreSQL (a second
// instance, streaming an answer longer than several leases, gives the dead
// one's reservations back). The account's `used` must end equal to what the
// settled calls spent: the reservations of calls cut by the kill are given
// back once their lease ends, and a live instance's are never taken.
import { startUpstream, type Upstream } from '@airlock/testing';
import { freePort, startPostgres, type PostgresServer } from '@airlock/test-services';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/stores/open-store.js';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const sharedKey = `sk-shared-${randomBytes(12).toString('hex')}`;
const adminToken = `admin-${randomBytes(16).toString('hex')}`;
const leaseMs = 1_500;
const streams = 100;
const dir = mkdtempSync(join(tmpdir(), 'airlock-leases-'));

interface Instance {
  url: string;
  process: ChildProcess;
  exited: Promise<unknown>;
}

let upstream: Upstream;
let postgres: PostgresServer;
const running: Instance[] = [];

beforeAll(async () => {
  [upstream, postgres] = await Promise.all([startUpstream({ acceptedKeys: [sharedKey] }), startPostgres()]);
}, 60_000);

afterAll(async () => {
  for (const instance of running) instance.process.kill('SIGKILL');
  await Promise.all([upstream?.close(), postgres?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

function environment(databaseUrl: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    AIRLOCK_DATABASE_URL: databaseUrl,
    AIRLOCK_MASTER_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    AIRLOCK_ADMIN_TOKEN: adminToken,
    AIRLOCK_RESERVATION_LEASE_MS: String(leaseMs),
    OPENAI_API_KEY: sharedKey,
    OPENAI_BASE_URL: upstream.baseURL,
    AIRLOCK_WIDGET_REQUESTS_PER_MINUTE: '100000',
    AIRLOCK_VISITOR_REQUESTS_PER_MINUTE: '100000',
    AIRLOCK_TOKEN_REQUESTS_PER_MINUTE: '100000',
    AIRLOCK_STREAMS_PER_VISITOR: String(streams * 2),
    AIRLOCK_TRUSTED_PROXIES: '1',
    AIRLOCK_LOG_REQUESTS: '0',
    AIRLOCK_LOG_LEVEL: 'warn',
  };
}

async function start(env: NodeJS.ProcessEnv): Promise<Instance> {
  const port = await freePort();
  const child = spawn(process.execPath, [cli, 'serve', '--port', String(port)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      if (String(chunk).includes('Airlock listening on')) resolve();
    });
    void exited.then((code) => reject(new Error(`airlock serve exited with ${String(code)}: ${output}`)));
  });
  const instance = { url: `http://127.0.0.1:${port}/airlock`, process: child, exited };
  running.push(instance);
  return instance;
}

async function kill(instance: Instance): Promise<void> {
  instance.process.kill('SIGKILL');
  await instance.exited;
  running.splice(running.indexOf(instance), 1);
}

async function admin<T>(instance: Instance, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${instance.url}/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  return (await response.json()) as T;
}

/** An account on the shared key with an allowance, a widget, and a token for it. */
async function setUp(instance: Instance, allowance: number): Promise<{ accountId: string; token: string }> {
  const { id: accountId } = await admin<{ id: string }>(instance, 'POST', '/accounts', { name: 'Leases' });
  // The shared key is the operator's grant per account.
  await admin(instance, 'PUT', `/accounts/${accountId}/shared-key`, { grant: 'listed-models' });
  await admin(instance, 'PUT', `/accounts/${accountId}/generations`, { allowance });
  const { id: widgetId } = await admin<{ id: string }>(instance, 'POST', '/widgets', {
    name: `leases-${randomBytes(4).toString('hex')}`,
    accountId,
    keySource: 'shared',
    allowedOrigins: ['https://shop.example.com'],
    behaviour: { model: 'gpt-4o-mini' },
  });
  const { token } = await admin<{ token: string }>(instance, 'POST', '/tokens', { widgetId, userId: 'visitor', ttlSeconds: 3600 });
  return { accountId, token };
}

// Each call comes from an address of its own (as the one proxy in front says), so no per-address limit is what refuses it.
let addresses = 0;
const client = (instance: Instance, token: string) =>
  new OpenAI({
    apiKey: token,
    baseURL: `${instance.url}/v1`,
    maxRetries: 0,
    defaultHeaders: { 'x-forwarded-for': `2001:db8:${(addresses += 1).toString(16)}::1` },
  });

/** One streamed answer read to the end; resolves its text. */
async function answer(instance: Instance, token: string): Promise<string> {
  const stream = await client(instance, token).chat.completions.create({
    model: 'gpt-4o-mini',
    stream: true,
    messages: [{ role: 'user', content: 'Hello' }],
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  return text;
}

/**
 * Opens `count` streamed answers and resolves once each has received its
 * first event (its generation is reserved by then) and none has ended;
 * `ended` resolves each one's text, or its error, once they end (for the
 * doomed instance's, at the kill).
 */
async function openStreams(instance: Instance, token: string, count: number): Promise<{ ended: Promise<(string | Error)[]> }> {
  const started: Promise<void>[] = [];
  const ended: Promise<string | Error>[] = [];
  const endedEarly: (string | Error)[] = [];
  let open = true;
  for (let index = 0; index < count; index += 1) {
    let first!: () => void;
    started.push(new Promise<void>((resolve) => (first = resolve)));
    const outcome = (async () => {
      const stream = await client(instance, token).chat.completions.create({
        model: 'gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: `Question ${index}` }],
      });
      let text = '';
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        first();
      }
      return text;
    })().catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
    ended.push(
      outcome.then((result) => {
        if (open) endedEarly.push(result);
        first();
        return result;
      }),
    );
  }
  await Promise.all(started);
  open = false;
  expect(endedEarly.map(String)).toEqual([]);
  return { ended: Promise.all(ended) };
}

async function used(databaseUrl: string, accountId: string): Promise<{ used: number; reservations: number }> {
  const store = openStore(databaseUrl);
  try {
    const balance = await store.getGenerationBalance(accountId);
    let reservations: number;
    if (store.kind === 'postgres') {
      const connection = new pg.Client({ connectionString: databaseUrl });
      await connection.connect();
      reservations = Number((await connection.query('SELECT count(*) AS count FROM generation_reservations')).rows[0].count);
      await connection.end();
    } else {
      const { default: Database } = await import('better-sqlite3');
      const database = new Database(databaseUrl.slice('sqlite:'.length), { readonly: true });
      reservations = (database.prepare('SELECT count(*) AS count FROM generation_reservations').get() as { count: number }).count;
      database.close();
    }
    return { used: balance?.used ?? 0, reservations };
  } finally {
    await store.close();
  }
}

/** Polls until `probe` holds; resolves the milliseconds it took. */
async function within(limitMs: number, probe: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (!(await probe())) {
    if (performance.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return performance.now() - started;
}

const quick = { type: 'answer', text: 'Quick answer.' } as const;
// A model that sends two words, then thinks for longer than the test runs (the kill ends it).
const slow = { type: 'stall', afterChunks: 2 } as const;
// 40 words 200 ms apart: 8 s, over five leases.
const long = { type: 'answer', text: Array.from({ length: 40 }, (_, index) => `word${index}`).join(' '), delayMs: 200 } as const;

describe('generation reservations under kill -9', () => {
  it('gives back, on SQLite after a restart, every reservation of calls cut by five kills during 100 streams', async () => {
    const databaseUrl = `sqlite:${join(dir, 'airlock.db')}`;
    const env = environment(databaseUrl);
    let instance = await start(env);
    const { accountId, token } = await setUp(instance, streams * 5);
    let settled = 0;
    const releaseTimes: number[] = [];
    for (let round = 0; round < 5; round += 1) {
      upstream.setDefault(quick);
      // Two calls answered in full: each keeps its generation.
      for (let call = 0; call < 2; call += 1) expect(await answer(instance, token)).toBe('Quick answer.');
      settled += 2;
      await within(5_000, async () => (await used(databaseUrl, accountId)).used === settled);

      upstream.setDefault(slow);
      const { ended } = await openStreams(instance, token, streams);
      expect(await used(databaseUrl, accountId)).toEqual({ used: settled + streams, reservations: streams });
      await kill(instance);
      await ended;
      // Still taken until the leases end: the dead process cannot settle them.
      expect((await used(databaseUrl, accountId)).used).toBe(settled + streams);

      const restarted = performance.now();
      instance = await start(env);
      await within(leaseMs * 4 + 5_000, async () => {
        const now = await used(databaseUrl, accountId);
        return now.used === settled && now.reservations === 0;
      });
      releaseTimes.push(performance.now() - restarted);
    }
    // The whole allowance is usable again.
    upstream.setDefault(quick);
    expect(await answer(instance, token)).toBe('Quick answer.');
    await within(5_000, async () => (await used(databaseUrl, accountId)).used === settled + 1);
    expect(await used(databaseUrl, accountId)).toEqual({ used: settled + 1, reservations: 0 });
    console.log(`SQLite: ${streams} reservations given back ${releaseTimes.map((ms) => ms.toFixed(0)).join(', ')} ms after each restart (lease ${leaseMs} ms)`);
  }, 180_000);

  it('on PostgreSQL, a live instance gives back a killed one\u2019s reservations and keeps its own long stream reserved', async () => {
    const databaseUrl = await postgres.createDatabase();
    const env = environment(databaseUrl);
    const survivor = await start(env);
    let doomed = await start(env);
    const { accountId, token } = await setUp(survivor, streams * 5);
    let settled = 0;
    for (let round = 0; round < 3; round += 1) {
      upstream.setDefault(quick);
      for (let call = 0; call < 2; call += 1) expect(await answer(round % 2 ? survivor : doomed, token)).toBe('Quick answer.');
      settled += 2;
      await within(5_000, async () => (await used(databaseUrl, accountId)).used === settled);

      upstream.setDefault(slow);
      const { ended } = await openStreams(doomed, token, streams);
      // The survivor's own answer streams for over five leases, past the release below: renewed, never given back.
      upstream.setDefault(long);
      const survivorStream = await openStreams(survivor, token, 1);
      expect(await used(databaseUrl, accountId)).toEqual({ used: settled + 1 + streams, reservations: 1 + streams });
      await kill(doomed);
      await ended;

      // No restart: the survivor's sweep gives the dead instance's reservations back once their leases end.
      const tookMs = await within(leaseMs * 4, async () => (await used(databaseUrl, accountId)).reservations === 1);
      expect(tookMs).toBeGreaterThan(leaseMs * 0.5);
      expect(await used(databaseUrl, accountId)).toEqual({ used: settled + 1, reservations: 1 });
      expect(await survivorStream.ended).toEqual([long.text]);
      settled += 1;
      await within(5_000, async () => (await used(databaseUrl, accountId)).reservations === 0);
      expect((await used(databaseUrl, accountId)).used).toBe(settled);
      doomed = await start(env);
    }
  }, 180_000);
});
