// The widget operations, written once for SQLite and PostgreSQL.
import { AirlockError } from '../errors.js';
import { newId } from '../ids.js';
import { assertValidWidget } from '../widgets/widget-input.js';
import { balanceFromRow } from './generation-sql.js';
import { currentKeyOrder, openAiKeyColumns, openAiKeyFromRow } from './openai-key-sql.js';
import { SHARED_KEY_OWNER, type OpenAiKeyRecord } from './openai-key-store.js';
import { iso, json, statement, type Operation, type Row, type SqlDialect } from './sql.js';
import type { KeySource, NewWidget, WidgetForCall, WidgetPatch, WidgetRecord } from './widget-store.js';

/**
 * A `widgets` row as its record (SQLite keeps booleans as 0 or 1 and JSON as text).
 *
 * @example
 * ```ts
 * const widget = widgetFromRow(row);
 * ```
 */
export function widgetFromRow(row: Row): WidgetRecord {
  return {
    id: String(row.id),
    accountId: String(row.account_id),
    name: String(row.name),
    type: row.type as WidgetRecord['type'],
    enabled: row.enabled === true || row.enabled === 1,
    allowedOrigins: json<string[]>(row.allowed_origins),
    presentation: json<WidgetRecord['presentation']>(row.presentation),
    behaviour: json<WidgetRecord['behaviour']>(row.behaviour),
    epoch: Number(row.epoch),
    ...(row.key_source ? { keySource: row.key_source as KeySource } : {}),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

const notFound = () => new AirlockError('widget_not_found', 'There is no such widget.');

export function* createWidget(input: NewWidget, now: string): Operation<WidgetRecord> {
  // The same schema as the admin API's, whoever writes: no malformed cap or list reaches the proxy.
  assertValidWidget(input);
  const record: WidgetRecord = {
    id: input.id ?? newId('wgt'),
    accountId: input.accountId ?? 'default',
    name: input.name,
    type: input.type,
    enabled: input.enabled ?? true,
    allowedOrigins: input.allowedOrigins,
    presentation: input.presentation,
    behaviour: input.behaviour,
    epoch: 0,
    createdAt: now,
    updatedAt: now,
    ...(input.keySource && { keySource: input.keySource }),
  };
  yield* statement(
    `INSERT INTO widgets (id, account_id, name, type, enabled, allowed_origins, presentation, behaviour, epoch, created_at, updated_at, key_source)
     VALUES (@id, @accountId, @name, @type, @enabled, @allowedOrigins, @presentation, @behaviour, @epoch, @createdAt, @updatedAt, @keySource)`,
    {
      ...record,
      allowedOrigins: JSON.stringify(record.allowedOrigins),
      presentation: JSON.stringify(record.presentation),
      behaviour: JSON.stringify(record.behaviour),
      keySource: record.keySource ?? null,
    },
  );
  return record;
}

export function* getWidget(id: string): Operation<WidgetRecord | undefined> {
  const [row] = yield* statement('SELECT * FROM widgets WHERE id = @id', { id });
  return row && widgetFromRow(row);
}

export function* findWidgetByName(name: string): Operation<WidgetRecord | undefined> {
  const [row] = yield* statement('SELECT * FROM widgets WHERE name = @name ORDER BY created_at, id LIMIT 1', { name });
  return row && widgetFromRow(row);
}

export function* listWidgets(): Operation<WidgetRecord[]> {
  return (yield* statement('SELECT * FROM widgets ORDER BY created_at, id')).map(widgetFromRow);
}

export function* listAccountWidgets(accountId: string): Operation<WidgetRecord[]> {
  return (yield* statement('SELECT * FROM widgets WHERE account_id = @accountId ORDER BY created_at, id', { accountId })).map(widgetFromRow);
}

/** Run in a write transaction: the read and the write are one step. */
export function* updateWidget(dialect: SqlDialect, id: string, patch: WidgetPatch, now: string): Operation<WidgetRecord> {
  // FOR UPDATE (PostgreSQL): a concurrent patch waits, then applies on top of this one.
  const [row] = yield* statement(`SELECT * FROM widgets WHERE id = @id${dialect.forUpdate}`, { id });
  if (!row) throw notFound();
  const current = widgetFromRow(row);
  const next: WidgetRecord = { ...current, ...patch, updatedAt: now };
  assertValidWidget(next, Object.keys(patch));
  // Disabling revokes every token minted so far, so enabling again later does not revive them.
  const [written] = yield* statement(
    `UPDATE widgets SET name = @name, enabled = @enabled, allowed_origins = @allowedOrigins, presentation = @presentation, behaviour = @behaviour,
       updated_at = @updatedAt, key_source = @keySource, epoch = epoch + @disabling
     WHERE id = @id RETURNING epoch`,
    {
      id,
      name: next.name,
      enabled: next.enabled,
      allowedOrigins: JSON.stringify(next.allowedOrigins),
      presentation: JSON.stringify(next.presentation),
      behaviour: JSON.stringify(next.behaviour),
      updatedAt: next.updatedAt,
      keySource: next.keySource ?? null,
      disabling: current.enabled && !next.enabled ? 1 : 0,
    },
  );
  if (written) next.epoch = Number(written.epoch);
  return next;
}

/** Run in a write transaction: its visitors' conversation summaries go with it. */
export function* deleteWidget(id: string): Operation<boolean> {
  yield* statement('DELETE FROM conversation_summaries WHERE widget_id = @id', { id });
  return (yield* statement('DELETE FROM widgets WHERE id = @id RETURNING id', { id })).length > 0;
}

export function* bumpWidgetEpoch(id: string, now: string): Operation<number> {
  const [row] = yield* statement('UPDATE widgets SET epoch = epoch + 1, updated_at = @now WHERE id = @id RETURNING epoch', { id, now });
  if (!row) throw notFound();
  return Number(row.epoch);
}

// The widget's columns, then the account's current key as `own_*` columns and
// the shared key as `shared_*` (all NULL when there is none), each chosen as
// getOpenAiKey chooses it, the account's generation allowance row as
// `generations_*`, and its grant of the shared key as `account_shared_key`.
const currentKey = (owner: string) => `(SELECT id FROM openai_keys WHERE owner_id = ${owner} ORDER BY ${currentKeyOrder} LIMIT 1)`;
const keyColumns = (alias: string) => openAiKeyColumns.map((column) => `${alias}.${column} AS ${alias}_${column}`).join(', ');
const widgetForCallSql = `SELECT w.*, ${keyColumns('own')}, ${keyColumns('shared')},
    generations.account_id AS generations_account_id, generations.allowance AS generations_allowance, generations.used AS generations_used,
    account.shared_key AS account_shared_key
  FROM widgets w
  LEFT JOIN openai_keys own ON own.id = ${currentKey('w.account_id')}
  LEFT JOIN openai_keys shared ON shared.id = ${currentKey('@sharedOwner')}
  LEFT JOIN generation_allowances generations ON generations.account_id = w.account_id
  LEFT JOIN accounts account ON account.id = w.account_id
  WHERE w.id = @id`;

/**
 * The one statement behind `getWidgetForCall`: on PostgreSQL one round trip
 * instead of five. Its row is read by {@link widgetForCallFromRow}.
 *
 * @example
 * ```ts
 * const [row] = yield* widgetForCallRow(id);
 * ```
 */
export function* widgetForCallRow(id: string): Operation<Row | undefined> {
  const [row] = yield* statement(widgetForCallSql, { id, sharedOwner: SHARED_KEY_OWNER });
  return row;
}

/**
 * A {@link widgetForCallRow} row as the widget, its keys and its account's generation balance.
 *
 * @example
 * ```ts
 * return row && widgetForCallFromRow(row);
 * ```
 */
export function widgetForCallFromRow(row: Row): WidgetForCall {
  const key = (prefix: string): OpenAiKeyRecord | undefined => {
    if (row[`${prefix}_id`] === null || row[`${prefix}_id`] === undefined) return undefined;
    return openAiKeyFromRow(Object.fromEntries(openAiKeyColumns.map((column) => [column, row[`${prefix}_${column}`]])));
  };
  const generations =
    row.generations_account_id === null || row.generations_account_id === undefined
      ? undefined
      : balanceFromRow({ account_id: row.generations_account_id, allowance: row.generations_allowance, used: row.generations_used });
  // An account that does not exist, or was granted nothing, may not use the shared key.
  const grant = row.account_shared_key;
  const sharedKeyGrant = grant === 'listed-models' || grant === 'any-model' ? grant : undefined;
  return { widget: widgetFromRow(row), keys: { own: key('own'), shared: key('shared'), ...(sharedKeyGrant && { sharedKeyGrant }) }, generations };
}

export function* getWidgetForCall(id: string): Operation<WidgetForCall | undefined> {
  const row = yield* widgetForCallRow(id);
  return row && widgetForCallFromRow(row);
}
