import { ExtractionProblem, KNOWLEDGE_FORMATS, type KnowledgeFileInput, type KnowledgeFormat } from './types.js';

const byExtension: Record<string, KnowledgeFormat> = {
  txt: 'txt',
  text: 'txt',
  md: 'md',
  markdown: 'md',
  html: 'html',
  htm: 'html',
  pdf: 'pdf',
  docx: 'docx',
  csv: 'csv',
  json: 'json',
};

const byContentType: Record<string, KnowledgeFormat> = {
  'text/plain': 'txt',
  'text/markdown': 'md',
  'text/x-markdown': 'md',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
  'application/pdf': 'pdf',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'text/csv': 'csv',
  'application/csv': 'csv',
  'application/json': 'json',
};

/**
 * The list of supported formats for messages: "`.txt`, `.md`, … or `.json`".
 *
 * @example
 * ```ts
 * `Upload ${supportedFormatList()}.`;
 * ```
 */
export function supportedFormatList(): string {
  const names = KNOWLEDGE_FORMATS.map((format) => `.${format}`);
  return `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

/**
 * The format a file's name (or, without a known extension, its declared
 * content type) says it has, before its bytes are looked at.
 *
 * @example
 * ```ts
 * formatFromName('Price list.CSV'); // 'csv'
 * formatFromName('notes', 'text/markdown; charset=utf-8'); // 'md'
 * formatFromName('report.doc'); // undefined
 * ```
 */
export function formatFromName(name: string, contentType?: string): KnowledgeFormat | undefined {
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
  if (extension) return Object.hasOwn(byExtension, extension) ? byExtension[extension] : undefined;
  const type = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  return Object.hasOwn(byContentType, type) ? byContentType[type] : undefined;
}

function startsWith(bytes: Uint8Array, signature: readonly number[], at = 0): boolean {
  if (bytes.length < at + signature.length) return false;
  return signature.every((byte, index) => bytes[at + index] === byte);
}

// Files whose first bytes say what they are, for messages that name what
// was uploaded instead of only what it is not.
const signatures: readonly { name: string; bytes: readonly number[] }[] = [
  { name: 'a PDF', bytes: [0x25, 0x50, 0x44, 0x46, 0x2d] },
  { name: 'a ZIP archive (such as a DOCX)', bytes: [0x50, 0x4b, 0x03, 0x04] },
  { name: 'an encrypted Office document or an old .doc file', bytes: [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1] },
  { name: 'a PNG image', bytes: [0x89, 0x50, 0x4e, 0x47] },
  { name: 'a JPEG image', bytes: [0xff, 0xd8, 0xff] },
  { name: 'a GIF image', bytes: [0x47, 0x49, 0x46, 0x38] },
  { name: 'a gzip archive', bytes: [0x1f, 0x8b] },
  { name: 'an RTF document', bytes: [0x7b, 0x5c, 0x72, 0x74, 0x66] },
];

function recognised(bytes: Uint8Array): string | undefined {
  return signatures.find((signature) => startsWith(bytes, signature.bytes))?.name;
}

// PDF readers accept the header anywhere in the first kilobyte (some
// generators put junk before it), so pdfjs does too.
function pdfHeaderOffset(bytes: Uint8Array): number {
  const end = Math.min(bytes.length - 5, 1024);
  for (let at = 0; at <= end; at += 1) if (startsWith(bytes, signatures[0]!.bytes, at)) return at;
  return -1;
}

function hasByteOrderMark(bytes: Uint8Array): boolean {
  return startsWith(bytes, [0xff, 0xfe]) || startsWith(bytes, [0xfe, 0xff]) || startsWith(bytes, [0xef, 0xbb, 0xbf]);
}

// Text has no NUL bytes and few control characters (UTF-16 with a byte-order
// mark is text too, and is decoded as such).
function looksBinary(bytes: Uint8Array): boolean {
  if (hasByteOrderMark(bytes) && !startsWith(bytes, [0xef, 0xbb, 0xbf])) return false;
  const sample = bytes.subarray(0, 8192);
  let control = 0;
  for (const byte of sample) {
    if (byte === 0) return true;
    if (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c) control += 1;
  }
  return control > sample.length / 100;
}

/**
 * The format of an uploaded file, from its name AND its bytes: the name
 * chooses the format, and the content must agree (a `.pdf` must be a PDF, a
 * `.docx` a ZIP archive, a text format must not be binary). Throws an
 * {@link ExtractionProblem} that says which rule the file broke.
 *
 * @example
 * ```ts
 * detectFormat({ name: 'manual.pdf', bytes }); // 'pdf', or throws 'content_mismatch'
 * ```
 */
export function detectFormat(file: KnowledgeFileInput): KnowledgeFormat {
  const format = formatFromName(file.name, file.contentType);
  if (!format) {
    throw new ExtractionProblem('unsupported_type', `This file type is not supported; upload ${supportedFormatList()}.`);
  }
  const { bytes } = file;
  const found = recognised(bytes);
  if (format === 'pdf') {
    if (pdfHeaderOffset(bytes) < 0) {
      throw new ExtractionProblem('content_mismatch', `This file is named .pdf but is ${found && found !== 'a PDF' ? found : 'not a PDF'}.`);
    }
    return format;
  }
  if (format === 'docx') {
    if (startsWith(bytes, signatures[2]!.bytes)) {
      throw new ExtractionProblem('encrypted', 'This Word document is password-protected or in the old .doc format; save it as .docx without a password.');
    }
    if (found !== 'a ZIP archive (such as a DOCX)') {
      throw new ExtractionProblem('content_mismatch', `This file is named .docx but is ${found ?? 'not a Word document'}.`);
    }
    return format;
  }
  if (found || looksBinary(bytes)) {
    throw new ExtractionProblem('content_mismatch', `This file is named .${format} but is ${found ?? 'binary data, not text'}.`);
  }
  return format;
}

/**
 * Decodes a text file: UTF-8 (a byte-order mark dropped), or UTF-16 when it
 * starts with a UTF-16 byte-order mark. Invalid UTF-8 is refused rather
 * than turned into replacement characters that would be indexed as text.
 *
 * @example
 * ```ts
 * decodeText(new TextEncoder().encode('héllo')); // 'héllo'
 * ```
 */
export function decodeText(bytes: Uint8Array): string {
  let encoding = 'utf-8';
  if (startsWith(bytes, [0xff, 0xfe])) encoding = 'utf-16le';
  else if (startsWith(bytes, [0xfe, 0xff])) encoding = 'utf-16be';
  try {
    // TextDecoder drops the byte-order mark itself (ignoreBOM: false).
    return new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch (error) {
    throw new ExtractionProblem('invalid_encoding', 'This file is not valid UTF-8 text; save it as UTF-8 and upload it again.', { cause: error });
  }
}
