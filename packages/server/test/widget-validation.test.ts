// One behaviour schema for every widget write (admin API, CLI, the stores) and for every
// proxied call: a malformed cap or list is refused on save, and one already stored fails closed.
import { startPostgres, type PostgresServer } from '@airlock/test-services';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AirlockOptions } from '../src/airlock.js';
import { runWidgets } from '../src/cli/commands/widgets.js';
import { maxBlockedBytes, maxBlockedEntries } from '../src/proxy/prompt-filter.js';
import type { NewWidget, WidgetBehaviour, WidgetRecord } from '../src/stores/store.js';
import { startProxyHarness, type ProxyHarness } from './proxy-helpers.js';

const adminHeaders = { authorization: 'Bearer admin-secret-token', 'content-type': 'application/json' };

// Each: a behaviour (and widget type), and the field the refusal must name.
const badBehaviours: [string, Record<string, unknown>, NewWidget['type'], string][] = [
  ['a non-numeric output cap', { maxOutputTokens: 'lots' }, 'chat', 'behaviour.maxOutputTokens'],
  ['a fractional output cap', { maxOutputTokens: 10.5 }, 'chat', 'behaviour.maxOutputTokens'],
  ['a zero output cap', { maxOutputTokens: 0 }, 'chat', 'behaviour.maxOutputTokens'],
  ['a non-numeric image count', { model: 'dall-e-2', image: { maxImages: 'x' } }, 'image', 'behaviour.image.maxImages'],
  ['an unknown image setting', { model: 'dall-e-2', image: { maxImage: 4 } }, 'image', 'behaviour.image.maxImage'],
  ['allowed models as one string', { allowedModels: 'gpt-4o-mini o1' }, 'chat', 'behaviour.allowedModels'],
  ['an allowed model with a space', { allowedModels: ['gpt 4o'] }, 'chat', 'behaviour.allowedModels'],
  ['a blocked list as one string', { promptFilter: { blocked: 'darn' } }, 'chat', 'behaviour.promptFilter.blocked'],
  [
    'too many blocked entries',
    { promptFilter: { blocked: Array.from({ length: maxBlockedEntries + 1 }, (_, index) => `w${index}`) } },
    'chat',
    'behaviour.promptFilter.blocked',
  ],
  [
    'too many blocked bytes',
    { promptFilter: { blocked: Array.from({ length: Math.ceil(maxBlockedBytes / 200) + 1 }, () => 'x'.repeat(200)) } },
    'chat',
    'behaviour.promptFilter.blocked',
  ],
  ['a temperature out of range', { temperature: 7 }, 'chat', 'behaviour.temperature'],
  ['a temperature as text', { temperature: '1' }, 'chat', 'behaviour.temperature'],
  ['a vector count past 20', { vectorCount: 21 }, 'chat', 'behaviour.vectorCount'],
  ['a vector count as text', { vectorCount: '5' }, 'chat', 'behaviour.vectorCount'],
  ['client instructions as text', { allowClientInstructions: 'yes' }, 'chat', 'behaviour.allowClientInstructions'],
  ['a misspelt field', { maxOutputToken: 100 }, 'chat', 'behaviour.maxOutputToken'],
  ['an unknown memory strategy', { memory: { strategy: 'everything' } }, 'chat', 'behaviour.memory.strategy'],
  ['a memory setting of another strategy', { memory: { strategy: 'standard', messages: 4 } }, 'chat', 'behaviour.memory.messages'],
  ['a time zone that does not exist', { timeZone: 'Mars/Olympus' }, 'chat', 'behaviour.timeZone'],
  ['a completion widget without a template', {}, 'completion', 'behaviour.promptTemplate'],
  [
    'a select input without options',
    { promptTemplate: '{{x}}', inputs: [{ name: 'x', label: 'X', type: 'select' }] },
    'completion',
    'behaviour.inputs[0].options',
  ],
  [
    'two inputs of one name',
    {
      promptTemplate: '{{x}}',
      inputs: [
        { name: 'x', label: 'X' },
        { name: 'x', label: 'Y' },
      ],
    },
    'completion',
    'behaviour.inputs[1].name',
  ],
];

