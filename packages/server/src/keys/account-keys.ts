import OpenAI from 'openai';
import { AirlockError } from '../errors.js';
import { newId } from '../ids.js';
import { SHARED_KEY_OWNER, type AccountRecord, type OpenAiKeyRecord, type OpenAiKeyStatus, type Store, type WidgetRecord } from '../stores/store.js';
import type { SecretBinding, Vault } from '../vault/vault.js';
import { fingerprintOf, parseApiKey } from './fingerprint.js';

/**
 * The vault binding of a stored OpenAI key: sealed for one owner and one
 * record, so a ciphertext copied to another row or account does not open.
 *
 * @example
 * ```ts
 * const binding = openAiKeyBinding('acme', 'oak_123'); // { accountId: 'acme', recordId: 'oak_123', purpose: 'openai-key' }
 * ```
 */
export function openAiKeyBinding(ownerId: string, recordId: string): SecretBinding {
  return { accountId: ownerId, recordId, purpose: 'openai-key' };
}

/**
 * What anyone may see of a saved key, right after saving it.
 */
export interface SavedKey {
  fingerprint: string;
  status: OpenAiKeyStatus;
  savedAt: string;
}

/**
 * What `show` tells about a key: never the key itself.
 *
 * @example
 * ```ts
 * const details = await accountKeys.show('acme'); // { fingerprint: 'sk-…abcd', status: 'active', widgets: [...] , … }
 * ```
 */
export interface KeyDetails extends SavedKey {
  /** Whole days since the key was saved. */
  ageDays: number;
  /** The key is active and older than the operator's rotation reminder (`keyRotationReminderDays`): replace it. */
  rotationDue: boolean;
  lastUsedAt?: string;
  /** Airlock error code of the last upstream failure with this key, such as `upstream_key_invalid`. */
  lastErrorCode?: string;
  revokedAt?: string;
  /** The widgets this key serves (or would serve, for a key that stopped working). */
  widgets: WidgetReference[];
}

/**
 * A widget named in key answers and `key_in_use` refusals.
 */
export interface WidgetReference {
  id: string;
  name: string;
}

/**
 * Outcome of {@link AccountKeys.revoke}: revoked, or refused because widgets use the key.
 *
 * @example
 * ```ts
 * const result = await accountKeys.revoke('acme');
 * if (result.outcome === 'in-use') console.log(result.widgets);
 * ```
 */
export type RevokeResult = { outcome: 'revoked'; key: KeyDetails } | { outcome: 'in-use'; widgets: WidgetReference[] };

/** Options of {@link AccountKeys}. */
export interface AccountKeysOptions {
  store: Store;
  vault: Vault;
  /** Where keys are validated (`GET <baseURL>/models`). Default: `'https://api.openai.com/v1'`. */
  baseURL?: string;
  /** `fetch` for validation calls, for tests. Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Time allowed for a validation call, in ms. Default: `15_000`. */
  validationTimeoutMs?: number;
  /** Days after which an active key is shown as due for replacement; `0` never reminds. Default: {@link defaultKeyRotationReminderDays}. */
  rotationReminderDays?: number;
  /** Clock, for tests. Default: `() => new Date()`. */
  now?: () => Date;
}

/** Days after which a saved key is shown as due for replacement, unless the operator sets otherwise: 90. */
export const defaultKeyRotationReminderDays = 90;

const dayMs = 86_400_000;

const accountIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Checks a new account's id (default: a random `acct_…`) and name, then creates it.
 *
 * @example
 * ```ts
 * const account = await createAccount(store, { id: 'acme', name: 'Acme Ltd' });
 * ```
 */
export async function createAccount(store: Store, input: { id?: unknown; name?: unknown }): Promise<AccountRecord> {
  const id = input.id ?? newId('acct');
  if (typeof id !== 'string' || !accountIdPattern.test(id)) {
    throw new AirlockError('input_invalid', 'An account id is 1 to 64 letters, digits, "_" or "-".');
  }
  if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 200) {
    throw new AirlockError('input_invalid', 'An account needs a "name" of 1 to 200 characters.');
  }
  return store.createAccount({ id, name: input.name.trim() });
}

