// Conversation summaries hold what visitors said: a canary in a conversation
// must never reach the database in plaintext (the SQLite file and its WAL,
// PostgreSQL's table files and a dump of it), the summary must still work
// (sealed by the vault, opened on the next turn), go with its widget, expire
// after the retention period, and the migration must drop the plaintext rows
// an older version stored.
import { startPostgres, type PostgresServer } from '@airlock/test-services';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logging/logger.js';
import { ConversationSummaries } from '../src/proxy/conversation-summaries.js';
import { sqliteMigrations } from '../src/stores/migrations.js';
import { postgresMigrations } from '../src/stores/postgres-migrations.js';
import { PostgresStore } from '../src/stores/postgres-store.js';
import { SqliteStore } from '../src/stores/sqlite-store.js';
import type { WidgetRecord } from '../src/stores/store.js';
import { createKeyring } from '../src/vault/key-encryption.js';
import { Vault } from '../src/vault/vault.js';
import { eventually, sseEvents, startProxyHarness, streamedText, type ProxyHarness } from './proxy-helpers.js';

let postgres: PostgresServer;
const dir = mkdtempSync(join(tmpdir(), 'airlock-summaries-'));
beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Turn = { role: 'user' | 'assistant'; content: string };
// Nine turns over a 60-token budget: the first ones (with the canary) are summarised.
const conversation = (canary: string): Turn[] =>
  Array.from({ length: 9 }, (_, index) => ({
    role: index % 2 === 0 ? 'user' : 'assistant',
    content: index === 0 ? `My name is ${canary} and my card ends 4242 ${'word '.repeat(6)}`.trim() : `turn-${index} ${'word '.repeat(8)}`.trim(),
  }));

/** Each file of the list that contains `needle`, as bytes (UTF-8). */
function holding(files: string[], needle: string): string[] {
  return files.filter((file) => existsSync(file) && readFileSync(file).includes(Buffer.from(needle, 'utf8')));
}

async function summarised(harness: ProxyHarness, canary: string): Promise<WidgetRecord> {
  const widget = await harness.widget({
    behaviour: { model: 'gpt-4o-mini', systemPrompt: 'SYSTEM', memory: { strategy: 'tokenized-summary', budgetTokens: 60, summaryMaxTokens: 50 } },
  });
  const token = await harness.token(widget);
  // The model's summary repeats what the visitor said, canary included.
  harness.upstream.next({ type: 'answer', text: `The visitor is ${canary}; card ending 4242.`, chunks: 1 });
  harness.upstream.next({ type: 'answer', text: 'first answer' });
  const first = await harness.post('/v1/chat/completions', token, { messages: conversation(canary), stream: true });
  expect(streamedText(await sseEvents(first)).text).toBe('first answer');

  // The next turn of the same conversation opens the sealed summary: no new summary call.
  const before = harness.upstream.requests.length;
  harness.upstream.next({ type: 'answer', text: 'second answer' });
  const second = await harness.post('/v1/chat/completions', token, { messages: conversation(canary), stream: true });
  expect(streamedText(await sseEvents(second)).text).toBe('second answer');
  const calls = harness.upstream.requests.slice(before).map((request) => request.body as { messages: Turn[] });
  expect(calls).toHaveLength(1);
  expect(calls[0]!.messages[1]!.content).toContain(`The visitor is ${canary}`);
  return widget;
}

