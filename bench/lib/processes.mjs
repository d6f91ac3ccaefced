// The process roles the benchmarks share: the stand-in upstream, and forking
// a benchmark file into one of its roles.
import { fork } from 'node:child_process';

/** 50 content chunks, the benchmarks' answer. */
export const chunks = Array.from({ length: 50 }, (_, index) => `tok${index} `);

/**
 * Runs the stand-in upstream in this process: tells the parent its base URL,
 * and on `{ pace: ms }` answers every request with {@link chunks} that far apart.
 */
export async function runStandInUpstream() {
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

/**
 * Runs a bare pass-through proxy in this process: `node:http` in, `node:http`
 * with keep-alive out to `upstreamURL` with `apiKey`, the answer piped back.
 * No checks, no SDK, no store: what any Node proxy costs on this machine,
 * the floor Airlock's own work adds to. Tells the parent its base URL and
 * answers `{ cpu: true }` with its CPU time.
 */
export async function runBareProxy(upstreamURL, apiKey) {
  const http = await import('node:http');
  const upstream = new URL(upstreamURL);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const server = http.createServer((incoming, outgoing) => {
    const chunks = [];
    incoming.on('data', (chunk) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}`, 'content-length': body.length };
      const request = http.request(
        { host: upstream.hostname, port: upstream.port, path: `${upstream.pathname}/chat/completions`, method: 'POST', agent, headers },
        (answer) => {
          outgoing.writeHead(answer.statusCode, { 'content-type': answer.headers['content-type'] });
          answer.pipe(outgoing);
        },
      );
      request.on('error', () => outgoing.destroy());
      request.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  answerCpuTime();
  process.send({ url: `http://127.0.0.1:${server.address().port}/v1` });
}

/**
 * Runs a TCP relay in this process: each connection is piped to the
 * upstream's port byte for byte, without parsing HTTP. The floor under the
 * bare proxy, and under any proxy: what one more process and two more
 * sockets per request cost on this machine. Tells the parent its base URL
 * (the upstream's path on the relay's port) and answers `{ cpu: true }`.
 */
export async function runTcpRelay(upstreamURL) {
  const net = await import('node:net');
  const upstream = new URL(upstreamURL);
  const server = net.createServer((client) => {
    const toUpstream = net.connect(Number(upstream.port), upstream.hostname);
    // As node:http does for its sockets: small writes leave at once.
    client.setNoDelay(true);
    toUpstream.setNoDelay(true);
    client.pipe(toUpstream).pipe(client);
    const close = () => {
      client.destroy();
      toUpstream.destroy();
    };
    for (const socket of [client, toUpstream]) socket.on('error', close).on('close', close);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  answerCpuTime();
  process.send({ url: `http://127.0.0.1:${server.address().port}${upstream.pathname}` });
}

/**
 * Runs Airlock in this process for a benchmark: `options` (the store, Redis,
 * master keys) over silent logs, the upstream and key from `BENCH_UPSTREAM` and
 * `BENCH_KEY`, and {@link unlimitedProxy}. Tells the parent its proxy URL and,
 * with `createWidget`, a token for the bench widget; answers CPU-time
 * requests; on disconnect closes, calls `onClosed` and exits.
 */
export async function runAirlockRole(options, { createWidget = true, onClosed = () => {} } = {}) {
  const { createAirlock, silentLogger } = await import('@airlock/server');
  const { serve } = await import('@airlock/server/node');
  const airlock = createAirlock({
    logger: silentLogger,
    upstream: { apiKey: process.env.BENCH_KEY, baseURL: process.env.BENCH_UPSTREAM },
    proxy: unlimitedProxy,
    ...options,
  });
  await airlock.ready();
  const token = createWidget ? await createBenchWidget(airlock) : undefined;
  const server = await serve(airlock.fetch, { port: 0 });
  process.on('disconnect', () => {
    void server
      .close()
      .then(() => airlock.close())
      .then(onClosed)
      .finally(() => process.exit(0));
  });
  answerCpuTime();
  process.send({ url: `${server.url}/airlock/v1`, token });
}

/** In a forked role: answers the parent's `{ cpu: true }` with this process's CPU time ({@link cpuTimeOf}). */
export function answerCpuTime() {
  process.on('message', (message) => {
    if (message.cpu) process.send({ cpu: process.cpuUsage() });
  });
}

/**
 * Node's arguments for an Airlock process to write a CPU profile into
 * `BENCH_PROFILE=<folder>` when it stops, or none (NODE_OPTIONS may not carry --cpu-prof).
 */
export function profileArguments() {
  return process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
}

/** The CPU time (user and system, µs) a role forked by {@link forkRole} has spent, asked over IPC. */
export async function cpuTimeOf(child) {
  child.process.send({ cpu: true });
  const { cpu } = await new Promise((resolve) => child.process.once('message', resolve));
  return cpu.user + cpu.system;
}

/**
 * Forks `file` with the role `flag`; `ready` resolves with the child's first message.
 */
export function forkRole(file, flag, env = {}, execArgv = []) {
  const child = fork(file, [flag], { env: { ...process.env, ...env }, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${flag} exited with ${code}`)));
  });
  return { process: child, ready };
}

/** Sets the stand-in's pace (ms between chunks) and waits until it took effect. */
export async function setPace(upstream, delayMs) {
  upstream.process.send({ pace: delayMs });
  await new Promise((resolve) => upstream.process.once('message', resolve));
}

/** Proxy options that take the request limits out of the way, so the benchmarks measure the path, not the limiter's refusals. */
export const unlimitedProxy = {
  limits: {
    widgetRequestsPerMinute: 1e9,
    visitorRequestsPerMinute: 1e9,
    tokenRequestsPerMinute: 1e9,
    addressRequestsPerMinute: 1e9,
    concurrentStreamsPerVisitor: 1e9,
  },
};

/** Creates the benchmarks' chat widget (shared key, a system prompt) and returns a token for it, valid an hour. */
export async function createBenchWidget(airlock) {
  const widget = await airlock.store.createWidget({
    name: 'bench',
    type: 'chat',
    allowedOrigins: ['https://bench.example'],
    presentation: { title: 'Bench', theme: 'auto' },
    behaviour: { model: 'gpt-4o-mini', systemPrompt: 'You are a benchmark.' },
  });
  return (await airlock.mintToken({ widgetId: widget.id, userId: 'bench', ttlSeconds: 3_600 })).token;
}
