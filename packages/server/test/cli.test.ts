import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// The CLI as users run it: the built file (the test command builds before testing).
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const run = promisify(execFile);
const dataDir = mkdtempSync(join(tmpdir(), 'airlock-cli-'));
const environment = { ...process.env, AIRLOCK_DATABASE_URL: `sqlite:${join(dataDir, 'airlock.db')}`, AIRLOCK_MASTER_KEYS: '', OPENAI_API_KEY: '' };

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('airlock CLI', () => {
  it('creates and lists widgets', async () => {
    const created = await run(process.execPath, [cli, 'widgets', 'create', '--name', 'help', '--origin', 'https://example.com'], { env: environment });
    const id = created.stdout.trim();
    expect(id).toMatch(/^wgt_[A-Za-z0-9_-]{22}$/);
    const listed = await run(process.execPath, [cli, 'widgets', 'list'], { env: environment });
    expect(listed.stdout).toContain(`${id}\thelp\tchat\tenabled\thttps://example.com`);
  });

  it('refuses a malformed origin with a clear message', async () => {
    await expect(
      run(process.execPath, [cli, 'widgets', 'create', '--name', 'x', '--origin', 'https://example.com/path'], { env: environment }),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('is not an origin') });
  });

  it('refuses to serve without a master key outside development mode', async () => {
    await expect(run(process.execPath, [cli, 'serve', '--port', '0'], { env: environment })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('AIRLOCK_MASTER_KEYS'),
    });
  });

  it('refuses a limit in the environment that is not a whole number, naming the variable', async () => {
    const withKeys = { ...environment, AIRLOCK_MASTER_KEYS: `c1:${Buffer.alloc(32, 1).toString('base64')}` };
    await expect(
      run(process.execPath, [cli, 'serve', '--port', '0'], { env: { ...withKeys, AIRLOCK_WIDGET_REQUESTS_PER_MINUTE: 'lots' } }),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('AIRLOCK_WIDGET_REQUESTS_PER_MINUTE must be a whole number of at least 1') });
    await expect(
      run(process.execPath, [cli, 'serve', '--port', '0'], { env: { ...withKeys, AIRLOCK_DEFAULT_GENERATION_ALLOWANCE: '-1' } }),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('AIRLOCK_DEFAULT_GENERATION_ALLOWANCE must be a whole number of at least 0') });
  });

  it('rejects an unknown command', async () => {
    await expect(run(process.execPath, [cli, 'constructor'], { env: environment })).rejects.toMatchObject({ code: 2 });
  });
});

/** Runs the CLI and answers its exit code and output, failing or not. */
function airlock(args: string[], env: NodeJS.ProcessEnv = environment): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The commands a help text lists (its "Commands:" section), without `help`. */
function listedCommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1];
  if (!section) return [];
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((match) => match[1]!).filter((name) => name !== 'help');
}

