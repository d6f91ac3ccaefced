import type { WidgetInput, WidgetProactiveGreeting, WidgetStyle, WidgetTexts, WidgetTheme, WidgetType } from '@airlock/protocol';
import type { GenerationBalance } from './generation-store.js';
import type { OpenAiKeyRecord } from './openai-key-store.js';
import type { SharedKeyGrant } from './account-store.js';

/**
 * What visitors see of a widget; sent to the browser with each token.
 */
export interface WidgetPresentation {
  title: string;
  theme: WidgetTheme;
  greeting?: string;
  placeholder?: string;
  suggestedPrompts?: string[];
  locale?: string;
  /** The widget's look (brand colour, position, launcher, sizes, font). */
  style?: WidgetStyle;
  /** Greeting, placeholder, prompts and proactive greeting by language tag. */
  translations?: Record<string, WidgetTexts>;
  proactiveGreeting?: WidgetProactiveGreeting;
}

/**
 * How a chat widget remembers the conversation (the client sends the whole
 * history; the server decides how much of it reaches the model).
 * - `standard`: everything, oldest turns dropped only when over the model's context budget;
 * - `recent-context`: the last `messages` messages;
 * - `limited-recall`: the first user message plus the last `messages` messages;
 * - `tokenized-summary`: turns beyond `budgetTokens` folded into a running summary made by the model.
 */
export type MemoryStrategy =
  | { strategy: 'standard' }
  | { strategy: 'recent-context'; /** Messages kept. Default: 10. */ messages?: number }
  | { strategy: 'limited-recall'; /** Recent messages kept besides the first user message. Default: 6. */ messages?: number }
  | {
      strategy: 'tokenized-summary';
      /** Tokens of recent conversation sent as they are; older turns are summarised. Default: 2,000. */
      budgetTokens?: number;
      /** Largest summary, in tokens. Default: 300. */
      summaryMaxTokens?: number;
    };

/**
 * How the server talks to the model for a widget. Never sent to a browser.
 * Every field is optional except the model; see docs/configuring-widgets.md.
 */
export interface WidgetBehaviour {
  /** Model used when the client names none (and the only one allowed without `allowedModels`). */
  model: string;
  /** Further models a client may ask for by name; any other is refused with `input_invalid`. Default: none. */
  allowedModels?: string[];
  /** Sent as the first (system) message. Default: none. */
  systemPrompt?: string;
  /**
   * Chat widgets: whether a client's own instructions (a `system` or
   * `developer` message, the Responses API's `instructions`) are accepted.
   * They are sent after `systemPrompt`, never instead of it. Anyone holding a
   * token can then steer the model, so keep it off for a public widget.
   * Default: `false` (refused with `input_invalid`, naming this setting).
   */
  allowClientInstructions?: boolean;
  /**
   * Chat widgets with knowledge: how many passages of the widget's files
   * are given to the model per answer (the vector count), 0 to 20; `0` turns
   * retrieval off. Default: `5`.
   */
  vectorCount?: number;
  /** Sampling temperature, 0 to 2. Default: the model's. */
  temperature?: number;
  /** Cap on output tokens per answer; the server's own maximum caps it again. Default: the server maximum. */
  maxOutputTokens?: number;
  /** Blocked words and phrases: a match answers `prompt_blocked` without calling the model. Default: none. */
  promptFilter?: { blocked: string[] };
  /** Chat widgets: how much of the conversation reaches the model. Default: `{ strategy: 'standard' }`. */
  memory?: MemoryStrategy;
  /** Text-completion widgets: the prompt, with `{{name}}` placeholders plus `{{date}}`, `{{time}}` and `{{datetime}}`. */
  promptTemplate?: string;
  /** Text-completion widgets: the inputs the template uses (also shown to the browser as form fields). Default: none. */
  inputs?: WidgetInput[];
  /** IANA time zone for `{{date}}` and `{{time}}`. Default: `'UTC'`. */
  timeZone?: string;
  /** Image widgets: model, allowed sizes and how many images per request. */
  image?: {
    /** Default: the widget's `model`. */
    model?: string;
    /** Sizes a client may ask for; the first is the default. Default: `['1024x1024']`. */
    sizes?: string[];
    /** Most images per request. Default: 1. */
    maxImages?: number;
    /** Passed through when set (`standard`, `hd`, `low`, …). Default: the model's. */
    quality?: string;
  };
}

/**
 * A widget as stored.
 *
 * @example
 * ```ts
 * const widget = await store.getWidget('wgt_abc');
 * ```
 */
