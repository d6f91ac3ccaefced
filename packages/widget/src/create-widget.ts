import type { AnswerSource, WidgetPublicConfig, WidgetTheme } from '@airlock/protocol';
import { createConversation, type ConversationMessage, type ConversationSnapshot } from './core/conversation';
import { WidgetError } from './core/errors';
import { callEach } from './core/listeners';
import { TokenClient, type WidgetToken } from './core/token-client';
import { errorText, isRightToLeft, resolveLocale, stringsFor, type WidgetStrings } from './locales/strings';
import { createConversationStorage, type StorageKind } from './storage/conversation-storage';
import { createChatView } from './ui/chat-view';
import { createCompletionView } from './ui/completion-view';
import { createImageView } from './ui/image-view';
import { createShell, type Shell, type WidgetMode } from './ui/shell';
import type { ReplyView, View, ViewOptions } from './ui/view';

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

type Listener = (detail: never) => void;

/**
 * Mounts a widget (chat, text completion or image, as the server configures
 * it) and returns its handle. Only touches the DOM when called, so importing
 * `@airlock/widget` during server-side rendering is safe.
 *
 * @example
 * ```ts
 * import { createWidget } from '@airlock/widget';
 *
 * const widget = createWidget({ widgetId: 'wgt_123', apiBase: 'https://example.com/airlock' });
 * widget.on('message-complete', ({ message }) => console.log(message.content));
 * ```
 */
