// Peers the proxy benchmark runs beside Airlock: the Portkey gateway (an open,
// TypeScript, OpenAI-compatible gateway), installed from npm on first use into
// bench/.peers (git-ignored) and run as its own process, like the others.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const peersDir = join(dirname(fileURLToPath(import.meta.url)), '..', '.peers');

/**
 * The Portkey release the benchmark runs. Its newest `@hono/node-server`
 * (1.14.2 and later, within the `^1.3.3` it asks for) keeps a fetch
 * response's headers, which Node 20's undici locks, so every streamed chat
 * failed with 500 ("TypeError: immutable"); 1.13.8, also within that range,
 * is the newest that works on Node 20. Nothing of Portkey is changed.
 */
export const portkeyRelease = { gateway: '1.15.2', honoNodeServer: '1.13.8' };

/**
 * Installs Portkey into bench/.peers on first use (npm, from the registry)
 * and returns the path of its server script, or throws with npm's output.
 */
export function installPortkey() {
  const dir = join(peersDir, `portkey-${portkeyRelease.gateway}`);
  const script = join(dir, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  if (existsSync(script)) return script;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify(
      {
        private: true,
        dependencies: { '@portkey-ai/gateway': portkeyRelease.gateway },
        overrides: { '@hono/node-server': portkeyRelease.honoNodeServer },
      },
      null,
      2,
    )}\n`,
  );
  const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: dir, encoding: 'utf8' });
  if (npm.status !== 0 || !existsSync(script)) throw new Error(`npm install of Portkey failed: ${(npm.stderr || npm.error?.message || '').trim()}`);
  return script;
}

/**
 * Starts Portkey's server (`script` from {@link installPortkey}) on `port`
 * and resolves once it accepts connections, with the target to load it
 * (`headers` route it to `upstreamURL`) and the child process.
 */
export async function runPortkey(script, port, upstreamURL, apiKey) {
  const child = spawn(process.execPath, [script, `--port=${port}`, '--headless'], {
    cwd: dirname(script),
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Portkey exited with ${child.exitCode}`);
    const open = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) break;
    if (Date.now() > deadline) {
      child.kill();
      throw new Error('Portkey did not start within 15 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const target = {
    url: `http://127.0.0.1:${port}/v1`,
    key: apiKey,
    headers: { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstreamURL },
  };
  return { process: child, target };
}

/** The CPU time (user and system, µs) of a process that is not ours to ask over IPC, from /proc (Linux; 10 ms ticks). */
export function procCpuTime(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}
