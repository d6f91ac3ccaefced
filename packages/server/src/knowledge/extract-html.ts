import { parse, type DefaultTreeAdapterTypes } from 'parse5';
import { normalizeSpace, rowText, type BlockCollector } from './blocks.js';
import { ExtractionProblem } from './types.js';

type Node = DefaultTreeAdapterTypes.Node;
type Element = DefaultTreeAdapterTypes.Element;

// Elements whose content is not the page's text: code, styling, navigation,
// form controls, embedded media.
const skipped = new Set([
  'head',
  'script',
  'style',
  'noscript',
  'template',
  'nav',
  'svg',
  'math',
  'canvas',
  'iframe',
  'object',
  'embed',
  'button',
  'select',
  'textarea',
  'input',
  'option',
  'datalist',
  'audio',
  'video',
  'map',
]);

// Elements that end the paragraph before them and start a new one.
const blockElements = new Set([
  'html',
  'body',
  'main',
  'article',
  'section',
  'div',
  'p',
  'header',
  'footer',
  'aside',
  'blockquote',
  'address',
  'figure',
  'figcaption',
  'details',
  'summary',
  'fieldset',
  'form',
  'hr',
  'ul',
  'ol',
  'dl',
  'dt',
  'dd',
  'li',
  'center',
]);

const headingLevel: Record<string, number> = { h1: 1, h2: 2, h3: 3, h4: 4, h5: 5, h6: 6 };

function isElement(node: Node): node is Element {
  return 'tagName' in node;
}

function attribute(element: Element, name: string): string | undefined {
  return element.attrs.find((attr) => attr.name === name)?.value;
}

function isSkipped(element: Element): boolean {
  if (skipped.has(element.tagName)) return true;
  if (attribute(element, 'hidden') !== undefined) return true;
  if (attribute(element, 'aria-hidden') === 'true') return true;
  const role = attribute(element, 'role');
  return role === 'navigation' || role === 'banner' || role === 'search';
}

function children(node: Node): readonly Node[] {
  return 'childNodes' in node ? node.childNodes : [];
}

/**
 * The text of an element and its descendants, block elements separated by
 * a space (a line break inside `pre`); walked without recursion, so a
 * document nested thousands of levels deep cannot exhaust the stack.
 */
function textOf(root: Node, preserve = false): string {
  const parts: string[] = [];
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.nodeName === '#text') {
      parts.push((node as DefaultTreeAdapterTypes.TextNode).value);
      continue;
    }
    if (!isElement(node)) continue;
    if (node !== root && isSkipped(node)) continue;
    if (node.tagName === 'br') parts.push('\n');
    else if (blockElements.has(node.tagName) || node.tagName === 'td' || node.tagName === 'th') parts.push(preserve ? '\n' : ' ');
    const list = children(node);
    for (let index = list.length - 1; index >= 0; index -= 1) stack.push(list[index]!);
  }
  return parts.join('');
}

function span(cell: Element, limit: number): number {
  const value = Number.parseInt(attribute(cell, 'colspan') ?? '1', 10);
  return Number.isFinite(value) && value > 1 ? Math.min(value, limit) : 1;
}

// The rows of this table, not of tables nested in its cells.
function tableRows(table: Element): Element[] {
  const rows: Element[] = [];
  const stack: Node[] = [...children(table)].reverse();
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (!isElement(node)) continue;
    if (node.tagName === 'tr') rows.push(node);
    else if (node.tagName === 'thead' || node.tagName === 'tbody' || node.tagName === 'tfoot') {
      const list = children(node);
      for (let index = list.length - 1; index >= 0; index -= 1) stack.push(list[index]!);
    }
  }
  return rows;
}

function readTable(table: Element, collector: BlockCollector): void {
  const caption = children(table).find((node) => isElement(node) && node.tagName === 'caption');
  const captionText = caption ? normalizeSpace(textOf(caption)) : '';
  const rows = tableRows(table).map((row) => {
    const cells = children(row).filter((node): node is Element => isElement(node) && (node.tagName === 'td' || node.tagName === 'th'));
    let width = 0;
    for (const cell of cells) width += span(cell, collector.limits.maxColumns + 1);
    collector.columns(width);
    return { cells, header: cells.length > 0 && cells.every((cell) => cell.tagName === 'th') };
  });
  const expand = (cells: readonly Element[], repeat: boolean) =>
    cells.flatMap((cell) => {
      const text = normalizeSpace(textOf(cell));
      const count = span(cell, collector.limits.maxColumns);
      return repeat ? Array.from({ length: count }, () => text) : [text, ...Array.from({ length: count - 1 }, () => '')];
    });

  let headers: string[] | undefined;
  let body = rows;
  const marked = rows.findIndex((row) => !row.header);
  if (marked > 0) {
    // Several header rows (a grouped header) read as "Group Column".
    const headerRows = rows.slice(0, marked).map((row) => expand(row.cells, true));
    headers = headerRows[0]!.map((_, column) => [...new Set(headerRows.map((row) => row[column] ?? '').filter(Boolean))].join(' '));
    body = rows.slice(marked);
  } else if (marked < 0) {
    body = [];
  } else if (rows.length > 1 && (rows[0]?.cells.length ?? 0) > 1) {
    // No cell says it is a header: the first row is taken as one when every
    // cell of it has a short label, as in most Word and web tables.
    const first = expand(rows[0]!.cells, true);
    if (first.every((cell) => cell.length > 0 && cell.length <= 80)) {
      headers = first;
      body = rows.slice(1);
    }
  }
  const number = collector.table();
  body.forEach((row, index) => collector.row(number, index + 1, rowText(headers, expand(row.cells, false)), captionText || undefined));
}

