import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/stores/postgres-store.js';
import { SqliteStore } from '../../src/stores/sqlite-store.js';
import type { AdminSessionRecord, Store } from '../../src/stores/store.js';
import { startPostgres, type PostgresServer } from '@airlock/test-services';

// The admin page's storage (access tokens, sessions) on both stores, through the same checks.
let postgres: PostgresServer;
const folder = mkdtempSync(join(tmpdir(), 'airlock-admin-store-'));
beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
  rmSync(folder, { recursive: true, force: true });
});

const stores: [string, () => Promise<Store>][] = [
  ['sqlite', async () => new SqliteStore({ path: join(folder, `${Math.random()}.db`), now: () => new Date('2026-11-27T12:00:00.000Z') })],
  ['postgres', async () => new PostgresStore({ connectionString: await postgres.createDatabase(), now: () => new Date('2026-11-27T12:00:00.000Z') })],
];

describe.each(stores)('admin page storage on %s', (_kind, open) => {
  it('keeps access tokens by hash, notes their use, revokes them with their sessions', async () => {
    const store = await open();
    try {
      await store.migrate();
      await store.createAdminAccessToken({
        id: 'acctok_1',
        accountId: 'acme',
        tokenHash: 'a'.repeat(64),
        label: 'Jane',
        createdAt: '2026-11-27T10:00:00.000Z',
      });
      await store.createAdminAccessToken({ id: 'acctok_2', accountId: 'rival', tokenHash: 'b'.repeat(64), createdAt: '2026-11-27T10:00:00.000Z' });
      const found = await store.findAdminAccessToken('a'.repeat(64));
      expect(found).toEqual({
        id: 'acctok_1',
        accountId: 'acme',
        tokenHash: 'a'.repeat(64),
        label: 'Jane',
        createdAt: '2026-11-27T10:00:00.000Z',
        lastUsedAt: '2026-11-27T12:00:00.000Z',
      });
      expect(await store.findAdminAccessToken('c'.repeat(64))).toBeUndefined();
      expect((await store.listAdminAccessTokens('acme')).map((token) => token.id)).toEqual(['acctok_1']);

      const session: AdminSessionRecord = {
        idHash: 'd'.repeat(64),
        principal: 'account',
        accountId: 'acme',
        accessTokenId: 'acctok_1',
        credentialHash: 'a'.repeat(64),
        createdAt: '2026-11-27T11:00:00.000Z',
        lastSeenAt: '2026-11-27T11:00:00.000Z',
        expiresAt: '2026-11-27T19:00:00.000Z',
      };
      await store.createAdminSession(session);
      expect(await store.getAdminSession(session.idHash)).toEqual(session);
      // Another account cannot revoke it: the account id is part of the match.
      expect(await store.revokeAdminAccessToken('rival', 'acctok_1')).toBe(false);
      expect(await store.revokeAdminAccessToken('acme', 'acctok_1')).toBe(true);
      expect(await store.revokeAdminAccessToken('acme', 'acctok_1')).toBe(false);
      expect(await store.findAdminAccessToken('a'.repeat(64))).toBeUndefined();
      expect(await store.getAdminSession(session.idHash)).toBeUndefined();
      expect((await store.listAdminAccessTokens('acme'))[0]?.revokedAt).toBe('2026-11-27T12:00:00.000Z');
    } finally {
      await store.close();
    }
  });

  it('touches, deletes and expires sessions', async () => {
    const store = await open();
    try {
      await store.migrate();
      const base = { principal: 'operator' as const, credentialHash: 'e'.repeat(64), createdAt: '2026-11-27T08:00:00.000Z' };
      await store.createAdminSession({ ...base, idHash: '1'.repeat(64), lastSeenAt: '2026-11-27T11:30:00.000Z', expiresAt: '2026-11-27T16:00:00.000Z' });
      await store.createAdminSession({ ...base, idHash: '2'.repeat(64), lastSeenAt: '2026-11-27T09:00:00.000Z', expiresAt: '2026-11-27T16:00:00.000Z' });
      await store.createAdminSession({ ...base, idHash: '3'.repeat(64), lastSeenAt: '2026-11-27T11:59:00.000Z', expiresAt: '2026-11-27T11:59:30.000Z' });
      await store.createAdminSession({ ...base, idHash: '4'.repeat(64), lastSeenAt: '2026-11-27T11:00:00.000Z', expiresAt: '2026-11-27T16:00:00.000Z' });
      await store.touchAdminSession('4'.repeat(64), '2026-11-27T11:45:00.000Z');
      expect((await store.getAdminSession('4'.repeat(64)))?.lastSeenAt).toBe('2026-11-27T11:45:00.000Z');
      // Idle since before 10:00, or past the absolute end: gone.
      expect(await store.deleteExpiredAdminSessions('2026-11-27T12:00:00.000Z', '2026-11-27T10:00:00.000Z')).toBe(2);
      expect(await store.getAdminSession('1'.repeat(64))).toBeDefined();
      expect(await store.getAdminSession('2'.repeat(64))).toBeUndefined();
      expect(await store.getAdminSession('3'.repeat(64))).toBeUndefined();
      await store.deleteAdminSession('1'.repeat(64));
      expect(await store.getAdminSession('1'.repeat(64))).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
