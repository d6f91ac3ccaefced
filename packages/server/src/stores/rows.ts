// Row shapes, mappers and statements that the SQLite and PostgreSQL stores share.
import { SHARED_KEY_OWNER, type GenerationBalance, type OpenAiKeyRecord, type UsageDay, type WidgetRecord, type WidgetForCall } from './store.js';

const openAiKeyColumns = ['id', 'owner_id', 'fingerprint', 'status', 'sealed', 'saved_at', 'last_used_at', 'last_error_code', 'revoked_at'];

/**
 * The statement behind `Store.getWidgetForCall`: the widget's columns, then
 * the account's current key as `own_*` columns and the shared key as
 * `shared_*` (all NULL when there is none), each chosen as `getOpenAiKey`
 * chooses it, the account's generation allowance row as `generations_*`,
 * and its grant of the shared key as `account_shared_key`. `order` is the dialect's ordering of one owner's keys,
 * `id` its placeholder for the widget id.
 *
 * @example
 * ```ts
 * const sql = widgetForCallStatement("status = 'revoked', revoked_at DESC, saved_at DESC", '?');
 * ```
 */
export function widgetForCallStatement(order: string, id: string): string {
  const current = (owner: string) => `(SELECT id FROM openai_keys WHERE owner_id = ${owner} ORDER BY ${order} LIMIT 1)`;
  const columns = (alias: string) => openAiKeyColumns.map((column) => `${alias}.${column} AS ${alias}_${column}`).join(', ');
  return `SELECT w.*, ${columns('own')}, ${columns('shared')},
      generations.account_id AS generations_account_id, generations.allowance AS generations_allowance, generations.used AS generations_used,
      account.shared_key AS account_shared_key
    FROM widgets w
    LEFT JOIN openai_keys own ON own.id = ${current('w.account_id')}
    LEFT JOIN openai_keys shared ON shared.id = ${current(`'${SHARED_KEY_OWNER}'`)}
    LEFT JOIN generation_allowances generations ON generations.account_id = w.account_id
    LEFT JOIN accounts account ON account.id = w.account_id
    WHERE w.id = ${id}`;
}

/**
 * A {@link widgetForCallStatement} row as the widget, its keys and its
 * account's generation balance, through the dialect's own row mappers.
 *
 * @example
 * ```ts
 * return row && widgetForCallFromRow(row, widgetFromRow, openAiKeyFromRow);
 * ```
 */
export function widgetForCallFromRow<W, K>(row: W, toWidget: (row: W) => WidgetRecord, toKey: (row: K) => OpenAiKeyRecord): WidgetForCall {
  const columns = row as Record<string, unknown>;
  const key = (prefix: string): OpenAiKeyRecord | undefined => {
    if (columns[`${prefix}_id`] === null || columns[`${prefix}_id`] === undefined) return undefined;
    return toKey(Object.fromEntries(openAiKeyColumns.map((column) => [column, columns[`${prefix}_${column}`]])) as K);
  };
  const generations =
    columns.generations_account_id === null || columns.generations_account_id === undefined
      ? undefined
      : balanceFromRow({
          account_id: columns.generations_account_id as string,
          allowance: columns.generations_allowance as AllowanceRow['allowance'],
          used: columns.generations_used as AllowanceRow['used'],
        });
  // An account that does not exist, or was granted nothing, may not use the shared key.
  const grant = columns.account_shared_key;
  const sharedKeyGrant = grant === 'listed-models' || grant === 'any-model' ? grant : undefined;
  return { widget: toWidget(row), keys: { own: key('own'), shared: key('shared'), ...(sharedKeyGrant && { sharedKeyGrant }) }, generations };
}

/** A `usage_daily` row (pg may return its BIGINT counters as strings). */
export interface UsageRow {
  day: string;
  views: number | string;
  requests: number | string;
  input_tokens: number | string;
  output_tokens: number | string;
  generations: number | string;
}

/** A `generation_allowances` row (pg may return BIGINT as strings). */
export interface AllowanceRow {
  account_id: string;
  allowance: string | number | null;
  used: string | number;
}

/** The balance an allowance row describes. */
export function balanceFromRow(row: AllowanceRow): GenerationBalance {
  return { accountId: row.account_id, allowance: row.allowance === null ? null : Number(row.allowance), used: Number(row.used) };
}

/**
 * Joins daily usage rows with their error counts (days with only errors included).
 *
 * @example
 * ```ts
 * const days = usageDays(rows, errorRows);
 * ```
 */
export function usageDays(rows: UsageRow[], errors: { day: string; code: string; count: number }[]): UsageDay[] {
  const days = new Map<string, UsageDay>();
  for (const row of rows) {
    days.set(row.day, {
      day: row.day,
      views: Number(row.views),
      requests: Number(row.requests),
      inputTokens: Number(row.input_tokens),
      outputTokens: Number(row.output_tokens),
      generations: Number(row.generations),
      errors: {},
    });
  }
  for (const error of errors) {
    let day = days.get(error.day);
    if (!day) {
      day = { day: error.day, views: 0, requests: 0, inputTokens: 0, outputTokens: 0, generations: 0, errors: {} };
      days.set(error.day, day);
    }
    day.errors[error.code] = Number(error.count);
  }
  return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
}
