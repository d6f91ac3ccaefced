import type { WidgetStrings } from '../locales/strings';
import { element, icon } from './dom';
import { createStyleSheet } from './styles';

/**
 * How a widget sits on the page:
 * - `'launcher'`: a bubble in the corner that opens a floating panel;
 * - `'inline'`: fills a target element;
 * - `'page'`: fills the whole viewport (the iframe page uses it).
 *
 * @example
 * ```ts
 * const mode: WidgetMode = 'inline';
 * ```
 */
export type WidgetMode = 'launcher' | 'inline' | 'page';

/** What the shell needs from its owner. */
export interface ShellOptions {
  parent: Element;
  mode: WidgetMode;
  strings: WidgetStrings;
  locale: string;
  rightToLeft: boolean;
  /** One signal that removes every listener on destroy. */
  signal: AbortSignal;
  onOpenChange: (open: boolean) => void;
  onClear: () => void;
}

/** The frame around a view: host, shadow root, header, alert, live region, launcher. */
export interface Shell {
  readonly host: HTMLElement;
  readonly root: ShadowRoot;
  readonly document: Document;
  /** Where the view goes. */
  readonly body: HTMLElement;
  /** The error area; views place it where it reads best. */
  readonly alert: HTMLElement;
  readonly isOpen: boolean;
  setTitle(title: string): void;
  setTheme(theme: string): void;
  /** Shows the clear-conversation button (chat widgets). */
  enableClear(): void;
  showError(text: string | undefined, retry?: () => void): void;
  /** Says `text` once through the polite live region. */
  announce(text: string): void;
  setOpen(open: boolean, returnFocus?: boolean): void;
  destroy(): void;
}

const chatIcon = 'M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-5.1A8 8 0 1 1 21 12z';
const closeIcon = 'M6 6l12 12M18 6L6 18';
const clearIcon = 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13';

/** Builds the shell inside a shadow root on a new host element appended to `options.parent`. */
export function createShell(options: ShellOptions): Shell {
  const { strings, signal } = options;
  const document = options.parent.ownerDocument;
  const make = <K extends keyof HTMLElementTagNameMap>(tag: K, attributes?: Record<string, string>, text?: string) =>
    element(document, tag, attributes, text);
  const launcherMode = options.mode === 'launcher';

  const host = make('div', { 'data-airlock': 'widget', 'data-mode': options.mode, 'data-theme': 'auto', lang: options.locale });
  if (options.rightToLeft) host.setAttribute('dir', 'rtl');
  const root = host.attachShadow({ mode: 'open' });
  // A second sheet holds what changes at run time (the visual viewport's height):
  // rewriting a constructable sheet needs no style attribute, so a strict CSP allows it.
  const viewportSheet = createStyleSheet(document);
  viewportSheet.replaceSync('');
  root.adoptedStyleSheets = [createStyleSheet(document), viewportSheet];

  const panel = make('section', { part: 'panel', 'data-airlock': 'panel', 'aria-labelledby': 'title', id: 'panel' });
  if (launcherMode) panel.setAttribute('role', 'dialog');
  const header = make('div', { part: 'header' });
  const title = make('h2', { id: 'title' }, strings.title);
  const clear = make('button', { type: 'button', part: 'icon-button clear', 'aria-label': strings.clear, title: strings.clear, hidden: '' });
  clear.append(icon(document, clearIcon));
  header.append(title, clear);
  const body = make('div', { part: 'body' });
  const alert = make('div', { part: 'alert', role: 'alert', 'data-airlock': 'error' });
  const status = make('div', { role: 'status', class: 'visually-hidden', 'data-airlock': 'announcer' });
  panel.append(header, body, alert);
  root.append(status);

  let launcher: HTMLButtonElement | undefined;
  let open = !launcherMode;
  if (launcherMode) {
    const close = make('button', { type: 'button', part: 'icon-button close', 'aria-label': strings.close, title: strings.close });
    close.append(icon(document, closeIcon));
    close.addEventListener('click', () => shell.setOpen(false, true), { signal });
    header.append(close);
    launcher = make('button', {
      type: 'button',
      part: 'launcher',
      'data-airlock': 'launcher',
      'aria-label': strings.open,
      'aria-expanded': 'false',
      'aria-controls': 'panel',
    });
    launcher.append(icon(document, chatIcon));
    launcher.addEventListener('click', () => shell.setOpen(!open), { signal });
    panel.hidden = true;
    root.append(panel, launcher);
  } else {
    root.append(panel);
  }
  clear.addEventListener('click', () => options.onClear(), { signal });
  panel.addEventListener(
    'keydown',
    (event) => {
      if (event.key === 'Escape' && launcherMode && !event.isComposing) {
        event.preventDefault();
        shell.setOpen(false, true);
      }
    },
    { signal },
  );

  // Follow the visual viewport, which shrinks when a mobile keyboard opens, so
  // the composer stays visible above it.
  const viewport = document.defaultView?.visualViewport;
  let frame = 0;
  const fit = (): void => {
    frame = 0;
    if (viewport) viewportSheet.replaceSync(`:host{--_viewport:${Math.round(viewport.height)}px}`);
  };
  const scheduleFit = (): void => {
    const view = document.defaultView;
    if (view && !frame) frame = view.requestAnimationFrame(fit);
  };
  if (viewport && options.mode !== 'inline') {
    viewport.addEventListener('resize', scheduleFit, { signal });
    fit();
  }

  let announceTimer: ReturnType<typeof setTimeout> | undefined;
  options.parent.append(host);

  const shell: Shell = {
    host,
    root,
    document,
    body,
    alert,
    get isOpen() {
      return open;
    },
    setTitle(text) {
      title.textContent = text;
    },
    setTheme(theme) {
      host.setAttribute('data-theme', theme);
    },
    enableClear() {
      clear.hidden = false;
    },
    showError(text, retry) {
      alert.replaceChildren();
      if (!text) return;
      alert.append(make('span', {}, text));
      if (retry) {
        const button = make('button', { type: 'button', part: 'retry', 'data-airlock': 'retry' }, strings.retry);
        button.addEventListener('click', retry, { once: true, signal });
        alert.append(button);
      }
    },
    announce(text) {
      // Emptied first so that the same words said twice are announced twice.
      status.textContent = '';
      clearTimeout(announceTimer);
      announceTimer = setTimeout(() => (status.textContent = text), 50);
    },
    setOpen(value, returnFocus = false) {
      if (!launcher || value === open) return;
      open = value;
      panel.hidden = !value;
      launcher.setAttribute('aria-expanded', String(value));
      launcher.setAttribute('aria-label', value ? strings.close : strings.open);
      if (value) fit();
      if (!value && returnFocus) launcher.focus();
      options.onOpenChange(value);
    },
    destroy() {
      clearTimeout(announceTimer);
      if (frame) document.defaultView?.cancelAnimationFrame(frame);
      host.remove();
    },
  };
  return shell;
}
