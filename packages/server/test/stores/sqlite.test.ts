import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/stores/open-store.js';
import { PostgresStore } from '../../src/stores/postgres-store.js';
import { SqliteStore } from '../../src/stores/sqlite-store.js';
import { defineStoreConformance } from './conformance.js';

const root = mkdtempSync(join(tmpdir(), 'airlock-sqlite-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let files = 0;

defineStoreConformance('sqlite', async () => {
  const path = join(root, `store-${++files}.db`);
  return { open: () => new SqliteStore({ path }) };
});

describe('SqliteStore.getWidgetForCall', () => {
  it('keeps its answer, frozen, until anything is written through any connection', async () => {
    const path = join(root, `kept-${++files}.db`);
    const store = new SqliteStore({ path });
    const cli = new SqliteStore({ path });
    try {
      await store.migrate();
      const created = await store.createWidget({
        name: 'kept',
        type: 'chat',
        allowedOrigins: ['https://shop.example.com'],
        presentation: { title: 'Kept', theme: 'auto' },
        behaviour: { model: 'gpt-4o-mini' },
      });
      const first = (await store.getWidgetForCall(created.id))!;
      expect(await store.getWidgetForCall(created.id)).toBe(first);
      // Shared between requests, so no request can change it for the next.
      expect(Object.isFrozen(first.widget.behaviour)).toBe(true);
      expect(() => {
        (first.widget as { enabled: boolean }).enabled = false;
      }).toThrowError(TypeError);

      // A write through this store, even to another table, drops it.
      await store.addUsage([{ widgetId: created.id, day: '2026-11-27', views: 1 }]);
      const afterOwnWrite = (await store.getWidgetForCall(created.id))!;
      expect(afterOwnWrite).not.toBe(first);
      expect(afterOwnWrite).toEqual(first);
      expect(await store.getWidgetForCall(created.id)).toBe(afterOwnWrite);

      // So does a commit through another connection (here as the CLI would make it).
      await cli.bumpWidgetEpoch(created.id);
      expect((await store.getWidgetForCall(created.id))!.widget.epoch).toBe(1);
    } finally {
      await store.close();
      await cli.close();
    }
  });
});

describe('SqliteStore.getWidgetForCall, bounded', () => {
  it('keeps at most 1,000 answers, then starts again', async () => {
    const store = new SqliteStore({ path: join(root, `bounded-${++files}.db`) });
    try {
      await store.migrate();
      const ids: string[] = [];
      for (let index = 0; index <= 1_000; index += 1) {
        const widget = await store.createWidget({
          name: `w${index}`,
          type: 'chat',
          allowedOrigins: [],
          presentation: { title: 'W', theme: 'auto' },
          behaviour: { model: 'gpt-4o-mini' },
        });
        ids.push(widget.id);
      }
      const first = await store.getWidgetForCall(ids[0]!);
      for (const id of ids.slice(1, 1_000)) await store.getWidgetForCall(id);
      expect(await store.getWidgetForCall(ids[0]!)).toBe(first);
      // The 1,001st answer drops the others.
      await store.getWidgetForCall(ids[1_000]!);
      const again = await store.getWidgetForCall(ids[0]!);
      expect(again).not.toBe(first);
      expect(again).toEqual(first);
    } finally {
      await store.close();
    }
  });
});

describe('openStore', () => {
  it('opens SQLite for sqlite: URLs and PostgreSQL for postgres:// URLs', async () => {
    const sqlite = openStore(`sqlite:${join(root, 'open.db')}`);
    expect(sqlite).toBeInstanceOf(SqliteStore);
    await sqlite.close();
    for (const url of ['postgres://user:pw@127.0.0.1:1/db', 'postgresql://user:pw@127.0.0.1:1/db']) {
      const postgres = openStore(url);
      expect(postgres).toBeInstanceOf(PostgresStore);
      await postgres.close();
    }
  });

  it('refuses other schemes naming only the scheme, never the rest of the URL', () => {
    expect(() => openStore('mysql://admin:hunter2@db/airlock')).toThrowError(/Unsupported database URL scheme "mysql:"/);
    try {
      openStore('mysql://admin:hunter2@db/airlock');
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
    expect(() => openStore('sqlite:')).toThrowError(/needs a path/);
  });
});
