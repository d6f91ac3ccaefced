// What the SQLite and PostgreSQL knowledge stores share: every operation is
// written once, here, as a generator that yields its statements (named
// `@parameters`) and receives their rows. A dialect runs the generator inside
// its own transaction: SQLite synchronously (better-sqlite3 transactions must
// be, so nothing else on the shared connection runs inside one), PostgreSQL
// on one pooled client. Only what the dialects do differently is left to
// them: inserting passages with their keyword entries, the keyword query,
// and row locks.
import { AirlockError } from '../errors.js';
import { newId } from '../ids.js';
import { bytesToVector, searchTerms, vectorToBytes, type ScoredId } from '../knowledge/rank.js';
import { KNOWLEDGE_FORMATS, type KnowledgeFormat } from '../knowledge/types.js';
import type {
  AddedKnowledgeFile,
  KnowledgeFilePatch,
  KnowledgeFileRecord,
  KnowledgeFileStatus,
  KnowledgePassageInput,
  KnowledgeSnapshot,
  KnowledgeStore,
  KnowledgeStoreOptions,
  KnowledgeTotals,
  NewKnowledgeFile,
  ReplacePassagesOptions,
  StoredPassage,
} from './knowledge-store.js';

/**
 * A row as a driver returns it.
 */
export type Row = Record<string, unknown>;

/**
 * One statement with its named parameters (`@name` in `sql`).
 */
export interface Query {
  sql: string;
  params: Record<string, unknown>;
}

/**
 * An operation on the store: yields statements, receives each one's rows
 * (none for a statement without `RETURNING`), returns its answer.
 *
 * @example
 * ```ts
 * function* count(widgetId: string): Operation<number> {
 *   const [row] = yield { sql: 'SELECT count(*) AS n FROM knowledge_files WHERE widget_id = @widgetId', params: { widgetId } };
 *   return Number(row?.n ?? 0);
 * }
 * ```
 */
export type Operation<T> = Generator<Query, T, Row[]>;

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

/** The reason {@link KnowledgeStore.releaseStale} gives a file it fails. */
const interruptedReason = 'Ingestion was interrupted; upload the file again.';
// Longer words are not words (base64, hashes), and PostgreSQL refuses query words over 2 KB.
const maxTermLength = 200;
// A question longer than this many distinct words is searched by its first ones.
const maxQueryTerms = 64;
const maxKeywordResults = 1_000;
const maxNameLength = 255;
const maxUrlLength = 2_048;
const maxErrorLength = 1_000;
const maxNoteLength = 1_000;
const maxModelLength = 200;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/;

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

function invalid(message: string): AirlockError {
  return new AirlockError('input_invalid', message);
}

function iso(value: unknown): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

function optionalText(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : String(value);
}

function optionalNumber(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}

/**
 * A `knowledge_files` row as its record (PostgreSQL gives BIGINTs as
 * strings and timestamps as dates; SQLite numbers and ISO strings).
 *
 * @example
 * ```ts
 * const file = fileFromRow(row);
 * ```
 */
