// Makes sure the programs the test suite needs are on this machine. Where one
// is missing it installs it with apt-get when it can (root, Debian/Ubuntu),
// and otherwise stops with a message saying what to install. Nothing is ever
// downloaded outside the system package manager.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** What the tests need: a name, how to find it, and the Debian package that provides it. */
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
];

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
