import { AirlockError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { OpenAiKeyRecord, Store, StoredKeys, WidgetRecord } from '../stores/store.js';
import type { Vault } from '../vault/vault.js';
import { openAiKeyBinding } from './account-keys.js';

/**
 * The key chosen for one upstream call. `apiKey` is plaintext: keep it in
 * memory for that call only.
 *
 * @example
 * ```ts
 * const { apiKey, source } = await context.keys.apiKeyFor(widget); // source: 'own' | 'shared'
 * ```
 */
export interface ResolvedKey {
  apiKey: string;
  source: 'own' | 'shared';
  /** The stored key's record id; absent for the shared key from `OPENAI_API_KEY`. */
  keyId?: string;
}

/** Options of {@link KeyResolver}. */
export interface KeyResolverOptions {
  store: Store;
  vault: Vault;
  logger: Logger;
  /** The shared key from the environment (`OPENAI_API_KEY`), used when none is stored. Default: none. */
  environmentKey?: () => string | undefined;
  /** Least time between two `lastUsedAt` writes for one key, in ms. Default: `60_000`. */
  usageWriteIntervalMs?: number;
  /** Clock, for tests. Default: `() => new Date()`. */
  now?: () => Date;
}

/**
 * Picks and opens the OpenAI key for a widget's upstream call. A widget uses
 * its account's own key when its `keySource` is `own`, or when it has none
 * and the account has a current key; otherwise the shared key (stored in the
 * vault, else `OPENAI_API_KEY`). An own key that is missing, revoked or
 * refused fails with `upstream_key_invalid`: it never falls back to the
 * shared key. Keys are decrypted per call and never cached.
 *
 * @example
 * ```ts
 * const resolver = new KeyResolver({ store, vault, logger, environmentKey: () => process.env.OPENAI_API_KEY });
 * const { apiKey } = await resolver.apiKeyFor(widget);
 * ```
 */
export class KeyResolver {
  readonly #store: Store;
  readonly #vault: Vault;
  readonly #logger: Logger;
  readonly #environmentKey: () => string | undefined;
  readonly #usageWriteIntervalMs: number;
  readonly #now: () => Date;
  readonly #lastUsageWrite = new Map<string, number>();
  readonly #ownErrors = new WeakSet<object>();

  constructor(options: KeyResolverOptions) {
    this.#store = options.store;
    this.#vault = options.vault;
    this.#logger = options.logger;
    this.#environmentKey = options.environmentKey ?? (() => undefined);
    this.#usageWriteIntervalMs = options.usageWriteIntervalMs ?? 60_000;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * The key for one call by `widget`; throws `upstream_key_invalid` when it
   * has none usable. `stored` are its keys as read with the widget
   * (`Store.getWidgetForCall`).
   */
  async apiKeyFor(widget: WidgetRecord, stored: StoredKeys): Promise<ResolvedKey> {
    const own = widget.keySource === 'shared' ? undefined : stored.own;
    const ownIsCurrent = own !== undefined && own.status !== 'revoked';
    const resolved =
      widget.keySource === 'own' || (widget.keySource === undefined && ownIsCurrent)
        ? { apiKey: await this.#open(own, 'own'), source: 'own' as const, keyId: own!.id }
        : await this.#shared(stored.shared);
    if (resolved.keyId) this.#noteUse(resolved.keyId);
    return resolved;
  }

  /**
   * Records an upstream failure of the key a request used (`resolved`, as
   * {@link apiKeyFor} gave it to that request; `undefined` when it got none),
   * so a refusal marks that key and not one saved since. On
   * `upstream_key_invalid` (the upstream answered 401 or 403) a stored key
   * becomes `invalid`, so later requests fail at once instead of retrying
   * a refused key. Other errors only update `lastErrorCode`.
   */
  async reportUpstreamFailure(resolved: ResolvedKey | undefined, error: unknown): Promise<void> {
    if (!resolved?.keyId || !AirlockError.isInstance(error) || this.#ownErrors.has(error)) return;
    if (!error.code.startsWith('upstream_') || error.code === 'upstream_timeout') return;
    const invalidate = error.code === 'upstream_key_invalid';
    try {
      await this.#store.recordOpenAiKeyError(resolved.keyId, error.code, { invalidate });
      if (invalidate) this.#logger.warn('the upstream refused a stored OpenAI key; marked invalid', { keyId: resolved.keyId, source: resolved.source });
    } catch (storeError) {
      this.#logger.error('could not record an upstream key failure', { keyId: resolved.keyId, error: storeError });
    }
  }

  async #shared(stored: OpenAiKeyRecord | undefined): Promise<ResolvedKey> {
    if (stored && stored.status !== 'revoked') return { apiKey: await this.#open(stored, 'shared'), source: 'shared', keyId: stored.id };
    const environmentKey = this.#environmentKey();
    if (!environmentKey) throw this.#refuse('No OpenAI key is configured for this widget.');
    return { apiKey: environmentKey, source: 'shared' };
  }

  async #open(record: OpenAiKeyRecord | undefined, source: 'own' | 'shared'): Promise<string> {
    if (!record || record.status === 'revoked' || !record.sealed) {
      throw this.#refuse(source === 'own' ? 'This widget\u2019s account has no active OpenAI key.' : 'No OpenAI key is configured for this widget.');
    }
    if (record.status === 'invalid') throw this.#refuse('The AI service refused this widget\u2019s API key; its owner needs to save a new one.');
    try {
      return (await this.#vault.open(record.sealed, openAiKeyBinding(record.ownerId, record.id))).toString('utf8');
    } catch (error) {
      // The cause names what is wrong (a missing master key version, say) for the operator; the caller gets nothing of it.
      this.#logger.error('a stored OpenAI key could not be opened', { keyId: record.id, error });
      throw new AirlockError('internal', 'Something went wrong on the server.', { cause: error });
    }
  }

  #refuse(message: string): AirlockError {
    const error = new AirlockError('upstream_key_invalid', message);
    this.#ownErrors.add(error);
    return error;
  }

  #noteUse(keyId: string): void {
    const now = this.#now().getTime();
    if (now - (this.#lastUsageWrite.get(keyId) ?? -Infinity) < this.#usageWriteIntervalMs) return;
    this.#lastUsageWrite.set(keyId, now);
    // Not awaited: bookkeeping must not delay the visitor's answer.
    this.#store.recordOpenAiKeyUse(keyId).catch((error: unknown) => {
      this.#logger.error('could not record a key use', { keyId, error });
    });
  }
}
