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
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeConnections, load, ms, timed } from './lib/http-load.mjs';
import { createBenchWidget, forkRole, runStandInUpstream, setPace, unlimitedProxy } from './lib/processes.mjs';

const self = fileURLToPath(import.meta.url);
const role = process.argv[2];
const quick = process.argv.includes('--quick');
const argument = (name) => process.argv.find((value) => value.startsWith(`--${name}=`))?.split('=')[1];
const runs = Number(argument('runs') ?? (quick ? 1 : 3));
const only = argument('only');
const apiKey = `sk-bench-${randomBytes(8).toString('hex')}`;

async function runAirlock() {
  const { createAirlock, silentLogger } = await import('@airlock/server');
  const { serve } = await import('@airlock/server/node');
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-bench-'));
  const airlock = createAirlock({
    dataDir,
    databaseUrl: `sqlite:${join(dataDir, 'airlock.db')}`,
    masterKeys: `b1:${randomBytes(32).toString('base64')}`,
    logger: silentLogger,
    upstream: { apiKey: process.env.BENCH_KEY, baseURL: process.env.BENCH_UPSTREAM },
    proxy: unlimitedProxy,
  });
  await airlock.ready();
  const token = await createBenchWidget(airlock);
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

async function main() {
  const upstream = forkRole(self, '--upstream');
  const { baseURL } = await upstream.ready;
  // BENCH_PROFILE=<dir> writes a CPU profile of the Airlock process there.
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const airlock = forkRole(self, '--airlock', { BENCH_KEY: apiKey, BENCH_UPSTREAM: baseURL }, profile);
  const { url, token } = await airlock.ready;
  const direct = { url: baseURL, key: apiKey };
  const proxied = { url, key: token };
  const pace = (delayMs) => setPace(upstream, delayMs);
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

  closeConnections();
  airlock.process.disconnect();
  upstream.process.kill();
  setTimeout(() => airlock.process.kill(), 5_000).unref();
  return rows;
}

if (role === '--upstream') await runStandInUpstream();
else if (role === '--airlock') await runAirlock();
else await main();
