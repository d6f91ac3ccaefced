// Proxy overhead: the same streaming workload sent straight to the stand-in
// upstream and through Airlock, in one run, on loopback. Upstream, Airlock and
// the client each run in their own process (they share the machine's cores).
// Uses the built packages (dist): run `pnpm build` first (`pnpm bench` does).
//
//   node bench/proxy.mjs              full run (a few minutes): each comparison 3 times, medians reported
//   node bench/proxy.mjs --quick      a smaller run, once, for a smoke check
//   node bench/proxy.mjs --runs=5     repeat each comparison 5 times
//   node bench/proxy.mjs --only=200   only the comparisons whose name contains "200"
//
// Direct and proxied runs alternate, so a change in the machine's load hits
// both; Airlock's CPU time per stream does not depend on the load at all.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const role = process.argv[2];
const quick = process.argv.includes('--quick');
const argument = (name) => process.argv.find((value) => value.startsWith(`--${name}=`))?.split('=')[1];
const runs = Number(argument('runs') ?? (quick ? 1 : 3));
const only = argument('only');
const apiKey = `sk-bench-${randomBytes(8).toString('hex')}`;
const chunks = Array.from({ length: 50 }, (_, index) => `tok${index} `);


async function runUpstream() {
  const { startUpstream } = await import('@airlock/testing');
  const upstream = await startUpstream();
  process.on('message', (message) => {
    if (message.pace !== undefined) {
      // The stand-in records every request; a long run must not grow it without bound.
      upstream.reset();
      upstream.setDefault({ type: 'stream', chunks, delayMs: message.pace });
      process.send({ paced: message.pace });
    }
  });
  process.send({ baseURL: upstream.baseURL });
}

async function runAirlock() {
  const { createAirlock, silentLogger } = await import('@airlock/server');
  const { serve } = await import('@airlock/server/node');
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-bench-'));
  const unlimited = 1e9;
  const airlock = createAirlock({
    dataDir,
    databaseUrl: `sqlite:${join(dataDir, 'airlock.db')}`,
    masterKeys: `b1:${randomBytes(32).toString('base64')}`,
    logger: silentLogger,
    upstream: { apiKey: process.env.BENCH_KEY, baseURL: process.env.BENCH_UPSTREAM },
    proxy: {
      limits: {
        widgetRequestsPerMinute: unlimited,
        visitorRequestsPerMinute: unlimited,
        tokenRequestsPerMinute: unlimited,
        concurrentStreamsPerVisitor: unlimited,
      },
    },
  });
  await airlock.ready();
  const widget = await airlock.store.createWidget({
    name: 'bench',
    type: 'chat',
    allowedOrigins: ['https://bench.example'],
    presentation: { title: 'Bench', theme: 'auto' },
    behaviour: { model: 'gpt-4o-mini', systemPrompt: 'You are a benchmark.' },
  });
  const { token } = await airlock.mintToken({ widgetId: widget.id, userId: 'bench', ttlSeconds: 3_600 });
  const server = await serve(airlock.fetch, { port: 0 });
  process.on('disconnect', () => {
    void server
      .close()
      .then(() => airlock.close())
      .then(() => rmSync(dataDir, { recursive: true, force: true }))
      .finally(() => process.exit(0));
  });
  process.on('message', (message) => {
    if (message.cpu) process.send({ cpu: process.cpuUsage() });
  });
  process.send({ url: `${server.url}/airlock/v1`, token });
}

