// A small, safe Markdown renderer for model output. Everything is built with
// DOM APIs and text nodes: model text never reaches `innerHTML`, so a reply full
// of `<script>` or `onerror=` is shown as the characters it is.

const fence = /^ {0,3}(`{3,}|~{3,})/;
const listItem = /^\s*([-*+]|\d{1,9}[.)])\s+(.*)$/;
const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/;
const rule = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const quote = /^ {0,3}>\s?(.*)$/;
const blank = /^\s*$/;
// Code spans, strong, emphasis, links, bare http(s) URLs. No look-behind: older Safari cannot parse it.
const inline =
  /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__|\*(?=\S)([^*]*?\S)\*|_(?=\S)([^_]*?\S)_(?!\w)|\[([^\]\n]+)\]\(\s*((?:[^()\s]|\([^()\s]*\))+)\s*\)|(https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"*_])/g;

/**
 * The URL when it is an absolute `http:` or `https:` URL, else `undefined`:
 * `javascript:`, `data:`, relative and malformed links are not made links.
 *
 * @example
 * ```ts
 * safeHref('https://example.com/a'); // 'https://example.com/a'
 * safeHref('javascript:alert(1)'); // undefined
 * ```
 */
export function safeHref(raw: string): string | undefined {
  try {
    const url = new URL(raw);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Renders Markdown (paragraphs, emphasis, code spans and blocks, lists,
 * quotes, headings, links) into a fragment of `document`.
 *
 * @example
 * ```ts
 * element.append(renderMarkdown('**Hi** [docs](https://example.com)', document));
 * ```
 */
export function renderMarkdown(text: string, document: Document): DocumentFragment {
  const fragment = document.createDocumentFragment();
  const make = <K extends keyof HTMLElementTagNameMap>(tag: K, parent: Node): HTMLElementTagNameMap[K] => parent.appendChild(document.createElement(tag));
  const lines = text.split('\n');
  let paragraph: string[] = [];
  let list: HTMLOListElement | HTMLUListElement | undefined;
  let item: { element: HTMLLIElement; lines: string[] } | undefined;

  const flushItem = (): void => {
    if (item) renderInline(item.lines.join('\n'), item.element, document);
    item = undefined;
  };
  const flush = (): void => {
    if (paragraph.length > 0) renderInline(paragraph.join('\n'), make('p', fragment), document);
    paragraph = [];
    flushItem();
    list = undefined;
  };

  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index]!;
    const opening = fence.exec(line);
    if (opening) {
      flush();
      const code: string[] = [];
      const closing = new RegExp(`^ {0,3}${opening[1]![0]}{${opening[1]!.length},}\\s*$`);
      for (index += 1; index < lines.length && !closing.test(lines[index]!); index += 1) code.push(lines[index]!);
      const pre = make('pre', fragment);
      pre.setAttribute('part', 'code-block');
      make('code', pre).textContent = code.join('\n');
      continue;
    }
    if (blank.test(line)) {
      flush();
      continue;
    }
    const bullet = listItem.exec(line);
    if (bullet && !rule.test(line)) {
      const ordered = /\d/.test(bullet[1]!);
      if (paragraph.length > 0 || !list || (list.tagName === 'OL') !== ordered) {
        flush();
        list = make(ordered ? 'ol' : 'ul', fragment);
        const start = parseInt(bullet[1]!, 10);
        if (ordered && start !== 1) list.setAttribute('start', String(start));
      }
      flushItem();
      item = { element: make('li', list), lines: [bullet[2]!] };
      continue;
    }
    if (item && /^\s/.test(line)) {
      item.lines.push(line.trim());
      continue;
    }
    const title = heading.exec(line);
    const quoted = quote.exec(line);
    if (title || rule.test(line) || quoted) {
      flush();
      if (title) renderInline(title[1]!, make('strong', make('p', fragment)), document);
      else if (quoted) renderInline(quoted[1]!, make('blockquote', fragment), document);
      else make('hr', fragment);
      continue;
    }
    if (list) flush();
    paragraph.push(line);
  }
  flush();
  return fragment;
}

function renderInline(text: string, parent: Node, document: Document, inLink = false): void {
  const pattern = new RegExp(inline.source, 'g');
  let last = 0;
  const textUpTo = (end: number): void => {
    if (end > last) parent.appendChild(document.createTextNode(text.slice(last, end)));
  };
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    const [whole, , code, strong, strongUnderscore, emphasis, emphasisUnderscore, label, href, bare] = match;
    // `snake_case_names` are words, not emphasis.
    if (emphasisUnderscore !== undefined && /\w/.test(text[match.index - 1] ?? '')) {
      pattern.lastIndex = match.index + 1;
      continue;
    }
    const url = href !== undefined ? safeHref(href) : bare !== undefined ? safeHref(bare) : undefined;
    if ((label !== undefined || bare !== undefined) && (inLink || !url)) {
      // Not a link we make (unsafe scheme, or inside a link already): keep the words only.
      if (label !== undefined) {
        textUpTo(match.index);
        renderInline(label, parent, document, inLink);
        last = match.index + whole.length;
      }
      continue;
    }
    textUpTo(match.index);
    last = match.index + whole.length;
    if (code !== undefined) {
      parent.appendChild(document.createElement('code')).textContent = code;
    } else if (strong !== undefined || strongUnderscore !== undefined) {
      renderInline((strong ?? strongUnderscore)!, parent.appendChild(document.createElement('strong')), document, inLink);
    } else if (emphasis !== undefined || emphasisUnderscore !== undefined) {
      renderInline((emphasis ?? emphasisUnderscore)!, parent.appendChild(document.createElement('em')), document, inLink);
    } else {
      const anchor = parent.appendChild(document.createElement('a'));
      anchor.href = url!;
      anchor.target = '_blank';
      anchor.rel = 'noopener noreferrer';
      if (label !== undefined) renderInline(label, anchor, document, true);
      else anchor.textContent = bare!;
    }
  }
  textUpTo(text.length);
}

/**
 * Renders a Markdown reply as it streams in, at a cost per delta that does not
 * grow with the reply: finished blocks (separated by a blank line, or closed
 * code fences) are rendered once and kept; only the last, still-growing block
 * is rendered again.
 *
 * @example
 * ```ts
 * const view = new MarkdownStream(messageElement);
 * for await (const delta of chat.stream(messages)) view.append(delta);
 * ```
 */
export class MarkdownStream {
  readonly #container: Element;
  #text = '';
  /** Where the last, still-open block starts. */
  #blockStart = 0;
  /** Where to continue looking for the end of that block: the start of its last incomplete line. */
  #scanFrom = 0;
  #live: ChildNode[] = [];

  constructor(container: Element) {
    this.#container = container;
  }

  /** The whole Markdown source so far. */
  get text(): string {
    return this.#text;
  }

  /** Adds a piece of the reply and updates the DOM. */
  append(delta: string): void {
    this.#text += delta;
    for (let end = this.#findBlockEnd(); end; end = this.#findBlockEnd()) {
      this.#render(this.#text.slice(this.#blockStart, end.end));
      this.#live = [];
      this.#blockStart = this.#scanFrom = end.next;
    }
    this.#render(this.#text.slice(this.#blockStart));
  }

  #render(source: string): void {
    for (const node of this.#live) node.remove();
    const fragment = renderMarkdown(source, this.#container.ownerDocument);
    this.#live = Array.from(fragment.childNodes);
    this.#container.append(fragment);
  }

  #findBlockEnd(): { end: number; next: number } | undefined {
    const text = this.#text;
    const firstLineEnd = text.indexOf('\n', this.#blockStart);
    if (firstLineEnd < 0) return undefined;
    const opening = fence.exec(text.slice(this.#blockStart, firstLineEnd));
    let lineStart = Math.max(this.#scanFrom, opening ? firstLineEnd + 1 : this.#blockStart);
    for (let lineEnd = text.indexOf('\n', lineStart); lineEnd >= 0; lineEnd = text.indexOf('\n', lineStart)) {
      const line = text.slice(lineStart, lineEnd);
      if (opening) {
        if (new RegExp(`^ {0,3}${opening[1]![0]}{${opening[1]!.length},}\\s*$`).test(line)) return { end: lineEnd, next: lineEnd + 1 };
      } else if (blank.test(line)) {
        return { end: lineStart, next: lineEnd + 1 };
      } else if (lineStart > this.#blockStart && fence.test(line)) {
        return { end: lineStart, next: lineStart };
      }
      lineStart = lineEnd + 1;
    }
    this.#scanFrom = lineStart;
    return undefined;
  }
}
