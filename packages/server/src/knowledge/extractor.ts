import { Worker } from 'node:worker_threads';
import type { ChunkOptions, Passage } from './chunk.js';
import { KnowledgeFileError } from './knowledge-error.js';
import { resolveExtractionLimits, type ExtractionLimits, type KnowledgeFileInput } from './types.js';
import { extractionWorkerUrl } from './worker-location.js';
import type { ExtractionJob, ProcessedFile, SliceRequest, WorkerAnswer } from './worker-protocol.js';

/**
 * Options of {@link KnowledgeExtractor}.
 */
export interface KnowledgeExtractorOptions {
  /** Worker threads reading files at once. Default: `1` (extraction is CPU-bound; the server's requests keep the other cores). */
  workers?: number;
  /** Time budget for one file, from when its worker starts on it, in ms; past it the worker is stopped. Default: `60_000`. */
  timeoutMs?: number;
  /** Heap a worker may use, in MB (`resourceLimits.maxOldGenerationSizeMb`); past it the file fails with `out_of_memory`. Default: `512`. */
  maxMemoryMb?: number;
  /** Files that may wait for a worker; more fail at once with `overloaded`. Default: `64`. */
  maxQueued?: number;
  /** How long an idle worker is kept for the next file, in ms. Default: `30_000`. */
  idleTimeoutMs?: number;
  /** Limits on each file. Default: the defaults of {@link ExtractionLimits}. */
  limits?: ExtractionLimits;
  /** How passages are cut. Default: the defaults of {@link ChunkOptions}. */
  chunk?: Omit<ChunkOptions, 'fileName' | 'countTokens'>;
  /** Told about extractor faults (not refused files), with a detail that never quotes the file. Default: none. */
  onFault?: (detail: string) => void;
}

/**
 * Options of one {@link KnowledgeExtractor.process} call.
 *
 * @example
 * ```ts
 * await extractor.process(file, { onProgress: (fraction) => setStatus(fileId, 'processing', fraction) });
 * ```
 */
export interface ProcessOptions {
  /** Called with the share done, from 0 to 1, at most every 100 ms. Default: none. */
  onProgress?: (fraction: number) => void;
  /** Stops the file's extraction (its worker is stopped if it has started). Default: none. */
  signal?: AbortSignal;
}

interface Pending {
  job: ExtractionJob;
  passages: Passage[];
  options: ProcessOptions;
  resolve: (file: ProcessedFile) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  pending?: Pending;
  timer?: NodeJS.Timeout;
  idle?: NodeJS.Timeout;
}

// Stands in a starting worker's `pending` so no file is handed to it before it is ready.
const startingMarker = {} as Pending;

function megabytes(bytes: number): string {
  return (bytes / 1024 / 1024).toLocaleString('en-US');
}

/**
 * Reads knowledge files into passages in worker threads, so that parsing a
 * large or hostile file never stalls the server's event loop: each file
 * runs under a time budget and a heap limit, and a worker that exceeds
 * either (or crashes) is stopped and replaced, failing only that file.
 * Files beyond the free workers wait in a bounded queue.
 *
 * @example
 * ```ts
 * const extractor = new KnowledgeExtractor({ workers: 1 });
 * const { passages } = await extractor.process({ name: 'manual.pdf', bytes });
 * await extractor.close();
 * ```
 */
export class KnowledgeExtractor {
  readonly #workers: number;
  readonly #timeoutMs: number;
  readonly #maxMemoryMb: number;
  readonly #maxQueued: number;
  readonly #idleTimeoutMs: number;
  readonly #limits: ExtractionLimits;
  readonly #chunk: Omit<ChunkOptions, 'fileName' | 'countTokens'>;
  readonly #onFault: (detail: string) => void;
  readonly #slots = new Set<Slot>();
  readonly #queue: Pending[] = [];
  #nextId = 1;
  #starting = 0;
  #closed = false;

  constructor(options: KnowledgeExtractorOptions = {}) {
    this.#workers = Math.max(1, options.workers ?? 1);
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#maxMemoryMb = options.maxMemoryMb ?? 512;
    this.#maxQueued = options.maxQueued ?? 64;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    this.#limits = options.limits ?? {};
    this.#chunk = options.chunk ?? {};
    this.#onFault = options.onFault ?? (() => {});
  }

