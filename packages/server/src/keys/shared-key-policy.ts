import { AirlockError } from '../errors.js';
import type { SharedKeyGrant, StoredKeys, WidgetRecord } from '../stores/store.js';

/**
 * Models widgets of accounts granted `listed-models` may use on the shared
 * key when the operator lists none: OpenAI's low-cost text models and
 * image models (one or two generations each in the default cost table).
 *
 * @example
 * ```ts
 * createAirlock({ sharedKey: { models: [...defaultSharedKeyModels, 'gpt-4o'] } });
 * ```
 */
export const defaultSharedKeyModels: readonly string[] = [
  'gpt-4o-mini',
  'gpt-4.1-mini',
  'gpt-4.1-nano',
  'gpt-5-mini',
  'gpt-5-nano',
  'dall-e-2',
  'gpt-image-1-mini',
];

/**
 * Generations an account may spend on the shared key while the operator has
 * set no allowance for it (`proxy.defaultGenerationAllowance`).
 *
 * @example
 * ```ts
 * createAirlock({ proxy: { defaultGenerationAllowance: defaultSharedKeyAllowance * 5 } });
 * ```
 */
export const defaultSharedKeyAllowance = 1_000;

/**
 * The operator's rules for the shared key (`AirlockOptions.sharedKey`).
 */
export interface SharedKeyOptions {
  /**
   * Models that widgets of accounts granted `listed-models` may use on the
   * shared key. Each entry is a model name (its dated snapshots, such as
   * `gpt-4o-mini-2024-07-18`, match too), a prefix ending in `*`
   * (`gpt-4.1-*`), or `*` for any model. Accounts granted `any-model` are
   * not limited by it. Default: `process.env.AIRLOCK_SHARED_KEY_MODELS`
   * (comma-separated), else {@link defaultSharedKeyModels}.
   */
  models?: readonly string[];
}

/**
 * The allow-list in `AIRLOCK_SHARED_KEY_MODELS`: model names (or prefixes
 * ending in `*`) separated by commas; `undefined` when it is unset or empty.
 * Throws on an entry that cannot be a model name.
 *
 * @example
 * ```ts
 * sharedKeyModelsFrom('gpt-4o-mini, gpt-4.1-*'); // ['gpt-4o-mini', 'gpt-4.1-*']
 * ```
 */
export function sharedKeyModelsFrom(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const models = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const bad = models.find((entry) => !/^[\x21-\x7e]{1,100}$/.test(entry) || entry.slice(0, -1).includes('*'));
  if (bad !== undefined) {
    throw new AirlockError('internal', 'AIRLOCK_SHARED_KEY_MODELS must list model names separated by commas, such as "gpt-4o-mini,gpt-4.1-*".');
  }
  return models;
}

/**
 * The generation allowance of an account that has none set, as the proxy
 * and the admin API apply it: `proxy.defaultGenerationAllowance` when given
 * (`null`: unlimited), else {@link defaultSharedKeyAllowance}.
 *
 * @example
 * ```ts
 * defaultAllowanceOf(context.config.proxy); // 1000
 * ```
 */
export function defaultAllowanceOf(proxy: { defaultGenerationAllowance?: number | null } | undefined): number | null {
  return proxy?.defaultGenerationAllowance === undefined ? defaultSharedKeyAllowance : proxy.defaultGenerationAllowance;
}

/**
 * A model a widget may call upstream, and the behaviour field that names it.
 */
export interface WidgetModel {
  field: string;
  model: string;
}

/**
 * Every model a widget can send upstream: an image widget's image model;
 * otherwise its model and the ones a client may ask for (`allowedModels`).
 * Summaries of the `tokenized-summary` memory use the chat's model.
 *
 * @example
 * ```ts
 * widgetModels(widget); // [{ field: 'behaviour.model', model: 'gpt-4o-mini' }]
 * ```
 */
