// The API reference in docs/reference/ is generated from the TSDoc of the
// public exports (typedoc.json). This regenerates it in a temp dir and fails
// when the checked-in copy differs, so the reference cannot drift from the code.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const checkedIn = join(root, 'docs', 'reference');
const fresh = mkdtempSync(join(tmpdir(), 'airlock-reference-'));

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

try {
  execFileSync(join(root, 'node_modules', '.bin', 'typedoc'), ['--out', fresh], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  const expected = new Map(files(fresh).map((path) => [relative(fresh, path), readFileSync(path, 'utf8')]));
  let actual = new Map();
  try {
    actual = new Map(files(checkedIn).map((path) => [relative(checkedIn, path), readFileSync(path, 'utf8')]));
  } catch {
    // No reference checked in yet: every file differs.
  }
  const differing = [...new Set([...expected.keys(), ...actual.keys()])].filter((name) => expected.get(name) !== actual.get(name)).sort();
  if (differing.length > 0) {
    console.error(`✖ docs/reference/ is out of date (${differing.join(', ')}): run \`npx -y pnpm@12 docs:reference\` and commit the result.`);
    process.exitCode = 1;
  } else {
    console.log(`docs/reference/ matches the code (${expected.size} files)`);
  }
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
