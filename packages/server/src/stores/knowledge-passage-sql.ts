// The passages' SQL: replacing a file's passages, the keyword search and the
// snapshot retrieval reads, written once; what the databases do differently
// (inserting passages with their keyword entries, the keyword query, row
// locks) is a small KnowledgeDialect.
import { AirlockError, invalid } from '../errors.js';
import { bytesToVector, searchTerms, vectorToBytes, type ScoredId } from '../knowledge/rank.js';
import { bumpVersion, fileFromRow } from './knowledge-file-sql.js';
import type { KnowledgeFileRecord, KnowledgePassageInput, KnowledgeSnapshot, StoredPassage } from './knowledge-store.js';
import { optionalText, statement, type Operation, type Query, type Row, type SqlDialect } from './sql.js';

// Longer words are not words (base64, hashes), and PostgreSQL refuses query words over 2 KB.
const maxTermLength = 200;
// A question longer than this many distinct words is searched by its first ones.
const maxQueryTerms = 64;
const maxKeywordResults = 1_000;

/**
 * A passage as both dialects insert it. `terms` is its text as keyword
 * search reads it (`searchTerms`, joined by spaces), so the keyword index of
 * either database holds exactly the words the query is made of.
 */
export interface PassageRow {
  ordinal: number;
  text: string;
  /** JSON array of the headings. */
  headingPath: string;
  pageStart: number | null;
  pageEnd: number | null;
  rowStart: number | null;
  rowEnd: number | null;
  tokens: number;
  hash: string;
  /** The vector as float32 little-endian bytes. */
  vector: Uint8Array | null;
  terms: string;
}

/**
 * What the knowledge store's SQL does differently in each database: its
 * keyword index (FTS5 beside the passages, or a `tsvector` in them), and the
 * row locks of the shared {@link SqlDialect}.
 *
 * @example
 * ```ts
 * const dialect: KnowledgeDialect = { forUpdate: sqliteDialect.forUpdate, insertPassages, keywordQuery };
 * ```
 */
export interface KnowledgeDialect extends Pick<SqlDialect, 'forUpdate'> {
  /** Inserts a file's passages with their keyword entries, inside the transaction that replaces them. */
  insertPassages(fileId: string, widgetId: string, rows: Iterable<PassageRow>): Operation<void>;
  /** The keyword query: `id` and `score` (higher is better) of the widget's ready passages that have any of `terms`. */
  keywordQuery(widgetId: string, terms: readonly string[], limit: number): Query;
}

/**
 * The words of a text for the keyword index and the keyword query: the
 * words `searchTerms` reads, each once in a query, without the overlong ones.
 *
 * @example
 * ```ts
 * keywordTerms('"AND OR NEAR( *'); // ['and', 'or', 'near']
 * ```
 */
export function keywordTerms(text: string): string[] {
  return searchTerms(text).filter((term) => term.length <= maxTermLength);
}

function optionalNumber(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}

function wholeNumber(value: number | undefined): number | null {
  return value !== undefined && Number.isSafeInteger(value) ? value : null;
}

function passageFromRow(row: Row): StoredPassage {
  const sourceUrl = optionalText(row.source_url);
  const pageStart = optionalNumber(row.page_start);
  const pageEnd = optionalNumber(row.page_end);
  const rowStart = optionalNumber(row.row_start);
  const rowEnd = optionalNumber(row.row_end);
  const vector = row.vector instanceof Uint8Array ? bytesToVector(row.vector) : undefined;
  return {
    id: String(row.id),
    fileId: String(row.file_id),
    ordinal: Number(row.ordinal),
    tokens: Number(row.tokens),
    text: String(row.text),
    ...(sourceUrl !== undefined && { sourceUrl }),
    location: {
      file: String(row.file_name),
      headingPath: JSON.parse(String(row.heading_path)) as string[],
      ...(pageStart !== undefined && { pageStart }),
      ...(pageEnd !== undefined && { pageEnd }),
      ...(rowStart !== undefined && { rowStart }),
      ...(rowEnd !== undefined && { rowEnd }),
    },
    ...(vector && { vector }),
  };
}

/**
 * Checks what is checked of passages (vectors, tokens, hashes) before the
 * transaction, and answers their tokens together; texts are read while
 * inserting.
 *
 * @example
 * ```ts
 * const { tokens } = checkPassages(passages);
 * ```
 */
export function checkPassages(passages: readonly KnowledgePassageInput[]): { tokens: number } {
  if (!Array.isArray(passages)) throw invalid('passages must be a list.');
  let dimensions: number | undefined;
  let tokens = 0;
  passages.forEach((passage, position) => {
    if (!Number.isSafeInteger(passage.tokens) || passage.tokens < 0) throw invalid(`Passage ${position} has no valid token count.`);
    if (typeof passage.hash !== 'string') throw invalid(`Passage ${position} has no hash.`);
    tokens += passage.tokens;
    const vector: unknown = passage.vector;
    if (vector === undefined) return;
    if (!(vector instanceof Float32Array) || vector.length === 0) throw invalid(`Passage ${position}'s vector must be a non-empty Float32Array.`);
    if (dimensions !== undefined && vector.length !== dimensions) {
      throw invalid(`The vectors of one file must have one length: passage ${position} has ${vector.length}, not ${dimensions}.`);
    }
    dimensions = vector.length;
    if (!vector.every(Number.isFinite)) throw invalid(`Passage ${position}'s vector holds a value that is not a finite number.`);
  });
  return { tokens };
}

/**
 * The rows of a file's passages, made one at a time as the dialect inserts
 * them (so a passage that cannot be read fails inside the transaction).
 *
 * @example
 * ```ts
 * for (const row of passageRows(passages)) insert(row);
 * ```
 */
