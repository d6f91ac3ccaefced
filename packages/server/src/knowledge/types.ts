/**
 * The formats a knowledge file may have, named by their usual extension.
 */
export type KnowledgeFormat = 'txt' | 'md' | 'html' | 'pdf' | 'docx' | 'csv' | 'json';

/**
 * Every supported format, in the order the documentation and error messages list them.
 *
 * @example
 * ```ts
 * KNOWLEDGE_FORMATS.includes('docx'); // true
 * ```
 */
export const KNOWLEDGE_FORMATS: readonly KnowledgeFormat[] = ['txt', 'md', 'html', 'pdf', 'docx', 'csv', 'json'];

/**
 * What a block of extracted text is. A `row` is one table row (a CSV record,
 * an HTML, Word or Markdown table row, or one object of a JSON array) written
 * as `column: value; column: value`, so that it still makes sense alone.
 */
export type BlockKind = 'heading' | 'paragraph' | 'list-item' | 'code' | 'row';

/**
 * One structural piece of a file's text, with where it was found.
 */
export interface TextBlock {
  kind: BlockKind;
  /** The text, whitespace normalised (kept as it is in `code`). */
  text: string;
  /** The headings that enclose the block, outermost first; for a `heading`, the headings above it. */
  headingPath: readonly string[];
  /** A heading's level, 1 to 6. */
  level?: number;
  /** The PDF page the block is on, from 1. */
  page?: number;
  /** A row's number among its table's data rows, from 1 (the header row is not counted). */
  row?: number;
  /** Which table of the file a row belongs to, from 0, so rows of two tables never share a range. */
  table?: number;
}

/**
 * The limits under which one file is extracted. A file past any of them
 * fails with a {@link KnowledgeFileError} that names the limit.
 */
export interface ExtractionLimits {
  /** Largest file accepted, in bytes. Default: `10_485_760` (10 MiB). */
  maxBytes?: number;
  /** Most pages read from a PDF. Default: `2_000`. */
  maxPages?: number;
  /** Most table rows in one file (CSV records, table rows, objects of JSON arrays). Default: `100_000`. */
  maxRows?: number;
  /** Most columns of a CSV file or table. Default: `1_000`. */
  maxColumns?: number;
  /** Longest row, in characters of its `column: value` text. Default: `20_000`. */
  maxRowCharacters?: number;
  /** Most characters of text extracted from one file (a CSV's text is about twice its size: every value is labelled). Default: `20_000_000`. */
  maxCharacters?: number;
  /** Deepest nesting of a JSON value. Default: `64`. */
  maxDepth?: number;
  /**
   * Deepest nesting of elements in an HTML document (as browsers cap it;
   * elements that close themselves, such as `p` and `li`, are not counted).
   * HTML parsing slows down with the square of its depth. Default: `512`.
   */
  maxHtmlDepth?: number;
  /** Most bytes a DOCX may unpack to, all its parts together. Default: `67_108_864` (64 MiB). */
  maxUncompressedBytes?: number;
  /** Most parts inside a DOCX. Default: `5_000`. */
  maxArchiveEntries?: number;
}

/**
 * {@link ExtractionLimits} with defaults applied.
 */
export type ResolvedExtractionLimits = Required<ExtractionLimits>;

/**
 * Applies the defaults of {@link ExtractionLimits}.
 *
 * @example
 * ```ts
 * resolveExtractionLimits({ maxPages: 10 }).maxBytes; // 10485760
 * ```
 */
export function resolveExtractionLimits(limits: ExtractionLimits = {}): ResolvedExtractionLimits {
  return {
    maxBytes: limits.maxBytes ?? 10 * 1024 * 1024,
    maxPages: limits.maxPages ?? 2_000,
    maxRows: limits.maxRows ?? 100_000,
    maxColumns: limits.maxColumns ?? 1_000,
    maxRowCharacters: limits.maxRowCharacters ?? 20_000,
    maxCharacters: limits.maxCharacters ?? 20_000_000,
    maxDepth: limits.maxDepth ?? 64,
    maxHtmlDepth: limits.maxHtmlDepth ?? 512,
    maxUncompressedBytes: limits.maxUncompressedBytes ?? 64 * 1024 * 1024,
    maxArchiveEntries: limits.maxArchiveEntries ?? 5_000,
  };
}

/**
 * One file handed to extraction, as it was uploaded.
 */
export interface KnowledgeFileInput {
  /** The file's name; its extension chooses the format. */
  name: string;
  /** The content type the uploader declared; used only when the name has no known extension. Default: none. */
  contentType?: string;
  bytes: Uint8Array;
}

/**
 * Why a file could not be used, as a stable value a store can keep beside the
 * file's status (the message says the same for a person).
 *
 * - `unsupported_type`: not one of {@link KNOWLEDGE_FORMATS}.
 * - `too_large`: past `maxBytes`, or its text, pages, rows or unpacked size past their limit.
 * - `content_mismatch`: its content is not what its name says (a `.pdf` that is not a PDF, a binary `.txt`).
 * - `invalid_encoding`: text that is not valid UTF-8 (or UTF-16 with a byte-order mark).
 * - `corrupt`: damaged or malformed (a truncated PDF, invalid JSON, a ragged CSV).
 * - `encrypted`: protected by a password.
 * - `no_text`: no text to extract (a scanned PDF, which would need OCR).
 * - `timeout`: extraction took longer than its time budget.
 * - `out_of_memory`: extraction needed more memory than its worker may use.
 * - `overloaded`: too many files waiting for extraction.
 */
export type KnowledgeFileProblem =
  'unsupported_type' | 'too_large' | 'content_mismatch' | 'invalid_encoding' | 'corrupt' | 'encrypted' | 'no_text' | 'timeout' | 'out_of_memory' | 'overloaded';

const problemBrand = Symbol.for('airlock.server.extraction-problem');

/**
 * A file that extraction refused, thrown inside the extraction worker and
 * carried to the main thread as `{problem, message}`. Plain (not an
 * `AirlockError`) so the worker's code needs nothing outside this folder;
 * the main thread turns it into a {@link KnowledgeFileError}.
 *
 * @example
 * ```ts
 * throw new ExtractionProblem('no_text', 'This PDF has no text layer.');
 * ```
 */
export class ExtractionProblem extends Error {
  readonly [problemBrand] = true;
  override readonly name = 'ExtractionProblem';

  constructor(
    readonly problem: KnowledgeFileProblem,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }

  /** True for an `ExtractionProblem` from any copy of this module. */
  static isInstance(value: unknown): value is ExtractionProblem {
    return typeof value === 'object' && value !== null && problemBrand in value;
  }
}

/**
 * Imports a library that reads one format (pdfjs-dist, mammoth: optional
 * peer dependencies), which a server may leave out: without it, files of
 * that format are refused as an unsupported type, with a message that says
 * what to install. An {@link ExtractionProblem} rather than the server's
 * optional-dependency error, because it is thrown inside the extraction
 * worker, whose code needs nothing outside this folder, and it is the
 * file's status the owner reads.
 *
 * @example
 * ```ts
 * const pdfjs = await importReader(() => import('pdfjs-dist/legacy/build/pdf.mjs'), 'PDF', 'pdfjs-dist@^5');
 * ```
 */
export async function importReader<T>(load: () => Promise<T>, format: string, install: string): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
    throw new ExtractionProblem(
      'unsupported_type',
      `This server cannot read ${format} files: its operator needs to install ${install.split('@')[0]} (npm install ${install}).`,
      { cause: error },
    );
  }
}
