// Makes sure the programs the test suite needs are on this machine. Where one
// is missing it installs it with apt-get when it can (root, Debian/Ubuntu),
// and otherwise stops with a message saying what to install. Nothing is ever
// downloaded outside the system package manager.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** What the tests need: a name, how to find it, and the Debian package that provides it. */
export const requirements = [
  {
    name: 'Chromium (browser tests)',
    env: 'AIRLOCK_CHROMIUM',
    candidates: ['/usr/bin/chromium', '/usr/bin/chromium-browser'],
    aptPackages: ['chromium'],
  },
];

function findExecutable(requirement) {
  const fromEnv = process.env[requirement.env];
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
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