describe('the behaviour schema on every write', () => {
  let harness: ProxyHarness;
  beforeAll(async () => {
    harness = await startProxyHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });

  const admin = (path: string, method: string, body?: unknown) =>
    fetch(`${harness.url}/airlock/admin${path}`, { method, headers: adminHeaders, ...(body !== undefined && { body: JSON.stringify(body) }) });
  const refusal = async (response: Response) => {
    expect(response.status).toBe(400);
    return ((await response.json()) as { error: { code: string; message: string } }).error;
  };

  it.each(badBehaviours)('the admin API refuses %s on create and on update, naming the field', async (_, behaviour, type, field) => {
    const created = await refusal(await admin('/widgets', 'POST', { name: 'bad', type, behaviour }));
    expect(created.code).toBe('input_invalid');
    expect(created.message).toContain(`"${field}"`);

    const good = await harness.widget({
      type,
      behaviour: type === 'completion' ? { model: 'gpt-4o-mini', promptTemplate: 'Hi' } : { model: type === 'image' ? 'dall-e-2' : 'gpt-4o-mini' },
    });
    // A patch merges over the stored behaviour: removing the template is what leaves a completion widget without one.
    const patch = field === 'behaviour.promptTemplate' ? { promptTemplate: null } : behaviour;
    const patched = await refusal(await admin(`/widgets/${good.id}`, 'PATCH', { behaviour: patch }));
    expect(patched).toMatchObject({ code: 'input_invalid', message: expect.stringContaining(`"${field}"`) });
    expect((await harness.airlock.store.getWidget(good.id))!.behaviour).toEqual(good.behaviour);
  });

  it('accepts a behaviour at the limits, and removes a field set to null', async () => {
    const blocked = Array.from({ length: maxBlockedEntries }, (_, index) => `w${index}`);
    const response = await admin('/widgets', 'POST', {
      name: 'at the limits',
      behaviour: {
        maxOutputTokens: 512,
        temperature: 0,
        allowedModels: ['gpt-4o'],
        promptFilter: { blocked },
        memory: { strategy: 'recent-context', messages: 4 },
        timeZone: 'Europe/Paris',
        vectorCount: 0,
        allowClientInstructions: true,
      },
    });
    expect(response.status).toBe(201);
    const widget = (await response.json()) as WidgetRecord;
    expect(widget.behaviour).toMatchObject({ maxOutputTokens: 512, promptFilter: { blocked } });
    const cleared = (await (await admin(`/widgets/${widget.id}`, 'PATCH', { behaviour: { maxOutputTokens: null } })).json()) as WidgetRecord;
    expect(cleared.behaviour.maxOutputTokens).toBeUndefined();
  });

  it('the CLI goes through the same schema', async () => {
    process.env.AIRLOCK_DATABASE_URL = `sqlite:${join(harness.dataDir, 'airlock.db')}`;
    try {
      const create = ['create', '--name', 'cli-bad', '--origin', 'https://cli.example.com', '--behaviour', '{"maxOutputTokens":"lots"}'];
      await expect(runWidgets(create)).rejects.toMatchObject({ code: 'input_invalid', message: expect.stringContaining('"behaviour.maxOutputTokens"') });
      const widget = await harness.widget();
      const update = ['update', widget.id, '--behaviour', '{"image":{"maxImages":"x"}}'];
      await expect(runWidgets(update)).rejects.toMatchObject({ code: 'input_invalid', message: expect.stringContaining('"behaviour.image.maxImages"') });
    } finally {
      delete process.env.AIRLOCK_DATABASE_URL;
    }
  });
});

function defineStoreWrites(kind: 'sqlite' | 'postgres', options: () => Promise<Partial<AirlockOptions>>) {
  describe(`store writes (${kind})`, () => {
    let harness: ProxyHarness;
    beforeAll(async () => {
      harness = await startProxyHarness(await options());
    });
    afterAll(async () => {
      await harness?.close();
    });

    it.each(badBehaviours)('createWidget and updateWidget refuse %s', async (_, behaviour, type, field) => {
      const base: WidgetBehaviour = type === 'completion' ? { model: 'gpt-4o-mini', promptTemplate: 'Hi' } : { model: 'gpt-4o-mini' };
      const bad = { ...(type === 'completion' && 'inputs' in behaviour ? base : { model: 'gpt-4o-mini' }), ...behaviour } as unknown as WidgetBehaviour;
      await expect(harness.widget({ type, behaviour: bad })).rejects.toMatchObject({ code: 'input_invalid', message: expect.stringContaining(`"${field}"`) });
      const good = await harness.widget({ type, behaviour: base });
      await expect(harness.airlock.store.updateWidget(good.id, { behaviour: bad })).rejects.toMatchObject({ code: 'input_invalid' });
      expect((await harness.airlock.store.getWidget(good.id))!.behaviour).toEqual(base);
    });

    it('createWidget refuses a bad origin or presentation too', async () => {
      await expect(harness.widget({ allowedOrigins: ['https://example.com/path'] })).rejects.toMatchObject({ code: 'input_invalid' });
      await expect(harness.widget({ presentation: { title: 'x', theme: 'neon' as never } })).rejects.toMatchObject({ code: 'input_invalid' });
    });
  });
}

