// Checks what users install, not the workspace: packs every public package
// with pnpm, lints each tarball (publint --strict, @arethetypeswrong/cli), then
// installs the tarballs with npm into a fresh project outside the workspace and
// uses them as a user would: imports every entry point, typechecks them under
// the bundler, node16 and node10 resolutions, runs `airlock serve` from the
// installed bin, and mounts the installed package in Express. Needs the build.
//
//   node scripts/check-packages.mjs            lint and consumer test
//   node scripts/check-packages.mjs --lint     tarball lint only
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);
const lintOnly = process.argv.includes('--lint');

// The pnpm that started this script (a native binary or a JS entry point), else pnpm 12 through npx.
const pnpmPath = process.env.npm_execpath;
const pnpm = (args) =>
  !pnpmPath ? ['npx', ['-y', 'pnpm@12', ...args]] : /\.[cm]?js$/.test(pnpmPath) ? [process.execPath, [pnpmPath, ...args]] : [pnpmPath, args];

/** The workspace's publishable packages (not private), by folder. */
function publicPackages() {
  return readdirSync(join(root, 'packages'))
    .map((folder) => ({ folder, manifest: JSON.parse(readFileSync(join(root, 'packages', folder, 'package.json'), 'utf8')) }))
    .filter(({ manifest }) => !manifest.private);
}

function run(command, args, options = {}) {
  return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...options });
}

function fail(message, detail = '') {
  console.error(`✖ ${message}${detail ? `\n${detail}` : ''}`);
  process.exit(1);
}

function attempt(title, work) {
  try {
    const output = work();
    console.log(`  ✔ ${title}`);
    return output;
  } catch (error) {
    fail(title, [error.stdout, error.stderr, error.message].filter(Boolean).join('\n'));
  }
}

const work = mkdtempSync(join(tmpdir(), 'airlock-packages-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);

console.log('Packing and linting the published packages');
const packed = {};
for (const { folder, manifest } of publicPackages()) {
  const before = new Set(readdirSync(tarballs));
  attempt(`pack ${manifest.name}`, () => run(...pnpm(['pack', '--pack-destination', tarballs]), { cwd: join(root, 'packages', folder) }));
  const file = readdirSync(tarballs).find((name) => !before.has(name));
  if (!file) fail(`pack ${manifest.name}: no tarball written`);
  packed[manifest.name] = join(tarballs, file);
  attempt(`publint --strict ${manifest.name}`, () => run(bin('publint'), ['--strict', packed[manifest.name]]));
  // ESM-only packages: a require() from CommonJS is not supported, every other resolution must find the types.
  attempt(`attw ${manifest.name}`, () => run(bin('attw'), ['--pack', packed[manifest.name], '--profile', 'esm-only', '--format', 'ascii']));
  const files = run('tar', ['-tzf', packed[manifest.name]]).split('\n');
  for (const required of ['package/LICENSE', 'package/README.md', 'package/package.json']) {
    if (!files.includes(required)) fail(`${manifest.name}: the tarball has no ${required.slice('package/'.length)}`);
  }
  const shipped = JSON.parse(run('tar', ['-xzOf', packed[manifest.name], 'package/package.json']));
  for (const field of ['engines', 'repository', 'homepage', 'bugs', 'license', 'types']) {
    if (!shipped[field]) fail(`${manifest.name}: the shipped package.json has no "${field}"`);
  }
  if (!shipped.repository.directory) fail(`${manifest.name}: "repository" names no directory`);
  if (JSON.stringify(shipped).includes('workspace:')) fail(`${manifest.name}: the shipped package.json still says workspace:`);
}
if (lintOnly) process.exit(0);

console.log('Installing the tarballs with npm into a fresh project');
const app = join(work, 'app');
mkdirSync(app);
writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'airlock-consumer', private: true, type: 'module' }, null, 2));
const npm = (args, options = {}) => run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, ...options });
// better-sqlite3 normally downloads a prebuilt binary; with no network it would
// compile for minutes. Its install script is skipped and the workspace's own
// build (the same version, built for this Node) is copied in instead.
attempt('npm install the tarballs (@airlock/protocol, widget, server, testing)', () => npm(['install', '--ignore-scripts', ...Object.values(packed)]));
const workspaceSqlite = realpathSync(join(root, 'packages', 'server', 'node_modules', 'better-sqlite3'));
const binary = join('build', 'Release', 'better_sqlite3.node');
mkdirSync(join(app, 'node_modules', 'better-sqlite3', 'build', 'Release'), { recursive: true });
copyFileSync(join(workspaceSqlite, binary), join(app, 'node_modules', 'better-sqlite3', binary));
// What a fresh `npm i @airlock/server` (SQLite only) weighs, with better-sqlite3's
// prebuilt-sized install: raise only in a reviewed one-line change.
const sizeBudget = 40e6;
const installedSize = Number(run('du', ['-sb', join(app, 'node_modules')]).split('\t')[0]);
const packageCount = run('npm', ['ls', '--all', '--parseable'], { cwd: app }).trim().split('\n').length - 1;
if (installedSize > sizeBudget) fail(`node_modules of a fresh install is ${(installedSize / 1e6).toFixed(1)} MB, over the budget of ${sizeBudget / 1e6} MB`);
console.log(`  ✔ a fresh install: ${(installedSize / 1e6).toFixed(1)} MB of node_modules in ${packageCount} packages (budget ${sizeBudget / 1e6} MB)`);
attempt("npm install Express 5, Fastify 5 (its types are in the adapter's), TypeScript types", () =>
  npm(['install', 'express@5.3.0', 'fastify@5.12.8', '@types/express@5.0.6', '@types/node@20.19.43']),
);

