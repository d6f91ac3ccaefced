// The knowledge files' SQL: their records, ingestion state, removal and what
// they take, written once for both databases and run by the shared runners.
import { AirlockError, invalid } from '../errors.js';
import { newId } from '../ids.js';
import { KNOWLEDGE_FORMATS, type KnowledgeFormat } from '../knowledge/types.js';
import type { AddedKnowledgeFile, KnowledgeFilePatch, KnowledgeFileRecord, KnowledgeFileStatus, KnowledgeTotals, NewKnowledgeFile } from './knowledge-store.js';
import { iso, optionalText, statement, type Operation, type Row } from './sql.js';

/** The reason `releaseStale` gives a file it fails. */
const interruptedReason = 'Ingestion was interrupted; upload the file again.';
const maxNameLength = 255;
const maxUrlLength = 2_048;
const maxErrorLength = 1_000;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/;

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

function totalsFromRow(row: Row | undefined): KnowledgeTotals {
  return { files: Number(row?.files ?? 0), bytes: Number(row?.bytes ?? 0), passages: Number(row?.passages ?? 0), tokens: Number(row?.tokens ?? 0) };
}

/** A new file as {@link addFile} stores it. */
export type CheckedNewFile = ReturnType<typeof checkNewFile>;

/**
 * A new file's fields, checked and normalised (name trimmed, hash in lower
 * case, URL in its parsed form), before any transaction.
 *
 * @example
 * ```ts
 * const file = checkNewFile(input);
 * ```
 */
