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