export interface WidgetRecord {
  id: string;
  accountId: string;
  name: string;
  type: WidgetType;
  enabled: boolean;
  /** Exact origins (`https://example.com`) or wildcards (`https://*.example.com`). */
  allowedOrigins: string[];
  presentation: WidgetPresentation;
  behaviour: WidgetBehaviour;
  /** Revocation epoch: tokens minted under a lower epoch are refused. */
  epoch: number;
  /** Which OpenAI key serves this widget. Default (`undefined`): the account's own key when it has one, else the shared key. */
  keySource?: KeySource;
  createdAt: string;
  updatedAt: string;
}

/**
 * Fields needed to create a widget; the store fills ids, epoch and dates.
 *
 * @example
 * ```ts
 * await store.createWidget({ name: 'support', type: 'chat', allowedOrigins: ['https://example.com'],
 *   presentation: { title: 'Support', theme: 'auto' }, behaviour: { model: 'gpt-4o-mini' } });
 * ```
 */
export interface NewWidget {
  id?: string;
  accountId?: string;
  name: string;
  type: WidgetRecord['type'];
  enabled?: boolean;
  allowedOrigins: string[];
  presentation: WidgetPresentation;
  behaviour: WidgetBehaviour;
  /** Default: `undefined` (own key when the account has one, else shared). */
  keySource?: KeySource;
}

/**
 * Fields of a widget that can be changed after creation.
 *
 * @example
 * ```ts
 * await store.updateWidget(id, { enabled: false });
 * ```
 */
export type WidgetPatch = Partial<Pick<WidgetRecord, 'name' | 'enabled' | 'allowedOrigins' | 'presentation' | 'behaviour' | 'keySource'>>;

/**
 * Which OpenAI key serves a widget: its account's own key, or the operator's shared key.
 *
 * @example
 * ```ts
 * await store.updateWidget(id, { keySource: 'shared' });
 * ```
 */
export type KeySource = 'own' | 'shared';

/**
 * A widget with what a proxy call by it needs from the store ({@link WidgetStore.getWidgetForCall}).
 *
 * @example
 * ```ts
 * const found = await store.getWidgetForCall('wgt_abc'); // { widget, keys: { own: undefined, shared: { status: 'active', … } }, generations: undefined }
 * ```
 */
export interface WidgetForCall {
  widget: WidgetRecord;
  keys: StoredKeys;
  /** The account's generation balance, as {@link GenerationStore.getGenerationBalance} gives it; absent when it has none yet. */
  generations?: GenerationBalance;
}

/**
 * The stored OpenAI keys one widget call may use: its account's current key
 * and the stored shared key, each as {@link OpenAiKeyStore.getOpenAiKey} gives it.
 */
export interface StoredKeys {
  own?: OpenAiKeyRecord;
  shared?: OpenAiKeyRecord;
  /** The account's grant of the shared key (`AccountRecord.sharedKey`); absent: `'none'`. */
  sharedKeyGrant?: Exclude<SharedKeyGrant, 'none'>;
}

/**
 * The widgets a store keeps, and the read behind every proxied call.
 *
 * @example
 * ```ts
 * const widget = await store.createWidget({ name: 'support', type: 'chat', allowedOrigins: [], presentation: { title: 'Support', theme: 'auto' }, behaviour: { model: 'gpt-4o-mini' } });
 * ```
 */
export interface WidgetStore {
  createWidget(input: NewWidget): Promise<WidgetRecord>;
  getWidget(id: string): Promise<WidgetRecord | undefined>;
  /**
   * A widget with what a proxy call by it needs: the stored OpenAI keys it
   * may use (what {@link OpenAiKeyStore.getOpenAiKey} gives for its account and for
   * `SHARED_KEY_OWNER`), its account's grant of the shared key
   * (`keys.sharedKeyGrant`) and its account's generation balance, read in
   * one statement: on PostgreSQL one round trip instead of five. Called on
   * every proxied request, so it must see every write at once (revocation);
   * an implementation may keep answers only while it can tell nothing was
   * written, as the SQLite store does. Callers must not change the answer.
   */
  getWidgetForCall(id: string): Promise<WidgetForCall | undefined>;
  findWidgetByName(name: string): Promise<WidgetRecord | undefined>;
  listWidgets(): Promise<WidgetRecord[]>;
  /** Applies a patch; throws `widget_not_found` when there is no such widget. */
  updateWidget(id: string, patch: WidgetPatch): Promise<WidgetRecord>;
  /** Deletes a widget and its conversation summaries; resolves `false` when there was none. Its tokens then fail (`token_invalid`). */
  deleteWidget(id: string): Promise<boolean>;
  /**
   * Raises a widget's revocation epoch by one in a single atomic statement and
   * returns the new epoch; tokens minted under a lower epoch are refused.
   * Throws `widget_not_found` when there is no such widget.
   */
  bumpWidgetEpoch(id: string): Promise<number>;
  /** The widgets of one account, oldest first. */
  listAccountWidgets(accountId: string): Promise<WidgetRecord[]>;
}
