import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { PostgresStore } from '../../src/stores/postgres-store.js';
import { startPostgres, type PostgresServer } from '@airlock/test-services';
import { defineStoreConformance } from './conformance.js';

let postgres: PostgresServer;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(async () => {
  await postgres?.stop();
});

defineStoreConformance('postgres', async () => {
  const url = await postgres.createDatabase();
  return {
    open: () => new PostgresStore({ connectionString: url }),
    async dispose() {
      const client = new pg.Client({ connectionString: postgres.url() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
      await client.end();
    },
  };
});