function child(flag, env = {}) {
  // BENCH_PROFILE=<dir> writes a CPU profile of the Airlock process there.
  const execArgv = flag === '--airlock' && process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const process_ = fork(self, [flag], { env: { ...process.env, ...env }, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const first = new Promise((resolve, reject) => {
    process_.once('message', resolve);
    process_.once('exit', (code) => reject(new Error(`${flag} exited with ${code}`)));
  });
  return { process: process_, ready: first };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Tell me about tides.' }] });

/** One streamed request; resolves with its time to first byte and total time, in ms. */
function stream(baseURL, key) {
  const url = new URL(`${baseURL}/chat/completions`);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let firstByte;
    let bytes = 0;
    const request = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new Error(`status ${response.statusCode}`));
          return;
        }
        response.on('data', (chunk) => {
          firstByte ??= performance.now();
          bytes += chunk.length;
        });
        response.on('end', () => resolve({ ttfb: firstByte - started, total: performance.now() - started, bytes }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** Runs `count` streams with `concurrency` in flight; returns TTFB percentiles and streams per second. */
async function load(target, concurrency, count) {
  const ttfbs = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next += 1;
        const result = await stream(target.url, target.key);
        ttfbs.push(result.ttfb);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  ttfbs.sort((a, b) => a - b);
  const at = (p) => ttfbs[Math.min(ttfbs.length - 1, Math.floor(p * ttfbs.length))];
  return { p50: at(0.5), p99: at(0.99), rate: count / seconds, count };
}

/** Runs as many requests as `concurrency` workers complete in `seconds`. */
async function timed(target, concurrency, seconds) {
  const ttfbs = [];
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) ttfbs.push((await stream(target.url, target.key)).ttfb);
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  ttfbs.sort((a, b) => a - b);
  const at = (p) => ttfbs[Math.min(ttfbs.length - 1, Math.floor(p * ttfbs.length))];
  return { p50: at(0.5), p99: at(0.99), rate: ttfbs.length / elapsed, count: ttfbs.length };
}

const ms = (value) => `${value.toFixed(2)} ms`;

async function main() {
  const upstream = child('--upstream');
  const { baseURL } = await upstream.ready;
  const airlock = child('--airlock', { BENCH_KEY: apiKey, BENCH_UPSTREAM: baseURL });
  const { url, token } = await airlock.ready;
  const direct = { url: baseURL, key: apiKey };
  const proxied = { url, key: token };
  const pace = async (delayMs) => {
    upstream.process.send({ pace: delayMs });
    await new Promise((resolve) => upstream.process.once('message', resolve));
  };
  const airlockCpu = async () => {
    airlock.process.send({ cpu: true });
    const { cpu } = await new Promise((resolve) => airlock.process.once('message', resolve));
    return cpu.user + cpu.system;
  };
  const rows = [];
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
  const compare = async (name, run) => {
    if (only && !name.includes(only)) return;
    // Warm both sides up, so neither gets a cold start.
    await run(direct, true);
    await run(proxied, true);
    const samples = [];
    for (let index = 0; index < runs; index += 1) {
      const d = await run(direct);
      const cpuBefore = await airlockCpu();
      const a = await run(proxied);
      // CPU time is what the proxy costs whatever else the machine is doing; wall times depend on the load.
      const cpu = ((await airlockCpu()) - cpuBefore) / a.count / 1000;
      samples.push({ d, a, cpu, added50: a.p50 - d.p50, added99: a.p99 - d.p99, p99x: a.p99 / d.p99, ratio: a.rate / d.rate });
    }
    const m = (pick) => median(samples.map(pick));
    const row = {
      name,
      direct: { p50: m((s) => s.d.p50), p99: m((s) => s.d.p99), rate: m((s) => s.d.rate), count: samples[0].d.count },
      airlock: { p50: m((s) => s.a.p50), p99: m((s) => s.a.p99), rate: m((s) => s.a.rate), count: samples[0].a.count },
      added50: m((s) => s.added50),
      added99: m((s) => s.added99),
      p99x: m((s) => s.p99x),
      ratio: m((s) => s.ratio),
      cpu: m((s) => s.cpu),
    };
    rows.push(row);
    const spread = (pick, format) => (runs > 1 ? ` [${samples.map((s) => format(pick(s))).join(', ')}]` : '');
    const percent = (value) => `${(value * 100).toFixed(1)}%`;
    console.log(
      `${name}${runs > 1 ? ` (median of ${runs} runs; each run in brackets)` : ''}\n` +
        `  direct:  p50 ${ms(row.direct.p50)}  p99 ${ms(row.direct.p99)}  ${row.direct.rate.toFixed(1)}/s (${row.direct.count})\n` +
        `  airlock: p50 ${ms(row.airlock.p50)}  p99 ${ms(row.airlock.p99)}  ${row.airlock.rate.toFixed(1)}/s (${row.airlock.count})\n` +
        `  added TTFB p50 ${ms(row.added50)}${spread((s) => s.added50, ms)}, p99 ${ms(row.added99)} (p99 ${row.p99x.toFixed(2)}x${spread((s) => s.p99x, (v) => `${v.toFixed(2)}x`)})\n` +
        `  throughput ${percent(row.ratio)} of direct${spread((s) => s.ratio, percent)}; Airlock CPU ${row.cpu.toFixed(2)} ms per stream${spread((s) => s.cpu, (v) => v.toFixed(2))}`,
    );
  };

  const load1 = () => loadavg().map((value) => value.toFixed(2)).join(' ');
  console.log(`bench/proxy: 50 chunks per stream; node ${process.version}; ${quick ? 'quick' : 'full'} run; load average ${load1()}\n`);
  await pace(10);
  await compare('1 stream at a time, paced upstream (50 chunks, 10 ms apart)', (target, warm) => load(target, 1, warm ? 3 : quick ? 10 : 30));
  await compare('200 concurrent streams, paced upstream', (target, warm) => load(target, 200, warm ? 200 : quick ? 400 : 1_000));
  await pace(0);
  await compare('1 stream at a time, instant upstream', (target, warm) => load(target, 1, warm ? 50 : quick ? 200 : 1_000));
  await compare('instant upstream, 50 in flight (CPU-bound)', (target, warm) => timed(target, 50, warm ? 0.5 : quick ? 2 : 5));
  console.log(`\nload average at the end ${load1()}`);

  agent.destroy();
  airlock.process.disconnect();
  upstream.process.kill();
  setTimeout(() => airlock.process.kill(), 5_000).unref();
  return rows;
}

if (role === '--upstream') await runUpstream();
else if (role === '--airlock') await runAirlock();
else await main();