/**
 * Accounts and their OpenAI keys: save (validated, sealed, write-only),
 * show, revoke; and the operator's shared key stored in the vault. Used by
 * the admin API and the CLI.
 *
 * @example
 * ```ts
 * const accountKeys = new AccountKeys({ store, vault, baseURL: 'https://api.openai.com/v1' });
 * await accountKeys.save('acme', 'sk-…'); // { fingerprint: 'sk-…abcd', status: 'active', savedAt }
 * ```
 */
export class AccountKeys {
  readonly #store: Store;
  readonly #vault: Vault;
  readonly #baseURL: string;
  readonly #fetch: typeof fetch | undefined;
  readonly #timeoutMs: number;
  readonly #reminderDays: number;
  readonly #now: () => Date;

  constructor(options: AccountKeysOptions) {
    const reminderDays = options.rotationReminderDays ?? defaultKeyRotationReminderDays;
    if (!Number.isInteger(reminderDays) || reminderDays < 0) throw new RangeError('rotationReminderDays must be a whole number of days, 0 or more.');
    this.#reminderDays = reminderDays;
    this.#now = options.now ?? (() => new Date());
    this.#store = options.store;
    this.#vault = options.vault;
    this.#baseURL = options.baseURL ?? 'https://api.openai.com/v1';
    this.#fetch = options.fetch;
    this.#timeoutMs = options.validationTimeoutMs ?? 15_000;
  }

  #reminder(): { days: number; now: Date } {
    return { days: this.#reminderDays, now: this.#now() };
  }

