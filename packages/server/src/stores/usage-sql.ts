// The usage operations, written once for SQLite and PostgreSQL.
import { statement, type Operation, type Row } from './sql.js';
import type { UsageDay, UsageIncrement } from './usage-store.js';

/** In a write transaction: one upsert per widget and day, and one per error code. */
export function* addUsage(increments: UsageIncrement[]): Operation<void> {
  for (const increment of increments) {
    yield* statement(
      `INSERT INTO usage_daily (widget_id, day, views, requests, input_tokens, output_tokens, generations)
       VALUES (@widgetId, @day, @views, @requests, @inputTokens, @outputTokens, @generations)
       ON CONFLICT (widget_id, day) DO UPDATE SET views = usage_daily.views + excluded.views, requests = usage_daily.requests + excluded.requests,
         input_tokens = usage_daily.input_tokens + excluded.input_tokens, output_tokens = usage_daily.output_tokens + excluded.output_tokens,
         generations = usage_daily.generations + excluded.generations`,
      {
        widgetId: increment.widgetId,
        day: increment.day,
        views: increment.views ?? 0,
        requests: increment.requests ?? 0,
        inputTokens: increment.inputTokens ?? 0,
        outputTokens: increment.outputTokens ?? 0,
        generations: increment.generations ?? 0,
      },
    );
    for (const [code, count] of Object.entries(increment.errors ?? {})) {
      yield* statement(
        `INSERT INTO usage_errors (widget_id, day, code, count) VALUES (@widgetId, @day, @code, @count)
         ON CONFLICT (widget_id, day, code) DO UPDATE SET count = usage_errors.count + excluded.count`,
        { widgetId: increment.widgetId, day: increment.day, code, count },
      );
    }
  }
}

export function* listUsage(widgetId: string, fromDay: string, toDay: string): Operation<UsageDay[]> {
  const range = { widgetId, fromDay, toDay };
  const rows = yield* statement('SELECT * FROM usage_daily WHERE widget_id = @widgetId AND day >= @fromDay AND day <= @toDay ORDER BY day', range);
  const errors = yield* statement('SELECT day, code, count FROM usage_errors WHERE widget_id = @widgetId AND day >= @fromDay AND day <= @toDay', range);
  return usageDays(rows, errors);
}

// Daily rows joined with their error counts (days with only errors included);
// PostgreSQL gives the BIGINT counters as strings.
function usageDays(rows: Row[], errors: Row[]): UsageDay[] {
  const days = new Map<string, UsageDay>();
  const empty = (day: string): UsageDay => ({ day, views: 0, requests: 0, inputTokens: 0, outputTokens: 0, generations: 0, errors: {} });
  for (const row of rows) {
    const day = String(row.day);
    days.set(day, {
      ...empty(day),
      views: Number(row.views),
      requests: Number(row.requests),
      inputTokens: Number(row.input_tokens),
      outputTokens: Number(row.output_tokens),
      generations: Number(row.generations),
    });
  }
  for (const error of errors) {
    const day = String(error.day);
    let entry = days.get(day);
    if (!entry) days.set(day, (entry = empty(day)));
    entry.errors[String(error.code)] = Number(error.count);
  }
  return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
}