export function createWidget(options: WidgetOptions): Widget {
  if (!options.widgetId || !options.apiBase) {
    throw new WidgetError('input_invalid', 'createWidget needs widgetId and apiBase.');
  }
  const apiBase = options.apiBase.replace(/\/+$/, '');
  const mode: WidgetMode = options.mode ?? (options.target ? 'inline' : 'launcher');
  const parent = (mode === 'inline' && options.target) || document.body;
  const listeners = new Map<keyof WidgetEventMap, Set<Listener>>();
  const emit = <E extends keyof WidgetEventMap>(event: E, detail: WidgetEventMap[E]): void =>
    callEach((listeners.get(event) ?? []) as Iterable<(detail: WidgetEventMap[E]) => void>, detail);
  // One signal removes every DOM listener on destroy, however many there are.
  const lifetime = new AbortController();
  const signal = lifetime.signal;
  const timers = new Set<ReturnType<typeof setTimeout>>();

  // Both take what they need of the widget's options (the id, fetch, getToken, tokenUrl).
  const tokens = new TokenClient({ ...options, apiBase, onTokenRefreshed: ({ expiresAt }) => emit('token-refreshed', { expiresAt }) });
  const conversation = createConversation({
    ...options,
    apiBase,
    tokens,
    storage: createConversationStorage(options.storage ?? 'indexeddb', options.storageKey ?? options.widgetId),
  });
  let destroyed = false;
  let wantOpen = options.open ?? false;
  let shell: Shell | undefined;
  let built = false;
  // Set by build(), before anything reads them.
  let strings: WidgetStrings;
  let view: View | undefined;

  let warnedOrigin = false;
  const fail = (error: WidgetError, retry?: () => unknown): void => {
    if (error.code === 'origin_not_allowed' && !warnedOrigin) {
      warnedOrigin = true;
      // The visitor only reads that the chat is not available here; this line is for the site's owner.
      console.warn(`Airlock: Add ${location.origin} to its allowed origins (widget ${options.widgetId}).`);
    }
    shell?.showError(errorText(error.code, strings), retry);
    emit('error', error);
  };

  const copy = (text: string, button: HTMLButtonElement): void => {
    void navigator.clipboard?.writeText(text).then(
      () => {
        button.textContent = strings.copied;
        // Kept until destroy() clears them all: clearing a finished timer is harmless.
        timers.add(setTimeout(() => (button.textContent = strings.copy), 2000));
      },
      () => {},
    );
  };

  const complete = ({ content, sources, stopped }: ConversationMessage): void => {
    if (!stopped) shell?.announce(content);
    emit('message-complete', { message: { role: 'assistant', content, ...(sources && { sources }) }, stopped: !!stopped });
  };

  // The UI is one subscriber of the conversation: each snapshot becomes the DOM
  // changes and events that lead to it from the one rendered before.
  let rendered = conversation.snapshot;
  const replies = new Map<string, { shown: ConversationMessage; reply: ReplyView | false | undefined }>();
  const render = (snapshot: ConversationSnapshot): void => {
    if (!view) return;
    const { busy, error, messages } = snapshot;
    const previous = rendered;
    rendered = snapshot;
    if (busy !== previous.busy) view.setBusy(busy);
    if (messages !== previous.messages) {
      if (!messages[0]) view.clear();
      // What left the conversation is always what came last: a reset, a retried or an empty reply.
      let index = 0;
      for (const [id, { shown, reply }] of replies) {
        if (messages[index]?.id === id) index++;
        else {
          replies.delete(id);
          // Gone while streaming: reset() cut it short.
          if (shown.streaming && shown.content) complete({ ...shown, stopped: true });
          if (reply) reply.remove();
        }
      }
      for (const message of messages) {
        let entry = replies.get(message.id);
        if (!entry) {
          if (message.role === 'user') view.addUserMessage?.(message.content);
          else if (!message.streaming) view.addAnswer?.(message);
          replies.set(message.id, (entry = { shown: { ...message, content: '' }, reply: message.streaming && view.startReply?.() }));
          if (message.image) {
            shell?.announce(message.content);
            emit('image-complete', { url: message.image });
          }
        }
        const { shown, reply } = entry;
        entry.shown = message;
        if (!reply) continue;
        const delta = message.content.slice(shown.content.length);
        if (delta) {
          reply.append(delta);
          emit('message-delta', { delta, content: message.content });
        }
        if (shown.streaming && !message.streaming) {
          reply.finish(message.sources);
          complete(message);
        }
      }
    }
    if (busy !== previous.busy || error !== previous.error) {
      if (error) fail(error, snapshot.canRetry ? conversation.retry : undefined);
      else shell?.showError(undefined);
    }
  };
  conversation.subscribe(render);

  let shown: WidgetPublicConfig | undefined;
  let requestedLocale = '';
  /** Applies what the visitor sees of `config` (title, theme, look, texts in their language) to the built UI. */
  // The visitor's exact tag (pt-BR) first, then their language (pt), then the untranslated texts.
  const translate = (config: WidgetPublicConfig | undefined) => {
    const translations = config?.translations ?? {};
    return { ...config, ...translations[requestedLocale.split(/[-_]/)[0]!.toLowerCase()], ...translations[requestedLocale] };
  };
  const present = (config: WidgetPublicConfig | undefined): void => {
    shown = config;
    const texts = translate(config);
    shell?.setTitle(texts.title ?? strings.title);
    shell?.setTheme(options.theme ?? config?.theme ?? 'auto');
    shell?.setStyle(config?.style);
    view?.configure?.(texts);
  };

  const teaserKey = `airlock:greeted:${options.storageKey ?? options.widgetId}`;
  const teaserStore = (): Storage | undefined => {
    try {
      return options.storage === 'memory' ? undefined : options.storage === 'session' ? sessionStorage : localStorage;
    } catch {
      // Storage can be off (privacy settings, sandboxed frames): the greeting then shows once per page.
      return undefined;
    }
  };
  const scheduleTeaser = (config: WidgetPublicConfig | undefined): void => {
    const greeting = config?.proactiveGreeting;
    if (mode !== 'launcher' || !greeting || conversation.snapshot.messages[0] || teaserStore()?.getItem(teaserKey)) return;
    timers.add(
      setTimeout(
        () => {
          const text = translate(config).proactiveGreeting;
          // Written only once the visitor answered it (dismissed it or opened the chat), never on sight.
          if (!shell?.isOpen) shell?.showTeaser(typeof text == 'string' ? text : greeting.text, () => teaserStore()?.setItem(teaserKey, '1'));
        },
        (greeting.delaySeconds ?? 5) * 1000,
      ),
    );
  };

  const build = (config: WidgetPublicConfig | undefined): void => {
    requestedLocale = options.locale ?? config?.locale ?? navigatorLanguage() ?? '';
    const locale = resolveLocale(requestedLocale);
    strings = stringsFor(locale, options.strings);
    shell = createShell({
      parent,
      mode,
      strings,
      locale,
      rightToLeft: isRightToLeft(locale),
      signal,
      onOpenChange: (open) => {
        wantOpen = open;
        // Opened by the visitor or the page's code: move focus in. Opened on load (`open: true`): leave focus where it is.
        if (open && built) view?.focus();
        emit(open ? 'open' : 'close', {});
      },
      onClear: () => widget.reset(),
    });
    const viewOptions: ViewOptions = {
      shell,
      strings,
      signal,
      onSubmit: (input) => void conversation.send(input),
      onStop: conversation.stop,
      onCopy: copy,
    };
    view =
      config?.type === 'completion'
        ? createCompletionView(viewOptions, config.inputs)
        : config?.type === 'image'
          ? createImageView(viewOptions)
          : createChatView(viewOptions);
    if (view.configure) shell.enableClear();
    // The greeting first, then a restored conversation under it.
    present(config);
    render(conversation.snapshot);
    if (wantOpen) shell.setOpen(true);
    else scheduleTeaser(config);
    built = true;
  };

  // Timers may not have run while the tab slept or the network was away: renew
  // a stale token now, so the next message does not wait for it.
  const wake = (): void => {
    if (document.visibilityState !== 'hidden') void tokens.renewIfStale();
  };
  document.addEventListener('visibilitychange', wake, { signal });
  window.addEventListener('online', wake, { signal });

  // The first token is fetched at once (later ones lazily, when sending) because
  // it carries the widget's type, title, greeting and theme the UI is built from.
  const ready = (async () => {
    await conversation.restored;
    let failure: unknown;
    await tokens.getToken().catch((error: unknown) => (failure = error));
    if (destroyed) return;
    build(tokens.widget);
    if (failure !== undefined) {
      fail(failure as WidgetError);
      throw failure;
    }
  })();
  // The failure already reached the `error` event; only whenReady() callers should see a rejection.
  ready.catch(() => {});

  const widget: Widget = {
    open: () => (shell ? shell.setOpen(true) : (wantOpen = true)),
    close: () => (shell ? shell.setOpen(false) : (wantOpen = false)),
    toggle: () => widget[(shell?.isOpen ?? wantOpen) ? 'close' : 'open'](),
    send: (input) =>
      ready.then(
        // After destroy() the conversation runs no turn.
        () => conversation.send(input),
        () => {},
      ),
    reset: conversation.reset,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      conversation.destroy();
      lifetime.abort();
      for (const timer of timers) clearTimeout(timer);
      listeners.clear();
      shell?.destroy();
    },
    on(event, listener) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener as Listener);
      return () => {
        set.delete(listener as Listener);
      };
    },
    whenReady: () => ready,
    configure: (config) => present({ ...shown, ...config } as WidgetPublicConfig),
  };
  return widget;
}

function navigatorLanguage(): string | undefined {
  return typeof navigator === 'undefined' ? undefined : navigator.language;
}