export function checkNewFile(input: NewKnowledgeFile) {
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

/**
 * A change of ingestion state, checked (progress clamped, error trimmed),
 * before it is written.
 *
 * @example
 * ```ts
 * const change = checkPatch({ status: 'processing', progress: 0.4 });
 * ```
 */
export function checkPatch(patch: KnowledgeFilePatch) {
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

/**
 * Adds a checked file, queued, or answers the widget's file of the same
 * content. `forUpdate` locks that file's row where write transactions are
 * not exclusive. Run in a write transaction.
 *
 * @example
 * ```ts
 * const added = await runner.transaction(addFile(checkNewFile(input), dialect.forUpdate, at), 'write');
 * ```
 */
export function* addFile(file: CheckedNewFile, forUpdate: string, now: () => string): Operation<AddedKnowledgeFile> {
  const [widget] = yield* statement('SELECT id FROM widgets WHERE id = @widgetId', file);
  if (!widget) throw new AirlockError('widget_not_found', 'There is no such widget.');
  if (file.replaces !== null) {
    const [replaced] = yield* statement('SELECT id FROM knowledge_files WHERE id = @replaces AND widget_id = @widgetId', file);
    if (!replaced) throw new AirlockError('not_found', 'The file to replace is not one of this widget\u2019s files.');
  }
  const byContent = `SELECT * FROM knowledge_files WHERE widget_id = @widgetId AND sha256 = @sha256`;
  const [existing] = yield* statement(`${byContent}${forUpdate}`, file);
  if (existing && existing.status !== 'failed') return { file: fileFromRow(existing), duplicate: true };
  // A failed upload of the same content gives way to this one.
  if (existing) yield* statement('DELETE FROM knowledge_files WHERE id = @id', { id: existing.id });
  const [inserted] = yield* statement(
    `INSERT INTO knowledge_files (id, widget_id, name, format, bytes, sha256, source_url, status, progress, passages, tokens, replaces, created_at, updated_at)
     VALUES (@id, @widgetId, @name, @format, @bytes, @sha256, @sourceUrl, 'queued', 0, 0, 0, @replaces, @now, @now)
     ON CONFLICT (widget_id, sha256) DO NOTHING
     RETURNING *`,
    { ...file, id: newId('kf'), now: now() },
  );
  if (inserted) return { file: fileFromRow(inserted), duplicate: false };
  // Added by another connection since the first look (PostgreSQL waited for it to commit).
  const [winner] = yield* statement(byContent, file);
  return { file: fileFromRow(winner!), duplicate: true };
}

/**
 * The widget's file, or `undefined`.
 *
 * @example
 * ```ts
 * const file = await runner.run(getFile(widgetId, fileId));
 * ```
 */
export function* getFile(widgetId: string, fileId: string): Operation<KnowledgeFileRecord | undefined> {
  const [row] = yield* statement('SELECT * FROM knowledge_files WHERE id = @fileId AND widget_id = @widgetId', { fileId, widgetId });
  return row && fileFromRow(row);
}

/**
 * The widget's files, oldest first.
 *
 * @example
 * ```ts
 * const files = await runner.run(listFiles(widgetId));
 * ```
 */
export function* listFiles(widgetId: string): Operation<KnowledgeFileRecord[]> {
  const rows = yield* statement('SELECT * FROM knowledge_files WHERE widget_id = @widgetId ORDER BY created_at, id', { widgetId });
  return rows.map(fileFromRow);
}

/**
 * Writes a checked change of an unfinished file in one statement (progress
 * is reported every 100 ms while a file is read); only when nothing was
 * changed does a second statement find out why. Run without a transaction.
 *
 * @example
 * ```ts
 * const file = await runner.run(updateFile(fileId, checkPatch(patch), at));
 * ```
 */
export function* updateFile(fileId: string, change: ReturnType<typeof checkPatch>, now: () => string): Operation<KnowledgeFileRecord> {
  const [row] = yield* statement(
    `UPDATE knowledge_files SET
       status = coalesce(@status, status),
       progress = coalesce(@progress, progress),
       error = CASE WHEN coalesce(@status, status) = 'failed' THEN coalesce(@error, error) ELSE NULL END,
       updated_at = @now
     WHERE id = @fileId AND status <> 'ready'
     RETURNING *`,
    { ...change, fileId, now: now() },
  );
  if (row) return fileFromRow(row);
  const [current] = yield* statement('SELECT status FROM knowledge_files WHERE id = @fileId', { fileId });
  if (!current) throw new AirlockError('not_found', 'There is no such knowledge file.');
  throw new AirlockError('conflict', 'This file is ready; it changes only when its passages are replaced.');
}

/**
 * Counts a change of the widget's searchable passages, in the transaction
 * that makes it.
 *
 * @example
 * ```ts
 * yield* bumpVersion(widgetId);
 * ```
 */
export function* bumpVersion(widgetId: string): Operation<void> {
  yield* statement(
    `INSERT INTO knowledge_versions (widget_id, version) VALUES (@widgetId, 1)
     ON CONFLICT (widget_id) DO UPDATE SET version = knowledge_versions.version + 1`,
    { widgetId },
  );
}

/**
 * Removes the widget's file; `false` when there was none. Run in a write
 * transaction.
 *
 * @example
 * ```ts
 * const removed = await runner.transaction(removeFile(widgetId, fileId), 'write');
 * ```
 */
export function* removeFile(widgetId: string, fileId: string): Operation<boolean> {
  // Its passages go with it (ON DELETE CASCADE), and with them their keyword entries.
  const [gone] = yield* statement('DELETE FROM knowledge_files WHERE id = @fileId AND widget_id = @widgetId RETURNING id', { fileId, widgetId });
  if (!gone) return false;
  yield* bumpVersion(widgetId);
  return true;
}

/**
 * What the widget's files that are not `failed` take.
 *
 * @example
 * ```ts
 * const { files, bytes } = await runner.run(totals(widgetId));
 * ```
 */
export function* totals(widgetId: string): Operation<KnowledgeTotals> {
  const [row] = yield* statement(
    `SELECT count(*) AS files, coalesce(sum(bytes), 0) AS bytes, coalesce(sum(passages), 0) AS passages, coalesce(sum(tokens), 0) AS tokens
     FROM knowledge_files WHERE widget_id = @widgetId AND status <> 'failed'`,
    { widgetId },
  );
  return totalsFromRow(row);
}

/**
 * What the files that are not `failed` of every widget of the account take.
 *
 * @example
 * ```ts
 * const { bytes } = await runner.run(accountTotals(accountId));
 * ```
 */
export function* accountTotals(accountId: string): Operation<KnowledgeTotals> {
  const [row] = yield* statement(
    `SELECT count(*) AS files, coalesce(sum(f.bytes), 0) AS bytes, coalesce(sum(f.passages), 0) AS passages, coalesce(sum(f.tokens), 0) AS tokens
     FROM knowledge_files f JOIN widgets w ON w.id = f.widget_id
     WHERE w.account_id = @accountId AND f.status <> 'failed'`,
    { accountId },
  );
  return totalsFromRow(row);
}

/**
 * Fails the files whose ingestion has not moved since `olderThan`, and
 * answers them.
 *
 * @example
 * ```ts
 * const failed = await runner.run(releaseStale(new Date(Date.now() - 60_000), at));
 * ```
 */
export function* releaseStale(olderThan: Date, now: () => string): Operation<KnowledgeFileRecord[]> {
  const rows = yield* statement(
    `UPDATE knowledge_files SET status = 'failed', error = @reason, updated_at = @now
     WHERE status IN ('queued', 'processing') AND updated_at < @olderThan
     RETURNING *`,
    { reason: interruptedReason, now: now(), olderThan: olderThan.toISOString() },
  );
  return rows.map(fileFromRow);
}
