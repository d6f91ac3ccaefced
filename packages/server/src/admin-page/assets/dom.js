// @ts-check
// The page's DOM helpers. Every value from the server goes in as text, never as HTML.

/**
 * @typedef {{ [K in keyof HTMLElementEventMap as `on${K}`]?: (event: HTMLElementEventMap[K]) => unknown }} Handlers
 * @typedef {Handlers & { [name: string]: unknown }} Attributes
 * @typedef {Node | string | number | boolean | null | undefined} Leaf
 * @typedef {Leaf | Leaf[] | Leaf[][]} Child
 */

/** Appends children as nodes or text; skips null, undefined and false. */
function appendAll(/** @type {Element} */ element, /** @type {Child[]} */ children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * An HTML element: `on…` attributes become listeners, `value` and `checked` properties.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attributes} [attributes]
 * @param {Child[]} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false || value === null) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    else if (name === 'value') /** @type {HTMLInputElement} */ (element).value = /** @type {string} */ (value);
    else if (name === 'checked') /** @type {HTMLInputElement} */ (element).checked = Boolean(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  appendAll(element, children);
  return element;
}

/**
 * An SVG element.
 * @param {string} tag
 * @param {Record<string, string | number>} [attributes]
 * @param {Child[]} children
 */
export function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children.flat(Infinity)) if (child) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
}

/** One of index.html's fixed elements. */
export const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

let fieldCount = 0;
/**
 * A labelled form field; `control` gets an id the label points at.
 * @param {string} label
 * @param {HTMLElement} control
 * @param {string} [hint]
 */
export function field(label, control, hint) {
  const id = control.id || `field-${++fieldCount}`;
  control.id = id;
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint && h('p', { class: 'hint', id: hintId }, hint));
}

/**
 * A select of `[value, label]` options.
 * @param {string} name
 * @param {[string, string][]} options
 * @param {string} selected
 */
export function select(name, options, selected) {
  return h(
    'select',
    { name },
    options.map(([value, label]) => h('option', { value, selected: value === selected }, label)),
  );
}

/** Replaces the main area's content. */
export function render(/** @type {Node[]} */ ...children) {
  byId('main').replaceChildren(...children);
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let toastTimer;
/**
 * @param {string} message
 * @param {'ok' | 'error'} [kind]
 */
export function toast(message, kind = 'ok') {
  const element = byId('toast');
  element.textContent = message;
  element.dataset.kind = kind;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    element.textContent = '';
  }, 6000);
}

/** Toasts a caught error's message. */
export const toastError = (/** @type {unknown} */ error) => toast(/** @type {Error} */ (error).message, 'error');

export function errorBox(/** @type {unknown} */ error) {
  return h('p', { class: 'error', role: 'alert' }, error instanceof Error ? error.message : String(error));
}

/** @param {string | null | undefined} value */
export function formatDate(value) {
  if (!value) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** @param {number} bytes */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toLocaleString(undefined, { maximumFractionDigits: 1 })} KB`;
  return `${(bytes / (1024 * 1024)).toLocaleString(undefined, { maximumFractionDigits: 1 })} MB`;
}

/** The non-empty trimmed lines of a text. */
export const lines = (/** @type {string} */ value) =>
  value
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);

/** A number field's value; null when empty. */
export const optionalNumber = (/** @type {string} */ value) => (value.trim() === '' ? null : Number(value));

/**
 * Asks for confirmation in a modal dialog; resolves true when confirmed.
 * @param {string} title
 * @param {Node[]} body
 * @param {string} confirmLabel
 * @returns {Promise<boolean>}
 */
export function confirmDialog(title, body, confirmLabel) {
  const dialog = document.getElementById('dialog');
  if (!(dialog instanceof HTMLDialogElement)) return Promise.resolve(false);
  byId('dialog-title').textContent = title;
  byId('dialog-body').replaceChildren(...body);
  byId('dialog-confirm').textContent = confirmLabel;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
  });
}
