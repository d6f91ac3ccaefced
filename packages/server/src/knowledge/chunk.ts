import { createHash } from 'node:crypto';
import type { TextBlock } from './types.js';

/**
 * Where a passage came from, for its sources: the file, the section (the
 * heading path where the passage starts), and the pages and table rows it covers.
 */
export interface PassageLocation {
  file: string;
  headingPath: string[];
  /** First and last PDF page of the passage. */
  pageStart?: number;
  pageEnd?: number;
  /** First and last data row (from 1, header not counted) of the one table the passage's rows come from. */
  rowStart?: number;
  rowEnd?: number;
}

/**
 * One retrievable piece of a file, as it is indexed, embedded and given to
 * the model.
 */
export interface Passage {
  /** Position in the file, from 0, after duplicates are dropped. */
  index: number;
  /** The text: the heading path on the first line when there is one, then the content. */
  text: string;
  /** Tokens of `text` (o200k_base, gpt-tokenizer). */
  tokens: number;
  /** SHA-256 of `text`, hex: identical passages of a file are kept once. */
  hash: string;
  location: PassageLocation;
}

/**
 * Options of {@link chunkBlocks}.
 */
export interface ChunkOptions {
  /** The file's name, recorded in every passage's location. */
  fileName: string;
  /** Size a passage is filled up to, in tokens. A passage is larger only when one table row is. Default: `400`. */
  targetTokens?: number;
  /** Tokens of prose repeated from the end of a passage at the start of the next in the same section. Default: `50`. */
  overlapTokens?: number;
  /** A section shorter than this is joined with the next rather than made a passage of its own, in tokens. Default: `100`. */
  minTokens?: number;
  /** Token counter. Default: gpt-tokenizer's `countTokens` (o200k_base), the encoding the proxy budgets with. */
  countTokens?: (text: string) => number;
}

interface Unit {
  text: string;
  tokens: number;
  block: number;
  path: readonly string[];
  page?: number;
  row?: number;
  table?: number;
  overlap?: boolean;
}

let defaultCounter: Promise<(text: string) => number> | undefined;

function loadCounter(): Promise<(text: string) => number> {
  defaultCounter ??= import('gpt-tokenizer/encoding/o200k_base').then((module) => (text: string) => module.countTokens(text));
  return defaultCounter;
}

const sentenceSegmenter = new Intl.Segmenter('en', { granularity: 'sentence' });

function sentences(text: string): string[] {
  return [...sentenceSegmenter.segment(text)].map((segment) => segment.segment.trim()).filter(Boolean);
}

// A sentence longer than a passage, cut at spaces (or anywhere, for
// scripts written without them) into pieces of about `target` tokens.
function cut(text: string, tokens: number, target: number): string[] {
  const length = Math.max(1, Math.floor((text.length * target) / tokens));
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + length);
    if (end < text.length) {
      const space = text.lastIndexOf(' ', end);
      if (space > start + length / 2) end = space;
    }
    const piece = text.slice(start, end).trim();
    if (piece) pieces.push(piece);
    start = end;
  }
  return pieces;
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((part, index) => part === b[index]);
}

/**
 * Splits a file's blocks into passages of about `targetTokens`, keeping
 * structure: a new section starts a new passage (sections shorter than
 * `minTokens` are joined with the next), a table row is never split and a
 * passage holds rows of one table only, a paragraph longer than a passage
 * is split between sentences, and consecutive prose passages of one section
 * overlap by up to `overlapTokens` of whole sentences. Each passage starts
 * with its heading path and keeps its location; identical passages of the
 * file are kept once.
 *
 * @example
 * ```ts
 * const { blocks } = await extractBlocks(file);
 * const passages = await chunkBlocks(blocks, { fileName: file.name });
 * ```
 */
