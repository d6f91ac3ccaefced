// One Airlock instance against two, on one PostgreSQL and one Redis, in one
// run on this machine: the set-up of docs/deployment.md with the client
// spreading requests round-robin over the instances (as a load balancer
// would). Upstream, each instance and the client are separate processes
// sharing the machine's cores; PostgreSQL and Redis are throwaway servers
// started by this script. Uses the built packages: run `pnpm build` first.
//
//   node bench/instances.mjs            full run
//   node bench/instances.mjs --quick    a smaller run, for a smoke check
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { closeConnections, load, ms, timed } from './lib/http-load.mjs';
import { cpuTimeOf, forkRole, runAirlockRole, runStandInUpstream, setPace } from './lib/processes.mjs';

const self = fileURLToPath(import.meta.url);
const role = process.argv[2];
const quick = process.argv.includes('--quick');
const apiKey = `sk-bench-${randomBytes(8).toString('hex')}`;

function runAirlock() {
  return runAirlockRole(
    { databaseUrl: process.env.BENCH_DATABASE, redis: { url: process.env.BENCH_REDIS }, masterKeys: process.env.BENCH_MASTER_KEYS },
    { createWidget: Boolean(process.env.BENCH_CREATE_WIDGET) },
  );
}

async function main() {
  const { startPostgres, startRedis } = await import('@airlock/test-services');
  const upstream = forkRole(self, '--upstream');
  const [postgres, redis, { baseURL }] = await Promise.all([startPostgres(), startRedis(), upstream.ready]);
  const environment = {
    BENCH_KEY: apiKey,
    BENCH_UPSTREAM: baseURL,
    BENCH_DATABASE: await postgres.createDatabase(),
    BENCH_REDIS: redis.url,
    BENCH_MASTER_KEYS: `b1:${randomBytes(32).toString('base64')}`,
  };
  // The first instance migrates the database and creates the widget; the second shares both.
  const first = forkRole(self, '--airlock', { ...environment, BENCH_CREATE_WIDGET: '1' });
  const { url: firstUrl, token } = await first.ready;
  const second = forkRole(self, '--airlock', environment);
  const { url: secondUrl } = await second.ready;
  const one = [{ url: firstUrl, key: token }];
  const two = [...one, { url: secondUrl, key: token }];
  const direct = [{ url: baseURL, key: apiKey }];
  const pace = (delayMs) => setPace(upstream, delayMs);

  // CPU time of both instances together, in microseconds.
  const airlockCpu = async () => (await cpuTimeOf(first)) + (await cpuTimeOf(second));
  const measured = async (run, targets) => {
    const before = await airlockCpu();
    const result = await run(targets);
    result.cpuMs = ((await airlockCpu()) - before) / result.count / 1000;
    return result;
  };
  const compare = async (name, run) => {
    for (const targets of [direct, one, two]) await run(targets, true);
    const d = await run(direct);
    const a = await measured(run, one);
    const b = await measured(run, two);
    console.log(
      `${name}\n` +
        `  direct (no Airlock): ${d.rate.toFixed(1)}/s  p50 ${ms(d.p50)}  p99 ${ms(d.p99)} (${d.count})\n` +
        `  one instance:        ${a.rate.toFixed(1)}/s  p50 ${ms(a.p50)}  p99 ${ms(a.p99)} (${a.count}); Airlock CPU ${a.cpuMs.toFixed(2)} ms per stream\n` +
        `  two instances:       ${b.rate.toFixed(1)}/s  p50 ${ms(b.p50)}  p99 ${ms(b.p99)} (${b.count}); Airlock CPU ${b.cpuMs.toFixed(2)} ms per stream (both)\n` +
        `  two / one: ${(b.rate / a.rate).toFixed(2)}x streams per second; one instance ${((a.rate / d.rate) * 100).toFixed(1)}% and two ${((b.rate / d.rate) * 100).toFixed(1)}% of direct`,
    );
  };

  const load1 = () =>
    loadavg()
      .map((value) => value.toFixed(2))
      .join(' ');
  console.log(`bench/instances: PostgreSQL + Redis, 50 chunks per stream; node ${process.version}; ${quick ? 'quick' : 'full'} run; load average ${load1()}\n`);
  await pace(10);
  await compare('200 concurrent streams, paced upstream (50 chunks, 10 ms apart)', (targets, warm) => load(targets, 200, warm ? 200 : quick ? 400 : 1_000));
  await pace(0);
  await compare('instant upstream, 50 in flight (CPU-bound)', (targets, warm) => timed(targets, 50, warm ? 0.5 : quick ? 2 : 5));

  closeConnections();
  first.process.disconnect();
  second.process.disconnect();
  upstream.process.kill();
  await Promise.all([first, second].map(({ process: instance }) => new Promise((resolve) => instance.once('exit', resolve))));
  await Promise.all([postgres.stop(), redis.close()]);
}

if (role === '--upstream') await runStandInUpstream();
else if (role === '--airlock') await runAirlock();
else await main();
