// Fails the build when the script-tag bundle crosses its gzip budget (DESIGN.md,
// "Performance budgets"). Raise the budget only in a reviewed one-line change.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const budget = 20 * 1024;
const file = new URL('../dist/airlock.global.js', import.meta.url);
const source = readFileSync(file);
// Level 9 is what static hosts and CDNs serve pre-compressed assets with.
const gzipped = gzipSync(source, { level: 9 }).length;
const report = `dist/airlock.global.js: ${source.length} bytes, ${gzipped} bytes gzip (budget ${budget})`;
if (gzipped > budget) {
  console.error(`${report}: over budget`);
  process.exit(1);
}
process.stdout.write(`${report}\n`);
