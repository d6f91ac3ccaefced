// The knowledge store: a widget's knowledge files and their passages, kept in
// the same database as the main store but behind an interface of its own
// (a narrow interface by area, not one Store that knows everything).
import type { Passage } from '../knowledge/chunk.js';
import type { IndexedPassage } from '../knowledge/knowledge-index.js';
import type { ScoredId } from '../knowledge/rank.js';
import type { KnowledgeFormat } from '../knowledge/types.js';

/**
 * Where a knowledge file is in its ingestion: waiting for a worker, being
 * read and embedded, searchable, or refused (with a reason in `error`).
 * Only `ready` files are searched, and a file becomes `ready` only with its
 * passages, in one transaction ({@link KnowledgeStore.replacePassages}).
 */
export type KnowledgeFileStatus = 'queued' | 'processing' | 'ready' | 'failed';

/**
 * One knowledge file of a widget, as stored. The file's bytes are not kept:
 * only what was read from them (its passages) and what the owner needs to
 * recognise it.
 *
 * @example
 * ```ts
 * const file: KnowledgeFileRecord = {
 *   id: 'kf_1', widgetId: 'wgt_1', name: 'prices.csv', format: 'csv', bytes: 2048, sha256: '9f86d0…',
 *   status: 'ready', progress: 1, passages: 12, tokens: 3400,
 *   createdAt: '2026-12-03T09:00:00.000Z', updatedAt: '2026-12-03T09:00:04.000Z',
 * };
 * ```
 */
export interface KnowledgeFileRecord {
  id: string;
  widgetId: string;
  /** The name it was uploaded with, shown in lists and sources. */
  name: string;
  format: KnowledgeFormat;
  /** Size of the uploaded file. */
  bytes: number;
  /** SHA-256 of the uploaded bytes, lower-case hex: the same content is stored once per widget. */
  sha256: string;
  /** A link for its citations. Default: none. */
  sourceUrl?: string;
  status: KnowledgeFileStatus;
  /** Share of the ingestion done, from 0 to 1 (1 once ready). */
  progress: number;
  /** Why the file failed, written for its owner. Only when `status` is `failed`. */
  error?: string;
  /** Passages stored (0 until ready). */
  passages: number;
  /** Tokens of those passages together. */
  tokens: number;
  /** The embedding model of its passages' vectors. Default: none (no vectors). */
  embeddingModel?: string;
  /** Why its passages have no vectors, for the owner (an upstream without embeddings). Default: none. */
  vectorsNote?: string;
  /**
   * The file this one is a new version of: it stays searchable until this
   * one is ready, and is removed in the same transaction that makes this one
   * ready. Default: none.
   */
  replaces?: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * What {@link KnowledgeStore.addFile} takes.
 */
export interface NewKnowledgeFile {
  widgetId: string;
  /** 1 to 255 characters, no control characters. */
  name: string;
  format: KnowledgeFormat;
  bytes: number;
  /** SHA-256 of the bytes, hex (64 characters). */
  sha256: string;
  /** An `http:` or `https:` URL of at most 2,048 characters. Default: none. */
  sourceUrl?: string;
  /** The id of a file of the same widget this one is a new version of. Default: none. */
  replaces?: string;
}

/**
 * The answer of {@link KnowledgeStore.addFile}: the new file, queued, or the
 * widget's file that already has the same content (`duplicate`), which is
 * left as it was.
 *
 * @example
 * ```ts
 * const { file, duplicate } = await knowledge.addFile(input);
 * if (!duplicate) queueIngestion(file);
 * ```
 */
export interface AddedKnowledgeFile {
  file: KnowledgeFileRecord;
  duplicate: boolean;
}

/**
 * A change of an unfinished file's ingestion state, for
 * {@link KnowledgeStore.updateFile}. A file becomes `ready` only through
 * {@link KnowledgeStore.replacePassages}.
 *
 * @example
 * ```ts
 * await knowledge.updateFile(file.id, { status: 'processing', progress: 0.4 });
 * ```
 */
export interface KnowledgeFilePatch {
  status?: Exclude<KnowledgeFileStatus, 'ready'>;
  /** From 0 to 1; values outside are clamped. */
  progress?: number;
  /** Why it failed, for its owner (at most 1,000 characters are kept). Needed when `status` is `failed`; cleared otherwise. */
  error?: string;
}

/**
 * A passage to store: one of the extractor's passages, with its embedding
 * when the upstream gave one.
 */
export interface KnowledgePassageInput extends Passage {
  /** Its embedding; every vector of one file has the same length. Default: none. */
  vector?: Float32Array;
}

/**
 * What {@link KnowledgeStore.replacePassages} records about the passages' vectors.
 */
export interface ReplacePassagesOptions {
  /** The model the vectors come from. Default: none. */
  embeddingModel?: string;
  /** Why there are no vectors, for the owner. Default: none. */
  vectorsNote?: string;
}

/**
 * A stored passage of a ready file, as retrieval reads it: an
 * {@link IndexedPassage} (so a `KnowledgeIndex` is built from these
 * directly) with its file, position and tokens. `location.file` is the
 * file's name.
 *
 * @example
 * ```ts
 * const { passages } = await knowledge.snapshot(widgetId);
 * const index = new KnowledgeIndex(passages);
 * ```
 */
export interface StoredPassage extends IndexedPassage {
  fileId: string;
  /** Position in its file, from 0. */
  ordinal: number;
  tokens: number;
  /** The file's source URL. Default: none. */
  sourceUrl?: string;
}

/**
 * Every searchable passage of a widget with the version they were read at,
 * both from one consistent read: an index built from `passages` is current
 * while {@link KnowledgeStore.knowledgeVersion} still answers `version`.
 *
 * @example
 * ```ts
 * const { version, passages } = await knowledge.snapshot(widgetId);
 * cache.set(widgetId, { version, index: new KnowledgeIndex(passages) });
 * ```
 */
export interface KnowledgeSnapshot {
  version: number;
  passages: StoredPassage[];
}

/**
 * What a widget's (or an account's) knowledge takes, for quotas: every file
 * that is not `failed` (queued and processing ones included, so uploads at
 * the same moment cannot pass a limit together).
 *
 * @example
 * ```ts
 * const { files, bytes } = await knowledge.totals(widgetId);
 * ```
 */
export interface KnowledgeTotals {
  files: number;
  bytes: number;
  passages: number;
  tokens: number;
}

/**
 * Options of both knowledge stores.
 *
 * @example
 * ```ts
 * const knowledge = new SqliteKnowledgeStore(store.database, { now: () => new Date('2026-12-03T10:00:00Z') });
 * ```
 */
export interface KnowledgeStoreOptions {
  /** Clock, for tests. Default: `() => new Date()`. */
  now?: () => Date;
}

/**
 * A widget's knowledge files and their passages, in the main store's
 * database (its migrations create the tables). Every read is confined to one
 * widget inside the query itself. Implemented by `SqliteKnowledgeStore` and
 * `PostgresKnowledgeStore`, which share the main stores' connections.
 *
 * An ingestion runs: {@link addFile} (queued), {@link updateFile} as it goes
 * (processing, progress), then {@link replacePassages}, which stores the
 * passages and marks the file ready in one transaction, or
 * {@link updateFile} with `failed` and a reason. After a crash,
 * {@link releaseStale} fails the files left unfinished.
 *
 * @example
 * ```ts
 * const { file, duplicate } = await knowledge.addFile({ widgetId, name: 'faq.md', format: 'md', bytes: data.length, sha256 });
 * if (!duplicate) {
 *   const { passages } = await extractor.process({ name: file.name, bytes: data }, {
 *     onProgress: (progress) => void knowledge.updateFile(file.id, { status: 'processing', progress }),
 *   });
 *   await knowledge.replacePassages(file.id, passages);
 * }
 * const hits = await knowledge.keywordSearch(widgetId, 'how do refunds work', 10);
 * ```
 */
export interface KnowledgeStore {
  readonly kind: 'sqlite' | 'postgres';

