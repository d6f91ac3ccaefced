import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WidgetRecord } from '../src/stores/store.js';
import { allowedOrigin, eventually, sseEvents, startProxyHarness, streamedText, type ProxyHarness } from './proxy-helpers.js';

let harness: ProxyHarness;
let widget: WidgetRecord;
const admin = { authorization: 'Bearer admin-secret-token' };
const today = new Date().toISOString().slice(0, 10);

interface UsageDayAnswer {
  day: string;
  views: number;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  generations: number;
  errors: Record<string, number>;
}
interface UsageAnswer {
  days: UsageDayAnswer[];
  total: Omit<UsageDayAnswer, 'day'>;
}

beforeAll(async () => {
  harness = await startProxyHarness({ upstream: { idleTimeoutMs: 300 } });
  widget = await harness.widget({ behaviour: { model: 'gpt-4o-mini', promptFilter: { blocked: ['secret plan'] } } });
});
afterAll(async () => {
  await harness.close();
});

async function usage(query = `from=${today}&to=${today}`) {
  const response = await fetch(`${harness.url}/airlock/admin/widgets/${widget.id}/usage?${query}`, { headers: admin });
  return { status: response.status, body: (await response.json()) as UsageAnswer };
}

describe('usage metering', () => {
  it('counts views, requests, tokens, generations and errors per widget per day', async () => {
    const minted = await fetch(`${harness.url}/airlock/token`, {
      method: 'POST',
      headers: { origin: allowedOrigin, 'content-type': 'application/json' },
      body: JSON.stringify({ widgetId: widget.id }),
    });
    const { token } = (await minted.json()) as { token: string };

    harness.upstream.next({ type: 'answer', text: 'one two three', usage: { prompt_tokens: 11, completion_tokens: 3 } });
    await sseEvents(await harness.post('/v1/chat/completions', token, { messages: [{ role: 'user', content: 'hi' }], stream: true }));
    harness.upstream.next({ type: 'answer', text: 'json answer', usage: { prompt_tokens: 7, completion_tokens: 2 } });
    await (await harness.post('/v1/chat/completions', token, { messages: [{ role: 'user', content: 'hi' }] })).text();
    // Cut short before its usage chunk: the text relayed ('Hello from the Airlock ', 6 tokens) and the prompt are counted with the tokenizer.
    harness.upstream.next({ type: 'stall', afterChunks: 4 });
    const stalledAt = Date.now();
    const cut = await harness.post('/v1/chat/completions', token, { messages: [{ role: 'user', content: 'count these four words' }], stream: true });
    expect(streamedText(await sseEvents(cut)).error).toBe('upstream_timeout');
    // The idle limit (300 ms), not the longer first-chunk limit, applies once chunks flow.
    expect(Date.now() - stalledAt).toBeLessThan(3_000);
    await (await harness.post('/v1/chat/completions', token, { messages: [{ role: 'user', content: 'the secret plan' }] })).text();
    await (await harness.post('/v1/chat/completions', token, { messages: [{ role: 'system', content: 'x' }] })).text();
    // The cut stream's prompt is counted with the tokenizer, which loads on first use.
    await eventually(async () => (await usage()).body.days[0]?.outputTokens === 11);

    const { status, body } = await usage();
    expect(status).toBe(200);
    expect(body.days).toHaveLength(1);
    const day = body.days[0]!;
    expect(day.day).toBe(today);
    expect(day.views).toBe(1);
    expect(day.requests).toBe(5);
    expect(day.generations).toBe(3);
    expect(day.outputTokens).toBe(3 + 2 + 6);
    expect(day.inputTokens).toBeGreaterThan(11 + 7);
    expect(day.errors).toEqual({ upstream_timeout: 1, prompt_blocked: 1, input_invalid: 1 });
    expect(body.total).toMatchObject({ views: 1, requests: 5, generations: 3 });
  });

  it('meters a stream the visitor abandons', async () => {
    const before = (await usage()).body.days[0]!;
    harness.upstream.next({ type: 'stream', chunks: Array.from({ length: 100 }, (_, index) => `w${index} `), delayMs: 10 });
    const controller = new AbortController();
    const response = await harness.post(
      '/v1/chat/completions',
      await harness.token(widget),
      { messages: [{ role: 'user', content: 'go' }], stream: true },
      {
        signal: controller.signal,
      },
    );
    const reader = response.body!.getReader();
    for (let index = 0; index < 3; index += 1) await reader.read();
    controller.abort();
    await harness.upstream.waitForClose();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = (await usage()).body.days[0]!;
    expect(after.requests).toBe(before.requests + 1);
    expect(after.outputTokens).toBeGreaterThan(before.outputTokens);
    expect(after.generations).toBe(before.generations + 1);
  });

  it('answers the usage route only for admins, with checked dates', async () => {
    expect((await fetch(`${harness.url}/airlock/admin/widgets/${widget.id}/usage`)).status).toBe(401);
    expect((await usage('from=yesterday')).status).toBe(400);
    expect((await usage('from=2026-02-01&to=2026-01-01')).status).toBe(400);
    const missing = await fetch(`${harness.url}/airlock/admin/widgets/wgt_nope/usage`, { headers: admin });
    expect(missing.status).toBe(404);
    const empty = await usage('from=2020-01-01&to=2020-01-31');
    expect(empty.body).toMatchObject({ days: [], total: { requests: 0 } });
  });

  it('prints usage with `airlock usage --widget` and sets allowances with `--account`', async () => {
    await harness.airlock.fetch(new Request(`http://x/airlock/admin/widgets/${widget.id}/usage`, { headers: admin }));
    const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
    const run = promisify(execFile);
    const databasePath = join(harness.dataDir, 'airlock.db');
    const env = { ...process.env, AIRLOCK_DATABASE_URL: `sqlite:${databasePath}` };
    const printed = await run(process.execPath, [cli, 'usage', '--widget', widget.id], { env });
    const lines = printed.stdout.trim().split('\n');
    expect(lines[0]).toBe('day\tviews\trequests\tinput tokens\toutput tokens\tgenerations\terrors');
    // Views: one public mint and one backend mint.
    expect(lines[1]).toMatch(new RegExp(`^${today}\\t2\\t6\\t\\d+\\t\\d+\\t4\\tinput_invalid=1 `));
    expect(lines.at(-1)).toMatch(/^total\t2\t6\t/);
    const json = JSON.parse((await run(process.execPath, [cli, 'usage', '--widget', widget.id, '--json'], { env })).stdout) as { total: { requests: number } };
    expect(json.total.requests).toBe(6);
    const set = await run(process.execPath, [cli, 'usage', '--account', 'acct-cli', '--allowance', '250'], { env });
    expect(set.stdout.trim()).toBe('acct-cli\tallowance 250\tused 0');
    await expect(run(process.execPath, [cli, 'usage', '--account', 'acct-cli', '--allowance', 'lots'], { env })).rejects.toMatchObject({ code: 2 });
    expect(await harness.airlock.store.getGenerationBalance('acct-cli')).toEqual({ accountId: 'acct-cli', allowance: 250, used: 0 });
  });
});
