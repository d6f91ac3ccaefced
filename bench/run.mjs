// Runs every benchmark in bench/ (each bench/*.mjs but this file), one after
// another, each in its own process so none disturbs the next. Arguments are
// passed on (for example `--quick`). Exits non-zero if any benchmark failed.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const benchmarks = readdirSync(here)
  .filter((name) => name.endsWith('.mjs') && name !== 'run.mjs')
  .sort();
let failed = 0;
for (const name of benchmarks) {
  console.log(`\n=== ${name} ===`);
  const result = spawnSync(process.execPath, [join(here, name), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed += 1;
    console.error(`${name} failed (exit ${result.status ?? result.signal})`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