const installed = readdirSync(join(app, 'node_modules'));
for (const optional of ['pg', 'ioredis', 'pdfjs-dist', 'mammoth', 'gpt-tokenizer']) {
  if (installed.includes(optional)) fail(`${optional} was installed though nothing asked for it: it must stay an optional peer (or bundled)`);
}

const entryPoints = [
  '@airlock/protocol',
  '@airlock/widget',
  '@airlock/server',
  '@airlock/server/node',
  '@airlock/server/express',
  '@airlock/server/fastify',
  '@airlock/server/hono',
  '@airlock/server/next',
  '@airlock/testing',
];
writeFileSync(
  join(app, 'import-all.mjs'),
  `${entryPoints.map((name, index) => `import * as entry${index} from '${name}';`).join('\n')}
const entries = [${entryPoints.map((_, index) => `entry${index}`).join(', ')}];
for (const [index, entry] of entries.entries()) if (Object.keys(entry).length === 0) throw new Error('entry point ' + index + ' exports nothing');
// The widget must import on a server (SSR) without touching window.
if (typeof globalThis.window !== 'undefined') throw new Error('importing the widget defined window');
console.log('imported', entries.length, 'entry points');
`,
);
attempt('import every entry point (ESM, in Node)', () => run(process.execPath, ['import-all.mjs'], { cwd: app }));

writeFileSync(
  join(app, 'types.ts'),
  `import { ERROR_CODES, type ErrorCode } from '@airlock/protocol';
import { createWidget, type WidgetOptions } from '@airlock/widget';
import '@airlock/widget/script-tag';
import { createAirlock, type AirlockOptions, type Store } from '@airlock/server';
import { serve, toNodeListener, type ServeOptions } from '@airlock/server/node';
import { toExpress } from '@airlock/server/express';
import { toFastify } from '@airlock/server/fastify';
import { toHono } from '@airlock/server/hono';
import { toNextHandlers } from '@airlock/server/next';
import { startUpstream, type Upstream } from '@airlock/testing';

const code: ErrorCode = ERROR_CODES[0];
const options: AirlockOptions = { dev: true, databaseUrl: 'sqlite::memory:' };
const airlock = createAirlock(options);
const serveOptions: ServeOptions = { port: 0, headersTimeoutMs: 10_000 };
const widgetOptions: WidgetOptions = { widgetId: 'wgt_1', apiBase: 'https://example.com/airlock' };
const global: typeof window.Airlock = undefined;
export const uses = [code, airlock, serve, toNodeListener, toExpress, toFastify, toHono, toNextHandlers, startUpstream, createWidget, serveOptions, widgetOptions, global];
export type Uses = [Store, Upstream];
`,
);
const resolutions = [
  { name: 'bundler', module: 'ESNext', moduleResolution: 'Bundler' },
  { name: 'node16', module: 'Node16', moduleResolution: 'Node16' },
  { name: 'node10', module: 'ESNext', moduleResolution: 'Node10' },
];
for (const { name, module, moduleResolution } of resolutions) {
  writeFileSync(
    join(app, `tsconfig.${name}.json`),
    JSON.stringify({
      compilerOptions: {
        // skipLibCheck as most projects set it: RedisRateLimiter's types name ioredis, an optional peer.
        target: 'ES2022',
        module,
        moduleResolution,
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        lib: ['ES2023', 'DOM', 'DOM.Iterable'],
        types: ['node'],
        ignoreDeprecations: '6.0',
      },
      files: ['types.ts'],
    }),
  );
  attempt(`tsc, moduleResolution ${name}`, () => run(bin('tsc'), ['-p', `tsconfig.${name}.json`], { cwd: app }));
}

