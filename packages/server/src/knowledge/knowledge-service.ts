import { createHash } from 'node:crypto';
import { AirlockError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { AddedKnowledgeFile, KnowledgeFileRecord, KnowledgePassageInput, KnowledgeStore } from '../stores/knowledge-store.js';
import type { WidgetRecord } from '../stores/store.js';
import { formatFromName, supportedFormatList } from './detect.js';
import { isEmbeddingsUnavailable, type EmbeddingsResult } from './embeddings.js';
import type { KnowledgeExtractor } from './extractor.js';
import { KnowledgeFileError } from './knowledge-error.js';
import { KnowledgeRetriever, type RetrievedPassage } from './retrieval.js';

/**
 * Sizes a widget's knowledge may take. Every limit is checked when a file is
 * uploaded, counting the files still being read.
 */
export interface KnowledgeLimits {
  /** Largest file, in bytes. Default: `10_485_760` (10 MiB). */
  maxFileBytes?: number;
  /** All files of one widget together, in bytes. Default: `104_857_600` (100 MiB). */
  maxWidgetBytes?: number;
  /** All files of one account's widgets together, in bytes. Default: `524_288_000` (500 MiB). */
  maxAccountBytes?: number;
  /** Most files per widget. Default: `500`. */
  maxWidgetFiles?: number;
}

/**
 * Embeddings for a widget's texts, with the key its chat would use; resolves
 * `undefined` when the upstream has no embeddings endpoint (the widget then
 * searches by keywords alone).
 */
export type WidgetEmbedder = (widget: WidgetRecord, texts: readonly string[], signal?: AbortSignal) => Promise<EmbeddingsResult | undefined>;

/**
 * Embeddings made with a key already resolved (the key of the call a
 * question belongs to); `undefined` when the upstream has no embeddings endpoint.
 */
export type KeyEmbedder = (apiKey: string, texts: readonly string[], signal?: AbortSignal) => Promise<EmbeddingsResult | undefined>;

/**
 * What {@link KnowledgeService} is built from.
 *
 * @example
 * ```ts
 * const knowledge = new KnowledgeService({ store: knowledgeStore, extractor: new KnowledgeExtractor(), embed, logger });
 * ```
 */
export interface KnowledgeServiceOptions {
  store: KnowledgeStore;
  extractor: KnowledgeExtractor;
  /** Embeddings of passages and questions; without it, files are found by keywords only. */
  embed?: WidgetEmbedder;
  /** A question's embedding with the key of its call. Default: none (questions searched by keywords). */
  embedWithKey?: KeyEmbedder;
  limits?: KnowledgeLimits;
  logger: Logger;
  /** Meters embedding tokens (as input tokens of the widget). Default: none. */
  meter?: (widgetId: string, inputTokens: number) => void;
}

/**
 * One file to add to a widget's knowledge.
 */
export interface KnowledgeUpload {
  name: string;
  bytes: Uint8Array;
  /** The uploader's content type, used only when the name has no known extension. */
  contentType?: string;
  /** An `http:` or `https:` URL its citations link to. */
  sourceUrl?: string;
  /** A file of the widget this one replaces once it is ready. */
  replaces?: string;
}

const noEmbeddingsNote = 'The AI service has no embeddings endpoint: this file is found by its words only.';
// A live ingestion reports progress at least this often; a file silent for longer was left by a crash.
const staleAfterMs = 5 * 60_000;

/**
 * A widget's knowledge, end to end: uploads checked against the format and
 * size limits and queued; each file read off the main thread (the
 * extractor's workers), embedded with the widget's key, and stored with its
 * passages in one transaction, so a file is searchable whole or not at all;
 * a failure kept on the file with a reason for its owner. Searches go
 * through a {@link KnowledgeRetriever}.
 *
 * @example
 * ```ts
 * const { file } = await knowledge.add(widget, { name: 'faq.md', bytes });
 * await knowledge.idle();
 * const hits = await knowledge.search(widget, 'how do refunds work', 5);
 * ```
 */
export class KnowledgeService {
  readonly store: KnowledgeStore;
  readonly #extractor: KnowledgeExtractor;
  readonly #embed: WidgetEmbedder | undefined;
  readonly #embedWithKey: KeyEmbedder | undefined;
  readonly #limits: Required<KnowledgeLimits>;
  readonly #logger: Logger;
  readonly #meter: (widgetId: string, inputTokens: number) => void;
  readonly #retriever: KnowledgeRetriever;
  readonly #running = new Set<Promise<void>>();
  readonly #stop = new AbortController();

  constructor(options: KnowledgeServiceOptions) {
    this.store = options.store;
    this.#extractor = options.extractor;
    this.#embed = options.embed;
    this.#embedWithKey = options.embedWithKey;
    this.#logger = options.logger;
    this.#meter = options.meter ?? (() => {});
    this.#limits = {
      maxFileBytes: options.limits?.maxFileBytes ?? 10 * 1024 * 1024,
      maxWidgetBytes: options.limits?.maxWidgetBytes ?? 100 * 1024 * 1024,
      maxAccountBytes: options.limits?.maxAccountBytes ?? 500 * 1024 * 1024,
      maxWidgetFiles: options.limits?.maxWidgetFiles ?? 500,
    };
    this.#retriever = new KnowledgeRetriever(options.store);
  }

  /** The limits in force. */
  get limits(): Readonly<Required<KnowledgeLimits>> {
    return this.#limits;
  }

  /**
   * Checks an upload and queues it: `input_invalid` (415) for a type that is
   * not supported, `payload_too_large` (413) past a size limit, naming it.
   * The same content already in the widget's knowledge is not added again
   * (`duplicate: true`).
   */
  async add(widget: WidgetRecord, upload: KnowledgeUpload): Promise<AddedKnowledgeFile> {
    const format = formatFromName(upload.name, upload.contentType);
    if (!format) throw new KnowledgeFileError('unsupported_type', `This file type is not supported; upload ${supportedFormatList()}.`);
    const limits = this.#limits;
    if (upload.bytes.byteLength === 0) throw new AirlockError('input_invalid', 'The file is empty.');
    if (upload.bytes.byteLength > limits.maxFileBytes) {
      throw new AirlockError('payload_too_large', `This file is larger than ${megabytes(limits.maxFileBytes)} MB, the limit per file.`);
    }
    const [widgetTotals, accountTotals] = await Promise.all([this.store.totals(widget.id), this.store.accountTotals(widget.accountId)]);
    if (widgetTotals.files >= limits.maxWidgetFiles) {
      throw new AirlockError('payload_too_large', `This widget already has ${limits.maxWidgetFiles} files, the most it may have; remove one first.`);
    }
    if (widgetTotals.bytes + upload.bytes.byteLength > limits.maxWidgetBytes) {
      throw new AirlockError(
        'payload_too_large',
        `This widget's files would pass ${megabytes(limits.maxWidgetBytes)} MB, the limit per widget; remove some first.`,
      );
    }
    if (accountTotals.bytes + upload.bytes.byteLength > limits.maxAccountBytes) {
      throw new AirlockError(
        'payload_too_large',
        `This account's files would pass ${megabytes(limits.maxAccountBytes)} MB, the limit per account; remove some first.`,
      );
    }
    const sha256 = createHash('sha256').update(upload.bytes).digest('hex');
    const added = await this.store.addFile({
      widgetId: widget.id,
      name: upload.name,
      format,
      bytes: upload.bytes.byteLength,
      sha256,
      ...(upload.sourceUrl !== undefined && { sourceUrl: upload.sourceUrl }),
      ...(upload.replaces !== undefined && { replaces: upload.replaces }),
    });
    if (!added.duplicate) this.#track(this.#ingest(widget, added.file, upload));
    return added;
  }

  /** The widget's files, oldest first. */
  list(widgetId: string): Promise<KnowledgeFileRecord[]> {
    return this.store.listFiles(widgetId);
  }

  /** Removes a file with all its passages; `false` when the widget has no such file. */
  async remove(widgetId: string, fileId: string): Promise<boolean> {
    const removed = await this.store.removeFile(widgetId, fileId);
    this.#retriever.forget(widgetId);
    return removed;
  }

  /** The `top` passages for `question` among the widget's ready files, best first, with each retriever's rank and score. */
  search(widget: WidgetRecord, question: string, top: number, embed = this.#questionEmbedder(widget)): Promise<RetrievedPassage[]> {
    return this.#retriever.search(widget.id, question, { top, ...(embed && { embed }) });
  }

  /**
   * The embedding of a question with the key of the call it belongs to, its
   * tokens metered to the widget; `undefined` without embeddings.
   */
  async embedQuestion(widgetId: string, apiKey: string, text: string, signal?: AbortSignal): Promise<Float32Array | undefined> {
    if (!this.#embedWithKey) return undefined;
    const result = await this.#embedWithKey(apiKey, [text], signal);
    if (result) this.#meter(widgetId, result.promptTokens);
    return result?.vectors[0];
  }

  /** Resolves once every queued ingestion has ended (tests, a clean stop). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /**
   * Marks the files a crash left half read as failed, with a reason: run on
   * start. Files another instance is reading right now report progress more
   * often than the five minutes this waits for.
   */
  async recover(now = new Date()): Promise<KnowledgeFileRecord[]> {
    const released = await this.store.releaseStale(new Date(now.getTime() - staleAfterMs));
    if (released.length > 0) this.#logger.warn('knowledge files left unfinished by a stop were marked failed', { files: released.length });
    return released;
  }

  /** Stops the ingestions under way (their files are marked failed) and waits for them. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.idle();
  }

  #questionEmbedder(widget: WidgetRecord): ((text: string) => Promise<Float32Array | undefined>) | undefined {
    const embed = this.#embed;
    if (!embed) return undefined;
    return async (text) => {
      const result = await embed(widget, [text]);
      if (result) this.#meter(widget.id, result.promptTokens);
      return result?.vectors[0];
    };
  }

  #track(job: Promise<void>): void {
    this.#running.add(job);
    void job.finally(() => this.#running.delete(job));
  }

  async #ingest(widget: WidgetRecord, file: KnowledgeFileRecord, upload: KnowledgeUpload): Promise<void> {
    const signal = this.#stop.signal;
    let lastReport = 0;
    try {
      await this.store.updateFile(file.id, { status: 'processing', progress: 0 });
      const processed = await this.#extractor.process(
        { name: upload.name, bytes: upload.bytes, ...(upload.contentType !== undefined && { contentType: upload.contentType }) },
        {
          signal,
          // Reading is the first 80% of the work; embedding the rest.
          onProgress: (fraction) => {
            if (Date.now() - lastReport < 500) return;
            lastReport = Date.now();
            this.store.updateFile(file.id, { status: 'processing', progress: fraction * 0.8 }).catch(() => {});
          },
        },
      );
      let passages: KnowledgePassageInput[] = processed.passages;
      let embeddingModel: string | undefined;
      let vectorsNote: string | undefined;
      if (this.#embed && passages.length > 0) {
        try {
          const embedded = await this.#embed(
            widget,
            passages.map((passage) => passage.text),
            signal,
          );
          if (embedded) {
            passages = passages.map((passage, index) => ({ ...passage, vector: embedded.vectors[index]! }));
            embeddingModel = embedded.model;
            this.#meter(widget.id, embedded.promptTokens);
          } else {
            vectorsNote = noEmbeddingsNote;
          }
        } catch (error) {
          if (signal.aborted) throw error;
          // Found by its words meanwhile; the next upload of it embeds it again.
          vectorsNote = isEmbeddingsUnavailable(error)
            ? noEmbeddingsNote
            : 'The AI service could not embed this file: it is found by its words only. Upload it again to retry.';
          this.#logger.warn('knowledge file embedded without vectors', {
            widgetId: widget.id,
            fileId: file.id,
            reason: AirlockError.isInstance(error) ? error.code : 'upstream',
          });
        }
      }
      await this.store.replacePassages(file.id, passages, {
        ...(embeddingModel !== undefined && { embeddingModel }),
        ...(vectorsNote !== undefined && { vectorsNote }),
      });
      this.#retriever.forget(widget.id);
    } catch (error) {
      const reason = signal.aborted
        ? 'The server stopped while reading this file; upload it again.'
        : AirlockError.isInstance(error)
          ? error.message
          : 'This file could not be read.';
      // Only the error's kind: a parser's message may quote the file, whose text is the owner's and never logged.
      if (!AirlockError.isInstance(error))
        this.#logger.error('a knowledge file could not be read', {
          widgetId: widget.id,
          fileId: file.id,
          kind: error instanceof Error ? error.name : typeof error,
        });
      await this.store.updateFile(file.id, { status: 'failed', error: reason }).catch(() => {});
    }
  }
}

/**
 * A size in MiB as the limits' messages write it: `10`, `2.5`.
 *
 * @example
 * ```ts
 * megabytes(10 * 1024 * 1024); // '10'
 * ```
 */
export function megabytes(bytes: number): string {
  return (bytes / (1024 * 1024)).toLocaleString('en', { maximumFractionDigits: 1 });
}