describe('conversation summaries at rest', () => {
  it('never writes a visitor\u2019s words to the SQLite file or its WAL, and deletes them with the widget', async () => {
    const canary = `CANARY-${randomBytes(8).toString('hex')}`;
    const harness = await startProxyHarness({ proxy: { limits: { visitorRequestsPerMinute: 1_000, tokenRequestsPerMinute: 1_000 } } });
    try {
      const widget = await summarised(harness, canary);
      const database = join(harness.dataDir, 'airlock.db');
      const files = [database, `${database}-wal`];
      await eventually(async () => (await harness.airlock.store.listUsage(widget.id, '2000-01-01', '2999-12-31')).length > 0);
      expect(holding(files, canary)).toEqual([]);
      expect(holding(files, 'card ending 4242')).toEqual([]);

      // What is stored is a sealed value, bound to its widget.
      const { default: Database } = await import('better-sqlite3');
      const reader = new Database(database, { readonly: true });
      const [row] = reader.prepare('SELECT widget_id, sealed FROM conversation_summaries').all() as { widget_id: string; sealed: string }[];
      reader.close();
      expect(row!.widget_id).toBe(widget.id);
      expect(Object.keys(JSON.parse(row!.sealed) as object).sort()).toEqual(['ciphertext', 'format', 'kekVersion', 'wrappedKey']);

      expect(await harness.airlock.store.deleteWidget(widget.id)).toBe(true);
      const after = new Database(database, { readonly: true });
      expect((after.prepare('SELECT count(*) AS count FROM conversation_summaries').get() as { count: number }).count).toBe(0);
      after.close();
    } finally {
      await harness.close();
    }
  });

  it('never writes a visitor\u2019s words to PostgreSQL\u2019s table files or a dump of the database', async () => {
    const canary = `CANARY-${randomBytes(8).toString('hex')}`;
    const databaseUrl = await postgres.createDatabase();
    const harness = await startProxyHarness({ databaseUrl, proxy: { limits: { visitorRequestsPerMinute: 1_000, tokenRequestsPerMinute: 1_000 } } });
    try {
      await summarised(harness, canary);
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      try {
        expect(Number((await client.query('SELECT count(*) AS count FROM conversation_summaries')).rows[0].count)).toBe(1);
        await client.query('CHECKPOINT');
        const dataDirectory = (await client.query('SHOW data_directory')).rows[0].data_directory as string;
        const relations = (
          await client.query(
            `SELECT pg_relation_filepath(c.oid) AS path FROM pg_class c
             WHERE c.oid = 'conversation_summaries'::regclass OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'conversation_summaries'::regclass)`,
          )
        ).rows
          .map((relation: { path: string | null }) => relation.path)
          .filter((path): path is string => path !== null);
        expect(relations.length).toBeGreaterThan(0);
        const files = relations.map((path) => join(dataDirectory, path));
        expect(files.filter(existsSync).length).toBeGreaterThan(0);
        expect(holding(files, canary)).toEqual([]);
      } finally {
        await client.end();
      }
      const dump = await postgres.dump(new URL(databaseUrl).pathname.slice(1));
      expect(dump.includes(Buffer.from(canary))).toBe(false);
      expect(dump.includes(Buffer.from('My name is'))).toBe(false);
    } finally {
      await harness.close();
    }
  });

  it('reads no summary past its retention, deletes it, and opens none sealed for another widget', async () => {
    const store = new SqliteStore({ path: join(dir, 'retention.db') });
    await store.migrate();
    let now = new Date('2026-11-01T12:00:00Z');
    const vault = new Vault(createKeyring(`r1:${randomBytes(32).toString('base64')}`));
    const logs: string[] = [];
    const summaries = new ConversationSummaries({ store, vault, logger: createLogger({ write: (line) => logs.push(line) }), now: () => now, retentionDays: 7 });
    const widget = await store.createWidget({
      name: 'kept',
      type: 'chat',
      allowedOrigins: [],
      presentation: { title: 'Kept', theme: 'auto' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    const other = { ...widget, id: 'wgt_other' };
    await summaries.put(widget, 'key-1', 'The visitor likes tea.');
    expect(await summaries.get(widget, 'key-1')).toBe('The visitor likes tea.');
    // Another widget's request cannot read it, even with the key.
    expect(await summaries.get(other, 'key-1')).toBeUndefined();
    // A sealed value moved to another row does not open.
    const found = (await store.getConversationSummary('key-1'))!;
    await store.putConversationSummary({ key: 'key-2', widgetId: widget.id, sealed: found.sealed });
    expect(await summaries.get(widget, 'key-2')).toBeUndefined();
    expect(logs.join('\n')).toContain('did not open');

    // Six days on it is still read; past seven it is not, and the sweep deletes it.
    const stored = new Date((await store.getConversationSummary('key-1'))!.createdAt!);
    now = new Date(stored.getTime() + 6 * 24 * 3600 * 1000);
    expect(await summaries.get(widget, 'key-1')).toBe('The visitor likes tea.');
    now = new Date(stored.getTime() + 7 * 24 * 3600 * 1000 + 1);
    expect(await summaries.get(widget, 'key-1')).toBeUndefined();
    expect(await summaries.deleteExpired()).toBeGreaterThanOrEqual(1);
    expect(await store.getConversationSummary('key-1')).toBeUndefined();
    await store.close();
  });
});

describe('the migration to sealed summaries', () => {
  it('drops the plaintext summaries an older version left in the SQLite file', async () => {
    const canary = `CANARY-${randomBytes(8).toString('hex')}`;
    const path = join(dir, 'older.db');
    const older = new SqliteStore({ path, migrations: sqliteMigrations.filter((migration) => migration.version <= 10) });
    await older.migrate();
    await older.close();
    const { default: Database } = await import('better-sqlite3');
    const database = new Database(path);
    for (let index = 0; index < 50; index += 1) {
      database
        .prepare('INSERT INTO conversation_summaries (key, widget_id, summary, created_at) VALUES (?, ?, ?, ?)')
        .run(`k${index}`, 'wgt_1', `The visitor ${canary} said ${'so much '.repeat(20)}`, new Date().toISOString());
    }
    database.close();
    expect(holding([path, `${path}-wal`], canary).length).toBeGreaterThan(0);

    const store = new SqliteStore({ path });
    await store.migrate();
    await store.close();
    expect(holding([path, `${path}-wal`], canary)).toEqual([]);
  });

  it('drops the plaintext summaries an older version left in PostgreSQL', async () => {
    const canary = `CANARY-${randomBytes(8).toString('hex')}`;
    const databaseUrl = await postgres.createDatabase();
    const older = new PostgresStore({ connectionString: databaseUrl, migrations: postgresMigrations.filter((migration) => migration.version <= 10) });
    await older.migrate();
    await older.close();
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query(`INSERT INTO conversation_summaries (key, widget_id, summary, created_at) VALUES ('k1', 'wgt_1', $1, now())`, [
        `The visitor ${canary} said hello`,
      ]);
      const before = (await client.query(`SELECT pg_relation_filepath('conversation_summaries') AS path`)).rows[0].path as string;

      const store = new PostgresStore({ connectionString: databaseUrl });
      await store.migrate();
      await store.close();

      expect(Number((await client.query('SELECT count(*) AS count FROM conversation_summaries')).rows[0].count)).toBe(0);
      await client.query('CHECKPOINT');
      const dataDirectory = (await client.query('SHOW data_directory')).rows[0].data_directory as string;
      const after = (await client.query(`SELECT pg_relation_filepath('conversation_summaries') AS path`)).rows[0].path as string;
      expect(after).not.toBe(before);
      expect(holding([join(dataDirectory, before), join(dataDirectory, after)], canary)).toEqual([]);
    } finally {
      await client.end();
    }
    const dump = await postgres.dump(new URL(databaseUrl).pathname.slice(1));
    expect(dump.includes(Buffer.from(canary))).toBe(false);
  });
});