export function widgetModels(widget: Pick<WidgetRecord, 'type' | 'behaviour'>): WidgetModel[] {
  const { behaviour } = widget;
  if (widget.type === 'image') {
    return behaviour.image?.model !== undefined
      ? [{ field: 'behaviour.image.model', model: behaviour.image.model }]
      : [{ field: 'behaviour.model', model: behaviour.model }];
  }
  return [
    { field: 'behaviour.model', model: behaviour.model },
    ...(behaviour.allowedModels ?? []).map((model, index) => ({ field: `behaviour.allowedModels[${index}]`, model })),
  ];
}

/**
 * The operator's rules for the shared OpenAI key: an account's widgets may
 * use it only with the operator's grant (`AccountRecord.sharedKey`), and,
 * unless granted `any-model`, only with the allowed models. Checked when an
 * account owner saves a widget and before every call opens the shared key.
 *
 * @example
 * ```ts
 * const policy = new SharedKeyPolicy({ models: ['gpt-4o-mini'] });
 * policy.allows('gpt-4o-mini-2024-07-18'); // true
 * policy.assertCall(widget, keys); // throws `forbidden` when the account may not use the shared key
 * ```
 */
export class SharedKeyPolicy {
  readonly #exact = new Set<string>();
  readonly #prefixes: string[] = [];
  readonly #any: boolean;
  /** The allowed models as configured, for messages. */
  readonly models: readonly string[];

  constructor(options: SharedKeyOptions = {}) {
    this.models = [...(options.models ?? defaultSharedKeyModels)];
    for (const entry of this.models) {
      if (entry.endsWith('*')) this.#prefixes.push(entry.slice(0, -1));
      else this.#exact.add(entry);
    }
    this.#any = this.#prefixes.includes('');
  }

  /** Whether the allow-list lets `model` run on the shared key. */
  allows(model: string): boolean {
    if (this.#any || this.#exact.has(model)) return true;
    // A dated snapshot of an allowed model is the same model.
    const snapshot = /^(.+)-\d{4}-\d{2}-\d{2}$/.exec(model);
    if (snapshot && this.#exact.has(snapshot[1]!)) return true;
    return this.#prefixes.some((prefix) => model.startsWith(prefix));
  }

  /** The first of a widget's models the allow-list refuses, under `grant`. */
  refusedModel(widget: Pick<WidgetRecord, 'type' | 'behaviour'>, grant: SharedKeyGrant | undefined): WidgetModel | undefined {
    if (grant === 'any-model') return undefined;
    return widgetModels(widget).find(({ model }) => !this.allows(model));
  }

  /**
   * Before a call opens the shared key: refuses it with `forbidden` unless
   * the widget's account holds the grant and its models are allowed. Tells
   * the visitor nothing of the rules; the log of the refusal does.
   */
  assertCall(widget: WidgetRecord, keys: StoredKeys): void {
    const grant = keys.sharedKeyGrant;
    if (grant === undefined) {
      throw new AirlockError('forbidden', 'This assistant is not set up to use the shared AI key; its owner needs to add their own key.');
    }
    if (this.refusedModel(widget, grant)) {
      throw new AirlockError('forbidden', 'This assistant\u2019s model is not available on the shared AI key; its owner needs to choose another.');
    }
  }

  /**
   * When an account owner saves a widget that the shared key would serve:
   * refuses `keySource: 'shared'` without the grant (`forbidden`), and a
   * model the allow-list refuses (`input_invalid`, naming the field).
   */
  assertSave(widget: Pick<WidgetRecord, 'type' | 'behaviour' | 'keySource'>, grant: SharedKeyGrant, servedByShared: boolean): void {
    if (!servedByShared) return;
    if (grant === 'none') {
      if (widget.keySource !== 'shared') return;
      throw new AirlockError(
        'forbidden',
        'This account may not use the shared OpenAI key: the operator grants it. Save the account\u2019s own key and use "own" instead.',
      );
    }
    const refused = this.refusedModel(widget, grant);
    if (refused) {
      throw new AirlockError(
        'input_invalid',
        `"${refused.field}": ${refused.model} is not allowed on the shared OpenAI key; allowed: ${this.models.join(', ') || 'none'}.`,
      );
    }
  }
}
