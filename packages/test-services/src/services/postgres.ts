// A throwaway PostgreSQL server for tests and benchmarks: initdb into a temp dir, started on
// a free loopback port with its unix socket in that dir, stopped and deleted
// afterwards. Needs the `postgresql` Debian package (scripts/provision.mjs
// installs it for the test command). Runs the server as the `postgres` user
// when the tests run as root, since PostgreSQL refuses to run as root.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.js';

const run = promisify(execFile);

export interface PostgresServer {
  /** Directory holding initdb, pg_ctl, pg_dump, … */
  binDir: string;
  port: number;
  /** A connection URL for `database` (default `postgres`). */
  url(database?: string): string;
  /** Creates a fresh, empty database and returns its URL. */
  createDatabase(): Promise<string>;
  /** `pg_dump` of a database (plain SQL), as bytes. */
  dump(database: string): Promise<Buffer>;
  /**
   * Shuts the server down as a restart does (fast mode: open connections are
   * cut at once) and keeps its data; `start()` brings it back on the same port.
   * Not immediate mode: with the test settings (no fsync, asynchronous
   * commit) a crash may lose the last commits.
   */
  shutDown(): Promise<void>;
  /** Starts a server stopped by `shutDown()`. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The newest `/usr/lib/postgresql/<version>/bin` that has initdb, or `AIRLOCK_POSTGRES_BIN`. */
function findPostgresBinDir(): string | undefined {
  const fromEnvironment = process.env.AIRLOCK_POSTGRES_BIN;
  if (fromEnvironment) return existsSync(join(fromEnvironment, 'initdb')) ? fromEnvironment : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((version) => existsSync(join(root, version, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/**
 * Starts a PostgreSQL server for one test file.
 *
 * @example
 * ```ts
 * let postgres: PostgresServer;
 * beforeAll(async () => { postgres = await startPostgres(); });
 * afterAll(() => postgres.stop());
 * ```
 */
export async function startPostgres(): Promise<PostgresServer> {
  const binDir = findPostgresBinDir();
  if (!binDir) {
    throw new Error('PostgreSQL is not installed: install the Debian package "postgresql" (the test command does it), or set AIRLOCK_POSTGRES_BIN.');
  }
  const user = postgresUser();
  const dir = mkdtempSync(join(tmpdir(), 'airlock-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const dataDir = join(dir, 'data');
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  const port = await freePort();
  let serverOptions = '';
  const startServer = () =>
    run(join(binDir, 'pg_ctl'), ['-D', dataDir, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', serverOptions, 'start'], {
      ...as,
      cwd: dir,
    });
  try {
    await run(join(binDir, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], {
      ...as,
      cwd: dir,
    });
    serverOptions = [
      `-p ${port}`,
      '-c listen_addresses=127.0.0.1',
      `-c unix_socket_directories=${dir}`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=100',
    ].join(' ');
    await startServer();
  } catch (error) {
    const log = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8') : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${log}`);
  }

  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let databases = 0;
  return {
    binDir,
    port,
    url,
    async createDatabase() {
      const name = `airlock_test_${++databases}`;
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async dump(database) {
      const { stdout } = await run(join(binDir, 'pg_dump'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', database], {
        encoding: 'buffer',
        maxBuffer: 256 * 1024 * 1024,
      });
      return stdout;
    },
    async shutDown() {
      await run(join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop'], { ...as, cwd: dir });
    },
    async start() {
      await startServer();
    },
    async stop() {
      try {
        await run(join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], { ...as, cwd: dir });
      } catch (error) {
        // Already stopped by shutDown() is fine; a server still running keeps its directory.
        const running = await run(join(binDir, 'pg_ctl'), ['-D', dataDir, 'status'], { ...as, cwd: dir }).then(
          () => true,
          () => false,
        );
        if (running) throw error;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
