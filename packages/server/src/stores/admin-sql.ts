// The admin page's access token and session operations, written once for SQLite and PostgreSQL.
import type { AdminAccessTokenRecord, AdminSessionRecord } from './admin-store.js';
import { iso, optionalIso, optionalText, statement, type Operation, type Row } from './sql.js';

function accessTokenFromRow(row: Row): AdminAccessTokenRecord {
  const label = optionalText(row.label);
  const lastUsedAt = optionalIso(row.last_used_at);
  const revokedAt = optionalIso(row.revoked_at);
  return {
    id: String(row.id),
    accountId: String(row.account_id),
    tokenHash: String(row.token_hash),
    createdAt: iso(row.created_at),
    ...(label !== undefined && { label }),
    ...(lastUsedAt !== undefined && { lastUsedAt }),
    ...(revokedAt !== undefined && { revokedAt }),
  };
}

function sessionFromRow(row: Row): AdminSessionRecord {
  const accountId = optionalText(row.account_id);
  const accessTokenId = optionalText(row.access_token_id);
  return {
    idHash: String(row.id_hash),
    principal: row.principal as AdminSessionRecord['principal'],
    credentialHash: String(row.credential_hash),
    createdAt: iso(row.created_at),
    lastSeenAt: iso(row.last_seen_at),
    expiresAt: iso(row.expires_at),
    ...(accountId !== undefined && { accountId }),
    ...(accessTokenId !== undefined && { accessTokenId }),
  };
}

export function* createAdminAccessToken(record: AdminAccessTokenRecord): Operation<void> {
  yield* statement('INSERT INTO admin_access_tokens (id, account_id, token_hash, label, created_at) VALUES (@id, @accountId, @tokenHash, @label, @createdAt)', {
    id: record.id,
    accountId: record.accountId,
    tokenHash: record.tokenHash,
    label: record.label ?? null,
    createdAt: record.createdAt,
  });
}

export function* findAdminAccessToken(tokenHash: string, now: string): Operation<AdminAccessTokenRecord | undefined> {
  const [row] = yield* statement('UPDATE admin_access_tokens SET last_used_at = @now WHERE token_hash = @tokenHash AND revoked_at IS NULL RETURNING *', {
    tokenHash,
    now,
  });
  return row && accessTokenFromRow(row);
}

export function* listAdminAccessTokens(accountId: string): Operation<AdminAccessTokenRecord[]> {
  return (yield* statement('SELECT * FROM admin_access_tokens WHERE account_id = @accountId ORDER BY created_at, id', { accountId })).map(accessTokenFromRow);
}

/** In a write transaction: the token's sessions end with it. */
export function* revokeAdminAccessToken(accountId: string, id: string, now: string): Operation<boolean> {
  const revoked = yield* statement(
    'UPDATE admin_access_tokens SET revoked_at = @now WHERE id = @id AND account_id = @accountId AND revoked_at IS NULL RETURNING id',
    { id, accountId, now },
  );
  yield* statement('DELETE FROM admin_sessions WHERE access_token_id = @id', { id });
  return revoked.length === 1;
}

export function* createAdminSession(record: AdminSessionRecord): Operation<void> {
  yield* statement(
    `INSERT INTO admin_sessions (id_hash, principal, account_id, access_token_id, credential_hash, created_at, last_seen_at, expires_at)
     VALUES (@idHash, @principal, @accountId, @accessTokenId, @credentialHash, @createdAt, @lastSeenAt, @expiresAt)`,
    { ...record, accountId: record.accountId ?? null, accessTokenId: record.accessTokenId ?? null },
  );
}

export function* getAdminSession(idHash: string): Operation<AdminSessionRecord | undefined> {
  const [row] = yield* statement('SELECT * FROM admin_sessions WHERE id_hash = @idHash', { idHash });
  return row && sessionFromRow(row);
}

export function* touchAdminSession(idHash: string, lastSeenAt: string): Operation<void> {
  yield* statement('UPDATE admin_sessions SET last_seen_at = @lastSeenAt WHERE id_hash = @idHash', { idHash, lastSeenAt });
}

export function* deleteAdminSession(idHash: string): Operation<void> {
  yield* statement('DELETE FROM admin_sessions WHERE id_hash = @idHash', { idHash });
}

export function* deleteExpiredAdminSessions(now: string, idleBefore: string): Operation<number> {
  return (yield* statement('DELETE FROM admin_sessions WHERE expires_at <= @now OR last_seen_at < @idleBefore RETURNING id_hash', { now, idleBefore })).length;
}
