import type { WidgetPublicConfig } from '@airlock/protocol';
import { createConversation, type ConversationMessage, type ConversationSnapshot } from './core/conversation';
import { WidgetError } from './core/errors';
import { callEach } from './core/listeners';
import { TokenClient } from './core/token-client';
import { errorText, isRightToLeft, resolveLocale, stringsFor, type WidgetStrings } from './locales/strings';
import { createConversationStorage } from './storage/conversation-storage';
import { createChatView } from './ui/chat-view';
import { createCompletionView } from './ui/completion-view';
import { createImageView } from './ui/image-view';
import { createShell, type Shell, type WidgetMode } from './ui/shell';
import type { ReplyView, View, ViewOptions } from './ui/view';
import type { Widget, WidgetEventMap, WidgetOptions } from './widget';

export type { Widget, WidgetEventMap, WidgetOptions } from './widget';

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