  /**
   * Adds a file, `queued`. When the widget already has a file with the same
   * SHA-256 that is not `failed`, nothing is added and that file is returned
   * with `duplicate: true`; a `failed` one is removed and the new upload
   * takes its place. Rejects with `widget_not_found` for an unknown widget,
   * `not_found` when `replaces` names no file of the widget, `input_invalid`
   * for a malformed field.
   */
  addFile(input: NewKnowledgeFile): Promise<AddedKnowledgeFile>;

  /** The widget's file, or `undefined` (also for another widget's file). */
  getFile(widgetId: string, fileId: string): Promise<KnowledgeFileRecord | undefined>;

  /** The widget's files, oldest first. */
  listFiles(widgetId: string): Promise<KnowledgeFileRecord[]>;

  /**
   * Changes an unfinished file's status, progress or error. Rejects with
   * `not_found`, or `conflict` for a `ready` file (whose passages change
   * only through {@link replacePassages}).
   */
  updateFile(fileId: string, patch: KnowledgeFilePatch): Promise<KnowledgeFileRecord>;

  /**
   * In one transaction: removes every passage the file has, stores
   * `passages` (in their order), marks the file `ready` with its counts, and
   * removes the file it `replaces`. Readers see the old passages or the new
   * ones, never both and never part; a failure leaves everything as it was.
   * Rejects with `not_found`, `conflict` for a `failed` file (its owner was
   * told to upload it again), `input_invalid` for a malformed vector.
   */
  replacePassages(fileId: string, passages: readonly KnowledgePassageInput[], options?: ReplacePassagesOptions): Promise<KnowledgeFileRecord>;

  /** Removes the widget's file with every passage, vector and keyword entry; `false` when there was none. */
  removeFile(widgetId: string, fileId: string): Promise<boolean>;

  /**
   * Keyword search over the widget's ready files: passage ids with their
   * score (FTS5's BM25 in SQLite, `ts_rank_cd` in PostgreSQL; higher is
   * better, comparable within one search), best first. The query is reduced
   * to its words (`searchTerms`), each matched as a quoted term, any of them
   * matching; no query syntax reaches the database.
   */
  keywordSearch(widgetId: string, query: string, limit: number): Promise<ScoredId<string>[]>;

  /** Every passage of the widget's ready files with their vectors, and the version they were read at. */
  snapshot(widgetId: string): Promise<KnowledgeSnapshot>;

  /** A number that changes whenever the widget's searchable passages do (one indexed read). */
  knowledgeVersion(widgetId: string): Promise<number>;

  /** What the widget's files take. */
  totals(widgetId: string): Promise<KnowledgeTotals>;

  /** What the files of every widget of the account take. */
  accountTotals(accountId: string): Promise<KnowledgeTotals>;

  /**
   * Marks files `queued` or `processing` whose last update is older than
   * `olderThan` as `failed` ("Ingestion was interrupted; upload the file
   * again."), and returns them. Run on start for the files a crash left
   * behind; a live ingestion reports progress more often than that.
   */
  releaseStale(olderThan: Date): Promise<KnowledgeFileRecord[]>;
}