/** Runs a process until `ready` appears in its output; answers it and its output so far. */
function startUntil(command, args, options, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`not ready after 30 s:\n${output}`)), 30_000);
    const listen = (chunk) => {
      output += chunk;
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match, output: () => output });
      }
    };
    child.stdout.on('data', listen);
    child.stderr.on('data', listen);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${output}`));
    });
  });
}

async function expectOk(url, contentType) {
  const response = await fetch(url);
  const body = await response.text();
  if (!response.ok || !String(response.headers.get('content-type')).includes(contentType)) {
    throw new Error(`${url} answered ${response.status} ${response.headers.get('content-type')}: ${body.slice(0, 200)}`);
  }
}

async function stop(child) {
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

const serverEnvironment = { ...process.env, AIRLOCK_DATABASE_URL: `sqlite:${join(app, 'serve.db')}`, AIRLOCK_MASTER_KEYS: '', OPENAI_API_KEY: '' };
try {
  const help = run(join(app, 'node_modules', '.bin', 'airlock'), ['--help'], { cwd: app });
  if (!help.includes('Usage: airlock')) throw new Error(help);
  console.log('  ✔ the installed bin answers airlock --help');

  const server = await startUntil(
    join(app, 'node_modules', '.bin', 'airlock'),
    ['serve', '--dev', '--port', '0'],
    { cwd: app, env: serverEnvironment },
    /Airlock listening on (http:\/\/\S+)/,
  );
  await expectOk(`${server.match[1]}/healthz`, 'application/json');
  await expectOk(`${server.match[1]}/widget.js`, 'javascript');
  if ((await stop(server.child)) !== 0) throw new Error(`airlock serve did not stop cleanly:\n${server.output()}`);
  console.log('  ✔ airlock serve from the installed bin: health, the widget script, a clean stop');

  writeFileSync(
    join(app, 'express-app.mjs'),
    `import express from 'express';
import { createAirlock } from '@airlock/server';
import { toExpress } from '@airlock/server/express';

const airlock = createAirlock({ dev: true, databaseUrl: 'sqlite:' + process.argv[2] });
await airlock.ready();
const app = express();
app.use(toExpress(airlock));
app.get('/', (request, response) => response.send('my app'));
const server = app.listen(0, '127.0.0.1', () => console.log('express on http://127.0.0.1:' + server.address().port));
`,
  );
  const mounted = await startUntil(
    process.execPath,
    ['express-app.mjs', join(app, 'express.db')],
    { cwd: app, env: serverEnvironment },
    /express on (http:\/\/\S+)/,
  );
  await expectOk(`${mounted.match[1]}/airlock/healthz`, 'application/json');
  await expectOk(`${mounted.match[1]}/airlock/widget.js`, 'javascript');
  await expectOk(`${mounted.match[1]}/`, 'text/html');
  await stop(mounted.child);
  console.log('  ✔ the installed package mounted in Express 5: Airlock under /airlock, the app beside it');

  // An optional driver that is not installed is named, with what to install.
  const refused = run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import { createAirlock } from '@airlock/server'; try { await createAirlock({ dev: true, databaseUrl: 'postgres://u:p@127.0.0.1:1/x' }).ready(); } catch (error) { console.log(error.message); }",
    ],
    { cwd: app, env: serverEnvironment },
  );
  if (!refused.includes('npm install pg@')) throw new Error(`a postgres:// URL without pg installed said: ${refused}`);
  console.log('  ✔ a postgres:// URL without pg installed says: npm install pg');
} catch (error) {
  fail('consumer test', error.stack ?? String(error));
}
console.log('✔ packages: linted, installed with npm and used from outside the workspace');
