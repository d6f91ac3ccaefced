// `airlock knowledge` as users run it: the built CLI in a child process, on
// a temporary SQLite database, reading and embedding files against the
// stand-in upstream with the shared key, as `airlock serve` would.
import { startUpstream, type Upstream } from '@airlock/testing';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KnowledgeFileRecord } from '../../src/stores/knowledge-store.js';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const canaryKey = `sk-canary-${randomBytes(12).toString('hex')}`;
const dataDir = mkdtempSync(join(tmpdir(), 'airlock-knowledge-cli-'));

const pricing = `# Pricing

## Plans

The Pro plan costs 29 euros a month and includes priority support.
The Team plan costs 99 euros a month for up to ten people.

## Refunds

Refunds are given within 30 days of purchase, no questions asked.
`;
const prices = `Product,Price,Notes
Router X,49,Wi-Fi 6 with two bands
Switch Y,89,Sixteen gigabit ports
`;

let upstream: Upstream;
let environment: NodeJS.ProcessEnv;
let widgetId: string;

/** Runs the CLI in the data folder; answers its exit code and output, failing or not. */
function airlock(args: string[], env: NodeJS.ProcessEnv = environment): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env, cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  upstream = await startUpstream({ acceptedKeys: [canaryKey] });
  environment = {
    ...process.env,
    AIRLOCK_DATABASE_URL: `sqlite:${join(dataDir, 'airlock.db')}`,
    AIRLOCK_MASTER_KEYS: `c1:${randomBytes(32).toString('base64')}`,
    OPENAI_API_KEY: canaryKey,
    OPENAI_BASE_URL: upstream.baseURL,
    AIRLOCK_LOG_LEVEL: '',
  };
  writeFileSync(join(dataDir, 'pricing.md'), pricing);
  writeFileSync(join(dataDir, 'prices.csv'), prices);
  writeFileSync(join(dataDir, 'tool.exe'), 'MZ\u0000\u0001');
  writeFileSync(join(dataDir, 'ragged.csv'), 'Product,Price\nRouter X,49\nSwitch Y,89,extra,fields\n');
  const created = await airlock(['widgets', 'create', '--name', 'shop', '--origin', 'https://shop.example.com', '--behaviour', '{"vectorCount":3}']);
  expect(created, created.stderr).toMatchObject({ code: 0 });
  widgetId = created.stdout.trim();
}, 30_000);
afterAll(async () => {
  await upstream?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('airlock knowledge', () => {
  it('adds files, waits until each is ready, and prints one line per file; quiet on stderr when piped', async () => {
    const added = await airlock(['knowledge', 'add', '--widget', widgetId, '--url', 'https://shop.example.com/pricing', 'pricing.md', 'prices.csv']);
    expect(added, added.stderr).toMatchObject({ code: 0, stderr: '' });
    const lines = added.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^pricing\.md\tready\t\d+ passages?, [\d,]+ tokens?\tkf_[A-Za-z0-9_-]+$/);
    expect(lines[1]).toMatch(/^prices\.csv\tready\t\d+ passages?, /);
    // Embedded with the shared key, as the server would.
    const embeddings = upstream.requests.filter((request) => request.path === '/v1/embeddings');
    expect(embeddings.length).toBeGreaterThan(0);
    expect(embeddings[0]!.headers.authorization).toBe(`Bearer ${canaryKey}`);
    expect(added.stdout).not.toContain(canaryKey);
  }, 60_000);

  it('says a file is already there, and fails (exit 1) for a type it does not read or a file it cannot read, naming why', async () => {
    const again = await airlock(['knowledge', 'add', '--widget', 'shop', 'pricing.md']);
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).toMatch(/^pricing\.md\tready\t.*\(already uploaded\)\n$/);

    const refused = await airlock(['knowledge', 'add', '--widget', widgetId, 'tool.exe', 'ragged.csv']);
    expect(refused.code).toBe(1);
    const [exe, ragged] = refused.stdout.trimEnd().split('\n');
    expect(exe).toMatch(/^tool\.exe\tfailed\tThis file type is not supported; upload .*\.csv/);
    expect(ragged).toMatch(/^ragged\.csv\tfailed\t.*row/i);

    const json = await airlock(['knowledge', 'add', '--widget', widgetId, '--json', 'tool.exe']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual([
      { path: 'tool.exe', name: 'tool.exe', error: { code: 'input_invalid', message: expect.stringContaining('not supported') } },
    ]);
  }, 60_000);

  it('lists the files as a table, and as JSON with totals and limits', async () => {
    const listed = await airlock(['knowledge', 'list', '--widget', widgetId]);
    expect(listed, listed.stderr).toMatchObject({ code: 0, stderr: '' });
    const lines = listed.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +NAME +TYPE +SIZE +STATUS +PASSAGES +TOKENS +ADDED$/);
    expect(lines[1]).toMatch(/^kf_\S+ +pricing\.md +md +\d+(\.\d)? (B|KB) +ready +\d+ +\d+ +\d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    expect(listed.stdout).toMatch(/ragged\.csv +csv .* failed /);
    expect(listed.stdout).toMatch(/kf_\S+ failed: .*row/i);

    const json = await airlock(['knowledge', 'list', '--widget', widgetId, '--json']);
    const body = JSON.parse(json.stdout) as { files: KnowledgeFileRecord[]; totals: { files: number }; limits: { maxFileBytes: number } };
    expect(body.files.map((file) => [file.name, file.status])).toEqual([
      ['pricing.md', 'ready'],
      ['prices.csv', 'ready'],
      ['ragged.csv', 'failed'],
    ]);
    expect(body.files[0]!.sourceUrl).toBe('https://shop.example.com/pricing');
    expect(body.totals.files).toBe(2);
    expect(listed.stdout.trimEnd().split('\n').at(-1)).toMatch(/^2 files, [\d.]+ (B|KB) of 100\.0 MB, \d+ passages?, [\d,]+ tokens?$/);
    expect(body.limits.maxFileBytes).toBe(10 * 1024 * 1024);
  }, 60_000);

  it('searches: the passage that answers first, with score, location and link; --top and --json', async () => {
    const found = await airlock(['knowledge', 'search', '--widget', widgetId, 'How much does the Pro plan cost per month?']);
    expect(found, found.stderr).toMatchObject({ code: 0, stderr: '' });
    const lines = found.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^1\. \d\.\d{4} {2}pricing\.md, Pricing > Plans.* {2}\(keyword #\d+, vector #\d+\) {2}https:\/\/shop\.example\.com\/pricing$/);
    expect(lines[1]).toContain('The Pro plan costs 29 euros');
    // The widget's vector count of 3, two lines each.
    expect(lines.length).toBeLessThanOrEqual(6);

    const json = await airlock(['knowledge', 'search', '--widget', widgetId, '--top', '1', '--json', 'What is the price of Switch Y?']);
    const { hits } = JSON.parse(json.stdout) as { hits: { rank: number; passage: { file: string; text: string; location?: string } }[] };
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ rank: 1, passage: { file: 'prices.csv', text: expect.stringContaining('Switch Y') } });
  }, 60_000);

  it('removes a file, and answers one it does not have with one line and exit 2', async () => {
    const { files } = JSON.parse((await airlock(['knowledge', 'list', '--widget', widgetId, '--json'])).stdout) as { files: KnowledgeFileRecord[] };
    const csv = files.find((file) => file.name === 'prices.csv')!;
    const removed = await airlock(['knowledge', 'remove', '--widget', widgetId, csv.id]);
    expect(removed).toMatchObject({ code: 0, stdout: `removed ${csv.id}\n` });
    const again = await airlock(['knowledge', 'remove', '--widget', widgetId, csv.id]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^airlock: widget wgt_\S+ has no file "kf_\S+"\.\n$/);
    const search = await airlock(['knowledge', 'search', '--widget', widgetId, '--json', 'What is the price of Switch Y?']);
    expect((JSON.parse(search.stdout) as { hits: { passage: { file: string } }[] }).hits.map((hit) => hit.passage.file)).not.toContain('prices.csv');
  }, 60_000);

  it('answers usage mistakes with one line and exit 2', async () => {
    for (const [args, expected, env] of [
      [['knowledge', 'list'], /^airlock: --widget is required; see airlock knowledge list --help\n$/],
      [['knowledge', 'add', '--widget', widgetId], /^airlock: missing required argument 'path'; see airlock knowledge add --help\n$/],
      [['knowledge', 'add', '--widget', widgetId, 'missing.md'], /^airlock: "missing\.md" is not a file that can be read; see airlock knowledge add --help\n$/],
      [['knowledge', 'add', '--widget', widgetId, '--url', 'ftp://example.com', 'pricing.md'], /^airlock: --url must be an http: or https: URL/],
      [['knowledge', 'add', '--widget', widgetId, '--replaces', 'kf_1', 'pricing.md', 'prices.csv'], /^airlock: --replaces takes one path; see/],
      [['knowledge', 'search', '--widget', widgetId, '--top', '21', 'refunds'], /^airlock: --top must be a whole number from 1 to 20; see/],
      [['knowledge', 'search', '--widget', widgetId, '--top', 'many', 'refunds'], /^airlock: --top must be a whole number of at least 1; see/],
      [['knowledge', 'list', '--widget', 'nothing-like-it'], /^airlock: there is no widget "nothing-like-it"\.\n$/],
      [
        ['knowledge', 'list', '--widget', widgetId],
        /^airlock: no master key: set AIRLOCK_MASTER_KEYS .*or pass --dev; see airlock knowledge list --help\n$/,
        { ...environment, AIRLOCK_MASTER_KEYS: '' },
      ],
      [['knowledge'], /^airlock: "airlock knowledge" needs a command \(add, list, remove, search\); see airlock knowledge --help\n$/],
    ] as const) {
      const result = await airlock([...args], env);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout, args.join(' ')).toBe('');
      expect(result.stderr, args.join(' ')).toMatch(expected);
    }
  }, 60_000);
});
