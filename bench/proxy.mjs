// Proxy overhead: the same streaming workload sent straight to the stand-in
// upstream, through a bare node:http pass-through proxy (the floor: what any
// Node proxy costs here), and through Airlock, in one run, on loopback.
// Upstream, the proxies and the client each run in their own process (they
// share the machine's cores).
// Uses the built packages (dist): run `pnpm build` first (`pnpm bench` does).
//
//   node bench/proxy.mjs              full run (a few minutes): each comparison 3 times, medians reported
//   node bench/proxy.mjs --quick      a smaller run, once, for a smoke check
//   node bench/proxy.mjs --runs=5     repeat each comparison 5 times
//   node bench/proxy.mjs --only=200   only the comparisons whose name contains "200"
//
// Direct, bare and Airlock runs alternate, so a change in the machine's load
// hits all three; CPU time per stream does not depend on the load at all.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeConnections, load, ms, timed } from './lib/http-load.mjs';
import { cpuTimeOf, forkRole, runAirlockRole, runBareProxy, runStandInUpstream, setPace } from './lib/processes.mjs';

const self = fileURLToPath(import.meta.url);
const role = process.argv[2];
const quick = process.argv.includes('--quick');
const argument = (name) => process.argv.find((value) => value.startsWith(`--${name}=`))?.split('=')[1];
const runs = Number(argument('runs') ?? (quick ? 1 : 3));
const only = argument('only');
const apiKey = `sk-bench-${randomBytes(8).toString('hex')}`;

function runAirlock() {
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-bench-'));
  return runAirlockRole(
    { dataDir, databaseUrl: `sqlite:${join(dataDir, 'airlock.db')}`, masterKeys: `b1:${randomBytes(32).toString('base64')}` },
    { onClosed: () => rmSync(dataDir, { recursive: true, force: true }) },
  );
}

async function main() {
  const upstream = forkRole(self, '--upstream');
  const { baseURL } = await upstream.ready;
  // BENCH_PROFILE=<dir> writes a CPU profile of the Airlock process there.
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const airlock = forkRole(self, '--airlock', { BENCH_KEY: apiKey, BENCH_UPSTREAM: baseURL }, profile);
  const bareProxy = forkRole(self, '--bare', { BENCH_KEY: apiKey, BENCH_UPSTREAM: baseURL });
  const { url, token } = await airlock.ready;
  const direct = { url: baseURL, key: apiKey };
  const bare = { url: (await bareProxy.ready).url, key: apiKey };
  const proxied = { url, key: token };
  const pace = (delayMs) => setPace(upstream, delayMs);
  // CPU time is what a proxy costs whatever else the machine is doing; wall times depend on the load.
  const measured = async (run, target, child) => {
    const before = await cpuTimeOf(child);
    const result = await run(target);
    return { ...result, cpu: ((await cpuTimeOf(child)) - before) / result.count / 1000 };
  };
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
  const compare = async (name, run) => {
    if (only && !name.includes(only)) return;
    // Warm every side up, so none gets a cold start.
    for (const target of [direct, bare, proxied]) await run(target, true);
    const samples = [];
    for (let index = 0; index < runs; index += 1) {
      const d = await run(direct);
      const b = await measured(run, bare, bareProxy);
      const a = await measured(run, proxied, airlock);
      samples.push({
        d,
        b,
        a,
        added50: a.p50 - d.p50,
        added99: a.p99 - d.p99,
        p99x: a.p99 / d.p99,
        ratio: a.rate / d.rate,
        bareAdded50: b.p50 - d.p50,
        bareP99x: b.p99 / d.p99,
        bareRatio: b.rate / d.rate,
      });
    }
    const m = (pick) => median(samples.map(pick));
    const side = (pick) => ({ p50: m((s) => pick(s).p50), p99: m((s) => pick(s).p99), rate: m((s) => pick(s).rate), count: pick(samples[0]).count, cpu: m((s) => pick(s).cpu ?? 0) });
    const row = {
      name,
      direct: side((s) => s.d),
      bare: side((s) => s.b),
      airlock: side((s) => s.a),
      added50: m((s) => s.added50),
      added99: m((s) => s.added99),
      p99x: m((s) => s.p99x),
      ratio: m((s) => s.ratio),
      bareAdded50: m((s) => s.bareAdded50),
      bareP99x: m((s) => s.bareP99x),
      bareRatio: m((s) => s.bareRatio),
    };
    const spread = (pick, format) => (runs > 1 ? ` [${samples.map((s) => format(pick(s))).join(', ')}]` : '');
    const percent = (value) => `${(value * 100).toFixed(1)}%`;
    const line = (label, side) => `  ${label} p50 ${ms(side.p50)}  p99 ${ms(side.p99)}  ${side.rate.toFixed(1)}/s (${side.count})`;
    console.log(
      `${name}${runs > 1 ? ` (median of ${runs} runs; each run in brackets)` : ''}\n` +
        `${line('direct: ', row.direct)}\n` +
        `${line('bare:   ', row.bare)}\n` +
        `${line('airlock:', row.airlock)}\n` +
        `  bare node:http proxy (the floor): added TTFB p50 ${ms(row.bareAdded50)}, p99 ${row.bareP99x.toFixed(2)}x, throughput ${percent(row.bareRatio)} of direct, CPU ${row.bare.cpu.toFixed(2)} ms per stream\n` +
        `  airlock: added TTFB p50 ${ms(row.added50)}${spread((s) => s.added50, ms)}, p99 ${ms(row.added99)} (p99 ${row.p99x.toFixed(2)}x${spread((s) => s.p99x, (v) => `${v.toFixed(2)}x`)})\n` +
        `  airlock: throughput ${percent(row.ratio)} of direct${spread((s) => s.ratio, percent)}; CPU ${row.airlock.cpu.toFixed(2)} ms per stream${spread((s) => s.a.cpu, (v) => v.toFixed(2))}`,
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
  bareProxy.process.kill();
  upstream.process.kill();
  setTimeout(() => airlock.process.kill(), 5_000).unref();
}

if (role === '--upstream') await runStandInUpstream();
else if (role === '--bare') await runBareProxy(process.env.BENCH_UPSTREAM, process.env.BENCH_KEY);
else if (role === '--airlock') await runAirlock();
else await main();
