// A throwaway Redis for tests: `redis-server` on a free loopback port, no
// persistence, its working directory a temp dir deleted afterwards. stop()
// and restart() (same port) let tests take Redis away mid-run. Needs the
// `redis-server` Debian package (scripts/provision.mjs installs it).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface RedisServer {
  port: number;
  url: string;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open but nothing is answered, like a hung server. */
  pause(): void;
  /** Thaws a paused server (SIGCONT). */
  resume(): void;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** Stops it for good and deletes its directory. */
  close(): Promise<void>;
}

// The process id of the Redis answering on `port`, or undefined while none does.
function answeringPid(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (pid: number | undefined) => {
      socket.destroy();
      resolve(pid);
    };
    socket.setTimeout(1_000, () => done(undefined));
    socket.once('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      const match = /process_id:(\d+)/.exec(reply);
      if (match) done(Number(match[1]));
    });
    socket.once('error', () => done(undefined));
    socket.once('close', () => done(undefined));
  });
}

// Waits until the server started as `child` answers: checking its process id,
// not just the port, since another test's Redis may have taken the port
// between freePort() and the start (this one then exits with a bind error).
async function waitForOwnServer(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited at start (port ${port} taken?)`);
    if ((await answeringPid(port)) === child.pid) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Starts a Redis server for one test file.
 *
 * @example
 * ```ts
 * let redis: RedisServer;
 * beforeAll(async () => { redis = await startRedis(); });
 * afterAll(() => redis.close());
 * ```
 */
export async function startRedis(): Promise<RedisServer> {
  const binary = process.env.AIRLOCK_REDIS_SERVER ?? 'redis-server';
  const dir = mkdtempSync(join(tmpdir(), 'airlock-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async () => {
    const started = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: 'ignore',
    });
    child = started;
    const failed = new Promise<never>((_, reject) => {
      started.once('error', (error) => reject(new Error(`redis-server could not start (install the "redis-server" package): ${error.message}`)));
    });
    await Promise.race([waitForOwnServer(port, started, 5000), failed]);
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    // A paused server only sees the SIGTERM once it runs again.
    running.kill('SIGCONT');
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    restart: start,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