describe('airlock CLI usage', () => {
  it('has --help on every command and subcommand, and answers every unknown option with one line and exit 2', async () => {
    const paths: string[][] = [];
    // Breadth first, one level at a time in parallel: each step is a process start.
    for (let level: string[][] = [[]]; level.length > 0;) {
      const helps = await Promise.all(level.map((path) => airlock([...path, '--help'])));
      const next: string[][] = [];
      helps.forEach((help, index) => {
        const path = level[index]!;
        expect(help, path.join(' ')).toMatchObject({ code: 0, stderr: '' });
        expect(help.stdout).toContain(`Usage: airlock${path.length > 0 ? ` ${path.join(' ')}` : ''}`);
        paths.push(path);
        for (const name of listedCommands(help.stdout)) next.push([...path, name]);
      });
      level = next;
    }
    // The walk found the whole tree, not just the top.
    expect(paths.map((path) => path.join(' '))).toEqual(
      expect.arrayContaining(['serve', 'widgets create', 'widgets show', 'keys set', 'tokens mint', 'vault rotate-master', 'usage']),
    );

    const commands = paths.filter((candidate) => candidate.length > 0);
    const results = await Promise.all(commands.map((path) => airlock([...path, '--no-such-option'])));
    results.forEach((result, index) => {
      const path = commands[index]!;
      expect(result.code, path.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
      // One line, naming the problem and where help is, never a stack.
      expect(result.stderr).toMatch(new RegExp(`^airlock: unknown option '--no-such-option'.*; see airlock ${path.join(' ')} --help\\n$`));
    });
  }, 120_000);

  it('answers a missing subcommand, a missing value and a stray argument with one line and exit 2', async () => {
    for (const [args, expected] of [
      [['widgets'], /^airlock: "airlock widgets" needs a command \(create, list, show, update, delete, embed, revoke-tokens\); see airlock widgets --help\n$/],
      [['widgets', 'create', '--origin'], /^airlock: option '--origin <origin>' argument missing; see airlock widgets create --help\n$/],
      [['widgets', 'create', '--origin', 'https://example.com'], /^airlock: --name is required; see airlock widgets create --help\n$/],
      [['widgets', 'show'], /^airlock: missing required argument 'widget'; see airlock widgets show --help\n$/],
      [
        ['widgets', 'create', '--type', 'poem', '--name', 'x', '--origin', 'https://example.com'],
        /^airlock: option '--type <type>' argument 'poem' is invalid\. Allowed choices are chat, completion, image; see airlock widgets create --help\n$/,
      ],
      [['accounts', 'list', 'extra'], /^airlock: too many arguments for 'list'\. Expected 0 arguments but got 1; see airlock accounts list --help\n$/],
    ] as const) {
      const result = await airlock([...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(expected);
    }
    // Asked for nothing: the help, as a usage mistake.
    const bare = await airlock([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Usage: airlock [options] [command]');
  }, 60_000);

  it('prints JSON with --json, and readable lines without it', async () => {
    const account = await airlock(['accounts', 'create', '--name', 'Json Ltd', '--id', 'json-ltd', '--json']);
    expect(account.code, account.stderr).toBe(0);
    expect(JSON.parse(account.stdout)).toMatchObject({ id: 'json-ltd', name: 'Json Ltd' });
    expect(JSON.parse((await airlock(['accounts', 'list', '--json'])).stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'json-ltd' })]));

    const created = await airlock(['widgets', 'create', '--name', 'json-widget', '--origin', 'https://json.example.com', '--account', 'json-ltd', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const widget = JSON.parse(created.stdout) as { id: string; name: string; allowedOrigins: string[] };
    expect(widget).toMatchObject({ name: 'json-widget', allowedOrigins: ['https://json.example.com'] });

    const shownJson = await airlock(['widgets', 'show', widget.id, '--json']);
    expect(JSON.parse(shownJson.stdout)).toEqual(widget);
    expect(JSON.parse((await airlock(['widgets', 'list', '--json'])).stdout)).toEqual(expect.arrayContaining([widget]));

    const shown = await airlock(['widgets', 'show', 'json-widget']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`id\t${widget.id}\n`);
    expect(shown.stdout).toContain('origins\thttps://json.example.com\n');
    expect(shown.stdout).toContain('status\tenabled\n');
    expect(() => JSON.parse(shown.stdout)).toThrow();

    const withKeys = { ...environment, AIRLOCK_MASTER_KEYS: `c1:${Buffer.alloc(32, 3).toString('base64')}` };
    const noKey = await airlock(['keys', 'show', '--account', 'json-ltd', '--json'], withKeys);
    expect(noKey.code, noKey.stderr).toBe(0);
    expect(JSON.parse(noKey.stdout)).toBeNull();
    const minted = await airlock(['tokens', 'mint', '--widget', widget.id, '--json'], withKeys);
    expect(minted.code, minted.stderr).toBe(0);
    expect(JSON.parse(minted.stdout)).toMatchObject({ token: expect.stringMatching(/^ey/), expiresAt: expect.any(String) });
  }, 60_000);
});
