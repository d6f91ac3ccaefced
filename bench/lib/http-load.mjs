// Load generation shared by the benchmarks: chat requests (streamed, or one
// JSON answer) over node:http with keep-alive, spread round-robin over one or
// more targets.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

// Idle kept-alive sockets are closed after 4 s, before a server's 5 s keep-alive timeout
// (Node's default) can close one just as a request is sent on it ("socket hang up"):
// while one target is measured, the others' sockets sit idle.
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, timeout: 4_000 });
const messages = [{ role: 'user', content: 'Tell me about tides.' }];
const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages });
const jsonBody = JSON.stringify({ model: 'gpt-4o-mini', messages });

/** Closes the kept-alive sockets, so the process can exit. */
export function closeConnections() {
  agent.destroy();
}

// POSTs `payload` to `target`'s chat completions; `read` gets a 200 response
// and the request's start time, and settles the promise; any other status rejects.
function post(target, payload, read) {
  const url = new URL(`${target.url}/chat/completions`);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...target.headers, 'content-type': 'application/json', authorization: `Bearer ${target.key}`, 'content-length': Buffer.byteLength(payload) },
      },
      (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new Error(`status ${response.statusCode}`));
          return;
        }
        response.on('error', reject);
        read(response, started, resolve, reject);
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

/**
 * One streamed request to `target` (`{ url, key, headers? }`, url ending in
 * `/v1`; `headers` are added, to route a gateway); resolves with its time to
 * first byte in ms.
 */
export function stream(target) {
  return post(target, body, (response, started, resolve) => {
    let firstByte;
    response.on('data', () => {
      firstByte ??= performance.now();
    });
    response.on('end', () => resolve({ ttfb: firstByte - started }));
  });
}

/**
 * One non-streaming chat request to `target` (as for {@link stream}); reads
 * the whole JSON answer and resolves with the time until its last byte, in ms,
 * as `ttfb` so the summaries treat both kinds alike.
 */
export function complete(target) {
  return post(target, jsonBody, (response, started, resolve, reject) => {
    const chunks = [];
    response.on('data', (chunk) => chunks.push(chunk));
    response.on('end', () => {
      // A proxy that answered 200 with something else than a completion must not count as fast.
      const answer = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (typeof answer?.choices?.[0]?.message?.content !== 'string') reject(new Error('the answer is not a chat completion'));
      else resolve({ ttfb: performance.now() - started });
    });
  });
}

function summary(ttfbs, seconds) {
  ttfbs.sort((a, b) => a - b);
  const at = (p) => ttfbs[Math.min(ttfbs.length - 1, Math.floor(p * ttfbs.length))];
  return { p50: at(0.5), p99: at(0.99), rate: ttfbs.length / seconds, count: ttfbs.length };
}

/**
 * Runs `count` streams with `concurrency` in flight, the n-th request going
 * to `targets[n % targets.length]`; returns TTFB percentiles and streams per second.
 * `send` is {@link stream} or {@link complete} (then the percentiles are of whole answers).
 */
export async function load(targets, concurrency, count, send = stream) {
  const list = Array.isArray(targets) ? targets : [targets];
  const ttfbs = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const target = list[next % list.length];
        next += 1;
        ttfbs.push((await send(target)).ttfb);
      }
    }),
  );
  return summary(ttfbs, (performance.now() - started) / 1000);
}

/** Like {@link load}, but runs as many streams as `concurrency` workers complete in `seconds`. */
export async function timed(targets, concurrency, seconds, send = stream) {
  const list = Array.isArray(targets) ? targets : [targets];
  const ttfbs = [];
  let next = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const target = list[next % list.length];
        next += 1;
        ttfbs.push((await send(target)).ttfb);
      }
    }),
  );
  return summary(ttfbs, (performance.now() - started) / 1000);
}

/** `12.34 ms` */
export const ms = (value) => `${value.toFixed(2)} ms`;
