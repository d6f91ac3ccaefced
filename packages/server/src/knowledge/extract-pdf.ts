import { normalizeSpace, type BlockCollector } from './blocks.js';
import { ExtractionProblem, importReader } from './types.js';

interface Line {
  text: string;
  /** Font height of its largest run, in PDF units. */
  height: number;
  /** Baseline position from the page's bottom. */
  y: number;
}

interface TextRun {
  str: string;
  hasEOL: boolean;
  transform: number[];
  height: number;
}

function isRun(item: unknown): item is TextRun {
  return typeof item === 'object' && item !== null && 'str' in item;
}

function pageLines(items: readonly unknown[]): Line[] {
  const lines: Line[] = [];
  let parts: string[] = [];
  let height = 0;
  let y = Number.NaN;
  const end = () => {
    const text = normalizeSpace(parts.join(''));
    if (text) lines.push({ text, height, y });
    parts = [];
    height = 0;
    y = Number.NaN;
  };
  for (const item of items) {
    if (!isRun(item)) continue;
    const baseline = item.transform[5] ?? 0;
    // A run lower (or higher) on the page than the line so far starts a new line even without an end-of-line mark.
    if (parts.length > 0 && Math.abs(baseline - y) > Math.max(height, item.height, 1) * 0.5) end();
    if (Number.isNaN(y)) y = baseline;
    parts.push(item.str);
    height = Math.max(height, item.height);
    if (item.hasEOL) end();
  }
  end();
  return lines;
}

// The body text's font height: the height most characters are set in.
function bodyHeight(pages: readonly Line[][]): number {
  const characters = new Map<number, number>();
  for (const lines of pages) {
    for (const line of lines) {
      const key = Math.round(line.height * 2) / 2;
      characters.set(key, (characters.get(key) ?? 0) + line.text.length);
    }
  }
  let best = 0;
  let most = -1;
  for (const [height, count] of characters) if (count > most) [best, most] = [height, count];
  return best;
}

function pageRanges(pages: readonly number[]): string {
  const ranges: string[] = [];
  for (let index = 0; index < pages.length; index += 1) {
    const start = pages[index]!;
    while (pages[index + 1] === pages[index]! + 1) index += 1;
    ranges.push(start === pages[index] ? `${start}` : `${start}–${pages[index]}`);
  }
  return ranges.join(', ');
}

function pdfProblem(error: unknown): ExtractionProblem {
  const name = typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : '';
  if (name === 'PasswordException') {
    return new ExtractionProblem('encrypted', 'This PDF is password-protected; upload a copy without a password.', { cause: error });
  }
  return new ExtractionProblem('corrupt', 'This PDF is damaged or not a valid PDF, and could not be read.', { cause: error });
}

/**
 * A PDF through pdfjs-dist's legacy build (the one that runs on Node 20):
 * each page's text layer in reading order, lines grouped into paragraphs by
 * the gaps between them, and lines set clearly larger than the body text
 * (short, not ending a sentence) read as headings. Every block carries its
 * page. A PDF without any text layer, such as a scan, fails with `no_text`
 * (OCR is not supported); pages without text in an otherwise readable PDF
 * are named in the returned warnings.
 *
 * @example
 * ```ts
 * const warnings = await extractPdf(bytes, collector, (done, total) => report(done / total));
 * ```
 */
export async function extractPdf(bytes: Uint8Array, collector: BlockCollector, onPage: (done: number, total: number) => void = () => {}): Promise<string[]> {
  // pdfjs-dist is an optional peer dependency: most deployments never read a PDF.
  const pdfjs = await importReader(() => import('pdfjs-dist/legacy/build/pdf.mjs'), 'PDF', 'pdfjs-dist@^5');
  const task = pdfjs.getDocument({
    // A plain copy: pdfjs refuses Node Buffers, and may take the array over.
    data: new Uint8Array(bytes),
    // Only the text layer is read: no fonts loaded, no code evaluated, errors only in the log.
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    verbosity: 0,
  });
  let document: Awaited<typeof task.promise>;
  try {
    document = await task.promise;
  } catch (error) {
    await task.destroy();
    throw pdfProblem(error);
  }
  try {
    const total = document.numPages;
    if (total > collector.limits.maxPages) {
      throw new ExtractionProblem(
        'too_large',
        `This PDF has ${total.toLocaleString('en-US')} pages; at most ${collector.limits.maxPages.toLocaleString('en-US')} are read. Split it into smaller files.`,
      );
    }
    const pages: Line[][] = [];
    for (let number = 1; number <= total; number += 1) {
      let lines: Line[];
      try {
        const page = await document.getPage(number);
        lines = pageLines((await page.getTextContent()).items);
        page.cleanup();
      } catch (error) {
        throw ExtractionProblem.isInstance(error) ? error : pdfProblem(error);
      }
      pages.push(lines);
      onPage(number, total);
    }
    const empty = pages.flatMap((lines, index) => (lines.length === 0 ? [index + 1] : []));
    if (empty.length === total) {
      throw new ExtractionProblem(
        'no_text',
        'This PDF has no text layer (it looks like a scan); text recognition (OCR) is not supported, so upload a PDF with selectable text.',
      );
    }
    const body = bodyHeight(pages);
    pages.forEach((lines, index) => {
      collector.page = index + 1;
      let paragraph: string[] = [];
      let previous: Line | undefined;
      const flush = () => {
        collector.text(paragraph.join(' '));
        paragraph = [];
      };
      for (const line of lines) {
        const ratio = body > 0 ? line.height / body : 1;
        if (ratio >= 1.25 && line.text.length <= 150 && !/[.:;,]$/.test(line.text)) {
          flush();
          collector.heading(line.text, ratio >= 1.6 ? 1 : 2);
          previous = undefined;
          continue;
        }
        const gap = previous ? Math.abs(previous.y - line.y) : 0;
        if (previous && gap > Math.max(previous.height, line.height) * 1.8) flush();
        paragraph.push(line.text);
        previous = line;
      }
      flush();
    });
    collector.page = undefined;
    if (empty.length === 0) return [];
    const [noun, verb] = empty.length === 1 ? ['Page', 'has'] : ['Pages', 'have'];
    return [`${noun} ${pageRanges(empty)} of this PDF ${verb} no text (scanned pages need OCR, which is not supported).`];
  } finally {
    await document.destroy();
  }
}
