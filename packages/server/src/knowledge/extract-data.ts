import { CsvError, parse } from 'csv-parse/sync';
import { rowText, type BlockCollector } from './blocks.js';
import { ExtractionProblem } from './types.js';

// The delimiter used most outside quotes on the first line: spreadsheets
// save comma, semicolon (where the comma is the decimal mark) or tab.
function sniffDelimiter(text: string): string {
  const counts = new Map<string, number>([
    [',', 0],
    [';', 0],
    ['\t', 0],
    ['|', 0],
  ]);
  let quoted = false;
  for (const character of text.slice(0, 65_536)) {
    if (character === '"') quoted = !quoted;
    else if (!quoted && (character === '\n' || character === '\r')) break;
    else if (!quoted && counts.has(character)) counts.set(character, counts.get(character)! + 1);
  }
  let best = ',';
  for (const [delimiter, count] of counts) if (count > counts.get(best)!) best = delimiter;
  return best;
}

function csvMessage(error: CsvError): string {
  const line = (error as { lines?: unknown }).lines;
  const where = typeof line === 'number' ? ` near line ${line.toLocaleString('en-US')}` : '';
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return `This CSV file has a quoted value that is never closed${where}.`;
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return `This CSV file has a misplaced quote${where}.`;
    default:
      return `This CSV file could not be read${where}.`;
  }
}

/**
 * A CSV file (csv-parse; comma, semicolon, tab or pipe found from the first
 * line): the first row is the header, and every other row becomes one
 * `column: value; column: value` block that still makes sense alone. A row
 * with more or fewer fields than the header fails the file, naming the row.
 *
 * @example
 * ```ts
 * extractCsv('Plan,Price\nPro,$20\n', collector); // one row: 'Plan: Pro; Price: $20'
 * ```
 */
export function extractCsv(text: string, collector: BlockCollector): void {
  const { limits } = collector;
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      delimiter: sniffDelimiter(text),
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      // The header plus one row more than allowed, so a longer file is told apart without reading all of it.
      to: limits.maxRows + 2,
      max_record_size: limits.maxRowCharacters * 4,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (error) {
    if (error instanceof CsvError && error.code === 'CSV_MAX_RECORD_SIZE') {
      throw new ExtractionProblem('too_large', `A row of this CSV file is longer than ${(limits.maxRowCharacters * 4).toLocaleString('en-US')} characters.`, {
        cause: error,
      });
    }
    throw new ExtractionProblem('corrupt', error instanceof CsvError ? csvMessage(error) : 'This CSV file could not be read.', { cause: error });
  }
  const [header, ...rows] = records;
  if (!header) return;
  collector.columns(header.record.length);
  const table = collector.table();
  rows.forEach(({ record, info }, index) => {
    if (record.length !== header.record.length) {
      throw new ExtractionProblem(
        'corrupt',
        `Row ${(index + 1).toLocaleString('en-US')} of this CSV file (line ${info.lines.toLocaleString('en-US')}) has ${record.length} fields; its header has ${header.record.length}.`,
      );
    }
    collector.row(table, index + 1, rowText(header.record, record));
  });
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isRecord(value: Json): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function keyPath(path: string, key: string): string {
  const plain = /^[\p{L}\p{N}_$-]+$/u.test(key);
  if (!path) return plain ? key : JSON.stringify(key);
  return plain ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

// "key: value" pairs of one object, nested objects flattened into dotted
// keys, for one row; walked with an explicit stack.
function flatPairs(value: Json, depthLeft: number, limit: number): { headers: string[]; cells: string[] } {
  const headers: string[] = [];
  const cells: string[] = [];
  const stack: { path: string; value: Json; depth: number }[] = [{ path: '', value, depth: 0 }];
  while (stack.length > 0) {
    const { path, value: current, depth } = stack.pop()!;
    if (depth > depthLeft) throw new ExtractionProblem('too_large', `This JSON file is nested more than ${limit} levels deep.`);
    if (isRecord(current) || Array.isArray(current)) {
      const entries = Array.isArray(current)
        ? current.map((item, index) => [`${path}[${index}]`, item] as const)
        : Object.entries(current).map(([key, item]) => [keyPath(path, key), item] as const);
      for (let index = entries.length - 1; index >= 0; index -= 1) stack.push({ path: entries[index]![0], value: entries[index]![1], depth: depth + 1 });
      continue;
    }
    headers.push(path);
    cells.push(current === null ? 'null' : String(current));
  }
  return { headers, cells };
}

/**
 * A JSON file, flattened: every value becomes a `path.to.key: value` line,
 * and an array of objects is read like a table, one row per object
 * (`name: Pro; price: 20`) under the array's path. Nesting deeper than
 * `maxDepth` fails the file rather than being walked.
 *
 * @example
 * ```ts
 * extractJson('{"company":{"name":"Acme"},"plans":[{"name":"Pro","price":20}]}', collector);
 * // 'company.name: Acme', then the row 'name: Pro; price: 20' under ['plans']
 * ```
 */
export function extractJson(text: string, collector: BlockCollector): void {
  const { maxDepth } = collector.limits;
  let root: Json;
  try {
    root = JSON.parse(text) as Json;
  } catch (error) {
    const message = error instanceof Error && /position \d+/.test(error.message) ? ` (${/position \d+/.exec(error.message)![0]})` : '';
    throw new ExtractionProblem('corrupt', `This file is not valid JSON${message}.`, { cause: error });
  }
  let lines: string[] = [];
  const flushLines = () => {
    if (lines.length > 0) collector.text(lines.join('\n'), 'code');
    lines = [];
  };
  const stack: { path: string; value: Json; depth: number }[] = [{ path: '', value: root, depth: 0 }];
  while (stack.length > 0) {
    const { path, value, depth } = stack.pop()!;
    if (depth > maxDepth) throw new ExtractionProblem('too_large', `This JSON file is nested more than ${maxDepth} levels deep.`);
    if (Array.isArray(value) && value.length > 0 && value.every(isRecord)) {
      flushLines();
      const table = collector.table();
      value.forEach((item, index) => {
        const { headers, cells } = flatPairs(item, maxDepth - depth, maxDepth);
        collector.columns(headers.length);
        collector.row(table, index + 1, rowText(headers, cells), path || undefined);
      });
      continue;
    }
    if (isRecord(value) || Array.isArray(value)) {
      const entries = Array.isArray(value)
        ? value.map((item, index) => [`${path}[${index}]`, item] as const)
        : Object.entries(value).map(([key, item]) => [keyPath(path, key), item] as const);
      for (let index = entries.length - 1; index >= 0; index -= 1) stack.push({ path: entries[index]![0], value: entries[index]![1], depth: depth + 1 });
      continue;
    }
    const shown = value === null ? 'null' : String(value);
    if (shown === '') continue;
    lines.push(path ? `${path}: ${shown}` : shown);
    // Lines are kept in groups so a long list of values does not become one block.
    if (lines.length >= 20) flushLines();
  }
  flushLines();
}
