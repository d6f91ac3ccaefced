// The OpenAI key and sealed-record operations, written once for SQLite and PostgreSQL.
import type { SealedSecret } from '../vault/vault.js';
import type { OpenAiKeyRecord, OpenAiKeyStatus, SealedRecord } from './openai-key-store.js';
import { iso, json, optionalIso, optionalText, statement, type Operation, type Row, type SqlDialect } from './sql.js';

/** The columns of `openai_keys`, as `getWidgetForCall` selects them twice under prefixes. */
export const openAiKeyColumns = ['id', 'owner_id', 'fingerprint', 'status', 'sealed', 'saved_at', 'last_used_at', 'last_error_code', 'revoked_at'];

/** An owner's current key (active or invalid) first, else its most recently revoked one. */
export const currentKeyOrder = `status = 'revoked', revoked_at DESC NULLS LAST, saved_at DESC`;

/**
 * An `openai_keys` row as its record.
 *
 * @example
 * ```ts
 * const key = openAiKeyFromRow(row);
 * ```
 */
export function openAiKeyFromRow(row: Row): OpenAiKeyRecord {
  const lastUsedAt = optionalIso(row.last_used_at);
  const lastErrorCode = optionalText(row.last_error_code);
  const revokedAt = optionalIso(row.revoked_at);
  return {
    id: String(row.id),
    ownerId: String(row.owner_id),
    fingerprint: String(row.fingerprint),
    status: row.status as OpenAiKeyStatus,
    ...(row.sealed !== null && row.sealed !== undefined && { sealed: json<SealedSecret>(row.sealed) }),
    savedAt: iso(row.saved_at),
    ...(lastUsedAt !== undefined && { lastUsedAt }),
    ...(lastErrorCode !== undefined && { lastErrorCode }),
    ...(revokedAt !== undefined && { revokedAt }),
  };
}

const revokeCurrent = `UPDATE openai_keys SET status = 'revoked', sealed = NULL, revoked_at = @now WHERE owner_id = @ownerId AND status <> 'revoked'`;

/** In a write transaction: the revoke of the old key and the insert of the new one are one step, even against another instance saving a key for the same owner. */
export function* putOpenAiKey(
  dialect: SqlDialect,
  input: { id: string; ownerId: string; fingerprint: string; sealed: SealedSecret },
  now: string,
): Operation<OpenAiKeyRecord> {
  const params = { id: input.id, ownerId: input.ownerId, fingerprint: input.fingerprint, sealed: JSON.stringify(input.sealed), now };
  if (dialect.keyOwnerLock) yield* statement(dialect.keyOwnerLock, params);
  yield* statement(revokeCurrent, params);
  yield* statement(
    `INSERT INTO openai_keys (id, owner_id, fingerprint, status, sealed, saved_at) VALUES (@id, @ownerId, @fingerprint, 'active', @sealed, @now)`,
    params,
  );
  return { id: input.id, ownerId: input.ownerId, fingerprint: input.fingerprint, status: 'active', sealed: input.sealed, savedAt: now };
}

export function* getOpenAiKey(ownerId: string): Operation<OpenAiKeyRecord | undefined> {
  const [row] = yield* statement(`SELECT * FROM openai_keys WHERE owner_id = @ownerId ORDER BY ${currentKeyOrder} LIMIT 1`, { ownerId });
  return row && openAiKeyFromRow(row);
}

/** In a write transaction. */
export function* revokeOpenAiKey(dialect: SqlDialect, ownerId: string, pinWidgets: boolean, now: string): Operation<OpenAiKeyRecord | undefined> {
  const params = { ownerId, now };
  if (dialect.keyOwnerLock) yield* statement(dialect.keyOwnerLock, params);
  const [row] = yield* statement(`${revokeCurrent} RETURNING *`, params);
  if (row && pinWidgets) yield* statement(`UPDATE widgets SET key_source = 'own' WHERE account_id = @ownerId AND key_source IS NULL`, params);
  return row && openAiKeyFromRow(row);
}

export function* recordOpenAiKeyUse(id: string, now: string): Operation<void> {
  yield* statement('UPDATE openai_keys SET last_used_at = @now WHERE id = @id', { id, now });
}

export function* recordOpenAiKeyError(id: string, code: string, invalidate: boolean): Operation<void> {
  yield* statement(
    `UPDATE openai_keys SET last_error_code = @code, status = CASE WHEN @invalidate AND status = 'active' THEN 'invalid' ELSE status END WHERE id = @id`,
    { id, code, invalidate },
  );
}

export function* listSealedRecords(): Operation<SealedRecord[]> {
  const keys = yield* statement('SELECT id, owner_id, sealed FROM openai_keys WHERE sealed IS NOT NULL ORDER BY saved_at, id');
  const signing = yield* statement('SELECT kid, sealed_private_key FROM signing_keys ORDER BY created_at, kid');
  // Summaries of widgets that still exist (deleting a widget deletes its summaries).
  const summaries = yield* statement(
    `SELECT s.key, s.widget_id, w.account_id, s.sealed FROM conversation_summaries s JOIN widgets w ON w.id = s.widget_id
     ORDER BY s.created_at, s.key`,
  );
  return [
    ...keys.map((row): SealedRecord => ({ kind: 'openai-key', id: String(row.id), ownerId: String(row.owner_id), sealed: json<SealedSecret>(row.sealed) })),
    ...signing.map((row): SealedRecord => ({
      kind: 'signing-key',
      id: String(row.kid),
      ownerId: 'system',
      sealed: json<SealedSecret>(row.sealed_private_key),
    })),
    ...summaries.map((row): SealedRecord => ({
      kind: 'conversation-summary',
      id: `${String(row.widget_id)}/${String(row.key)}`,
      ownerId: String(row.account_id),
      sealed: json<SealedSecret>(row.sealed),
    })),
  ];
}

// Where each kind of sealed record is kept: its table, id column and sealed column.
const sealedColumns = {
  'openai-key': ['openai_keys', 'id', 'sealed'],
  'signing-key': ['signing_keys', 'kid', 'sealed_private_key'],
  'conversation-summary': ['conversation_summaries', 'key', 'sealed'],
} as const;

export function* replaceSealed(record: SealedRecord, next: SealedSecret): Operation<boolean> {
  const [table, id, sealed] = sealedColumns[record.kind];
  // A summary's id is `<widget id>/<key>`.
  const key = record.kind === 'conversation-summary' ? record.id.slice(record.id.indexOf('/') + 1) : record.id;
  const replaced = yield* statement(`UPDATE ${table} SET ${sealed} = @next WHERE ${id} = @key AND ${sealed} = @current RETURNING ${id}`, {
    key,
    next: JSON.stringify(next),
    current: JSON.stringify(record.sealed),
  });
  return replaced.length === 1;
}
