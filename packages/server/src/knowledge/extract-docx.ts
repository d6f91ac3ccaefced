import { inflateRawSync } from 'node:zlib';
import type { BlockCollector } from './blocks.js';
import { extractHtml } from './extract-html.js';
import { ExtractionProblem, importReader, type ResolvedExtractionLimits } from './types.js';

const endOfDirectory = 0x06054b50;
const directoryEntry = 0x02014b50;
const localHeader = 0x04034b50;

function corrupt(message = 'This Word document is damaged and could not be read.'): ExtractionProblem {
  return new ExtractionProblem('corrupt', message);
}

function findEndOfDirectory(view: DataView): number {
  // The end record is 22 bytes plus a comment of at most 65,535.
  const lowest = Math.max(0, view.byteLength - 22 - 65_535);
  for (let at = view.byteLength - 22; at >= lowest; at -= 1) if (view.getUint32(at, true) === endOfDirectory) return at;
  throw corrupt();
}

/**
 * Reads a DOCX's ZIP directory and inflates every part, with the total
 * unpacked size capped as it is inflated (zlib's `maxOutputLength`), so a
 * zip bomb stops at the cap instead of filling memory. The sizes the
 * archive declares are not trusted: jszip (inside mammoth) would inflate
 * whatever a part really holds, so it is measured here first. Returns the
 * names of the parts.
 *
 * @example
 * ```ts
 * const parts = inspectDocxArchive(bytes, resolveExtractionLimits()); // ['[Content_Types].xml', 'word/document.xml', …]
 * ```
 */
export function inspectDocxArchive(bytes: Uint8Array, limits: ResolvedExtractionLimits): string[] {
  if (bytes.length < 22) throw corrupt();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = findEndOfDirectory(view);
  const count = view.getUint16(end + 10, true);
  const directoryOffset = view.getUint32(end + 16, true);
  if (count === 0xffff || directoryOffset === 0xffffffff) {
    // ZIP64, which no DOCX within the size limit needs.
    throw corrupt('This Word document uses a ZIP format Airlock does not read (ZIP64).');
  }
  if (count > limits.maxArchiveEntries) {
    throw new ExtractionProblem(
      'too_large',
      `This Word document has ${count.toLocaleString('en-US')} parts; at most ${limits.maxArchiveEntries.toLocaleString('en-US')} are read.`,
    );
  }
  const names: string[] = [];
  const decoder = new TextDecoder();
  let remaining = limits.maxUncompressedBytes;
  let at = directoryOffset;
  for (let index = 0; index < count; index += 1) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== directoryEntry) throw corrupt();
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const compressedSize = view.getUint32(at + 20, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const offset = view.getUint32(at + 42, true);
    names.push(decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength)));
    at += 46 + nameLength + extraLength + commentLength;

    if (flags & 1) throw new ExtractionProblem('encrypted', 'This Word document is password-protected; save it without a password and upload it again.');
    if (offset + 30 > bytes.length || view.getUint32(offset, true) !== localHeader) throw corrupt();
    const start = offset + 30 + view.getUint16(offset + 26, true) + view.getUint16(offset + 28, true);
    if (start + compressedSize > bytes.length) throw corrupt();
    let size: number;
    if (method === 0) {
      size = compressedSize;
    } else if (method === 8) {
      try {
        size = inflateRawSync(bytes.subarray(start, start + compressedSize), { maxOutputLength: Math.max(1, remaining) }).length;
      } catch (error) {
        if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') size = remaining + 1;
        else throw corrupt();
      }
    } else {
      throw corrupt('This Word document uses a compression method Word does not use.');
    }
    remaining -= size;
    if (remaining < 0) {
      throw new ExtractionProblem(
        'too_large',
        `This Word document unpacks to more than ${(limits.maxUncompressedBytes / 1024 / 1024).toLocaleString('en-US')} MB (it may be a zip bomb); it was not read.`,
      );
    }
  }
  return names;
}

/**
 * A DOCX through mammoth, which turns Word's styles into HTML (Heading 1 to
 * `h1`, tables to `table`, lists to `ul`/`ol`), read by the same HTML walker
 * as `.html` files so headings and table rows survive. Images are not
 * converted (mammoth would inline them as base64). The archive is checked
 * by {@link inspectDocxArchive} first.
 *
 * @example
 * ```ts
 * await extractDocx(bytes, collector);
 * ```
 */
export async function extractDocx(bytes: Uint8Array, collector: BlockCollector): Promise<void> {
  const names = inspectDocxArchive(bytes, collector.limits);
  if (!names.includes('word/document.xml')) {
    throw new ExtractionProblem('content_mismatch', 'This file is named .docx but is a ZIP archive without a Word document in it.');
  }
  // mammoth is an optional peer dependency: most deployments never read a DOCX.
  const mammoth = (await importReader(() => import('mammoth'), 'Word (.docx)', 'mammoth@^1')).default;
  let html: string;
  try {
    const result = await mammoth.convertToHtml(
      { buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) },
      { convertImage: mammoth.images.imgElement(() => Promise.resolve({ src: '' })) },
    );
    html = result.value;
  } catch (error) {
    throw new ExtractionProblem('corrupt', 'This Word document is damaged and could not be read.', { cause: error });
  }
  extractHtml(html, collector);
}
