import type { AnswerSource, WidgetPublicConfig, WidgetTheme } from '@airlock/protocol';
import type { WidgetError } from './core/errors';
import type { WidgetToken } from './core/token-client';
import type { WidgetStrings } from './locales/strings';
import type { StorageKind } from './storage/conversation-storage';
import type { WidgetMode } from './ui/shell';

/**
 * Options of {@link createWidget}. With the script tag, each is a `data-*`
 * attribute (`data-widget-id`, `data-mode`, `data-locale`, …).
 */
export interface WidgetOptions {
  /** The widget's id (`wgt_…`). Required. */
  widgetId: string;
  /** Base URL of the Airlock server, e.g. `https://example.com/airlock`. Required. */
  apiBase: string;
  /** How the widget sits on the page. Default: `'inline'` when `target` is given, else `'launcher'`. */
  mode?: WidgetMode;
  /** Element to render into in `'inline'` mode. Default: `document.body`. */
  target?: Element;
  /** Whether a launcher starts open. Default: `false`. */
  open?: boolean;
  /** Colour scheme. Default: the widget's configured theme (`'auto'` follows the visitor's system). */
  theme?: WidgetTheme;
  /** Language of the widget's own words (`'fr'`, `'pt-BR'`, …). Default: the widget's configured locale, else `navigator.language`; English when unsupported. */
  locale?: string;
  /** Replaces any of the widget's words. Default: `{}` (the locale's words). */
  strings?: Partial<WidgetStrings>;
  /** Where the conversation and visitor id are kept. Default: `'indexeddb'`. Nothing is written before the visitor first sends. */
  storage?: StorageKind;
  /** Keeps two instances of the same widget apart in storage. Default: the widget id. */
  storageKey?: string;
  /**
   * Supplies tokens for a private widget, minted by your backend for a signed-in
   * user. Resolve `null` when the visitor is signed out: the panel then says
   * "Please sign in to chat." (`strings.errorSignIn`) and the `error` event has
   * the code `sign_in_required`, so you can show your own sign-in prompt.
   * Default: `undefined`, i.e. public minting through `POST {apiBase}/token`.
   */
  getToken?: () => Promise<WidgetToken | null>;
  /** Where public tokens are minted. Default: `{apiBase}/token` (the iframe page uses its own). */
  tokenUrl?: string;
  /** The `fetch` used for every request. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * What each widget event passes to its listeners.
 *
 * @example
 * ```ts
 * const onDelta = (detail: WidgetEventMap['message-delta']) => console.log(detail.content);
 * ```
 */
export interface WidgetEventMap {
  /** A new token arrived; it expires at `expiresAt` (milliseconds since the epoch). */
  'token-refreshed': { expiresAt: number };
  /** A piece of the reply (or completion) arrived; `content` is the text so far. */
  'message-delta': { delta: string; content: string };
  /**
   * The reply ended; `stopped` when the visitor (or `reset`/`destroy`) cut it short.
   * `sources`: the passages of the widget's knowledge the answer was given, when it had any.
   */
  'message-complete': { message: { role: 'assistant'; content: string; sources?: AnswerSource[] }; stopped: boolean };
  /** An image widget's image arrived (an `https:` or `data:` URL). */
  'image-complete': { url: string };
  /** The launcher panel opened. */
  open: Record<string, never>;
  /** The launcher panel closed. */
  close: Record<string, never>;
  /** Something failed; the panel shows it to the visitor in plain words. */
  error: WidgetError;
}

/**
 * A mounted widget, as returned by {@link createWidget}.
 *
 * @example
 * ```ts
 * const widget: Widget = createWidget({ widgetId: 'wgt_1', apiBase });
 * await widget.send('Hello');
 * ```
 */
export interface Widget {
  /** Opens the launcher's panel and focuses its first field (no-op in other modes). */
  open(): void;
  /** Closes the launcher's panel (no-op in other modes). */
  close(): void;
  toggle(): void;
  /**
   * Sends as the visitor and resolves when the answer has finished, been stopped
   * or failed: a message (chat), a prompt (image), or input values by name
   * (completion; a string fills the first input). Failures reach the `error`
   * event and the panel, so this never rejects. Sends wait their turn.
   */
  send(input: string | Record<string, string | number>): Promise<void>;
  /** Stops any answer and wipes the conversation, on screen and in storage. */
  reset(): void;
  /** Stops any answer; removes every listener, timer and element. The widget is unusable afterwards. */
  destroy(): void;
  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof WidgetEventMap>(event: E, listener: (detail: WidgetEventMap[E]) => void): () => void;
  /** Resolves once the first token and the widget's public configuration have arrived and the UI is built; rejects if that failed. */
  whenReady(): Promise<void>;
  /**
   * Shows presentation settings over the server's (title, theme, style, texts)
   * until the page reloads: the admin page's live preview uses it. Settings
   * given here are merged over the server's, field by field at the top level.
   */
  configure(config: Partial<WidgetPublicConfig>): void;
}
