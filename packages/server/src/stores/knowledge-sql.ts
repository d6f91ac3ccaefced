// What the SQLite and PostgreSQL knowledge stores share: every operation is
// written once (knowledge-file-sql.ts, knowledge-passage-sql.ts) and run by
// the main store's runners (sqlite-sql.ts, postgres-sql.ts); each database
// adds only a small KnowledgeDialect and its connection.
import { invalid } from '../errors.js';
import type { ScoredId } from '../knowledge/rank.js';
import * as fileSql from './knowledge-file-sql.js';
import * as passageSql from './knowledge-passage-sql.js';
import type { KnowledgeDialect } from './knowledge-passage-sql.js';
import type {
  AddedKnowledgeFile,
  KnowledgeFilePatch,
  KnowledgeFileRecord,
  KnowledgePassageInput,
  KnowledgeSnapshot,
  KnowledgeStore,
  KnowledgeStoreOptions,
  KnowledgeTotals,
  NewKnowledgeFile,
  ReplacePassagesOptions,
} from './knowledge-store.js';
import type { SqlRunner } from './sql.js';

const maxNoteLength = 1_000;
const maxModelLength = 200;

function checkOptionalText(value: unknown, field: string, maximum: number): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length > maximum) throw invalid(`${field} must be a text of at most ${maximum.toLocaleString('en-US')} characters.`);
  return value;
}

/**
 * A {@link KnowledgeStore} over SQL: every operation, written once, run by
 * one of the shared runners with the database's {@link KnowledgeDialect}.
 * `SqliteKnowledgeStore` and `PostgresKnowledgeStore` add only their
 * connection.
 *
 * @example
 * ```ts
 * class MyKnowledgeStore extends SqlKnowledgeStore {
 *   readonly kind = 'sqlite' as const;
 *   constructor(database: Database.Database) {
 *     super(new SqliteRunner(database), sqliteKnowledgeDialect);
 *   }
 * }
 * ```
 */
export abstract class SqlKnowledgeStore implements KnowledgeStore {
  abstract readonly kind: 'sqlite' | 'postgres';
  readonly #runner: SqlRunner;
  readonly #dialect: KnowledgeDialect;
  readonly #now: () => Date;
  // Read when each operation writes its time, not when it is called.
  readonly #at = (): string => this.#now().toISOString();

  constructor(runner: SqlRunner, dialect: KnowledgeDialect, options: KnowledgeStoreOptions = {}) {
    this.#runner = runner;
    this.#dialect = dialect;
    this.#now = options.now ?? (() => new Date());
  }

  async addFile(input: NewKnowledgeFile): Promise<AddedKnowledgeFile> {
    const file = fileSql.checkNewFile(input);
    return this.#runner.transaction(fileSql.addFile(file, this.#dialect.forUpdate, this.#at), 'write');
  }

  async getFile(widgetId: string, fileId: string): Promise<KnowledgeFileRecord | undefined> {
    return this.#runner.run(fileSql.getFile(widgetId, fileId));
  }

  async listFiles(widgetId: string): Promise<KnowledgeFileRecord[]> {
    return this.#runner.run(fileSql.listFiles(widgetId));
  }

  async updateFile(fileId: string, patch: KnowledgeFilePatch): Promise<KnowledgeFileRecord> {
    const change = fileSql.checkPatch(patch);
    return this.#runner.run(fileSql.updateFile(fileId, change, this.#at));
  }

  async replacePassages(fileId: string, passages: readonly KnowledgePassageInput[], options: ReplacePassagesOptions = {}): Promise<KnowledgeFileRecord> {
    const { tokens } = passageSql.checkPassages(passages);
    const embeddingModel = checkOptionalText(options.embeddingModel, 'embeddingModel', maxModelLength);
    const vectorsNote = checkOptionalText(options.vectorsNote, 'vectorsNote', maxNoteLength);
    const summary = { count: passages.length, tokens, embeddingModel, vectorsNote };
    return this.#runner.transaction(passageSql.replacePassages(this.#dialect, fileId, passages, summary, this.#at), 'write');
  }

  async removeFile(widgetId: string, fileId: string): Promise<boolean> {
    return this.#runner.transaction(fileSql.removeFile(widgetId, fileId), 'write');
  }

  async keywordSearch(widgetId: string, query: string, limit: number): Promise<ScoredId<string>[]> {
    return this.#runner.run(passageSql.keywordSearch(this.#dialect, widgetId, query, limit));
  }

  async snapshot(widgetId: string): Promise<KnowledgeSnapshot> {
    return this.#runner.transaction(passageSql.snapshot(widgetId), 'read');
  }

  async knowledgeVersion(widgetId: string): Promise<number> {
    return this.#runner.run(passageSql.knowledgeVersion(widgetId));
  }

  async totals(widgetId: string): Promise<KnowledgeTotals> {
    return this.#runner.run(fileSql.totals(widgetId));
  }

  async accountTotals(accountId: string): Promise<KnowledgeTotals> {
    return this.#runner.run(fileSql.accountTotals(accountId));
  }

  async releaseStale(olderThan: Date): Promise<KnowledgeFileRecord[]> {
    if (!(olderThan instanceof Date) || Number.isNaN(olderThan.getTime())) throw invalid('olderThan must be a valid date.');
    return this.#runner.run(fileSql.releaseStale(olderThan, this.#at));
  }
}