export async function chunkBlocks(blocks: readonly TextBlock[], options: ChunkOptions): Promise<Passage[]> {
  const count = options.countTokens ?? (await loadCounter());
  const target = Math.max(16, options.targetTokens ?? 400);
  const overlap = Math.min(options.overlapTokens ?? 50, Math.floor(target / 2));
  const minimum = Math.min(options.minTokens ?? 100, target);

  const units: Unit[] = [];
  blocks.forEach((block, index) => {
    if (block.kind === 'heading') return;
    const base = { block: index, path: block.headingPath, page: block.page, row: block.row, table: block.table };
    const tokens = count(block.text);
    if (block.kind === 'row' || tokens <= target) {
      units.push({ ...base, text: block.text, tokens });
      return;
    }
    for (const sentence of sentences(block.text)) {
      const sentenceTokens = count(sentence);
      const pieces = sentenceTokens <= target ? [sentence] : cut(sentence, sentenceTokens, target);
      for (const piece of pieces) units.push({ ...base, text: piece, tokens: pieces.length === 1 ? sentenceTokens : count(piece) });
    }
  });

  const passages: Passage[] = [];
  const seen = new Set<string>();
  let current: Unit[] = [];
  let currentTokens = 0;

  const render = (list: readonly Unit[]): string => {
    const lines: string[] = [];
    let path: readonly string[] | undefined;
    let previous: Unit | undefined;
    for (const unit of list) {
      if (!path || !samePath(path, unit.path)) {
        if (unit.path.length > 0) lines.push(unit.path.join(' > '));
        path = unit.path;
        lines.push(unit.text);
      } else if (previous && previous.block === unit.block && unit.row === undefined) {
        lines[lines.length - 1] += ` ${unit.text}`;
      } else {
        lines.push(unit.text);
      }
      previous = unit;
    }
    return lines.join('\n');
  };

  const flush = (): Unit[] => {
    const list = current;
    current = [];
    currentTokens = 0;
    const own = list.filter((unit) => !unit.overlap);
    if (own.length === 0) return [];
    const text = render(list);
    const hash = createHash('sha256').update(text).digest('hex');
    if (!seen.has(hash)) {
      seen.add(hash);
      const pages = list.flatMap((unit) => (unit.page === undefined ? [] : [unit.page]));
      const rows = own.flatMap((unit) => (unit.row === undefined ? [] : [unit.row]));
      passages.push({
        index: passages.length,
        text,
        tokens: count(text),
        hash,
        location: {
          file: options.fileName,
          headingPath: [...own[0]!.path],
          ...(pages.length > 0 ? { pageStart: Math.min(...pages), pageEnd: Math.max(...pages) } : {}),
          ...(rows.length > 0 ? { rowStart: Math.min(...rows), rowEnd: Math.max(...rows) } : {}),
        },
      });
    }
    return list;
  };

  const add = (unit: Unit) => {
    if (current.length === 0 && unit.path.length > 0) currentTokens += count(unit.path.join(' > ')) + 1;
    current.push(unit);
    currentTokens += unit.tokens + 1;
  };

  // Whole sentences from the end of a passage's prose, up to the overlap budget.
  const tail = (list: readonly Unit[]): Unit[] => {
    const last = list.at(-1);
    if (!last || last.row !== undefined || overlap <= 0) return [];
    const picked: string[] = [];
    let tokens = 0;
    for (const sentence of sentences(last.text).reverse()) {
      const sentenceTokens = count(sentence);
      if (tokens + sentenceTokens > overlap) break;
      picked.unshift(sentence);
      tokens += sentenceTokens;
    }
    return picked.length === 0 ? [] : [{ ...last, text: picked.join(' '), tokens, overlap: true }];
  };

  for (const unit of units) {
    const last = current.at(-1);
    const hasOwn = current.some((item) => !item.overlap);
    const sectionChanged = last !== undefined && !samePath(last.path, unit.path);
    const otherTable = unit.table !== undefined && current.some((item) => item.table !== undefined && item.table !== unit.table);
    const full = hasOwn && currentTokens + unit.tokens > target;
    if (hasOwn && (full || otherTable || (sectionChanged && currentTokens >= minimum))) {
      const flushed = flush();
      if (full && !sectionChanged && !otherTable && unit.row === undefined) for (const carried of tail(flushed)) add(carried);
    } else if (!hasOwn && sectionChanged) {
      current = [];
      currentTokens = 0;
    }
    add(unit);
  }
  flush();
  return passages;
}

/**
 * A passage's location as a person reads it: "manual.pdf, pages 4–5, Setup > Wi-Fi".
 *
 * @example
 * ```ts
 * describeLocation({ file: 'prices.csv', headingPath: [], rowStart: 3, rowEnd: 9 }); // 'prices.csv, rows 3–9'
 * ```
 */
export function describeLocation(location: PassageLocation): string {
  const parts = [location.file];
  const range = (singular: string, start?: number, end?: number) => {
    if (start === undefined) return;
    parts.push(start === end || end === undefined ? `${singular} ${start}` : `${singular}s ${start}–${end}`);
  };
  range('page', location.pageStart, location.pageEnd);
  range('row', location.rowStart, location.rowEnd);
  if (location.headingPath.length > 0) parts.push(location.headingPath.join(' > '));
  return parts.join(', ');
}