export function fileFromRow(row: Row): KnowledgeFileRecord {
  const sourceUrl = optionalText(row.source_url);
  const error = optionalText(row.error);
  const embeddingModel = optionalText(row.embedding_model);
  const vectorsNote = optionalText(row.vectors_note);
  const replaces = optionalText(row.replaces);
  return {
    id: String(row.id),
    widgetId: String(row.widget_id),
    name: String(row.name),
    format: String(row.format) as KnowledgeFormat,
    bytes: Number(row.bytes),
    sha256: String(row.sha256),
    ...(sourceUrl !== undefined && { sourceUrl }),
    status: String(row.status) as KnowledgeFileStatus,
    progress: Number(row.progress),
    ...(error !== undefined && { error }),
    passages: Number(row.passages),
    tokens: Number(row.tokens),
    ...(embeddingModel !== undefined && { embeddingModel }),
    ...(vectorsNote !== undefined && { vectorsNote }),
    ...(replaces !== undefined && { replaces }),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
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

function totalsFromRow(row: Row | undefined): KnowledgeTotals {
  return { files: Number(row?.files ?? 0), bytes: Number(row?.bytes ?? 0), passages: Number(row?.passages ?? 0), tokens: Number(row?.tokens ?? 0) };
}

function query(sql: string, params: Record<string, unknown> = {}): Query {
  return { sql, params };
}

function* statement(sql: string, params: Record<string, unknown> = {}): Operation<Row[]> {
  return yield query(sql, params);
}

function checkNewFile(input: NewKnowledgeFile) {
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (name.length === 0 || name.length > maxNameLength) throw invalid(`A file name must have 1 to ${maxNameLength} characters.`);
  if (controlCharacters.test(name)) throw invalid('A file name may not contain control characters or line breaks.');
  if (!KNOWLEDGE_FORMATS.includes(input.format)) throw invalid(`The format must be one of ${KNOWLEDGE_FORMATS.join(', ')}.`);
  if (!Number.isSafeInteger(input.bytes) || input.bytes < 0) throw invalid('The size of a file must be a whole number of bytes.');
  const sha256 = typeof input.sha256 === 'string' ? input.sha256.toLowerCase() : '';
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw invalid('sha256 must be 64 hexadecimal characters.');
  let sourceUrl: string | null = null;
  if (input.sourceUrl !== undefined) {
    const problem = `A source URL must be an http: or https: URL of at most ${maxUrlLength.toLocaleString('en-US')} characters.`;
    if (typeof input.sourceUrl !== 'string' || input.sourceUrl.length > maxUrlLength || !URL.canParse(input.sourceUrl)) throw invalid(problem);
    const url = new URL(input.sourceUrl);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(problem);
    sourceUrl = url.href.length <= maxUrlLength ? url.href : input.sourceUrl;
  }
  if (input.replaces !== undefined && typeof input.replaces !== 'string') throw invalid('replaces must be a file id.');
  return { widgetId: String(input.widgetId), name, format: input.format, bytes: input.bytes, sha256, sourceUrl, replaces: input.replaces ?? null };
}

function checkPatch(patch: KnowledgeFilePatch) {
  const statuses: readonly (string | undefined)[] = ['queued', 'processing', 'failed', undefined];
  if (!statuses.includes(patch.status)) throw invalid('A file becomes ready only with its passages; status must be queued, processing or failed.');
  let progress: number | null = null;
  if (patch.progress !== undefined) {
    if (typeof patch.progress !== 'number' || !Number.isFinite(patch.progress)) throw invalid('progress must be a number from 0 to 1.');
    progress = Math.min(1, Math.max(0, patch.progress));
  }
  if (patch.error !== undefined && typeof patch.error !== 'string') throw invalid('error must be a text.');
  const error = patch.error?.trim().slice(0, maxErrorLength) || null;
  if (patch.status === 'failed' && !error) throw invalid('A failed file needs the reason, for its owner.');
  return { status: patch.status ?? null, progress, error };
}

function checkOptionalText(value: unknown, field: string, maximum: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > maximum) throw invalid(`${field} must be a text of at most ${maximum.toLocaleString('en-US')} characters.`);
  return value;
}

// Reads only what is checked (vectors, tokens, hashes) before the transaction;
// texts are read while inserting.
function checkPassages(passages: readonly KnowledgePassageInput[]): { tokens: number } {
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

function wholeNumber(value: number | undefined): number | null {
  return value !== undefined && Number.isSafeInteger(value) ? value : null;
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

const passageColumns = `p.id, p.file_id, p.ordinal, p.text, p.heading_path, p.page_start, p.page_end, p.row_start, p.row_end, p.tokens, p.vector,
  f.name AS file_name, f.source_url`;

/**
 * A {@link KnowledgeStore} over SQL: every operation, written once, run by a
 * dialect (`SqliteKnowledgeStore`, `PostgresKnowledgeStore`) that supplies
 * the transactions and what differs between the databases.
 *
 * @example
 * ```ts
 * class MyKnowledgeStore extends SqlKnowledgeStore {
 *   // kind, execute, transaction, insertPassages, keywordQuery, forUpdate
 * }
 * ```
 */
export abstract class SqlKnowledgeStore implements KnowledgeStore {
  abstract readonly kind: 'sqlite' | 'postgres';
  readonly #now: () => Date;

  constructor(options: KnowledgeStoreOptions = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  /** Runs one statement on its own (its own transaction). */
  protected abstract execute(query: Query): Promise<Row[]>;

  /**
   * Runs an operation in one transaction: `write` rolled back if it throws,
   * `read` with every statement reading the same snapshot.
   */
  protected abstract transaction<T>(operation: Operation<T>, mode: 'write' | 'read'): Promise<T>;

  /** Inserts a file's passages with their keyword entries. */
  protected abstract insertPassages(fileId: string, widgetId: string, rows: Iterable<PassageRow>): Operation<void>;

  /** The keyword query: `id` and `score` (higher is better) of the widget's ready passages that have any of `terms`. */
  protected abstract keywordQuery(widgetId: string, terms: readonly string[], limit: number): Query;

  /** What locks a selected row until the transaction ends (`' FOR UPDATE'`), or `''` where write transactions are exclusive. */
  protected abstract readonly forUpdate: string;

  async addFile(input: NewKnowledgeFile): Promise<AddedKnowledgeFile> {
    const file = checkNewFile(input);
    return this.transaction(this.#addFile(file), 'write');
  }

  *#addFile(file: ReturnType<typeof checkNewFile>): Operation<AddedKnowledgeFile> {
    const [widget] = yield* statement('SELECT id FROM widgets WHERE id = @widgetId', file);
    if (!widget) throw new AirlockError('widget_not_found', 'There is no such widget.');
    if (file.replaces !== null) {
      const [replaced] = yield* statement('SELECT id FROM knowledge_files WHERE id = @replaces AND widget_id = @widgetId', file);
      if (!replaced) throw new AirlockError('not_found', 'The file to replace is not one of this widget\u2019s files.');
    }
    const byContent = `SELECT * FROM knowledge_files WHERE widget_id = @widgetId AND sha256 = @sha256`;
    const [existing] = yield* statement(`${byContent}${this.forUpdate}`, file);
    if (existing && existing.status !== 'failed') return { file: fileFromRow(existing), duplicate: true };
    // A failed upload of the same content gives way to this one.
    if (existing) yield* statement('DELETE FROM knowledge_files WHERE id = @id', { id: existing.id });
    const now = this.#now().toISOString();
    const [inserted] = yield* statement(
      `INSERT INTO knowledge_files (id, widget_id, name, format, bytes, sha256, source_url, status, progress, passages, tokens, replaces, created_at, updated_at)
       VALUES (@id, @widgetId, @name, @format, @bytes, @sha256, @sourceUrl, 'queued', 0, 0, 0, @replaces, @now, @now)
       ON CONFLICT (widget_id, sha256) DO NOTHING
       RETURNING *`,
      { ...file, id: newId('kf'), now },
    );
    if (inserted) return { file: fileFromRow(inserted), duplicate: false };
    // Added by another connection since the first look (PostgreSQL waited for it to commit).
    const [winner] = yield* statement(byContent, file);
    return { file: fileFromRow(winner!), duplicate: true };
  }

  async getFile(widgetId: string, fileId: string): Promise<KnowledgeFileRecord | undefined> {
    const [row] = await this.execute({ sql: 'SELECT * FROM knowledge_files WHERE id = @fileId AND widget_id = @widgetId', params: { fileId, widgetId } });
    return row && fileFromRow(row);
  }

  async listFiles(widgetId: string): Promise<KnowledgeFileRecord[]> {
    const rows = await this.execute({ sql: 'SELECT * FROM knowledge_files WHERE widget_id = @widgetId ORDER BY created_at, id', params: { widgetId } });
    return rows.map(fileFromRow);
  }

  async updateFile(fileId: string, patch: KnowledgeFilePatch): Promise<KnowledgeFileRecord> {
    const change = checkPatch(patch);
    // One statement: progress is reported every 100 ms while a file is read.
    const [row] = await this.execute({
      sql: `UPDATE knowledge_files SET
              status = coalesce(@status, status),
              progress = coalesce(@progress, progress),
              error = CASE WHEN coalesce(@status, status) = 'failed' THEN coalesce(@error, error) ELSE NULL END,
              updated_at = @now
            WHERE id = @fileId AND status <> 'ready'
            RETURNING *`,
      params: { ...change, fileId, now: this.#now().toISOString() },
    });
    if (row) return fileFromRow(row);
    const [current] = await this.execute({ sql: 'SELECT status FROM knowledge_files WHERE id = @fileId', params: { fileId } });
    if (!current) throw new AirlockError('not_found', 'There is no such knowledge file.');
    throw new AirlockError('conflict', 'This file is ready; it changes only when its passages are replaced.');
  }

  async replacePassages(fileId: string, passages: readonly KnowledgePassageInput[], options: ReplacePassagesOptions = {}): Promise<KnowledgeFileRecord> {
    const { tokens } = checkPassages(passages);
    const embeddingModel = checkOptionalText(options.embeddingModel, 'embeddingModel', maxModelLength);
    const vectorsNote = checkOptionalText(options.vectorsNote, 'vectorsNote', maxNoteLength);
    return this.transaction(this.#replacePassages(fileId, passages, { count: passages.length, tokens, embeddingModel, vectorsNote }), 'write');
  }

  *#replacePassages(
    fileId: string,
    passages: readonly KnowledgePassageInput[],
    summary: { count: number; tokens: number; embeddingModel: string | null; vectorsNote: string | null },
  ): Operation<KnowledgeFileRecord> {
    // The replaced file is locked before this one, as removing it locks it and
    // then this one (its `replaces` is set to NULL): the same order, no deadlock.
    const [peek] = yield* statement('SELECT replaces FROM knowledge_files WHERE id = @fileId', { fileId });
    if (peek?.replaces) yield* statement(`SELECT id FROM knowledge_files WHERE id = @id${this.forUpdate}`, { id: peek.replaces });
    const [file] = yield* statement(`SELECT * FROM knowledge_files WHERE id = @fileId${this.forUpdate}`, { fileId });
    if (!file) throw new AirlockError('not_found', 'There is no such knowledge file.');
    if (file.status === 'failed') throw new AirlockError('conflict', 'This file failed; upload it again.');
    const widgetId = String(file.widget_id);
    yield* statement('DELETE FROM knowledge_passages WHERE file_id = @fileId', { fileId });
    yield* this.insertPassages(fileId, widgetId, passageRows(passages));
    if (file.replaces) yield* statement('DELETE FROM knowledge_files WHERE id = @id AND widget_id = @widgetId', { id: file.replaces, widgetId });
    const [ready] = yield* statement(
      `UPDATE knowledge_files SET status = 'ready', progress = 1, error = NULL, passages = @count, tokens = @tokens,
         embedding_model = @embeddingModel, vectors_note = @vectorsNote, replaces = NULL, updated_at = @now
       WHERE id = @fileId
       RETURNING *`,
      { ...summary, fileId, now: this.#now().toISOString() },
    );
    yield* this.#bumpVersion(widgetId);
    return fileFromRow(ready!);
  }

  *#bumpVersion(widgetId: string): Operation<void> {
    yield* statement(
      `INSERT INTO knowledge_versions (widget_id, version) VALUES (@widgetId, 1)
       ON CONFLICT (widget_id) DO UPDATE SET version = knowledge_versions.version + 1`,
      { widgetId },
    );
  }

  async removeFile(widgetId: string, fileId: string): Promise<boolean> {
    return this.transaction(this.#removeFile(widgetId, fileId), 'write');
  }

  *#removeFile(widgetId: string, fileId: string): Operation<boolean> {
    // Its passages go with it (ON DELETE CASCADE), and with them their keyword entries.
    const [gone] = yield* statement('DELETE FROM knowledge_files WHERE id = @fileId AND widget_id = @widgetId RETURNING id', { fileId, widgetId });
    if (!gone) return false;
    yield* this.#bumpVersion(widgetId);
    return true;
  }

  async keywordSearch(widgetId: string, query: string, limit: number): Promise<ScoredId<string>[]> {
    const terms = [...new Set(keywordTerms(String(query)))].slice(0, maxQueryTerms);
    const most = Math.min(maxKeywordResults, Math.floor(Number(limit)));
    if (terms.length === 0 || !(most > 0)) return [];
    const rows = await this.execute(this.keywordQuery(widgetId, terms, most));
    return rows.map((row) => ({ id: String(row.id), score: Number(row.score) }));
  }

  async snapshot(widgetId: string): Promise<KnowledgeSnapshot> {
    return this.transaction(this.#snapshot(widgetId), 'read');
  }

  *#snapshot(widgetId: string): Operation<KnowledgeSnapshot> {
    const [version] = yield* statement('SELECT version FROM knowledge_versions WHERE widget_id = @widgetId', { widgetId });
    const rows = yield* statement(
      `SELECT ${passageColumns}
       FROM knowledge_passages p JOIN knowledge_files f ON f.id = p.file_id
       WHERE p.widget_id = @widgetId AND f.widget_id = @widgetId AND f.status = 'ready'
       ORDER BY f.created_at, f.id, p.ordinal`,
      { widgetId },
    );
    return { version: Number(version?.version ?? 0), passages: rows.map(passageFromRow) };
  }

  async knowledgeVersion(widgetId: string): Promise<number> {
    const [row] = await this.execute({ sql: 'SELECT version FROM knowledge_versions WHERE widget_id = @widgetId', params: { widgetId } });
    return Number(row?.version ?? 0);
  }

  async totals(widgetId: string): Promise<KnowledgeTotals> {
    const [row] = await this.execute(
      query(
        `SELECT count(*) AS files, coalesce(sum(bytes), 0) AS bytes, coalesce(sum(passages), 0) AS passages, coalesce(sum(tokens), 0) AS tokens
         FROM knowledge_files WHERE widget_id = @widgetId AND status <> 'failed'`,
        { widgetId },
      ),
    );
    return totalsFromRow(row);
  }

  async accountTotals(accountId: string): Promise<KnowledgeTotals> {
    const [row] = await this.execute(
      query(
        `SELECT count(*) AS files, coalesce(sum(f.bytes), 0) AS bytes, coalesce(sum(f.passages), 0) AS passages, coalesce(sum(f.tokens), 0) AS tokens
         FROM knowledge_files f JOIN widgets w ON w.id = f.widget_id
         WHERE w.account_id = @accountId AND f.status <> 'failed'`,
        { accountId },
      ),
    );
    return totalsFromRow(row);
  }

  async releaseStale(olderThan: Date): Promise<KnowledgeFileRecord[]> {
    if (!(olderThan instanceof Date) || Number.isNaN(olderThan.getTime())) throw invalid('olderThan must be a valid date.');
    const rows = await this.execute(
      query(
        `UPDATE knowledge_files SET status = 'failed', error = @reason, updated_at = @now
         WHERE status IN ('queued', 'processing') AND updated_at < @olderThan
         RETURNING *`,
        { reason: interruptedReason, now: this.#now().toISOString(), olderThan: olderThan.toISOString() },
      ),
    );
    return rows.map(fileFromRow);
  }
}
