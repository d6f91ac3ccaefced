import { normalizeSpace, rowText, type BlockCollector } from './blocks.js';

/**
 * Plain text: paragraphs are separated by blank lines; a paragraph's line
 * breaks become spaces.
 *
 * @example
 * ```ts
 * extractPlainText('Opening hours\n\nMonday to Friday, 9 to 5.', collector);
 * ```
 */
export function extractPlainText(text: string, collector: BlockCollector): void {
  for (const paragraph of text.split(/\r?\n[ \t]*\r?\n/)) collector.text(paragraph);
}

const fence = /^ {0,3}(`{3,}|~{3,})/;
const atxHeading = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const setextUnderline = /^ {0,3}(=+|-+)[ \t]*$/;
const listItem = /^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(.*)$/;
const tableDelimiter = /^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const thematicBreak = /^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$/;

// Markup inside a line that means nothing once the text is read aloud:
// emphasis, code spans, and links and images reduced to their words.
function inlineText(line: string): string {
  return line
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/`([^`]*)`/g, '$1');
}

function tableCells(line: string): string[] {
  let trimmed = line.trim();
  if (trimmed.startsWith('|')) trimmed = trimmed.slice(1);
  if (trimmed.endsWith('|') && !trimmed.endsWith('\\|')) trimmed = trimmed.slice(0, -1);
  return trimmed.split(/(?<!\\)\|/).map((cell) => inlineText(cell.replace(/\\\|/g, '|')).trim());
}

/**
 * Markdown, read line by line: ATX and setext headings build the heading
 * path, list items, fenced code and pipe tables (each row as
 * `column: value` text) are kept as their own blocks; YAML front matter is
 * kept as a paragraph. Not a full CommonMark parser: what it does not know
 * is read as paragraph text.
 *
 * @example
 * ```ts
 * extractMarkdown('# Prices\n\n| Plan | Price |\n|---|---|\n| Pro | $20 |', collector);
 * ```
 */
export function extractMarkdown(text: string, collector: BlockCollector): void {
  const lines = text.split(/\r?\n/);
  let paragraph: string[] = [];
  let item: string[] | undefined;
  let index = 0;

  const flush = () => {
    if (item) collector.text(inlineText(item.join(' ')), 'list-item');
    else if (paragraph.length > 0) collector.text(inlineText(paragraph.join(' ')));
    paragraph = [];
    item = undefined;
  };

  if (lines[0]?.trim() === '---') {
    const end = lines.findIndex((line, at) => at > 0 && (line.trim() === '---' || line.trim() === '...'));
    if (end > 0) {
      collector.text(lines.slice(1, end).join('; '));
      index = end + 1;
    }
  }

  while (index < lines.length) {
    const line = lines[index]!;
    const opening = fence.exec(line);
    if (opening) {
      flush();
      const marker = opening[1]!;
      const code: string[] = [];
      index += 1;
      while (index < lines.length && !lines[index]!.trimStart().startsWith(marker)) code.push(lines[index++]!);
      collector.text(code.join('\n'), 'code');
      index += 1;
      continue;
    }
    if (!line.trim()) {
      flush();
      index += 1;
      continue;
    }
    const heading = atxHeading.exec(line);
    if (heading) {
      flush();
      collector.heading(inlineText(heading[2] ?? ''), heading[1]!.length);
      index += 1;
      continue;
    }
    const underline = setextUnderline.exec(line);
    if (underline && paragraph.length > 0 && !item) {
      collector.heading(inlineText(paragraph.join(' ')), underline[1]!.startsWith('=') ? 1 : 2);
      paragraph = [];
      index += 1;
      continue;
    }
    if (thematicBreak.test(line)) {
      flush();
      index += 1;
      continue;
    }
    if (line.includes('|') && tableDelimiter.test(lines[index + 1] ?? '') && lines[index + 1]!.includes('-')) {
      flush();
      const headers = tableCells(line);
      collector.columns(headers.length);
      const table = collector.table();
      let row = 0;
      index += 2;
      while (index < lines.length && lines[index]!.includes('|') && lines[index]!.trim()) {
        const cells = tableCells(lines[index]!);
        collector.columns(cells.length);
        row += 1;
        collector.row(table, row, rowText(headers, cells));
        index += 1;
      }
      continue;
    }
    const listed = listItem.exec(line);
    if (listed) {
      flush();
      item = [listed[1]!];
      index += 1;
      continue;
    }
    const content = normalizeSpace(line.replace(/^ {0,3}>[ \t]?/, ''));
    if (item) item.push(content);
    else paragraph.push(content);
    index += 1;
  }
  flush();
}
