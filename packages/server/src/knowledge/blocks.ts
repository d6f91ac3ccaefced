import { ExtractionProblem, type BlockKind, type ResolvedExtractionLimits, type TextBlock } from './types.js';

/**
 * Collapses runs of whitespace (including non-breaking spaces and line
 * breaks) to one space and trims.
 *
 * @example
 * ```ts
 * normalizeSpace('  Price:\n\t 20 € '); // 'Price: 20 €'
 * ```
 */
export function normalizeSpace(text: string): string {
  return text.replace(/[\s\u00a0\u200b]+/g, ' ').trim();
}

/**
 * One table row as text that makes sense alone: `column: value; column: value`,
 * empty cells left out. Without a header the cells are joined with `; `.
 *
 * @example
 * ```ts
 * rowText(['Plan', 'Price'], ['Pro', '$20']); // 'Plan: Pro; Price: $20'
 * ```
 */
export function rowText(headers: readonly string[] | undefined, cells: readonly string[]): string {
  const parts: string[] = [];
  cells.forEach((cell, index) => {
    const value = normalizeSpace(cell);
    if (!value) return;
    if (!headers) {
      parts.push(value);
      return;
    }
    const header = normalizeSpace(headers[index] ?? '') || `Column ${index + 1}`;
    parts.push(`${header}: ${value}`);
  });
  return parts.join('; ');
}

function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

/**
 * Builds a file's blocks while keeping the heading path and enforcing the
 * limits on characters, rows and row length, so every format's extractor
 * stops at the same caps with the same messages.
 *
 * @example
 * ```ts
 * const collector = new BlockCollector(resolveExtractionLimits());
 * collector.heading('Prices', 1);
 * collector.text('Prices include VAT.');
 * collector.blocks; // [{ kind: 'heading', … }, { kind: 'paragraph', headingPath: ['Prices'], … }]
 * ```
 */
export class BlockCollector {
  readonly blocks: TextBlock[] = [];
  /** The PDF page being read, stamped on every block added meanwhile. */
  page: number | undefined;
  #characters = 0;
  #rows = 0;
  #tables = 0;
  #headings: { level: number; text: string }[] = [];

  constructor(readonly limits: ResolvedExtractionLimits) {}

  /** The headings that enclose the next block, outermost first. */
  get headingPath(): string[] {
    return this.#headings.map((heading) => heading.text);
  }

  /** Characters of text collected so far. */
  get characters(): number {
    return this.#characters;
  }

  #count(text: string): void {
    this.#characters += text.length;
    if (this.#characters > this.limits.maxCharacters) {
      throw new ExtractionProblem(
        'too_large',
        `This file has more than ${formatCount(this.limits.maxCharacters)} characters of text; split it into smaller files.`,
      );
    }
  }

  #push(block: TextBlock): void {
    if (this.page !== undefined) block.page = this.page;
    this.blocks.push(block);
  }

  /** A heading of `level` (1 to 6): it closes the headings of its level and below. */
  heading(text: string, level: number): void {
    const clean = normalizeSpace(text);
    if (!clean) return;
    this.#count(clean);
    while (this.#headings.length > 0 && this.#headings.at(-1)!.level >= level) this.#headings.pop();
    this.#push({ kind: 'heading', text: clean, level, headingPath: this.headingPath });
    this.#headings.push({ level, text: clean });
  }

  /** A paragraph, list item or code block; empty text is skipped. */
  text(text: string, kind: Exclude<BlockKind, 'heading' | 'row'> = 'paragraph'): void {
    const clean = kind === 'code' ? text.replace(/^\n+|\s+$/g, '') : normalizeSpace(text);
    if (!clean) return;
    this.#count(clean);
    this.#push({ kind, text: clean, headingPath: this.headingPath });
  }

  /** Starts a new table and returns its number, for its rows. */
  table(): number {
    const table = this.#tables;
    this.#tables += 1;
    return table;
  }

  /** Checks a table's width against `maxColumns`. */
  columns(count: number): void {
    if (count > this.limits.maxColumns) {
      throw new ExtractionProblem(
        'too_large',
        `A table in this file has ${formatCount(count)} columns; at most ${formatCount(this.limits.maxColumns)} are supported.`,
      );
    }
  }

  /** One data row of `table`, numbered from 1 within it; a table's `caption` ends the heading path of its rows. */
  row(table: number, row: number, text: string, caption?: string): void {
    if (!text) return;
    this.#rows += 1;
    if (this.#rows > this.limits.maxRows) {
      throw new ExtractionProblem('too_large', `This file has more than ${formatCount(this.limits.maxRows)} table rows; split it into smaller files.`);
    }
    if (text.length > this.limits.maxRowCharacters) {
      throw new ExtractionProblem(
        'too_large',
        `Row ${formatCount(row)} of a table in this file is longer than ${formatCount(this.limits.maxRowCharacters)} characters.`,
      );
    }
    this.#count(text);
    const headingPath = caption ? [...this.headingPath, caption] : this.headingPath;
    this.#push({ kind: 'row', text, headingPath, row, table });
  }
}
