// The conversation summary operations, written once for SQLite and PostgreSQL.
import type { SealedSecret } from '../vault/vault.js';
import { iso, json, statement, type Operation } from './sql.js';
import type { ConversationSummary } from './summary-store.js';

const columns = 'SELECT key, widget_id, sealed, created_at FROM conversation_summaries WHERE key = @key';

export function* getConversationSummary(key: string, notBefore: Date | undefined): Operation<ConversationSummary | undefined> {
  const [row] = notBefore
    ? yield* statement(`${columns} AND created_at >= @notBefore`, { key, notBefore: notBefore.toISOString() })
    : yield* statement(columns, { key });
  return row && { key: String(row.key), widgetId: String(row.widget_id), sealed: json<SealedSecret>(row.sealed), createdAt: iso(row.created_at) };
}

/** Once per key: a second save of a key keeps the first. */
export function* putConversationSummary(summary: ConversationSummary, now: string): Operation<void> {
  yield* statement(
    'INSERT INTO conversation_summaries (key, widget_id, sealed, created_at) VALUES (@key, @widgetId, @sealed, @now) ON CONFLICT (key) DO NOTHING',
    {
      key: summary.key,
      widgetId: summary.widgetId,
      sealed: JSON.stringify(summary.sealed),
      now,
    },
  );
}

export function* deleteConversationSummaries(cutoff: Date): Operation<number> {
  return (yield* statement('DELETE FROM conversation_summaries WHERE created_at < @cutoff RETURNING key', { cutoff: cutoff.toISOString() })).length;
}
