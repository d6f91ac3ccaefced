import type Database from 'better-sqlite3';
import type { KnowledgeDialect, PassageRow } from './knowledge-passage-sql.js';
import { SqlKnowledgeStore } from './knowledge-sql.js';
import type { KnowledgeStoreOptions } from './knowledge-store.js';
import type { Operation, Query } from './sql.js';
import { SqliteRunner, sqliteDialect } from './sqlite-sql.js';

// A widget id as one FTS5 token (unicode61 would split it at '_' and '-'): its
// UTF-8 bytes in hex, so two ids never share a token.
function widgetToken(widgetId: string): string {
  return `w${Buffer.from(widgetId, 'utf8').toString('hex')}`;
}

// Each passage and its FTS5 entry, the entry's rowid the passage's id.
function* insertPassages(fileId: string, widgetId: string, rows: Iterable<PassageRow>): Operation<void> {
  for (const row of rows) {
    const [inserted] = yield {
      sql: `INSERT INTO knowledge_passages (file_id, widget_id, ordinal, text, heading_path, page_start, page_end, row_start, row_end, tokens, hash, vector)
            VALUES (@fileId, @widgetId, @ordinal, @text, @headingPath, @pageStart, @pageEnd, @rowStart, @rowEnd, @tokens, @hash, @vector)
            RETURNING id`,
      params: { ...row, fileId, widgetId },
    };
    yield {
      sql: 'INSERT INTO knowledge_passages_fts (rowid, widget, terms) VALUES (@id, @widget, @terms)',
      params: { id: inserted!.id, widget: widgetToken(widgetId), terms: row.terms },
    };
  }
}

function keywordQuery(widgetId: string, terms: readonly string[], limit: number): Query {
  // Each word a quoted FTS5 string ("" escapes a quote), any of them matching:
  // no FTS5 operator, column filter or prefix can come from the question.
  // The widget's token first: FTS5 then scores only that widget's entries.
  const words = terms.map((term) => `"${term.replaceAll('"', '""')}"`).join(' OR ');
  const match = `widget : "${widgetToken(widgetId)}" AND terms : (${words})`;
  return {
    // The FTS5 search runs first and once (MATERIALIZED): joined directly, the
    // planner may start from the widget's passages and run the MATCH again for
    // each of them. The widget column weighs nothing in the score.
    sql: `WITH hits AS MATERIALIZED (
            SELECT rowid AS id, -bm25(knowledge_passages_fts, 0.0, 1.0) AS score
            FROM knowledge_passages_fts
            WHERE knowledge_passages_fts MATCH @match
          )
          SELECT hits.id AS id, hits.score AS score
          FROM hits
          JOIN knowledge_passages p ON p.id = hits.id
          JOIN knowledge_files f ON f.id = p.file_id
          WHERE p.widget_id = @widgetId AND f.status = 'ready'
          ORDER BY hits.score DESC, hits.id
          LIMIT @limit`,
    params: { match, widgetId, limit },
  };
}

/**
 * The knowledge store's SQL on SQLite: FTS5 entries beside the passages, and
 * no row locks (write transactions are IMMEDIATE, so exclusive).
 */
export const sqliteKnowledgeDialect: KnowledgeDialect = { forUpdate: sqliteDialect.forUpdate, insertPassages, keywordQuery };

/**
 * The knowledge store on SQLite, on the main store's connection
 * (`SqliteStore.database`), whose migrations create its tables. Keyword
 * search is FTS5: a contentless table (`contentless_delete=1`) holding each
 * passage's widget (one token) and its words as `searchTerms` reads them,
 * written in the transaction that writes the passage, its entry deleted by a
 * trigger whenever the passage is (by a replace, a removal, or the widget's
 * deletion). A search reads the widget's entries only; scores are FTS5's
 * BM25, whose statistics are over every widget's passages in the file.
 *
 * Its operations run on the runner the main store uses (`SqliteRunner`, on
 * the same connection), so they are synchronous underneath like the main
 * store's: a transaction never yields to the event loop, so nothing else on
 * the shared connection runs inside it.
 *
 * @example
 * ```ts
 * const store = new SqliteStore({ path: '.airlock/airlock.db' });
 * await store.migrate();
 * const knowledge = new SqliteKnowledgeStore(store.database);
 * ```
 */
export class SqliteKnowledgeStore extends SqlKnowledgeStore {
  readonly kind = 'sqlite' as const;

  constructor(database: Database.Database, options: KnowledgeStoreOptions = {}) {
    // A file's passages and keyword entries, and a widget's files, go by ON DELETE CASCADE.
    if (database.pragma('foreign_keys', { simple: true }) !== 1) {
      throw new TypeError('The knowledge store needs a connection with foreign keys on (PRAGMA foreign_keys = ON), as SqliteStore opens it.');
    }
    super(new SqliteRunner(database), sqliteKnowledgeDialect, options);
  }
}
