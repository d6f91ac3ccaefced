import { ChatClient, type ChatMessage } from './core/chat-client';
import { WidgetError } from './core/errors';
import { TokenClient, type WidgetToken } from './core/token-client';
import { errorText } from './ui/error-text';
import { createPanel } from './ui/panel';

/**
 * Options of {@link createWidget}.
 *
 * @example
 * ```ts
 * const options: WidgetOptions = { widgetId: 'wgt_1', apiBase: 'https://example.com/airlock' };
 * ```
 */
export interface WidgetOptions {
  /** The widget's id (`wgt_…`). Required. */
  widgetId: string;
  /** Base URL of the Airlock server, e.g. `https://example.com/airlock`. Required. */
  apiBase: string;
  /**
   * Element to render into; the widget then fills it. Default: `document.body`,
   * with the panel floating in the viewport's bottom-right corner.
   */
  target?: Element;
  /**
   * Supplies tokens for a private widget, minted by your backend for a signed-in
   * user. Default: `undefined`, i.e. public minting through `POST {apiBase}/token`.
   */
  getToken?: () => Promise<WidgetToken>;
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
  /** A piece of the reply arrived; `content` is the reply so far. */
  'message-delta': { delta: string; content: string };
  /** The reply ended; `stopped` when the visitor (or `reset`/`destroy`) cut it short. */
  'message-complete': { message: ChatMessage; stopped: boolean };
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
  /**
   * Sends a message as the visitor and resolves when the reply has finished,
   * been stopped or failed. Failures reach the `error` event and the panel, so
   * this never rejects. Messages sent while a reply streams wait their turn.
   */
  send(text: string): Promise<void>;
  /** Stops any reply and starts a new, empty conversation. */
  reset(): void;
  /** Stops any reply, removes every listener and element. The widget is unusable afterwards. */
  destroy(): void;
  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof WidgetEventMap>(event: E, listener: (detail: WidgetEventMap[E]) => void): () => void;
  /** Resolves once the first token and the widget's public configuration have arrived; rejects if that failed. */
  whenReady(): Promise<void>;
}

type Listener = (detail: never) => void;

/**
 * Mounts a chat widget and returns its handle. Only touches the DOM when
 * called, so importing `@airlock/widget` during server-side rendering is safe.
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

  const tokens = new TokenClient({
    widgetId: options.widgetId,
    apiBase,
    getToken: options.getToken,
    fetch: options.fetch,
    onTokenRefreshed: ({ expiresAt }) => emit('token-refreshed', { expiresAt }),
  });
  const chat = new ChatClient({ apiBase, tokens, fetch: options.fetch });
  const history: ChatMessage[] = [];
  let controller: AbortController | undefined;
  let queue = Promise.resolve();
  // Bumped by reset() so turns queued before it do not run into the new conversation.
  let generation = 0;
  let destroyed = false;

  const fail = (cause: unknown): void => {
    const error = WidgetError.isInstance(cause) ? cause : new WidgetError('internal', 'Unexpected failure.', { cause });
    panel.showError(errorText(error.code));
    emit('error', error);
  };

  const turn = async (text: string, turnGeneration: number): Promise<void> => {
    if (destroyed || turnGeneration !== generation) return;
    panel.showError(undefined);
    history.push({ role: 'user', content: text });
    panel.addUserMessage(text);
    const reply = panel.startReply();
    const abort = new AbortController();
    controller = abort;
    panel.setStreaming(true);
    let content = '';
    const complete = (stopped: boolean): void => {
      if (content === '') {
        reply.remove();
        return;
      }
      reply.finish();
      const message: ChatMessage = { role: 'assistant', content };
      if (turnGeneration === generation) history.push(message);
      emit('message-complete', { message, stopped });
    };
    try {
      for await (const delta of chat.stream([...history], { signal: abort.signal })) {
        content += delta;
        reply.append(delta);
        emit('message-delta', { delta, content });
      }
      complete(false);
    } catch (error) {
      if (abort.signal.aborted) {
        complete(true);
      } else {
        // Keep what the visitor already read, in the transcript and in the history.
        complete(false);
        fail(error);
      }
    } finally {
      controller = undefined;
      panel.setStreaming(false);
    }
  };

  const send = (text: string): Promise<void> => {
    if (destroyed || text.trim() === '') return Promise.resolve();
    queue = queue.then(() => turn(text, generation));
    return queue;
  };

  const panel = createPanel({
    parent: options.target ?? document.body,
    placement: options.target ? 'inline' : 'floating',
    onSubmit: (text) => void send(text),
    onStop: () => controller?.abort(),
  });

  // The first token is fetched at once (later ones lazily, when sending) because
  // it carries the title, greeting and theme the panel shows.
  const ready = tokens.getToken().then(
    () => {
      if (!destroyed && tokens.widget) panel.configure(tokens.widget);
    },
    (error: unknown) => {
      if (!destroyed) fail(error);
      throw error;
    },
  );
  // The failure already reached the `error` event; only whenReady() callers should see a rejection.
  ready.catch(() => {});

  return {
    send,
    reset() {
      generation += 1;
      controller?.abort();
      history.length = 0;
      panel.clear();
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      controller?.abort();
      listeners.clear();
      panel.destroy();
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
  };
}