const voidElements = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'param', 'source', 'track', 'wbr']);
// Elements the parser closes by itself when the next one starts, and the document's own.
const selfClosing = new Set([
  'p',
  'li',
  'dt',
  'dd',
  'tr',
  'td',
  'th',
  'option',
  'optgroup',
  'thead',
  'tbody',
  'tfoot',
  'caption',
  'colgroup',
  'rb',
  'rt',
  'rp',
  'html',
  'head',
  'body',
]);

/**
 * How deeply the document's elements nest, estimated in one linear pass over
 * its tags (skipping comments and the text of scripts and styles): parse5
 * checks the open elements on every tag, so a document nested a hundred
 * thousand levels deep takes minutes to parse, and is refused before.
 */
export function htmlDepth(html: string): number {
  const tag = /<!--[\s\S]*?(?:-->|$)|<(\/?)([a-zA-Z][^\s/>]*)[^>]*?(\/?)>/g;
  let depth = 0;
  let deepest = 0;
  let match: RegExpExecArray | null;
  while ((match = tag.exec(html))) {
    const name = match[2]?.toLowerCase();
    if (!name || voidElements.has(name) || selfClosing.has(name)) continue;
    if (match[1]) {
      depth = Math.max(0, depth - 1);
      continue;
    }
    if (match[3]) continue;
    if (name === 'script' || name === 'style' || name === 'textarea' || name === 'title') {
      const closing = new RegExp(`</${name}`, 'gi');
      closing.lastIndex = tag.lastIndex;
      tag.lastIndex = closing.exec(html)?.index ?? html.length;
      continue;
    }
    depth += 1;
    deepest = Math.max(deepest, depth);
  }
  return deepest;
}

/**
 * An HTML document (parsed as browsers parse it, by parse5) read as blocks:
 * headings build the heading path; paragraphs, list items, `pre` blocks and
 * table rows (`column: value`, headers from `th` cells or a first row of
 * labels) become blocks; scripts, styles, navigation, hidden elements and
 * form controls are dropped. Used for `.html` files and for DOCX (through
 * mammoth's HTML).
 *
 * @example
 * ```ts
 * extractHtml('<h1>Prices</h1><table><tr><th>Plan</th><th>Price</th></tr><tr><td>Pro</td><td>$20</td></tr></table>', collector);
 * ```
 */
export function extractHtml(html: string, collector: BlockCollector): void {
  if (htmlDepth(html) > collector.limits.maxHtmlDepth) {
    throw new ExtractionProblem('too_large', `This HTML document nests its elements more than ${collector.limits.maxHtmlDepth} levels deep.`);
  }
  const document = parse(html);
  let inline: string[] = [];
  let kind: 'paragraph' | 'list-item' = 'paragraph';
  const flush = () => {
    collector.text(inline.join(''), kind);
    inline = [];
    kind = 'paragraph';
  };
  // Entries are nodes to visit, or `null`: the end of a block element.
  const stack: (Node | null)[] = [document];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node === null) {
      flush();
      continue;
    }
    if (node.nodeName === '#text') {
      inline.push((node as DefaultTreeAdapterTypes.TextNode).value);
      continue;
    }
    if (isElement(node)) {
      if (isSkipped(node)) continue;
      const level = headingLevel[node.tagName];
      if (level) {
        flush();
        collector.heading(textOf(node), level);
        continue;
      }
      if (node.tagName === 'table') {
        flush();
        readTable(node, collector);
        continue;
      }
      if (node.tagName === 'pre') {
        flush();
        collector.text(textOf(node, true), 'code');
        continue;
      }
      if (node.tagName === 'br') {
        inline.push(' ');
        continue;
      }
      if (blockElements.has(node.tagName)) {
        flush();
        if (node.tagName === 'li') kind = 'list-item';
        stack.push(null);
      }
    } else if (node.nodeName !== '#document' && node.nodeName !== '#document-fragment') {
      continue;
    }
    const list = children(node);
    for (let index = list.length - 1; index >= 0; index -= 1) stack.push(list[index]!);
  }
  flush();
}
