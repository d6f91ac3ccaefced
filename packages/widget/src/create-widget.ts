import type { AnswerSource, WidgetPublicConfig, WidgetTheme } from '@airlock/protocol';
import { ChatClient } from './core/chat-client';
import { WidgetError } from './core/errors';
import { randomId } from './core/ids';
import { TokenClient, type WidgetToken } from './core/token-client';
import { errorText, isRightToLeft, resolveLocale, stringsFor, type WidgetStrings } from './locales/strings';
import { createConversationStorage, type StorageKind, type StoredMessage } from './storage/conversation-storage';
import { createChatView, type ChatView, type ReplyView } from './ui/chat-view';
import { createCompletionView, type CompletionView, type FormViewOptions } from './ui/completion-view';
import { createImageView, type ImageView } from './ui/image-view';
import { createShell, type Shell, type WidgetMode } from './ui/shell';

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
// Codes a second try cannot fix.
const final = new Set(['origin_not_allowed', 'widget_not_found', 'widget_disabled', 'prompt_blocked', 'input_invalid', 'payload_too_large']);

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
    throw new WidgetError('input_invalid', 'createWidget needs both `widgetId` and `apiBase`.');
  }
  const apiBase = options.apiBase.replace(/\/+$/, '');
  const mode: WidgetMode = options.mode ?? (options.target ? 'inline' : 'launcher');
  const parent = (mode === 'inline' && options.target) || document.body;
  const listeners = new Map<keyof WidgetEventMap, Set<Listener>>();
  const emit = <E extends keyof WidgetEventMap>(event: E, detail: WidgetEventMap[E]): void => {
    for (const listener of listeners.get(event) ?? []) {
      // One faulty listener must not break the conversation or starve the others.
      try {
        (listener as (detail: WidgetEventMap[E]) => void)(detail);
      } catch (error) {
        console.error(error);
      }
    }
  };
  // One signal removes every DOM listener on destroy, however many there are.
  const lifetime = new AbortController();
  const signal = lifetime.signal;
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const tokens = new TokenClient({
    widgetId: options.widgetId,
    apiBase,
    getToken: options.getToken,
    tokenUrl: options.tokenUrl,
    fetch: options.fetch,
    onTokenRefreshed: ({ expiresAt }) => emit('token-refreshed', { expiresAt }),
  });
  const client = new ChatClient({ apiBase, tokens, fetch: options.fetch });
  const storage = createConversationStorage(options.storage ?? 'indexeddb', options.storageKey ?? options.widgetId);
  let messages: StoredMessage[] = [];
  let controller: AbortController | undefined;
  let queue = Promise.resolve();
  // Bumped by reset() so turns queued before it do not run into the new conversation.
  let generation = 0;
  let destroyed = false;
  let wantOpen = options.open ?? false;
  let shell: Shell | undefined;
  let built = false;
  let strings = stringsFor(options.locale ?? navigatorLanguage(), options.strings);
  let view: { kind: 'chat'; chat: ChatView } | { kind: 'completion'; form: CompletionView } | { kind: 'image'; form: ImageView } | undefined;

  const persist = (): Promise<void> => storage.save({ ...(tokens.visitorId && { visitorId: tokens.visitorId }), messages });

  let warnedOrigin = false;
  const fail = (cause: unknown, retry?: () => void): void => {
    const error = WidgetError.isInstance(cause) ? cause : new WidgetError('internal', 'Unexpected failure.', { cause });
    if (error.code === 'origin_not_allowed' && !warnedOrigin) {
      warnedOrigin = true;
      // The visitor only reads that the chat is not available here; this line is for the site's owner.
      console.warn(
        `Airlock: ${location.origin} may not use widget ${options.widgetId}. Add ${location.origin} to its allowed origins ` +
          `(admin page: Widgets, ${options.widgetId}, Allowed origins; or: airlock widgets update ${options.widgetId} --origin ${location.origin}).`,
      );
    }
    shell?.showError(errorText(error.code, strings), retry && !final.has(error.code) ? retry : undefined);
    emit('error', error);
  };

  const copy = (text: string, button: HTMLButtonElement): void => {
    void navigator.clipboard?.writeText(text).then(
      () => {
        button.textContent = strings.copied;
        const timer = setTimeout(() => {
          timers.delete(timer);
          button.textContent = strings.copy;
        }, 2000);
        timers.add(timer);
      },
      () => {},
    );
  };

  /** Runs one streamed answer, with Stop, and reports it. */
  const streamAnswer = async (
    source: (signal: AbortSignal) => AsyncIterable<string>,
    output: { append(delta: string): void },
    setBusy: (busy: boolean) => void,
  ): Promise<{ content: string; stopped: boolean; error?: unknown }> => {
    shell?.showError(undefined);
    const abort = new AbortController();
    controller = abort;
    setBusy(true);
    let content = '';
    try {
      for await (const delta of source(abort.signal)) {
        content += delta;
        output.append(delta);
        emit('message-delta', { delta, content });
      }
      return { content, stopped: false };
    } catch (error) {
      return abort.signal.aborted ? { content, stopped: true } : { content, stopped: false, error };
    } finally {
      controller = undefined;
      if (!destroyed) setBusy(false);
    }
  };

  const complete = (content: string, stopped: boolean, sources?: AnswerSource[]): void => {
    if (content === '') return;
    if (!stopped) shell?.announce(content);
    emit('message-complete', { message: { role: 'assistant', content, ...(sources && { sources }) }, stopped });
  };

  const chatTurn = async (chat: ChatView, user: StoredMessage, turnGeneration: number): Promise<void> => {
    if (destroyed || turnGeneration !== generation) return;
    const history = messages.slice(0, messages.indexOf(user) + 1).map(({ role, content }) => ({ role, content }));
    const reply: ReplyView = chat.startReply();
    let sources: AnswerSource[] | undefined;
    const result = await streamAnswer(
      (abortSignal) => client.stream(history, { signal: abortSignal, idempotencyKey: user.key, onSources: (received) => (sources = received) }),
      reply,
      (busy) => chat.setStreaming(busy),
    );
    if (destroyed) return;
    let partial: StoredMessage | undefined;
    if (result.content === '') reply.remove();
    else {
      reply.finish(sources);
      partial = { id: randomId(), role: 'assistant', content: result.content, sources };
      if (turnGeneration === generation) messages.push(partial);
    }
    complete(result.content, result.stopped, sources);
    if (turnGeneration !== generation) return;
    void persist();
    if (result.error !== undefined) {
      // Keep what the visitor already read; a retry replaces it, with the turn's idempotency key.
      fail(result.error, () => {
        if (partial) {
          reply.remove();
          messages = messages.filter((message) => message !== partial);
        }
        // A turn shows its own failure (fail); nothing waits for a retry.
        void enqueue(() => chatTurn(chat, user, generation));
      });
    }
  };

  const completionTurn = async (form: CompletionView, values: Record<string, string | number>): Promise<void> => {
    const output = form.startResult();
    const key = randomId();
    const result = await streamAnswer(
      (abortSignal) => client.complete(values, { signal: abortSignal, idempotencyKey: key }),
      output,
      (busy) => form.setBusy(busy),
    );
    if (destroyed) return;
    output.finish();
    complete(result.content, result.stopped);
    if (result.error !== undefined) fail(result.error, () => void enqueue(() => completionTurn(form, values)));
  };

  const imageTurn = async (form: ImageView, prompt: string): Promise<void> => {
    shell?.showError(undefined);
    const abort = new AbortController();
    controller = abort;
    form.setBusy(true);
    try {
      const result = await client.generateImage(prompt, { signal: abort.signal, idempotencyKey: randomId() });
      const image = result.data[0];
      const url = image?.url ?? (image?.b64_json ? `data:image/png;base64,${image.b64_json}` : undefined);
      if (!url || !/^(https?:|data:image\/)/.test(url)) throw new WidgetError('internal', 'The image response had no usable image.');
      if (destroyed) return;
      form.showImage(url, prompt);
      shell?.announce(prompt);
      emit('image-complete', { url });
    } catch (error) {
      if (!abort.signal.aborted && !destroyed) fail(error, () => void enqueue(() => imageTurn(form, prompt)));
    } finally {
      controller = undefined;
      if (!destroyed) form.setBusy(false);
    }
  };

  const enqueue = (run: () => Promise<void>): Promise<void> => {
    queue = queue.then(run, run);
    return queue;
  };

  const submit = (input: string | Record<string, string | number>): Promise<void> => {
    if (destroyed || !view) return Promise.resolve();
    if (view.kind === 'chat') {
      const chat = view.chat;
      const text = typeof input === 'string' ? input : Object.values(input).join('\n');
      if (text.trim() === '') return Promise.resolve();
      const turnGeneration = generation;
      return enqueue(async () => {
        if (destroyed || turnGeneration !== generation) return;
        // One idempotency key per visitor turn, kept for its retries.
        const user: StoredMessage = { id: randomId(), role: 'user', content: text, key: randomId() };
        messages.push(user);
        chat.addUserMessage(text);
        // The first write happens here, once the visitor has acted.
        void persist();
        await chatTurn(chat, user, turnGeneration);
      });
    }
    if (view.kind === 'completion') {
      const form = view.form;
      const values = typeof input === 'string' ? { [tokens.widget?.inputs?.[0]?.name ?? 'text']: input } : input;
      return enqueue(() => completionTurn(form, values));
    }
    const form = view.form;
    const prompt = typeof input === 'string' ? input : String(Object.values(input)[0] ?? '');
    return prompt.trim() === '' ? Promise.resolve() : enqueue(() => imageTurn(form, prompt));
  };

  let shown: WidgetPublicConfig | undefined;
  let requestedLocale = '';
  /** Applies what the visitor sees of `config` (title, theme, look, texts in their language) to the built UI. */
  const present = (config: WidgetPublicConfig | undefined): void => {
    shown = config;
    // The visitor's exact tag (pt-BR) first, then their language (pt), then the untranslated texts.
    const translations = config?.translations ?? {};
    const texts = { ...config, ...translations[requestedLocale.split(/[-_]/)[0]!.toLowerCase()], ...translations[requestedLocale] };
    shell?.setTitle(texts.title ?? strings.title);
    shell?.setTheme(options.theme ?? config?.theme ?? 'auto');
    shell?.setStyle(config?.style);
    if (view?.kind === 'chat') view.chat.configure(texts);
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
    if (mode !== 'launcher' || !greeting || messages.length > 0 || teaserStore()?.getItem(teaserKey)) return;
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        const translations = config.translations ?? {};
        const text =
          translations[requestedLocale]?.proactiveGreeting ?? translations[requestedLocale.split(/[-_]/)[0]!.toLowerCase()]?.proactiveGreeting ?? greeting.text;
        // Written only once the visitor answered it (dismissed it or opened the chat), never on sight.
        if (!shell?.isOpen) shell?.showTeaser(text, () => teaserStore()?.setItem(teaserKey, '1'));
      },
      (greeting.delaySeconds ?? 5) * 1000,
    );
    timers.add(timer);
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
        if (open && built) focusView();
        emit(open ? 'open' : 'close', {});
      },
      onClear: () => widget.reset(),
    });
    const formOptions: FormViewOptions = { shell, strings, signal, onSubmit: (values) => void submit(values), onStop: stop, onCopy: copy };
    if (config?.type === 'completion') view = { kind: 'completion', form: createCompletionView(formOptions, config.inputs) };
    else if (config?.type === 'image') view = { kind: 'image', form: createImageView(formOptions) };
    else {
      const chat = createChatView({ ...formOptions, onSubmit: (text) => void submit(text) });
      view = { kind: 'chat', chat };
      // The greeting first, then a restored conversation under it.
      present(config);
      for (const message of messages) {
        if (message.role === 'user') chat.addUserMessage(message.content);
        else chat.addAssistantMessage(message.content, message.sources);
      }
      shell.enableClear();
    }
    present(config);
    if (wantOpen) shell.setOpen(true);
    else scheduleTeaser(config);
    built = true;
  };

  const focusView = (): void => {
    if (view?.kind === 'chat') view.chat.focus();
    else view?.form.focus();
  };
  const stop = (): void => controller?.abort();

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
    const saved = await storage.load();
    if (saved) {
      messages = saved.messages;
      tokens.visitorId ??= saved.visitorId;
    }
    let failure: unknown;
    await tokens.getToken().catch((error: unknown) => (failure = error));
    if (destroyed) return;
    build(tokens.widget);
    if (failure !== undefined) {
      fail(failure);
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
        () => submit(input),
        () => {},
      ),
    reset() {
      generation += 1;
      controller?.abort();
      messages = [];
      void storage.clear();
      if (view?.kind === 'chat') view.chat.clear();
      else if (view) {
        view.form.result.replaceChildren();
        view.form.result.hidden = true;
        shell?.showError(undefined);
      }
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      controller?.abort();
      lifetime.abort();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
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