let postgres: PostgresServer | undefined;
afterAll(async () => {
  await postgres?.stop();
});
const postgresOptions = async (): Promise<Partial<AirlockOptions>> => {
  postgres ??= await startPostgres();
  return { databaseUrl: await postgres.createDatabase() };
};
defineStoreWrites('sqlite', async () => ({}));
defineStoreWrites('postgres', postgresOptions);

// A behaviour written before these checks, or straight into the database.
function defineStoredValues(kind: 'sqlite' | 'postgres', options: () => Promise<Partial<AirlockOptions>>) {
  describe(`a malformed stored behaviour fails closed (${kind})`, () => {
    let harness: ProxyHarness;
    let databaseUrl: string | undefined;
    beforeAll(async () => {
      const given = await options();
      databaseUrl = given.databaseUrl;
      harness = await startProxyHarness(given);
    });
    afterAll(async () => {
      await harness?.close();
    });

    async function writeBehaviour(id: string, behaviour: unknown) {
      if (kind === 'sqlite') {
        const db = new Database(join(harness.dataDir, 'airlock.db'));
        try {
          db.prepare('UPDATE widgets SET behaviour = ? WHERE id = ?').run(JSON.stringify(behaviour), id);
        } finally {
          db.close();
        }
        return;
      }
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        await client.query('UPDATE widgets SET behaviour = $1 WHERE id = $2', [JSON.stringify(behaviour), id]);
      } finally {
        await client.end();
      }
    }

    const chat = (token: string, body: Record<string, unknown> = {}) =>
      harness.post('/v1/chat/completions', token, { messages: [{ role: 'user', content: 'hi' }], ...body });

    it.each([
      ['a non-numeric output cap', { model: 'gpt-4o-mini', maxOutputTokens: 'lots' }, {}],
      ['allowed models as one string', { model: 'gpt-4o-mini', allowedModels: 'gpt-4o-mini o1' }, { model: 'o1' }],
      ['a blocked list as one string', { model: 'gpt-4o-mini', promptFilter: { blocked: 'hi' } }, {}],
      ['a negative output cap', { model: 'gpt-4o-mini', maxOutputTokens: -1 }, {}],
    ])('refuses a chat whose widget has %s, without calling the upstream', async (_, behaviour, body) => {
      const widget = await harness.widget();
      const token = await harness.token(widget);
      await writeBehaviour(widget.id, behaviour);
      const before = harness.upstream.requests.length;
      const response = await chat(token, body);
      expect(response.status).toBe(403);
      expect(((await response.json()) as { error: { code: string; message: string } }).error).toMatchObject({
        code: 'widget_disabled',
        message: expect.stringContaining('settings are not valid'),
      });
      expect(harness.upstream.requests.length).toBe(before);
      expect(harness.logs.some((line) => line.includes(widget.id) && line.includes('behaviour.'))).toBe(true);
    });

    it('refuses an image request past a malformed image count', async () => {
      const widget = await harness.widget({ type: 'image', behaviour: { model: 'dall-e-2', image: { sizes: ['512x512'], maxImages: 1 } } });
      const token = await harness.token(widget);
      await writeBehaviour(widget.id, { model: 'dall-e-2', image: { sizes: ['512x512'], maxImages: 'x' } });
      const before = harness.upstream.requests.length;
      const response = await harness.post('/v1/images/generations', token, { prompt: 'a cat', n: 8 });
      expect(response.status).toBe(403);
      expect(harness.upstream.requests.length).toBe(before);
    });

    it('serves the widget again once its behaviour is saved valid, and lets it be turned off meanwhile', async () => {
      const widget = await harness.widget();
      const token = await harness.token(widget);
      await writeBehaviour(widget.id, { model: 'gpt-4o-mini', maxOutputTokens: 'lots' });
      expect((await chat(token)).status).toBe(403);
      // A malformed stored behaviour does not block unrelated changes.
      await harness.airlock.store.updateWidget(widget.id, { name: 'renamed while broken' });
      const fixed = await fetch(`${harness.url}/airlock/admin/widgets/${widget.id}`, {
        method: 'PATCH',
        headers: adminHeaders,
        body: JSON.stringify({ behaviour: { maxOutputTokens: 64 } }),
      });
      expect(fixed.status).toBe(200);
      harness.upstream.next({ type: 'answer', text: 'capped' });
      const response = await chat(token);
      expect(response.status).toBe(200);
      await response.text();
      expect((harness.upstream.requests.at(-1)!.body as { max_completion_tokens: number }).max_completion_tokens).toBe(64);
    });
  });
}

defineStoredValues('sqlite', async () => ({}));
defineStoredValues('postgres', postgresOptions);
