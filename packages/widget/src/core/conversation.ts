import type { AnswerSource } from '@airlock/protocol';
import type { ConversationStorage } from '../storage/conversation-storage';
import { ChatClient, type ChatClientOptions } from './chat-client';
import { WidgetError } from './errors';
import { randomId } from './ids';
import { callEach } from './listeners';

/**
 * One message of a {@link Conversation}. Never changed in place: a reply that
 * grows is a new object in each snapshot.
 *
 * @example
 * ```ts
 * const line = (message: ConversationMessage) => `${message.role}: ${message.content}${message.streaming ? '…' : ''}`;
 * ```
 */
export interface ConversationMessage {
  readonly id: string;
  readonly role: 'user' | 'assistant';
  /** The text; for an image, the prompt it was made from. */
  readonly content: string;
  /** A user message's idempotency key, sent again when its turn is retried. */
  readonly key?: string;
  /** The passages of the widget's knowledge the answer was given, when it had any. */
  readonly sources?: AnswerSource[];
  /** The reply is still arriving. */
  readonly streaming?: boolean;
  /** The reply was cut short by {@link Conversation.stop} or {@link Conversation.reset}. */
  readonly stopped?: boolean;
  /** An image widget's image: an `https:` or `data:image/` URL. */
  readonly image?: string;
}

/**
 * The state of a {@link Conversation} at one moment, frozen: each change makes
 * a new snapshot (and new arrays and messages where they changed), so
 * comparing with `===` tells what changed.
 *
 * @example
 * ```ts
 * let shown = conversation.snapshot;
 * conversation.subscribe((snapshot) => {
 *   if (snapshot.messages !== shown.messages) renderMessages(snapshot.messages);
 *   if (snapshot.error && snapshot.error !== shown.error) showError(snapshot.error.code, snapshot.canRetry);
 *   shown = snapshot;
 * });
 * ```
 */
export interface ConversationSnapshot {
  /**
   * Chat: the whole conversation, the reply being streamed last. Completion and
   * image widgets: the latest answer only.
   */
  readonly messages: readonly ConversationMessage[];
  /** A turn is running (streaming, or making an image). */
  readonly busy: boolean;
  /** Why the last turn failed, until the next one starts. */
  readonly error: WidgetError | undefined;
  /** Whether {@link Conversation.retry} can run the failed turn again (no retry fixes a blocked prompt, say). */
  readonly canRetry: boolean;
}

/**
 * Options of {@link createConversation}: those of {@link ChatClient}, and where
 * the conversation is kept.
 *
 * @example
 * ```ts
 * const options: ConversationOptions = { apiBase, tokens, storage: createConversationStorage('indexeddb', 'wgt_123') };
 * ```
 */
export interface ConversationOptions extends ChatClientOptions {
  /**
   * Keeps a chat's messages and the visitor id, read once at creation and
   * written after each of the visitor's turns (never before the first).
   * Default: `undefined` (nothing outlives the page).
   */
  storage?: ConversationStorage;
}

/**
 * A widget's conversation, headless: the messages, one turn at a time,
 * retry, stop, reset and persistence. What kind of turn `send` makes follows
 * the widget's type (`tokens.widget.type`: chat, completion or image). Any UI
 * is one subscriber; `createWidget` renders one.
 *
 * @example
 * ```ts
 * const conversation = createConversation({ apiBase, tokens });
 * const stop = conversation.subscribe(({ messages, busy }) => render(messages, busy));
 * await conversation.send('What are your opening hours?');
 * ```
 */
export interface Conversation {
  /** The current state; a new frozen object after every change. */
  readonly snapshot: ConversationSnapshot;
  /** Settles once the stored conversation, if any, is in the snapshot. Turns wait for it. */
  readonly restored: Promise<void>;
  /** Calls `listener` with each new snapshot; returns a function that removes it. */
  subscribe(listener: (snapshot: ConversationSnapshot) => void): () => void;
  /**
   * Sends as the visitor, after any turn before it, and resolves when the answer
   * has finished, been stopped or failed (`snapshot.error`); never rejects. A
   * message (chat), input values by name (completion; a string fills the first
   * input) or a prompt (image). Blank text sends nothing.
   */
  send(input: string | Record<string, string | number>): Promise<void>;
  /** Runs the failed turn again (a chat turn with the same idempotency key, its partial reply replaced); a no-op when `canRetry` is false. */
  retry(): Promise<void>;
  /** Stops the answer being received, keeping what arrived. */
  stop(): void;
  /** Stops any answer, drops turns still waiting, and empties the conversation and its storage. */
  reset(): void;
  /** Stops any answer and every notification; the conversation is unusable afterwards. */
  destroy(): void;
}

type Draft = { -readonly [K in keyof ConversationMessage]: ConversationMessage[K] };

// Codes a second try cannot fix.
const final = ['origin_not_allowed', 'widget_not_found', 'widget_disabled', 'prompt_blocked', 'input_invalid', 'payload_too_large'];
const initial: ConversationSnapshot = { messages: [], busy: false, error: undefined, canRetry: false };

/**
 * Creates a {@link Conversation} talking to the Airlock server at
 * `options.apiBase` with the tokens of `options.tokens`. Touches no DOM: it
 * runs in a browser, a worker or Node alike.
 *
 * @example
 * ```ts
 * const tokens = new TokenClient({ widgetId: 'wgt_123', apiBase });
 * const conversation = createConversation({ apiBase, tokens, storage: createConversationStorage('session', 'wgt_123') });
 * conversation.subscribe((snapshot) => console.log(snapshot.messages.at(-1)?.content));
 * await conversation.send('Hello');
 * if (conversation.snapshot.canRetry) await conversation.retry();
 * conversation.reset();
 * ```
 */
