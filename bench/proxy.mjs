// Proxy overhead: the same streaming workload sent straight to the stand-in
// upstream, through a TCP relay (no HTTP at all: what one more process costs
// here), through a bare node:http pass-through proxy (the floor for an HTTP
// proxy in Node), through Airlock and through the Portkey gateway (a peer,
// installed from npm into bench/.peers on first use), in one run, on loopback.
// Upstream, the proxies and the client each run in their own process (they
// share the machine's cores). Then a non-streaming workload (one JSON answer
// per request) from outside: direct, the bare proxy, `airlock serve` from the
// built CLI and Portkey, with Airlock's requests per second against Portkey's.
// Uses the built packages (dist): run `pnpm build` first (`pnpm bench` does).
//
//   node bench/proxy.mjs              full run (a few minutes): each comparison 3 times, medians reported
//   node bench/proxy.mjs --quick      a smaller run, once, for a smoke check
//   node bench/proxy.mjs --runs=5     repeat each comparison 5 times
//   node bench/proxy.mjs --only=200   only the comparisons whose name contains "200"
//   node bench/proxy.mjs --only=non-streaming   only the non-streaming workload
//   node bench/proxy.mjs --no-peers   without Portkey (nothing is installed)
//
// Direct and the proxies alternate, so a change in the machine's load hits
// them all; CPU time per stream does not depend on the load at all.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@airlock/test-services';
import { runAirlockServe } from './lib/airlock-serve.mjs';
import { closeConnections, complete, load, ms, timed } from './lib/http-load.mjs';
import { installPortkey, portkeyRelease, procCpuTime, runPortkey } from './lib/peers.mjs';
import { cpuTimeOf, forkRole, profileArguments, runAirlockRole, runBareProxy, runStandInUpstream, runTcpRelay, setPace } from './lib/processes.mjs';