  /**
   * Reads one file into passages. Rejects with a {@link KnowledgeFileError}
   * whose `problem` says why a file was refused; its message is for the owner.
   */
  process(file: KnowledgeFileInput, options: ProcessOptions = {}): Promise<ProcessedFile> {
    if (this.#closed) return Promise.reject(new KnowledgeFileError('overloaded', 'The server is shutting down; upload the file again shortly.'));
    const { maxBytes } = resolveExtractionLimits(this.#limits);
    // Checked here too, so an oversized upload is never copied into a worker.
    if (file.bytes.length > maxBytes) {
      return Promise.reject(new KnowledgeFileError('too_large', `This file is larger than ${megabytes(maxBytes)} MB, the limit per file.`));
    }
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const waiting = this.#queue.length + [...this.#slots].filter((slot) => slot.pending).length;
    if (waiting >= this.#maxQueued + this.#workers) {
      return Promise.reject(new KnowledgeFileError('overloaded', 'Too many files are being read right now; try again in a moment.'));
    }
    // A copy the worker owns: the caller's bytes may be a view of a larger, shared buffer.
    // (Uint8Array's own slice: a Node Buffer's slice() is a view of its pool, whose whole buffer would be read and detached.)
    const bytes = Uint8Array.prototype.slice.call(file.bytes).buffer;
    const job: ExtractionJob = {
      id: this.#nextId++,
      name: file.name,
      ...(file.contentType === undefined ? {} : { contentType: file.contentType }),
      bytes,
      limits: this.#limits,
      chunk: this.#chunk,
    };
    const signal = options.signal;
    let onAbort: (() => void) | undefined;
    const result = new Promise<ProcessedFile>((resolve, reject) => {
      const pending: Pending = { job, passages: [], options, resolve, reject };
      onAbort = () => this.#abort(pending);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(pending);
      void this.#dispatch();
    });
    // A signal that outlives the file (a service's stop signal) keeps no listener per file read.
    if (!signal) return result;
    return result.finally(() => signal.removeEventListener('abort', onAbort!));
  }

  /** Stops every worker; files still waiting or being read fail with `overloaded`. */
  async close(): Promise<void> {
    this.#closed = true;
    const stopped = new KnowledgeFileError('overloaded', 'The server is shutting down; upload the file again shortly.');
    for (const pending of this.#queue.splice(0)) pending.reject(stopped);
    await Promise.all([...this.#slots].map((slot) => this.#retire(slot, stopped)));
  }

  #abort(pending: Pending): void {
    const queued = this.#queue.indexOf(pending);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      pending.reject(pending.options.signal?.reason);
      return;
    }
    const slot = [...this.#slots].find((candidate) => candidate.pending === pending);
    if (slot) void this.#retire(slot, pending.options.signal?.reason);
  }

  async #dispatch(): Promise<void> {
    while (this.#queue.length > 0) {
      let slot = [...this.#slots].find((candidate) => !candidate.pending);
      if (!slot) {
        if (this.#slots.size + this.#starting >= this.#workers) return;
        slot = await this.#start();
        if (!slot) return;
        // Another dispatch may have handed it a file during the await.
        if (slot.pending) continue;
      }
      const pending = this.#queue.shift();
      if (!pending) return;
      this.#run(slot, pending);
    }
  }

  async #start(): Promise<Slot | undefined> {
    const starting = startingMarker;
    // Counted before the await, so two dispatches do not both start the last worker.
    this.#starting += 1;
    let url: URL;
    try {
      url = await extractionWorkerUrl();
    } catch (error) {
      for (const pending of this.#queue.splice(0)) pending.reject(error);
      return undefined;
    } finally {
      this.#starting -= 1;
    }
    if (this.#closed) return undefined;
    const worker = new Worker(url, {
      resourceLimits: { maxOldGenerationSizeMb: this.#maxMemoryMb, maxYoungGenerationSizeMb: Math.min(64, this.#maxMemoryMb / 4), stackSizeMb: 4 },
      stdout: false,
      stderr: false,
    });
    const slot: Slot = { worker, pending: starting };
    this.#slots.add(slot);
    // A worker takes files only once it has loaded (its start is not part of any file's time budget).
    const ready = new Promise<boolean>((resolve) => {
      const settle = (value: boolean) => {
        worker.off('message', onReady);
        resolve(value);
      };
      const onReady = (answer: WorkerAnswer) => {
        if (answer.type === 'ready') settle(true);
      };
      worker.on('message', onReady);
      worker.once('exit', () => settle(false));
    });
    worker.on('message', (answer: WorkerAnswer) => this.#answer(slot, answer));
    worker.on('error', (error: Error & { code?: string }) => {
      const failure =
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new KnowledgeFileError('out_of_memory', 'This file needs more memory to read than the server allows; split it into smaller files.', {
              cause: error,
            })
          : this.#fault(`worker error: ${error.name}${error.code ? ` ${error.code}` : ''}`, error);
      void this.#retire(slot, failure);
    });
    worker.on('exit', () => {
      if (this.#slots.has(slot)) void this.#retire(slot, this.#fault('worker exited', undefined));
    });
    if (!(await ready) || !this.#slots.has(slot)) {
      this.#slots.delete(slot);
      for (const pending of this.#queue.splice(0)) pending.reject(this.#fault('worker failed to start', undefined));
      return undefined;
    }
    slot.pending = undefined;
    return slot;
  }

  #run(slot: Slot, pending: Pending): void {
    clearTimeout(slot.idle);
    slot.worker.ref();
    slot.pending = pending;
    slot.timer = setTimeout(() => {
      const budget = this.#timeoutMs < 1_000 ? `${this.#timeoutMs} ms` : `${Math.round(this.#timeoutMs / 1000).toLocaleString('en-US')} s`;
      void this.#retire(slot, new KnowledgeFileError('timeout', `This file took longer than ${budget} to read; split it into smaller files.`));
    }, this.#timeoutMs);
    slot.worker.postMessage(pending.job, [pending.job.bytes]);
  }

  #answer(slot: Slot, answer: WorkerAnswer): void {
    const pending = slot.pending;
    if (answer.type === 'ready' || !pending || pending === startingMarker || answer.id !== pending.job.id) return;
    if (answer.type === 'progress') {
      pending.options.onProgress?.(answer.fraction);
      return;
    }
    if (answer.type === 'passages') {
      for (const passage of answer.passages) pending.passages.push(passage);
      // Asked for after this turn of the event loop, so timers and sockets run between slices.
      setImmediate(() => {
        if (slot.pending === pending) slot.worker.postMessage({ id: pending.job.id, more: true } satisfies SliceRequest);
      });
      return;
    }
    clearTimeout(slot.timer);
    slot.pending = undefined;
    if (answer.type === 'done') {
      pending.options.onProgress?.(1);
      pending.resolve({ ...answer.file, passages: pending.passages });
    } else if ('problem' in answer) {
      pending.reject(new KnowledgeFileError(answer.problem, answer.message));
    } else {
      pending.reject(this.#fault(answer.detail, undefined));
    }
    this.#idle(slot);
    void this.#dispatch();
  }

  #idle(slot: Slot): void {
    // An idle worker does not keep the process alive, and goes after a while.
    slot.worker.unref();
    slot.idle = setTimeout(() => void this.#retire(slot), this.#idleTimeoutMs);
    slot.idle.unref();
  }

  #fault(detail: string, cause: unknown): KnowledgeFileError {
    this.#onFault(detail);
    return new KnowledgeFileError('corrupt', 'This file could not be read; check that it opens in its usual program, or save it again.', { cause });
  }

  async #retire(slot: Slot, failure?: unknown): Promise<void> {
    if (!this.#slots.delete(slot)) return;
    clearTimeout(slot.timer);
    clearTimeout(slot.idle);
    const pending = slot.pending;
    slot.pending = undefined;
    if (pending && pending !== startingMarker) pending.reject(failure);
    await slot.worker.terminate();
    if (!this.#closed) void this.#dispatch();
  }
}
