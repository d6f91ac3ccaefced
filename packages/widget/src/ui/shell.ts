import type { WidgetStrings } from '../locales/strings';
import { elementMaker, icon } from './dom';
import type { WidgetStyle } from '@airlock/protocol';
import { createStyleSheet } from './styles';

/**
 * How a widget sits on the page:
 * - `'launcher'`: a bubble in the corner that opens a floating panel;
 * - `'inline'`: fills a target element;
 * - `'page'`: fills the whole viewport (the iframe page uses it).
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
  /** Applies the owner's look; again with new settings, replaces it. */
  setStyle(style: WidgetStyle | undefined): void;
  /** Shows a proactive greeting beside the closed launcher; `onClose` runs once the visitor dismissed it or opened the chat. */
  showTeaser(text: string, onClose: () => void): void;
  /** Shows the clear-conversation button (chat widgets). */
  enableClear(): void;
  showError(text: string | undefined, retry?: () => void): void;
  /** Says `text` once through the polite live region. */
  announce(text: string): void;
  setOpen(open: boolean, returnFocus?: boolean): void;
  destroy(): void;
}

const icons: Record<string, string> = {
  chat: 'M21 12a8 8 0 0 1-11.6 7.1L4 20.5l1.4-5.1A8 8 0 1 1 21 12z',
  help: 'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM9.2 9a3 3 0 0 1 5.7 1c0 2-3 2.5-3 4M12 17.5h.01',
  sparkles: 'M12 3l1.8 5.2L19 10l-5.2 1.8L12 17l-1.8-5.2L5 10l5.2-1.8zM19 15l.7 2.3L22 18l-2.3.7L19 21l-.7-2.3L16 18l2.3-.7z',
};
const closeIcon = 'M6 6l12 12M18 6L6 18';
const clearIcon = 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13';