const self = fileURLToPath(import.meta.url);
const role = process.argv[2];
const quick = process.argv.includes('--quick');
const argument = (name) => process.argv.find((value) => value.startsWith(`--${name}=`))?.split('=')[1];
const runs = Number(argument('runs') ?? (quick ? 1 : 3));
const only = argument('only');
const peers = !process.argv.includes('--no-peers');
const wanted = (name) => !only || name.includes(only);
const nonStreaming = {
  concurrent: 'non-streaming chat, instant upstream, 50 in flight',
  single: 'non-streaming chat, instant upstream, 1 at a time',
};
// Airlock's non-streaming requests per second against Portkey's, from outside.
const portkeyBudget = 2;
// The streaming budgets, each Airlock's figure against the floor's (the bare proxy) in the same run.
const floorBudgets = {
  addedTtfb: { name: 'added p50 TTFB over the floor', of: (a, b) => a.p50 - b.p50, at: 'most', limit: 0.5, format: (v) => `${v.toFixed(2)} ms` },
  cpu: { name: "CPU per stream against the floor's", of: (a, b) => a.cpu / b.cpu, at: 'most', limit: 1.5, format: (v) => `${v.toFixed(2)}x` },
  throughput: {
    name: "streams per second against the floor's",
    of: (a, b) => a.rate / b.rate,
    at: 'least',
    limit: 0.9,
    format: (v) => `${(v * 100).toFixed(1)}%`,
  },
  p99: { name: "p99 TTFB against the floor's", of: (a, b) => a.p99 / b.p99, at: 'most', limit: 1.5, format: (v) => `${v.toFixed(2)}x` },
};
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
  const airlock = forkRole(self, '--airlock', { BENCH_KEY: apiKey, BENCH_UPSTREAM: baseURL }, profileArguments());
  const bareProxy = forkRole(self, '--bare', { BENCH_KEY: apiKey, BENCH_UPSTREAM: baseURL });
  const tcpRelay = forkRole(self, '--tcp', { BENCH_UPSTREAM: baseURL });
  const { url, token } = await airlock.ready;
  // The proxies measured against direct, each with how to read its process's CPU time.
  const proxies = [
    { name: 'tcp', label: 'TCP relay (no HTTP: one more process)', target: { url: (await tcpRelay.ready).url, key: apiKey }, cpu: () => cpuTimeOf(tcpRelay) },
    { name: 'bare', label: 'bare node:http proxy (the floor)', target: { url: (await bareProxy.ready).url, key: apiKey }, cpu: () => cpuTimeOf(bareProxy) },
    { name: 'airlock', label: 'airlock', target: { url, key: token }, cpu: () => cpuTimeOf(airlock) },
  ];
  let portkey;
  if (peers) {
    try {
      portkey = await runPortkey(installPortkey(), await freePort(), baseURL, apiKey);
      const pid = portkey.process.pid;
      proxies.push({ name: 'portkey', label: `portkey ${portkeyRelease.gateway}`, target: portkey.target, cpu: async () => procCpuTime(pid) });
    } catch (error) {
      console.log(`Portkey is left out of this run: ${error.message}\n`);
    }
  }
  // Airlock as an operator runs it, for the non-streaming workload only.
  let served;
  if (Object.values(nonStreaming).some(wanted)) {
    served = await runAirlockServe(baseURL, apiKey);
    const pid = served.process.pid;
    served.side = { name: 'serve', label: 'airlock serve', target: served.target, cpu: async () => procCpuTime(pid) };
  }
  const direct = { url: baseURL, key: apiKey };
  const pace = (delayMs) => setPace(upstream, delayMs);
  // CPU time is what a proxy costs whatever else the machine is doing; wall times depend on the load.
  const measured = async (run, proxy) => {
    const before = await proxy.cpu();
    const result = await run(proxy.target);
    return { ...result, cpu: ((await proxy.cpu()) - before) / result.count / 1000 };
  };
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
  const percent = (value) => `${(value * 100).toFixed(1)}%`;
  // `sides` are the proxies compared with direct; `unit` names what one request is.
  const compare = async (name, run, { sides = proxies, unit = 'stream', latency = 'TTFB', budget, floor = [] } = {}) => {
    if (!wanted(name)) return;
    // Warm every side up, so none gets a cold start.
    for (const target of [direct, ...sides.map((proxy) => proxy.target)]) await run(target, true);
    // One sample per run: direct, then each proxy, against that run's direct.
    const samples = [];
    for (let index = 0; index < runs; index += 1) {
      const d = await run(direct);
      const sample = { d };
      for (const proxy of sides) {
        const p = await measured(run, proxy);
        sample[proxy.name] = { ...p, added50: p.p50 - d.p50, added99: p.p99 - d.p99, p99x: p.p99 / d.p99, ratio: p.rate / d.rate };
      }
      samples.push(sample);
    }
    const m = (pick) => median(samples.map(pick));
    const spread = (pick, format) => (runs > 1 ? ` [${samples.map((s) => format(pick(s))).join(', ')}]` : '');
    const line = (label, pick) =>
      `  ${label.padEnd(8)} p50 ${ms(m((s) => pick(s).p50))}  p99 ${ms(m((s) => pick(s).p99))}  ${m((s) => pick(s).rate).toFixed(1)}/s (${pick(samples[0]).count})`;
    const lines = [`${name}${runs > 1 ? ` (median of ${runs} runs; each run in brackets)` : ''}`, line('direct:', (s) => s.d)];
    for (const proxy of sides) lines.push(line(`${proxy.name}:`, (s) => s[proxy.name]));
    for (const proxy of sides) {
      const of = (key) => (s) => s[proxy.name][key];
      lines.push(
        `  ${proxy.label}: added ${latency} p50 ${ms(m(of('added50')))}${spread(of('added50'), ms)}, p99 ${ms(m(of('added99')))} (p99 ${m(of('p99x')).toFixed(2)}x${spread(of('p99x'), (v) => `${v.toFixed(2)}x`)})\n` +
          `    throughput ${percent(m(of('ratio')))} of direct${spread(of('ratio'), percent)}; CPU ${m(of('cpu')).toFixed(2)} ms per ${unit}${spread(of('cpu'), (v) => v.toFixed(2))}`,
      );
    }
    const ours = sides.find((proxy) => proxy.name === 'airlock' || proxy.name === 'serve');
    if (ours && sides.some((proxy) => proxy.name === 'portkey')) {
      // The budget: Airlock's rate against Portkey's, in each run.
      const versus = (s) => s[ours.name].rate / s.portkey.rate;
      const against = budget === undefined ? '' : ` (budget at least ${budget.toFixed(2)}x: ${m(versus) >= budget ? 'met' : 'not met'})`;
      lines.push(`  ${ours.label} / portkey ${unit}s per second: ${m(versus).toFixed(2)}x${spread(versus, (v) => `${v.toFixed(2)}x`)}${against}`);
    }
    for (const rule of floor) {
      const value = (s) => rule.of(s.airlock, s.bare);
      const met = rule.at === 'most' ? m(value) <= rule.limit : m(value) >= rule.limit;
      lines.push(
        `  budget, ${rule.name}: ${rule.format(m(value))}${spread(value, rule.format)} (at ${rule.at} ${rule.format(rule.limit)}: ${met ? 'met' : 'not met'})`,
      );
    }
    console.log(lines.join('\n'));
  };

  const load1 = () =>
    loadavg()
      .map((value) => value.toFixed(2))
      .join(' ');
  console.log(`bench/proxy: 50 chunks per stream; node ${process.version}; ${quick ? 'quick' : 'full'} run; load average ${load1()}\n`);
  // A server that has run a while has its request path compiled by the JIT; a fresh
  // process interprets it at several times the cost. Give every side a burst first.
  await pace(0);
  for (const target of [direct, ...proxies.map((proxy) => proxy.target)]) await load(target, 10, quick ? 500 : 3_000);
  await pace(10);
  await compare('1 stream at a time, paced upstream (50 chunks, 10 ms apart)', (target, warm) => load(target, 1, warm ? 3 : quick ? 10 : 30), {
    floor: [floorBudgets.addedTtfb],
  });
  await compare('200 concurrent streams, paced upstream', (target, warm) => load(target, 200, warm ? 200 : quick ? 400 : 1_000), {
    floor: [floorBudgets.throughput, floorBudgets.p99],
  });
  await pace(0);
  await compare('1 stream at a time, instant upstream', (target, warm) => load(target, 1, warm ? 50 : quick ? 200 : 1_000), {
    floor: [floorBudgets.addedTtfb, floorBudgets.cpu],
  });
  await compare('instant upstream, 50 in flight (CPU-bound)', (target, warm) => timed(target, 50, warm ? 0.5 : quick ? 2 : 5), { floor: [floorBudgets.cpu] });
  if (served) {
    // Non-streaming: latency is until the whole JSON answer is in; the stand-in answers at once.
    const sides = [proxies.find((proxy) => proxy.name === 'bare'), served.side, ...proxies.filter((proxy) => proxy.name === 'portkey')];
    const options = { sides, unit: 'request', latency: 'latency' };
    // The served process is fresh: give it the burst the others had.
    await timed(served.target, 10, quick ? 0.5 : 3, complete);
    await compare(nonStreaming.single, (target, warm) => load(target, 1, warm ? 50 : quick ? 200 : 1_000, complete), options);
    await compare(nonStreaming.concurrent, (target, warm) => timed(target, 50, warm ? 0.5 : quick ? 2 : 5, complete), { ...options, budget: portkeyBudget });
  }
  console.log(`\nload average at the end ${load1()}`);

  closeConnections();
  airlock.process.disconnect();
  bareProxy.process.kill();
  tcpRelay.process.kill();
  portkey?.process.kill();
  served?.close();
  upstream.process.kill();
  setTimeout(() => airlock.process.kill(), 5_000).unref();
}

if (role === '--upstream') await runStandInUpstream();
else if (role === '--bare') await runBareProxy(process.env.BENCH_UPSTREAM, process.env.BENCH_KEY);
else if (role === '--tcp') await runTcpRelay(process.env.BENCH_UPSTREAM);
else if (role === '--airlock') await runAirlock();
else await main();