  /** Creates an account; the id defaults to a random `acct_…`. */
  createAccount(input: { id?: unknown; name?: unknown }): Promise<AccountRecord> {
    return createAccount(this.#store, input);
  }

  /** The account, or `not_found`. */
  async account(accountId: string): Promise<AccountRecord> {
    const account = accountIdPattern.test(accountId) ? await this.#store.getAccount(accountId) : undefined;
    if (!account) throw new AirlockError('not_found', 'There is no such account.');
    return account;
  }

  /**
   * Saves a key for an account (or, with {@link SHARED_KEY_OWNER}, the shared
   * key), replacing the current one atomically. Unless `validate` is false it
   * first lists models upstream with the key: a refused key is not saved.
   */
  async save(ownerId: string, value: unknown, options: { validate?: boolean } = {}): Promise<SavedKey> {
    if (ownerId !== SHARED_KEY_OWNER) await this.account(ownerId);
    const apiKey = parseApiKey(value);
    if (options.validate ?? true) await this.#validate(apiKey);
    const id = newId('oak');
    const sealed = await this.#vault.seal(Buffer.from(apiKey, 'utf8'), openAiKeyBinding(ownerId, id));
    const record = await this.#store.putOpenAiKey({ id, ownerId, fingerprint: fingerprintOf(apiKey), sealed });
    return { fingerprint: record.fingerprint, status: record.status, savedAt: record.savedAt };
  }

  /** The owner's key as anyone may see it, or `undefined` when none was ever saved. */
  async show(ownerId: string): Promise<KeyDetails | undefined> {
    if (ownerId !== SHARED_KEY_OWNER) await this.account(ownerId);
    const record = await this.#store.getOpenAiKey(ownerId);
    return record && details(record, await this.widgetsUsing(ownerId, record), this.#reminder());
  }

  /**
   * Revokes the owner's key and destroys its ciphertext. Refused (`in-use`)
   * while widgets use it, unless `force`: those widgets then fail with
   * `upstream_key_invalid` until the owner saves a new key (they do not move
   * to the shared key). Throws `not_found` when there is no key to revoke.
   */
  async revoke(ownerId: string, options: { force?: boolean } = {}): Promise<RevokeResult> {
    if (ownerId !== SHARED_KEY_OWNER) await this.account(ownerId);
    const current = await this.#store.getOpenAiKey(ownerId);
    if (!current || current.status === 'revoked') throw new AirlockError('not_found', 'There is no key to revoke.');
    const widgets = await this.widgetsUsing(ownerId, current);
    if (widgets.length > 0 && !options.force) return { outcome: 'in-use', widgets };
    const revoked = await this.#store.revokeOpenAiKey(ownerId, { pinWidgets: ownerId !== SHARED_KEY_OWNER });
    if (!revoked) throw new AirlockError('not_found', 'There is no key to revoke.');
    return { outcome: 'revoked', key: details(revoked, widgets, this.#reminder()) };
  }

  /**
   * The widgets a key serves. An account's key serves its widgets set to
   * `own`, and those without a `keySource` while the key is current. The
   * shared key serves widgets set to `shared`, and those without a
   * `keySource` whose account has no current key.
   */
  async widgetsUsing(ownerId: string, key?: OpenAiKeyRecord): Promise<WidgetReference[]> {
    if (ownerId !== SHARED_KEY_OWNER) {
      const current = key ?? (await this.#store.getOpenAiKey(ownerId));
      const isCurrent = current !== undefined && current.status !== 'revoked';
      const widgets = await this.#store.listAccountWidgets(ownerId);
      return widgets.filter((widget) => widget.keySource === 'own' || (widget.keySource === undefined && isCurrent)).map(reference);
    }
    const widgets = await this.#store.listWidgets();
    const hasOwnKey = new Map<string, boolean>();
    const using: WidgetRecord[] = [];
    for (const widget of widgets) {
      if (widget.keySource === 'own') continue;
      if (widget.keySource === undefined) {
        if (!hasOwnKey.has(widget.accountId)) {
          const own = await this.#store.getOpenAiKey(widget.accountId);
          hasOwnKey.set(widget.accountId, own !== undefined && own.status !== 'revoked');
        }
        if (hasOwnKey.get(widget.accountId)) continue;
      }
      using.push(widget);
    }
    return using.map(reference);
  }

  async #validate(apiKey: string): Promise<void> {
    const client = new OpenAI({
      apiKey,
      baseURL: this.#baseURL,
      maxRetries: 0,
      timeout: this.#timeoutMs,
      ...(this.#fetch && { fetch: this.#fetch }),
    });
    try {
      await client.models.list();
    } catch (error) {
      // The upstream's message can echo part of the key: keep it in `cause` only.
      if (error instanceof OpenAI.APIError && (error.status === 401 || error.status === 403)) {
        throw new AirlockError('upstream_key_invalid', 'The AI service refused this key, so it was not saved.', { cause: error });
      }
      throw new AirlockError(
        'upstream_unavailable',
        'The key could not be checked with the AI service, so it was not saved. Try again, or save it without validation.',
        { cause: error },
      );
    }
  }
}

function reference(widget: WidgetRecord): WidgetReference {
  return { id: widget.id, name: widget.name };
}

function details(record: OpenAiKeyRecord, widgets: WidgetReference[], reminder: { days: number; now: Date }): KeyDetails {
  const ageDays = Math.max(0, Math.floor((reminder.now.getTime() - Date.parse(record.savedAt)) / dayMs));
  return {
    fingerprint: record.fingerprint,
    status: record.status,
    savedAt: record.savedAt,
    ageDays,
    rotationDue: record.status === 'active' && reminder.days > 0 && ageDays >= reminder.days,
    ...(record.lastUsedAt && { lastUsedAt: record.lastUsedAt }),
    ...(record.lastErrorCode && { lastErrorCode: record.lastErrorCode }),
    ...(record.revokedAt && { revokedAt: record.revokedAt }),
    widgets,
  };
}
