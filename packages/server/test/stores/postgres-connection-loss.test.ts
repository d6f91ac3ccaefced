// PostgreSQL ending connections under a running store (a restart, a failover,
// an operator's pg_terminate_backend): the calls in flight fail, and nothing
// else does. A connection checked out for a transaction has no error
// listener from the pool; without the store's own, a connection ended
// between two statements of a transaction is an uncaught error that ends
// the process.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PostgresStore } from '../../src/stores/postgres-store.js';
import { startPostgres, type PostgresServer } from '@airlock/test-services';

let postgres: PostgresServer;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(async () => {
  await postgres?.stop();
});

it('fails only the calls in flight when the server ends connections mid-transaction, and keeps working', async () => {
  const url = await postgres.createDatabase();
  const store = new PostgresStore({ connectionString: url });
  await store.migrate();
  const widget = await store.createWidget({
    name: 'w',
    type: 'chat',
    allowedOrigins: ['https://shop.example.com'],
    presentation: { title: 'W', theme: 'auto' },
    behaviour: { model: 'gpt-4o-mini' },
  });
  const day = '2026-11-27';
  const increments = Array.from({ length: 5 }, () => ({ widgetId: widget.id, day, requests: 1, errors: { rate_limited: 1 } }));
  const killer = new pg.Client({ connectionString: postgres.url() });
  await killer.connect();

  let succeeded = 0;
  let failed = 0;
  const deadline = performance.now() + 1_500;
  const writers = Array.from({ length: 8 }, async () => {
    while (performance.now() < deadline) {
      await store.addUsage(increments).then(
        () => (succeeded += 1),
        () => (failed += 1),
      );
    }
  });
  const terminations = (async () => {
    while (performance.now() < deadline) {
      await killer.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [
        new URL(url).pathname.slice(1),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
  })();
  await Promise.all([...writers, terminations]);
  await killer.end();

  // Connections really were cut mid-work, and work went on between the cuts.
  expect(failed).toBeGreaterThan(0);
  expect(succeeded).toBeGreaterThan(0);
  // Each call counted in full or not at all (one transaction each); a call
  // cut while its COMMIT was answered may have counted though it failed.
  const [usage] = await store.listUsage(widget.id, day, day);
  expect(usage!.requests % increments.length).toBe(0);
  expect(usage!.requests).toBeGreaterThanOrEqual(succeeded * increments.length);
  expect(usage!.requests).toBeLessThanOrEqual((succeeded + failed) * increments.length);
  await store.close();
});
