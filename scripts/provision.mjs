// Makes sure the programs the test suite needs are on this machine. Where one
// is missing it installs it with apt-get when it can (root, Debian/Ubuntu),
// and otherwise stops with a message saying what to install. Bun, which Debian
// does not package, comes from the npm registry into a folder git ignores.
// Nothing is downloaded from anywhere else.
//
// `node scripts/provision.mjs` provisions and prints what it found, one
// NAME=path a line (what `pnpm test` passes to the tests).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The Bun the runtime tests run the server's core on. */
export const bunVersion = '1.4.5';
/** Where Bun is installed from npm (under node_modules/, which git ignores). */
export const bunPrefix = fileURLToPath(new URL('../node_modules/.cache/airlock-bun/', import.meta.url));

/** What the tests need: a name, how to find it, and the Debian package (or the installer) that provides it. */
export const requirements = [
  {
    name: 'Chromium (browser tests)',
    env: 'AIRLOCK_CHROMIUM',
    candidates: ['/usr/bin/chromium', '/usr/bin/chromium-browser'],
    aptPackages: ['chromium'],
  },
  {
    // The store conformance tests start a throwaway server from this bin dir.
    name: 'PostgreSQL (store tests)',
    env: 'AIRLOCK_POSTGRES_BIN',
    find: findPostgresBinDir,
    aptPackages: ['postgresql'],
  },
  {
    // The cluster tests start throwaway Redis servers (and stop them mid-run).
    name: 'Redis (cluster tests)',
    env: 'AIRLOCK_REDIS_SERVER',
    candidates: ['/usr/bin/redis-server'],
    aptPackages: ['redis-server'],
  },
  {
    // The runtime tests serve the core's handler with Bun.serve. The tests look in bunPrefix too.
    name: `Bun ${bunVersion} (runtime tests)`,
    env: 'AIRLOCK_BUN',
    find: findBun,
    install: installBun,
    installs: `npm install bun@${bunVersion} into ${bunPrefix}`,
  },
];

/** Whether `path` is the Bun this suite pins (a placeholder or another version is not). */
function isPinnedBun(path) {
  if (!existsSync(path)) return false;
  const result = spawnSync(path, ['--version'], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.trim() === bunVersion;
}

/**
 * The Bun in bunPrefix. Its postinstall script puts the platform's binary (an optional
 * dependency, @oven/bun-<os>-<arch>) in place of bin/bun.exe; where npm did not run the
 * script, the binary is still in that package.
 */
function findBun() {
  const modules = join(bunPrefix, 'node_modules');
  const candidates = [join(modules, 'bun', 'bin', 'bun.exe')];
  const oven = join(modules, '@oven');
  if (existsSync(oven)) candidates.push(...readdirSync(oven).map((platform) => join(oven, platform, 'bin', 'bun')));
  return candidates.find(isPinnedBun);
}

function installBun() {
  rmSync(bunPrefix, { recursive: true, force: true });
  execFileSync('npm', ['install', '--prefix', bunPrefix, '--no-save', '--no-audit', '--no-fund', '--loglevel=error', `bun@${bunVersion}`], {
    stdio: 'inherit',
  });
}

/** The newest /usr/lib/postgresql/<version>/bin that holds initdb. */
function findPostgresBinDir() {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((version) => existsSync(join(root, version, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(root, versions[0], 'bin') : undefined;
}

function findExecutable(requirement) {
  const fromEnv = process.env[requirement.env];
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  if (requirement.find) return requirement.find();
  return requirement.candidates.find((candidate) => existsSync(candidate));
}

function canApt() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return isRoot && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
}

let aptUpdated = false;
function aptInstall(packages) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    aptUpdated = true;
  }
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { stdio: 'inherit', env });
}

/** Returns a map from requirement env name to the path found or installed. */
export function provision() {
  const found = {};
  for (const requirement of requirements) {
    let path = findExecutable(requirement);
    if (!path && requirement.install) {
      console.log(`Installing ${requirement.name} (${requirement.installs})…`);
      const started = Date.now();
      requirement.install();
      path = findExecutable(requirement);
      if (!path) {
        console.error(`npm installed ${requirement.name}, but it does not run (set ${requirement.env} to a working one).`);
        process.exit(1);
      }
      console.log(`Installed ${requirement.name} in ${((Date.now() - started) / 1000).toFixed(1)}s.`);
    }
    if (!path) {
      if (!canApt()) {
        console.error(
          `Missing: ${requirement.name}. Install the Debian package(s) ${requirement.aptPackages.join(', ')} ` +
            `(or set ${requirement.env} to its path) and run the tests again.`,
        );
        process.exit(1);
      }
      console.log(`Installing ${requirement.name} with apt-get (${requirement.aptPackages.join(', ')})…`);
      aptInstall(requirement.aptPackages);
      path = findExecutable(requirement);
      if (!path) {
        console.error(`apt-get installed ${requirement.aptPackages.join(', ')}, but ${requirement.name} is still not found.`);
        process.exit(1);
      }
    }
    found[requirement.env] = path;
  }
  return found;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [name, path] of Object.entries(provision())) console.log(`${name}=${path}`);
}
