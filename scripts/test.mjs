// The whole test suite: provision what the tests need, then typecheck, check the
// formatting (Prettier), lint,
// build, check the published packages (publint, attw, and a consumer project
// that installs the packed tarballs with npm), check the generated API
// reference, and run every package's tests (browser tests included).
import { spawnSync } from 'node:child_process';
import { provision } from './provision.mjs';

const environment = { ...process.env, ...provision() };

// AIRLOCK_TEST_STEPS (names separated by spaces or commas) runs only those steps, in the usual
// order: CI's second run, on Node 24, takes the ones whose outcome depends on the Node running them.
const steps = ['typecheck', 'format', 'lint', 'build', 'packages', 'reference', 'tests'];
const only = process.env.AIRLOCK_TEST_STEPS?.split(/[\s,]+/).filter(Boolean);
const unknown = only?.filter((name) => !steps.includes(name)) ?? [];
if (unknown.length > 0) {
  console.error(`AIRLOCK_TEST_STEPS names no step ${unknown.join(', ')}: the steps are ${steps.join(', ')}.`);
  process.exit(2);
}
if (only?.length) console.log(`Running only: ${only.join(', ')} (AIRLOCK_TEST_STEPS).`);

function step(name, title, command, args) {
  if (only?.length && !only.includes(name)) return;
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

step('typecheck', 'typecheck', ...run('typecheck'));
step('format', 'formatting (npx -y pnpm@12 format writes it)', ...run('format:check'));
step('lint', 'lint', ...run('lint'));
step('build', 'build', ...run('build'));
step('packages', 'packages', process.execPath, ['scripts/check-packages.mjs']);
step('reference', 'API reference', process.execPath, ['scripts/check-reference.mjs']);
step('tests', 'tests', ...run('test:unit'));