export function createConversation(options: ConversationOptions): Conversation {
  const { tokens, storage } = options;
  const client = new ChatClient(options);
  const listeners = new Set<(snapshot: ConversationSnapshot) => void>();
  let snapshot = initial;
  let controller: AbortController | undefined;
  let again: (() => Promise<void>) | undefined;
  // Bumped by reset() so turns queued or running before it change nothing after;
  // destroy() makes it NaN, which equals nothing, so no turn runs or lands again.
  let generation = 0;

  const publish = (changes: Partial<ConversationSnapshot>): void => {
    snapshot = Object.freeze({ ...snapshot, ...changes });
    callEach(listeners, snapshot);
  };
  const persist = (): Promise<void> | undefined => storage?.save({ visitorId: tokens.visitorId, messages: snapshot.messages as ConversationMessage[] });

  publish(initial);
  const restored = (async () => {
    const saved = await storage?.load();
    if (saved) {
      tokens.visitorId ??= saved.visitorId;
      if (generation === 0) publish({ messages: saved.messages });
    }
  })();
  let queue: Promise<unknown> = restored;
  const enqueue = (run: () => Promise<unknown>): Promise<void> => {
    const turnGeneration = generation;
    const guarded = (): Promise<unknown> | undefined => (turnGeneration === generation ? run() : undefined);
    return (queue = queue.then(guarded, guarded)) as Promise<void>;
  };

  /**
   * Runs one answer after `base` (the history it answers; empty for completion
   * and image turns): `answer` streams the reply's text, or fills `draft` and
   * resolves. A failure becomes `snapshot.error`; a retry runs the same answer
   * again, so it keeps the turn's idempotency key.
   */
  const turn = async (
    base: readonly ConversationMessage[],
    answer: (signal: AbortSignal, draft: Draft) => AsyncIterable<string> | Promise<void>,
  ): Promise<void> => {
    const turnGeneration = generation;
    const abort = (controller = new AbortController());
    const draft: Draft = { id: randomId(), role: 'assistant', content: '' };
    const show = (): void => publish({ messages: [...base, { ...draft }] });
    let failure: unknown;
    publish({ busy: true, error: undefined, canRetry: false });
    try {
      const answering = answer(abort.signal, draft);
      if (answering instanceof Promise) {
        await answering;
        show();
      } else {
        draft.streaming = true;
        show();
        for await (const delta of answering) {
          draft.content += delta;
          show();
        }
      }
    } catch (cause) {
      if (!abort.signal.aborted) failure = cause;
    }
    controller = undefined;
    if (turnGeneration !== generation) return;
    const error =
      failure === undefined ? undefined : WidgetError.isInstance(failure) ? failure : new WidgetError('internal', 'Unexpected failure.', { cause: failure });
    const canRetry = !!error && !final.includes(error.code);
    again = canRetry ? () => enqueue(() => turn(base, answer)) : undefined;
    const { streaming, ...done } = draft;
    if (abort.signal.aborted) done.stopped = true;
    publish({
      busy: false,
      error,
      canRetry,
      // A reply with no text is dropped rather than kept empty.
      ...(streaming && { messages: done.content ? [...base, done] : base }),
    });
    // Only chat turns have a history, and only it is kept.
    if (base[0]) void persist();
  };

  const conversation: Conversation = {
    get snapshot() {
      return snapshot;
    },
    restored,
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    send(input) {
      return enqueue(async () => {
        // The widget's type comes with its first token.
        if (!tokens.widget) await tokens.getToken().catch(() => {});
        const widget = tokens.widget;
        const idempotencyKey = randomId();
        if (widget?.type === 'completion') {
          const values = typeof input === 'string' ? { [widget.inputs?.[0]?.name ?? 'text']: input } : input;
          return turn([], (signal) => client.complete(values, { signal, idempotencyKey }));
        }
        const text = typeof input === 'string' ? input : Object.values(input).join('\n');
        if (!text.trim()) return;
        if (widget?.type === 'image') {
          return turn([], async (signal, draft) => {
            const image = (await client.generateImage(text, { signal, idempotencyKey })).data[0];
            const url = image?.url ?? (image?.b64_json ? `data:image/png;base64,${image.b64_json}` : '');
            if (!/^(https?:|data:image\/)/.test(url)) throw new WidgetError('internal', 'No usable image.');
            draft.content = text;
            draft.image = url;
          });
        }
        // The key stays with the visitor's message, for its turn's retries.
        const user: ConversationMessage = { id: randomId(), role: 'user', content: text, key: idempotencyKey };
        const history = [...snapshot.messages, user];
        publish({ messages: history });
        // The first write happens here, once the visitor has acted.
        void persist();
        await turn(history, (signal, draft) =>
          client.stream(
            history.map(({ role, content }) => ({ role, content })),
            { signal, idempotencyKey, onSources: (sources) => (draft.sources = sources) },
          ),
        );
      });
    },
    async retry() {
      const run = again;
      again = undefined;
      await run?.();
    },
    stop: () => controller?.abort(),
    reset() {
      generation += 1;
      controller?.abort();
      again = undefined;
      publish(initial);
      void storage?.clear();
    },
    destroy() {
      generation = NaN;
      controller?.abort();
      listeners.clear();
    },
  };
  return conversation;
}
