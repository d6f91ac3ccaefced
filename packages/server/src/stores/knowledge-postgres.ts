import type pg from 'pg';
import type { KnowledgeDialect, PassageRow } from './knowledge-passage-sql.js';
import { SqlKnowledgeStore } from './knowledge-sql.js';
import type { KnowledgeStoreOptions } from './knowledge-store.js';
import { PostgresRunner, postgresDialect } from './postgres-sql.js';
import type { Operation, Query } from './sql.js';

// Passages per INSERT: one statement per batch rather than per passage, with
// parameters of a bounded size (500 vectors of 1,536 dimensions are 3 MB).
const batchSize = 500;

// Each batch of passages in one INSERT, its tsvector made in the same statement.
function* insertPassages(fileId: string, widgetId: string, rows: Iterable<PassageRow>): Operation<void> {
  let batch: PassageRow[] = [];
  const insert = (): Query => ({
    sql: `INSERT INTO knowledge_passages (file_id, widget_id, ordinal, text, heading_path, page_start, page_end, row_start, row_end, tokens, hash, vector, search)
          SELECT @fileId, @widgetId, t.ordinal, t.text, t.heading_path, t.page_start, t.page_end, t.row_start, t.row_end, t.tokens, t.hash, t.vector,
                 to_tsvector('simple', t.terms)
          FROM unnest(@ordinals::int[], @texts::text[], @headingPaths::text[], @pageStarts::int[], @pageEnds::int[], @rowStarts::int[], @rowEnds::int[],
                      @tokens::int[], @hashes::text[], @vectors::bytea[], @terms::text[])
            AS t(ordinal, text, heading_path, page_start, page_end, row_start, row_end, tokens, hash, vector, terms)`,
    params: {
      fileId,
      widgetId,
      ordinals: batch.map((row) => row.ordinal),
      texts: batch.map((row) => row.text),
      headingPaths: batch.map((row) => row.headingPath),
      pageStarts: batch.map((row) => row.pageStart),
      pageEnds: batch.map((row) => row.pageEnd),
      rowStarts: batch.map((row) => row.rowStart),
      rowEnds: batch.map((row) => row.rowEnd),
      tokens: batch.map((row) => row.tokens),
      hashes: batch.map((row) => row.hash),
      // pg writes a Buffer in an array as bytea's hex form.
      vectors: batch.map((row) => (row.vector ? Buffer.from(row.vector.buffer, row.vector.byteOffset, row.vector.byteLength) : null)),
      terms: batch.map((row) => row.terms),
    },
  });
  for (const row of rows) {
    batch.push(row);
    if (batch.length === batchSize) {
      yield insert();
      batch = [];
    }
  }
  if (batch.length > 0) yield insert();
}

function keywordQuery(widgetId: string, terms: readonly string[], limit: number): Query {
  // Each word a quoted tsquery lexeme ('' escapes a quote, \\ a backslash), any
  // of them matching: no tsquery operator can come from the question.
  const lexemes = terms.map((term) => `'${term.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`).join(' | ');
  return {
    sql: `SELECT p.id::text AS id, ts_rank_cd(p.search, query, 1) AS score
          FROM knowledge_passages p
          JOIN knowledge_files f ON f.id = p.file_id,
          to_tsquery('simple', @lexemes) AS query
          WHERE p.widget_id = @widgetId AND f.status = 'ready' AND p.search @@ query
          ORDER BY score DESC, p.id
          LIMIT @limit`,
    params: { lexemes, widgetId, limit },
  };
}

/**
 * The knowledge store's SQL on PostgreSQL: a `tsvector` in each passage's
 * row, and rows locked `FOR UPDATE`.
 */
export const postgresKnowledgeDialect: KnowledgeDialect = { forUpdate: postgresDialect.forUpdate, insertPassages, keywordQuery };

/**
 * The knowledge store on PostgreSQL, on the main store's pool
 * (`PostgresStore.pool`), whose migrations create its tables. Keyword search
 * is a `tsvector` column of each passage's words as `searchTerms` reads them,
 * under the `simple` configuration (no stemming, no stop words, any
 * language), written in the same `INSERT` as the passage, with a GIN index;
 * scores are `ts_rank_cd` (normalised by the passage's length). Its
 * operations run on the runner the main store uses (`PostgresRunner`): a
 * transaction on one pooled connection, a read transaction on one snapshot.
 *
 * @example
 * ```ts
 * const store = new PostgresStore({ connectionString: process.env.AIRLOCK_DATABASE_URL! });
 * await store.migrate();
 * const knowledge = new PostgresKnowledgeStore(store.pool);
 * ```
 */
export class PostgresKnowledgeStore extends SqlKnowledgeStore {
  readonly kind = 'postgres' as const;

  constructor(pool: pg.Pool, options: KnowledgeStoreOptions = {}) {
    super(new PostgresRunner(pool), postgresKnowledgeDialect, options);
  }
}
