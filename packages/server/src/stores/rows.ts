// Row shapes and mappers that the SQLite and PostgreSQL stores share.
import type { GenerationBalance, UsageDay } from './store.js';

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