export function* passageRows(passages: readonly KnowledgePassageInput[]): Generator<PassageRow> {
  let ordinal = 0;
  for (const passage of passages) {
    // PostgreSQL refuses NUL in text, and it means nothing in a passage.
    const text = String(passage.text).replaceAll('\u0000', '');
    const headingPath = Array.isArray(passage.location?.headingPath) ? passage.location.headingPath.map(String) : [];
    yield {
      ordinal: ordinal++,
      text,
      headingPath: JSON.stringify(headingPath),
      pageStart: wholeNumber(passage.location?.pageStart),
      pageEnd: wholeNumber(passage.location?.pageEnd),
      rowStart: wholeNumber(passage.location?.rowStart),
      rowEnd: wholeNumber(passage.location?.rowEnd),
      tokens: passage.tokens,
      hash: passage.hash,
      vector: passage.vector ? vectorToBytes(passage.vector) : null,
      terms: keywordTerms(text).join(' '),
    };
  }
}

/** What {@link replacePassages} records on the file with its passages. */
export interface PassagesSummary {
  count: number;
  tokens: number;
  embeddingModel: string | null;
  vectorsNote: string | null;
}

/**
 * Replaces a file's passages, makes it ready and removes the file it
 * replaces. Run in a write transaction.
 *
 * @example
 * ```ts
 * const file = await runner.transaction(replacePassages(dialect, fileId, passages, summary, at), 'write');
 * ```
 */
export function* replacePassages(
  dialect: KnowledgeDialect,
  fileId: string,
  passages: readonly KnowledgePassageInput[],
  summary: PassagesSummary,
  now: () => string,
): Operation<KnowledgeFileRecord> {
  // The replaced file is locked before this one, as removing it locks it and
  // then this one (its `replaces` is set to NULL): the same order, no deadlock.
  const [peek] = yield* statement('SELECT replaces FROM knowledge_files WHERE id = @fileId', { fileId });
  if (peek?.replaces) yield* statement(`SELECT id FROM knowledge_files WHERE id = @id${dialect.forUpdate}`, { id: peek.replaces });
  const [file] = yield* statement(`SELECT * FROM knowledge_files WHERE id = @fileId${dialect.forUpdate}`, { fileId });
  if (!file) throw new AirlockError('not_found', 'There is no such knowledge file.');
  if (file.status === 'failed') throw new AirlockError('conflict', 'This file failed; upload it again.');
  const widgetId = String(file.widget_id);
  yield* statement('DELETE FROM knowledge_passages WHERE file_id = @fileId', { fileId });
  yield* dialect.insertPassages(fileId, widgetId, passageRows(passages));
  if (file.replaces) yield* statement('DELETE FROM knowledge_files WHERE id = @id AND widget_id = @widgetId', { id: file.replaces, widgetId });
  const [ready] = yield* statement(
    `UPDATE knowledge_files SET status = 'ready', progress = 1, error = NULL, passages = @count, tokens = @tokens,
       embedding_model = @embeddingModel, vectors_note = @vectorsNote, replaces = NULL, updated_at = @now
     WHERE id = @fileId
     RETURNING *`,
    { ...summary, fileId, now: now() },
  );
  yield* bumpVersion(widgetId);
  return fileFromRow(ready!);
}

/**
 * Keyword search over the widget's ready passages: the question reduced to
 * its words, none of its syntax reaching the database.
 *
 * @example
 * ```ts
 * const hits = await runner.run(keywordSearch(dialect, widgetId, 'how do refunds work', 10));
 * ```
 */
export function* keywordSearch(dialect: KnowledgeDialect, widgetId: string, query: string, limit: number): Operation<ScoredId<string>[]> {
  const terms = [...new Set(keywordTerms(String(query)))].slice(0, maxQueryTerms);
  const most = Math.min(maxKeywordResults, Math.floor(Number(limit)));
  if (terms.length === 0 || !(most > 0)) return [];
  const rows = yield dialect.keywordQuery(widgetId, terms, most);
  return rows.map((row) => ({ id: String(row.id), score: Number(row.score) }));
}

const passageColumns = `p.id, p.file_id, p.ordinal, p.text, p.heading_path, p.page_start, p.page_end, p.row_start, p.row_end, p.tokens, p.vector,
  f.name AS file_name, f.source_url`;

/**
 * The widget's version and every passage of its ready files. Run in a read
 * transaction, so both come from one snapshot.
 *
 * @example
 * ```ts
 * const { version, passages } = await runner.transaction(snapshot(widgetId), 'read');
 * ```
 */
export function* snapshot(widgetId: string): Operation<KnowledgeSnapshot> {
  const version = yield* knowledgeVersion(widgetId);
  const rows = yield* statement(
    `SELECT ${passageColumns}
     FROM knowledge_passages p JOIN knowledge_files f ON f.id = p.file_id
     WHERE p.widget_id = @widgetId AND f.widget_id = @widgetId AND f.status = 'ready'
     ORDER BY f.created_at, f.id, p.ordinal`,
    { widgetId },
  );
  return { version, passages: rows.map(passageFromRow) };
}

/**
 * The widget's knowledge version (0 before its first change).
 *
 * @example
 * ```ts
 * const version = await runner.run(knowledgeVersion(widgetId));
 * ```
 */
export function* knowledgeVersion(widgetId: string): Operation<number> {
  const [row] = yield* statement('SELECT version FROM knowledge_versions WHERE widget_id = @widgetId', { widgetId });
  return Number(row?.version ?? 0);
}