/** Builds the shell inside a shadow root on a new host element appended to `options.parent`. */
export function createShell(options: ShellOptions): Shell {
  const { strings, signal } = options;
  const document = options.parent.ownerDocument;
  const make = elementMaker(document);
  const launcherMode = options.mode === 'launcher';

  const host = make('div', { 'data-airlock': 'widget', 'data-mode': options.mode, 'data-theme': 'auto', lang: options.locale });
  if (options.rightToLeft) host.setAttribute('dir', 'rtl');
  const root = host.attachShadow({ mode: 'open' });
  // A second sheet holds what changes at run time (the visual viewport's height):
  // rewriting a constructable sheet needs no style attribute, so a strict CSP allows it.
  const viewportSheet = createStyleSheet(document, '');
  // The owner's look: custom properties on :host, which the page's own CSS on the host element still overrides.
  const lookSheet = createStyleSheet(document, '');
  root.adoptedStyleSheets = [createStyleSheet(document), lookSheet, viewportSheet];
  let look: WidgetStyle = {};

  const panel = make('section', { part: 'panel', 'data-airlock': 'panel', 'aria-labelledby': 'title', id: 'panel' });
  if (launcherMode) panel.setAttribute('role', 'dialog');
  const header = make('div', { part: 'header' });
  let logo: HTMLImageElement | undefined;
  const title = make('h2', { id: 'title' }, strings.title);
  const clear = make('button', { type: 'button', part: 'icon-button clear', 'aria-label': strings.clear, title: strings.clear, hidden: '' });
  clear.append(icon(document, clearIcon));
  header.append(title, clear);
  const body = make('div', { part: 'body' });
  const alert = make('div', { part: 'alert', role: 'alert', 'data-airlock': 'error' });
  const status = make('div', { role: 'status', class: 'visually-hidden', 'data-airlock': 'announcer' });
  const poweredBy = make('p', { part: 'powered-by', hidden: '' }, 'Powered by Airlock');
  panel.append(header, body, alert, poweredBy);
  root.append(status);

  let launcher: HTMLButtonElement | undefined;
  let teaser: HTMLElement | undefined;
  let open = !launcherMode;
  // The launcher shows the owner's icon, image and label while closed, and a close icon while open.
  const drawLauncher = (): void => {
    if (!launcher) return;
    const label = open ? undefined : look.launcherLabel;
    launcher.replaceChildren(
      !open && look.launcherImage
        ? make('img', { src: look.launcherImage, alt: '' })
        : icon(document, open ? closeIcon : (icons[look.launcherIcon ?? 'chat'] ?? icons.chat!)),
    );
    if (label) launcher.append(make('span', {}, label));
    launcher.toggleAttribute('data-label', !!label);
    // A visible label is the accessible name too, so speech users can say what they see.
    launcher.setAttribute('aria-label', open ? strings.close : (label ?? strings.open));
  };
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
    launcher.addEventListener('click', () => shell.setOpen(!open), { signal });
    panel.hidden = true;
    drawLauncher();
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
    if (viewport) viewportSheet.replaceSync(`:host{--_viewport:${Math.round(viewport.height)}px;--_top:${Math.round(viewport.offsetTop)}px}`);
  };
  const scheduleFit = (): void => {
    const view = document.defaultView;
    if (view && !frame) frame = view.requestAnimationFrame(fit);
  };
  if (viewport && options.mode !== 'inline') {
    viewport.addEventListener('resize', scheduleFit, { signal });
    // iOS moves the visual viewport, rather than resizing it, as the keyboard opens.
    viewport.addEventListener('scroll', scheduleFit, { signal });
    fit();
  }

  let announceTimer: ReturnType<typeof setTimeout> | undefined;
  let teaserClose: ((opened: boolean) => void) | undefined;
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
    setStyle(style = {}) {
      look = style;
      const colour = (value?: string) => (value && /^#[0-9a-f]{3,8}$/i.test(value) ? value : undefined);
      const px = (value?: number) => (Number.isFinite(value) ? `${value}px` : undefined);
      // Checked again here: a custom backend's config must not be able to end the declaration.
      const font = style.fontFamily && /^[^;{}\\<>]+$/.test(style.fontFamily) ? style.fontFamily : undefined;
      const properties = {
        accent: colour(style.brandColor),
        'on-accent': colour(style.brandTextColor),
        'offset-x': px(style.offsetX),
        'offset-y': px(style.offsetY),
        width: px(style.width),
        height: px(style.height),
        radius: px(style.radius),
        font: font && `${font},system-ui,sans-serif`,
      };
      lookSheet.replaceSync(
        `:host{${Object.entries(properties)
          .map(([name, value]) => (value ? `--airlock-${name}:${value};` : ''))
          .join('')}}`,
      );
      if (style.position === 'left' || style.position === 'right') host.setAttribute('data-position', style.position);
      else host.removeAttribute('data-position');
      // Made only when set, so a widget without a logo has no image at all.
      if (style.logo) (logo ??= make('img', { part: 'logo', alt: '' })).src = style.logo;
      if (style.logo) header.prepend(logo!);
      else logo?.remove();
      poweredBy.hidden = !style.poweredBy;
      drawLauncher();
    },
    showTeaser(text, onClose) {
      if (!launcher || open || teaser) return;
      const close = (opened: boolean): void => {
        if (!teaser) return;
        teaser.remove();
        teaser = undefined;
        onClose();
        if (opened) shell.setOpen(true);
      };
      const message = make('button', { type: 'button', 'data-airlock': 'teaser' }, text);
      message.addEventListener('click', () => close(true), { signal });
      const dismiss = make('button', { type: 'button', part: 'icon-button dismiss', 'aria-label': strings.dismiss, title: strings.dismiss });
      dismiss.append(icon(document, closeIcon));
      dismiss.addEventListener('click', () => close(false), { signal });
      teaser = make('div', { part: 'teaser', role: 'status' });
      teaser.append(message, dismiss);
      root.insertBefore(teaser, launcher);
      teaserClose = close;
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
      host.toggleAttribute('data-open', value);
      launcher.setAttribute('aria-expanded', String(value));
      drawLauncher();
      // Opening the chat answers the proactive greeting.
      if (value) teaserClose?.(false);
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
