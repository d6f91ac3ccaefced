import type { Passage, ChunkOptions } from './chunk.js';
import type { ExtractionLimits, KnowledgeFileProblem, KnowledgeFormat } from './types.js';

/**
 * What the main thread sends the extraction worker: one file to read.
 *
 * @example
 * ```ts
 * worker.postMessage({ id: 1, name: 'a.txt', bytes, limits: {}, chunk: {} } satisfies ExtractionJob, [bytes]);
 * ```
 */
export interface ExtractionJob {
  id: number;
  name: string;
  contentType?: string;
  /** The file's bytes, transferred to the worker. */
  bytes: ArrayBuffer;
  limits: ExtractionLimits;
  chunk: Omit<ChunkOptions, 'fileName' | 'countTokens'>;
}

/**
 * The main thread's request for the next slice of a job's passages.
 *
 * @example
 * ```ts
 * worker.postMessage({ id: 1, more: true } satisfies SliceRequest);
 * ```
 */
export interface SliceRequest {
  id: number;
  more: true;
}

/**
 * A file read into passages, with what was learnt on the way.
 *
 * @example
 * ```ts
 * const { passages, warnings } = await extractor.process(file);
 * ```
 */
export interface ProcessedFile {
  format: KnowledgeFormat;
  passages: Passage[];
  /** Characters of text extracted. */
  characters: number;
  /** Tokens of all passages together. */
  tokens: number;
  /** Pages of a PDF. */
  pages?: number;
  /** What the owner should know although the file was read (pages without text). */
  warnings: string[];
}

/**
 * What the extraction worker answers, for one job.
 */
export type WorkerAnswer =
  | { id: 0; type: 'ready' }
  | { id: number; type: 'progress'; fraction: number }
  /** Some of the file's passages, in order; the rest follow in later messages. */
  | { id: number; type: 'passages'; passages: Passage[] }
  /** The end: `file.passages` is empty, the passages having come before. */
  | { id: number; type: 'done'; file: ProcessedFile }
  | { id: number; type: 'failed'; problem: KnowledgeFileProblem; message: string }
  | { id: number; type: 'failed'; detail: string };
