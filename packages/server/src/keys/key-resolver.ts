import { AirlockError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { OpenAiKeyRecord, Store, StoredKeys, WidgetRecord } from '../stores/store.js';
import type { Vault } from '../vault/vault.js';
import { isInvalidKeyAnswer, upstreamRefusalOf } from '../proxy/upstream-errors.js';
import { openAiKeyBinding } from './account-keys.js';
import { fingerprintOf } from './fingerprint.js';

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
  /**
   * Asks the upstream whether it refuses a key itself (a cheap `GET /models`,
   * `UpstreamClients.keyIsRefused`), before the operator's shared key is
   * marked invalid: one tenant's refused call must not take it from all.
   * Default: none, so a stored shared key is never marked invalid.
   */
  confirmRefused?: (apiKey: string) => Promise<boolean>;
  /** Checks that a widget may use the shared key (the operator's grant and model allow-list), before it is opened; throws to refuse. Default: none. */
  checkSharedUse?: (widget: WidgetRecord, stored: StoredKeys) => void;
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
  readonly #confirmRefused: ((apiKey: string) => Promise<boolean>) | undefined;
  readonly #checkSharedUse: ((widget: WidgetRecord, stored: StoredKeys) => void) | undefined;
  // One confirmation at a time per shared key, however many calls it refused at once.
  readonly #confirming = new Map<string, Promise<boolean>>();

  constructor(options: KeyResolverOptions) {
    this.#store = options.store;
    this.#vault = options.vault;
    this.#logger = options.logger;
    this.#environmentKey = options.environmentKey ?? (() => undefined);
    this.#usageWriteIntervalMs = options.usageWriteIntervalMs ?? 60_000;
    this.#now = options.now ?? (() => new Date());
    this.#confirmRefused = options.confirmRefused;
    this.#checkSharedUse = options.checkSharedUse;
  }

  /**
   * The key for one call by `widget`; throws `upstream_key_invalid` when it
   * has none usable. `stored` are its keys as read with the widget
   * (`Store.getWidgetForCall`).
   */
  async apiKeyFor(widget: WidgetRecord, stored: StoredKeys): Promise<ResolvedKey> {
    const own = widget.keySource === 'shared' ? undefined : stored.own;
    const ownIsCurrent = own !== undefined && own.status !== 'revoked';
    const usesOwn = widget.keySource === 'own' || (widget.keySource === undefined && ownIsCurrent);
    if (!usesOwn) this.#checkSharedUse?.(widget, stored);
    const resolved = usesOwn ? { apiKey: await this.#open(own, 'own'), source: 'own' as const, keyId: own!.id } : await this.#shared(stored.shared);
    if (resolved.keyId) this.#noteUse(resolved.keyId);
    return resolved;
  }

  /**
   * Records an upstream failure of the key a request used (`resolved`, as
   * {@link apiKeyFor} gave it to that request; `undefined` when it got none),
   * so a refusal marks that key and not one saved since. Every refusal is
   * logged at `warn` with the upstream's status, code and type and the key's
   * fingerprint (never the key, never the upstream's message). A stored key
   * becomes `invalid` only when the upstream says the key itself is invalid
   * (OpenAI's 401 `invalid_api_key` or `account_deactivated`), so later
   * requests fail at once instead of retrying it; the operator's shared key
   * only once a call of its own confirms it (`confirmRefused`). A missing
   * permission or a model the key may not use never marks it. Other upstream
   * errors only update `lastErrorCode`.
   */
  async reportUpstreamFailure(resolved: ResolvedKey | undefined, error: unknown): Promise<void> {
    if (!AirlockError.isInstance(error) || this.#ownErrors.has(error)) return;
    const refusal = upstreamRefusalOf(error);
    if (refusal && resolved) {
      this.#logger.warn('the AI service refused a call', {
        status: refusal.status,
        upstreamCode: refusal.code,
        upstreamType: refusal.type,
        code: error.code,
        keyFingerprint: fingerprintOf(resolved.apiKey),
        keySource: resolved.source,
        ...(resolved.keyId && { keyId: resolved.keyId }),
      });
    }
    if (!resolved?.keyId) return;
    if (!error.code.startsWith('upstream_') || error.code === 'upstream_timeout') return;
    const invalidate = isInvalidKeyAnswer(error) && (resolved.source === 'own' || (await this.#sharedKeyRefused(resolved)));
    try {
      await this.#store.recordOpenAiKeyError(resolved.keyId, error.code, { invalidate });
      if (invalidate) this.#logger.warn('the upstream refused a stored OpenAI key; marked invalid', { keyId: resolved.keyId, source: resolved.source });
    } catch (storeError) {
      this.#logger.error('could not record an upstream key failure', { keyId: resolved.keyId, error: storeError });
    }
  }

  async #sharedKeyRefused(resolved: ResolvedKey): Promise<boolean> {
    if (!this.#confirmRefused) return false;
    const keyId = resolved.keyId!;
    let confirming = this.#confirming.get(keyId);
    if (!confirming) {
      confirming = this.#confirmRefused(resolved.apiKey).catch(() => false);
      this.#confirming.set(keyId, confirming);
      void confirming.finally(() => this.#confirming.delete(keyId));
    }
    const refused = await confirming;
    if (!refused)
      this.#logger.warn('the AI service refused a call with the shared key, but did not refuse the key itself when asked; it stays active', { keyId });
    return refused;
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
