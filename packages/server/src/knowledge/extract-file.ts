import { BlockCollector } from './blocks.js';
import { decodeText, detectFormat } from './detect.js';
import { extractCsv, extractJson } from './extract-data.js';
import { extractDocx } from './extract-docx.js';
import { extractHtml } from './extract-html.js';
import { extractPdf } from './extract-pdf.js';
import { extractMarkdown, extractPlainText } from './extract-text.js';
import { ExtractionProblem, resolveExtractionLimits, type ExtractionLimits, type KnowledgeFileInput, type KnowledgeFormat, type TextBlock } from './types.js';

/**
 * A file's text as blocks, with what was learnt on the way.
 *
 * @example
 * ```ts
 * const { format, blocks, warnings } = await extractBlocks(file);
 * ```
 */
export interface ExtractedFile {
  format: KnowledgeFormat;
  blocks: TextBlock[];
  /** Characters of text in the blocks. */
  characters: number;
  /** Pages of a PDF. */
  pages?: number;
  /** What the owner should know although the file was read (pages without text). */
  warnings: string[];
}

/**
 * Turns one uploaded file into {@link TextBlock}s, on the calling thread:
 * checks its size and format ({@link detectFormat}), then reads it with the
 * extractor for its format under `limits`. Throws an
 * {@link ExtractionProblem} for a file it refuses. This is the worker's
 * work: call {@link KnowledgeExtractor} from a server, which runs it off the
 * main thread under a time and memory limit.
 *
 * @example
 * ```ts
 * const { blocks } = await extractBlocks({ name: 'faq.md', bytes: new TextEncoder().encode('# FAQ\n\nYes.') });
 * ```
 */
export async function extractBlocks(
  file: KnowledgeFileInput,
  limits: ExtractionLimits = {},
  onProgress: (fraction: number) => void = () => {},
): Promise<ExtractedFile> {
  const resolved = resolveExtractionLimits(limits);
  if (file.bytes.length > resolved.maxBytes) {
    throw new ExtractionProblem('too_large', `This file is larger than ${(resolved.maxBytes / 1024 / 1024).toLocaleString('en-US')} MB, the limit per file.`);
  }
  if (file.bytes.length === 0) throw new ExtractionProblem('no_text', 'This file is empty.');
  const format = detectFormat(file);
  const collector = new BlockCollector(resolved);
  let warnings: string[] = [];
  let pages: number | undefined;
  switch (format) {
    case 'txt':
      extractPlainText(decodeText(file.bytes), collector);
      break;
    case 'md':
      extractMarkdown(decodeText(file.bytes), collector);
      break;
    case 'html':
      extractHtml(decodeText(file.bytes), collector);
      break;
    case 'csv':
      extractCsv(decodeText(file.bytes), collector);
      break;
    case 'json':
      extractJson(decodeText(file.bytes), collector);
      break;
    case 'docx':
      await extractDocx(file.bytes, collector);
      break;
    case 'pdf':
      warnings = await extractPdf(file.bytes, collector, (done, total) => {
        pages = total;
        onProgress(done / total);
      });
      break;
  }
  if (!collector.blocks.some((block) => block.kind !== 'heading')) {
    throw new ExtractionProblem('no_text', 'This file has no text to answer from.');
  }
  return { format, blocks: collector.blocks, characters: collector.characters, ...(pages === undefined ? {} : { pages }), warnings };
}
