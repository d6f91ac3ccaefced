/**
 * A function that creates elements of `document` with attributes and optional
 * text. Text always goes through `textContent`, never HTML.
 *
 * @example
 * ```ts
 * const make = elementMaker(document);
 * const button = make('button', { type: 'button', part: 'copy' }, 'Copy');
 * ```
 */
export function elementMaker(document: Document) {
  return <K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  };
}

/**
 * A 20 px stroke icon from SVG path data, built with DOM APIs so a strict CSP
 * (no inline HTML parsing of markup strings) is not an issue.
 *
 * @example
 * ```ts
 * button.append(icon(document, 'M4 4h16v12H8l-4 4z'));
 * ```
 */
export function icon(document: Document, path: string): SVGSVGElement {
  const namespace = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(namespace, 'svg');
  for (const [name, value] of Object.entries({ viewBox: '0 0 24 24', width: '20', height: '20', 'aria-hidden': 'true', focusable: 'false' })) {
    svg.setAttribute(name, value);
  }
  const shape = document.createElementNS(namespace, 'path');
  shape.setAttribute('d', path);
  svg.append(shape);
  return svg;
}
