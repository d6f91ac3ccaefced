// The widget registry: admin API, input checks, embed snippets, and the CLI commands.
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTokens } from '../src/cli/commands/tokens.js';
import { runWidgets } from '../src/cli/commands/widgets.js';
import type { WidgetRecord } from '../src/stores/store.js';
import { embedSnippets } from '../src/widgets/embed-snippets.js';
import { chatRequest, startHarness, type Harness } from './harness.js';

const adminToken = 'admin-token-for-widget-tests';
const masterKeys = `t1:${randomBytes(32).toString('base64')}`;
let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ adminToken, masterKeys, publicUrl: 'https://chat.example.com' });
});
afterAll(async () => {
  await harness.close();
});

function admin(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<Response> {
  return fetch(`${harness.url}/airlock/admin${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${init.token ?? adminToken}`, 'content-type': 'application/json' },
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
  });
}

async function code(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

describe('admin API', () => {
  it('refuses callers without the admin token', async () => {
    for (const [path, method] of [
      ['/widgets', 'GET'],
      ['/widgets', 'POST'],
      [`/widgets/${harness.widget.id}`, 'DELETE'],
      [`/widgets/${harness.widget.id}/revoke-tokens`, 'POST'],
      ['/tokens', 'POST'],
      ['/signing-keys/rotate', 'POST'],
    ] as const) {
      const response = await admin(path, { method, token: 'wrong', body: method === 'GET' || method === 'DELETE' ? undefined : {} });
      expect(response.status, `${method} ${path}`).toBe(401);
      expect(await code(response)).toBe('admin_unauthorized');
    }
    expect((await fetch(`${harness.url}/airlock/admin/widgets`)).status).toBe(401);
  });

  it('creates, reads, lists, updates and deletes a widget', async () => {
    const created = await admin('/widgets', {
      method: 'POST',
      body: {
        name: 'Sales',
        type: 'chat',
        allowedOrigins: ['https://Shop.Example.com', 'https://*.example.org', 'https://shop.example.com'],
        presentation: { title: 'Talk to sales', theme: 'dark', greeting: 'Hello!', suggestedPrompts: ['Pricing?'], placeholder: 'Ask…', locale: 'en-GB' },
        behaviour: { model: 'gpt-4o-mini', systemPrompt: 'Be brief.', memory: { strategy: 'recent-context', messages: 6 } },
      },
    });
    expect(created.status).toBe(201);
    const widget = (await created.json()) as WidgetRecord;
    expect(widget.id).toMatch(/^wgt_[A-Za-z0-9_-]{22}$/);
    expect(widget).toMatchObject({
      name: 'Sales',
      enabled: true,
      epoch: 0,
      allowedOrigins: ['https://shop.example.com', 'https://*.example.org'],
      behaviour: { model: 'gpt-4o-mini', systemPrompt: 'Be brief.', memory: { strategy: 'recent-context', messages: 6 } },
    });

    expect(await (await admin(`/widgets/${widget.id}`)).json()).toEqual(widget);
    const listed = (await (await admin('/widgets')).json()) as { widgets: WidgetRecord[] };
    expect(listed.widgets.map((entry) => entry.id)).toContain(widget.id);

    const patched = await admin(`/widgets/${widget.id}`, {
      method: 'PATCH',
      body: { presentation: { greeting: null, theme: 'light' }, behaviour: { temperature: 0.2 }, allowedOrigins: ['https://new.example.com'] },
    });
    expect(patched.status).toBe(200);
    const updated = (await patched.json()) as WidgetRecord;
    expect(updated.presentation).toEqual({ title: 'Talk to sales', theme: 'light', suggestedPrompts: ['Pricing?'], placeholder: 'Ask…', locale: 'en-GB' });
    expect(updated.behaviour).toMatchObject({ model: 'gpt-4o-mini', systemPrompt: 'Be brief.', temperature: 0.2 });
    expect(updated.allowedOrigins).toEqual(['https://new.example.com']);

    // Public minting follows the new allow-list at once.
    const mint = (origin: string) =>
      fetch(`${harness.url}/airlock/token`, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json' },
        body: JSON.stringify({ widgetId: widget.id }),
      });
    expect((await mint('https://new.example.com')).status).toBe(200);
    expect((await mint('https://shop.example.com')).status).toBe(403);

    const disabled = await admin(`/widgets/${widget.id}`, { method: 'PATCH', body: { enabled: false } });
    expect(((await disabled.json()) as WidgetRecord).enabled).toBe(false);
    expect(await code(await mint('https://new.example.com'))).toBe('widget_disabled');

    expect((await admin(`/widgets/${widget.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await code(await admin(`/widgets/${widget.id}`))).toBe('widget_not_found');
    expect((await admin(`/widgets/${widget.id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it.each([
    [{}, 'name'],
    [{ name: 'x', type: 'video' }, 'type'],
    [{ name: 'x', allowedOrigins: ['https://example.com/'] }, 'origin'],
    [{ name: 'x', allowedOrigins: ['*'] }, 'origin'],
    [{ name: 'x', allowedOrigins: 'https://example.com' }, 'allowedOrigins'],
    [{ name: 'x', presentation: { theme: 'neon' } }, 'theme'],
    [{ name: 'x', presentation: { colour: 'red' } }, 'colour'],
    [{ name: 'x', presentation: { suggestedPrompts: 'hi' } }, 'suggestedPrompts'],
    [{ name: 'x', presentation: { locale: 'english please' } }, 'locale'],
    [{ name: 'x', behaviour: { model: '' } }, 'model'],
    [{ name: 'x', behaviour: 'be nice' }, 'behaviour'],
    [{ name: 'x', behaviour: { model: 'm', systemPrompt: 'x'.repeat(70_000) } }, 'behaviour'],
    [{ name: 'x', epoch: 5 }, 'epoch'],
  ])('refuses a bad widget (%#) with 400 input_invalid', async (body, mentioned) => {
    const response = await admin('/widgets', { method: 'POST', body });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('input_invalid');
    expect(error.message).toContain(mentioned);
  });

  it('refuses to change a widget type and answers 404 for unknown widgets', async () => {
    const response = await admin(`/widgets/${harness.widget.id}`, { method: 'PATCH', body: { type: 'image' } });
    expect(response.status).toBe(400);
    expect(await code(await admin('/widgets/wgt_missing', { method: 'PATCH', body: { name: 'x' } }))).toBe('widget_not_found');
    expect(await code(await admin('/widgets/wgt_missing/revoke-tokens', { method: 'POST' }))).toBe('widget_not_found');
  });

  it('gives embed snippets for the configured public URL, or ?server=', async () => {
    const answer = (await (await admin(`/widgets/${harness.widget.id}/embed`)).json()) as { scriptTag: string; iframe: string };
    expect(answer.scriptTag).toBe(`<script src="https://chat.example.com/airlock/widget.js" data-widget-id="${harness.widget.id}" async></script>`);
    expect(answer.iframe).toContain(`src="https://chat.example.com/airlock/embed/${harness.widget.id}"`);
    expect(answer.iframe).toContain('title="Support"');
    const other = (await (await admin(`/widgets/${harness.widget.id}/embed?server=http://localhost:8787`)).json()) as { scriptTag: string };
    expect(other.scriptTag).toContain('src="http://localhost:8787/airlock/widget.js"');
  });

  it('mints a token for a widget and user, with limits', async () => {
    const response = await admin('/tokens', { method: 'POST', body: { widgetId: harness.widget.id, userId: 'user_7', limits: { outputTokens: 500 } } });
    expect(response.status).toBe(201);
    const { token } = (await response.json()) as { token: string };
    expect(decodeJwt(token)).toMatchObject({ sub: 'user_7', wid: harness.widget.id, limits: { outputTokens: 500 } });
    const chat = await chatRequest(harness.url, token, { messages: [{ role: 'user', content: 'hi' }] });
    expect(chat.status).toBe(200);
    await chat.text();
    expect(await code(await admin('/tokens', { method: 'POST', body: { widgetId: harness.widget.id, origin: 'javascript:alert(1)' } }))).toBe('input_invalid');
  });
});

describe('embed snippets', () => {
  it('escapes what it puts in attributes and keeps a path prefix', () => {
    const snippets = embedSnippets({ widgetId: 'wgt_1', serverUrl: 'https://example.com/tools/', title: '"><script>x</script>' });
    expect(snippets.scriptTag).toBe('<script src="https://example.com/tools/airlock/widget.js" data-widget-id="wgt_1" async></script>');
    expect(snippets.iframe).toContain('title="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"');
    expect(() => embedSnippets({ widgetId: 'wgt_1', serverUrl: 'javascript:alert(1)' })).toThrow(/http/);
  });
});

describe('CLI', () => {
  async function cli(run: (args: string[]) => Promise<number>, args: string[]): Promise<string> {
    const lines: string[] = [];
    const original = console.log;
    console.log = (...parts: unknown[]) => lines.push(parts.join(' '));
    try {
      const code = await run(args);
      expect(code).toBe(0);
    } finally {
      console.log = original;
    }
    return lines.join('\n');
  }

  beforeAll(() => {
    process.env.AIRLOCK_DATABASE_URL = `sqlite:${join(harness.dataDir, 'airlock.db')}`;
    process.env.AIRLOCK_MASTER_KEYS = masterKeys;
  });

  it('runs the widget lifecycle: create, show, update, embed, revoke-tokens, delete', async () => {
    const id = await cli(runWidgets, [
      'create',
      '--name',
      'cli-widget',
      '--origin',
      'https://cli.example.com',
      '--greeting',
      'Yo',
      '--prompt',
      'A?',
      '--prompt',
      'B?',
    ]);
    expect(id).toMatch(/^wgt_/);
    const shown = JSON.parse(await cli(runWidgets, ['show', id, '--json'])) as WidgetRecord;
    expect(shown.presentation).toEqual({ title: 'cli-widget', theme: 'auto', greeting: 'Yo', suggestedPrompts: ['A?', 'B?'] });
    const updated = JSON.parse(await cli(runWidgets, ['update', id, '--title', 'CLI', '--disable', '--json'])) as WidgetRecord;
    expect(updated).toMatchObject({ enabled: false, presentation: { title: 'CLI', greeting: 'Yo' } });
    await cli(runWidgets, ['update', 'cli-widget', '--enable']);
    const embed = await cli(runWidgets, ['embed', id, '--server', 'https://chat.example.com']);
    expect(embed).toContain(`<script src="https://chat.example.com/airlock/widget.js" data-widget-id="${id}" async></script>`);
    expect(embed).toContain(`<iframe src="https://chat.example.com/airlock/embed/${id}"`);

    const minted = await harness.airlock.mintToken({ widgetId: id, userId: 'u' });
    expect(await cli(runWidgets, ['revoke-tokens', id])).toContain('epoch 2'); // disabling bumped it once
    const refused = await chatRequest(harness.url, minted.token, { messages: [{ role: 'user', content: 'hi' }] }, { origin: 'https://cli.example.com' });
    expect(refused.status).toBe(401);
    await refused.text();

    expect(await cli(runWidgets, ['list'])).toContain(`${id}\tcli-widget\tchat\tenabled\thttps://cli.example.com`);
    await cli(runWidgets, ['delete', id]);
    expect(await cli(runWidgets, ['list'])).not.toContain(id);
    await expect(runWidgets(['show', id])).rejects.toMatchObject({ code: 'widget_not_found' });
    await expect(runWidgets(['create', '--name', 'x', '--origin', 'https://x.example.com/path'])).rejects.toThrow(/not an origin/);
  });

  it('mints a token and rotates the signing key; running servers accept both', async () => {
    const token = await cli(runTokens, ['mint', '--widget', harness.widget.id, '--user', 'cli-user', '--max-requests', '2']);
    expect(decodeJwt(token)).toMatchObject({ sub: 'cli-user', wid: harness.widget.id, limits: { requests: 2 } });
    const before = decodeProtectedHeader(token).kid;
    const output = await cli(runTokens, ['rotate-signing-key']);
    const kid = /new signing key (\S+);/.exec(output)![1]!;
    expect(output).toContain(`${before} keeps verifying tokens until`);
    const after = await cli(runTokens, ['mint', '--widget', harness.widget.id]);
    expect(decodeProtectedHeader(after).kid).toBe(kid);
    for (const candidate of [token, after]) {
      const response = await chatRequest(harness.url, candidate, { messages: [{ role: 'user', content: 'hi' }] });
      expect(response.status).toBe(200);
      await response.text();
    }
  });
});
