// Airlock as an operator runs it: `airlock serve` from the built CLI
// (packages/server/dist/cli/main.js), its own process, configured only
// through the environment, with the request limits raised and the access log
// off. The bench widget and its token are made through the same store and
// keyring before the server starts, as `createBenchWidget` makes them for the
// in-process role.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createBenchWidget, profileArguments } from './processes.mjs';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'packages', 'server', 'dist', 'cli', 'main.js');
const raised = '1000000000';

/**
 * The environment `airlock serve` gets here: the store and keyring in
 * `dataDir`, the upstream, every request limit raised out of the way and no
 * access log. Everything else is as `airlock serve` sets it by default.
 */
export function serveEnvironment({ databaseUrl, masterKeys, upstreamURL, apiKey }) {
  return {
    AIRLOCK_DATABASE_URL: databaseUrl,
    AIRLOCK_MASTER_KEYS: masterKeys,
    OPENAI_API_KEY: apiKey,
    OPENAI_BASE_URL: upstreamURL,
    // Only so it does not warn that nobody can sign in; the bench never uses the admin API.
    AIRLOCK_ADMIN_TOKEN: randomBytes(32).toString('base64url'),
    AIRLOCK_LOG_REQUESTS: '0',
    AIRLOCK_WIDGET_REQUESTS_PER_MINUTE: raised,
    AIRLOCK_VISITOR_REQUESTS_PER_MINUTE: raised,
    AIRLOCK_TOKEN_REQUESTS_PER_MINUTE: raised,
    AIRLOCK_ADDRESS_REQUESTS_PER_MINUTE: raised,
    AIRLOCK_STREAMS_PER_VISITOR: raised,
  };
}

/**
 * Starts `airlock serve --port 0` against `upstreamURL` with `apiKey` as the
 * shared key; resolves once it listens with `{ process, target, close }`
 * (`target` is the proxy URL and a widget token, for the load generator).
 * Throws when the CLI is not built or the server does not start within 20 s.
 */
export async function runAirlockServe(upstreamURL, apiKey) {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`pnpm build\` first`);
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-bench-serve-'));
  const settings = { databaseUrl: `sqlite:${join(dataDir, 'airlock.db')}`, masterKeys: `b1:${randomBytes(32).toString('base64')}`, upstreamURL, apiKey };
  const token = await mintBenchToken(dataDir, settings);
  const child = spawn(process.execPath, [...profileArguments(), cli, 'serve', '--port', '0', '--drain-seconds', '0'], {
    cwd: dataDir,
    env: { ...process.env, ...serveEnvironment(settings) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const removeData = () => rmSync(dataDir, { recursive: true, force: true });
  child.once('exit', removeData);
  try {
    const url = await listeningURL(child);
    return {
      process: child,
      target: { url: `${url}/v1`, key: token },
      close: () => child.kill('SIGTERM'),
    };
  } catch (error) {
    child.kill();
    throw error;
  }
}

/** Creates the bench widget in the store `airlock serve` will open, and mints its token. */
async function mintBenchToken(dataDir, { databaseUrl, masterKeys, upstreamURL, apiKey }) {
  const { createAirlock, silentLogger } = await import('@airlock/server');
  const airlock = createAirlock({ dataDir, databaseUrl, masterKeys, logger: silentLogger, upstream: { apiKey, baseURL: upstreamURL } });
  try {
    await airlock.ready();
    return await createBenchWidget(airlock);
  } finally {
    await airlock.close();
  }
}

/** Reads the server's first line ("Airlock listening on <url>"); the rest of its output is read and dropped, so a full pipe never blocks it. */
function listeningURL(child) {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error('airlock serve did not start within 20 s')), 20_000);
    lines.on('line', (line) => {
      const match = /^Airlock listening on (\S+)/.exec(line);
      if (!match) return;
      clearTimeout(timer);
      resolve(match[1]);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`airlock serve exited with ${code}`));
    });
  });
}
