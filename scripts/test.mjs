// The whole test suite: provision what the tests need, then typecheck, lint,
// build, check the published packages (publint, attw, and a consumer project
// that installs the packed tarballs with npm), check the generated API
// reference, and run every package's tests (browser tests included).
import { spawnSync } from 'node:child_process';
import { provision } from './provision.mjs';

const environment = { ...process.env, ...provision() };

function step(title, command, args) {
  console.log(`\n▶ ${title}`);
  const started = Date.now();
  const result = spawnSync(command, args, { stdio: 'inherit', env: environment });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    console.error(`✖ ${title} failed after ${seconds}s`);
    process.exit(result.status ?? 1);
  }
  console.log(`✔ ${title} (${seconds}s)`);
}

// The pnpm that started this script (a native binary or a JS entry point).
const pnpm = process.env.npm_execpath ?? 'pnpm';
const run = (script) => (/\.[cm]?js$/.test(pnpm) ? [process.execPath, [pnpm, 'run', script]] : [pnpm, ['run', script]]);

step('typecheck', ...run('typecheck'));
step('lint', ...run('lint'));
step('build', ...run('build'));
step('packages', process.execPath, ['scripts/check-packages.mjs']);
step('API reference', process.execPath, ['scripts/check-reference.mjs']);
step('tests', ...run('test:unit'));
