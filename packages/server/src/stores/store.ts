import type { WidgetInput, WidgetProactiveGreeting, WidgetStyle, WidgetTexts, WidgetTheme, WidgetType } from '@airlock/protocol';
import type { SealedSecret } from '../vault/vault.js';

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
 * An Ed25519 signing key for widget tokens; the private half is sealed by
 * the vault.
 *
 * @example
 * ```ts
 * const keys = await store.listSigningKeys();
 * ```
 */
export interface SigningKeyRecord {
  kid: string;
  publicJwk: Record<string, unknown>;
  sealedPrivateKey: SealedSecret;
  createdAt: string;
}

/**
 * Counts to add to one widget's usage for one UTC day.
 *
 * @example
 * ```ts
 * await store.addUsage([{ widgetId: 'wgt_1', day: '2026-11-27', requests: 1, inputTokens: 12, outputTokens: 40, errors: {} }]);
 * ```
 */
export interface UsageIncrement {
  widgetId: string;
  /** `YYYY-MM-DD`, UTC. */
  day: string;
  views?: number;
  requests?: number;
  inputTokens?: number;
  outputTokens?: number;
  generations?: number;
  /** Error code → count. */
  errors?: Record<string, number>;
}

/**
 * One widget's usage on one UTC day.
 */
export interface UsageDay {
  day: string;
  views: number;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  generations: number;
  errors: Record<string, number>;
}

/**
 * An account's generation allowance (shared-key use). `allowance: null` means unlimited.
 *
 * @example
 * ```ts
 * const balance = await store.getGenerationBalance('acct_1'); // { accountId, allowance: 500, used: 12 }
 * ```
 */
export interface GenerationBalance {
  accountId: string;
  allowance: number | null;
  used: number;
}

/**
 * Generations an account spent, for {@link Store.addGenerationsUsed}.
 */
export interface GenerationIncrement {
  accountId: string;
  amount: number;
}

/**
 * The lease of one generation reservation ({@link Store.reserveGenerations}):
 * the reservation holds until it is settled, or until `ttlMs` pass without a
 * renewal by its holder, when {@link Store.releaseExpiredGenerations} gives
 * it back. A call of a process killed mid-answer is so never charged for
 * good, and no instance can release another live instance's reservations.
 *
 * @example
 * ```ts
 * const lease: GenerationLease = { id: newId('gres'), holder: 'inst_1', ttlMs: 60_000 };
 * await store.reserveGenerations('acme', 1, 500, lease);
 * ```
 */
export interface GenerationLease {
  /** Unique id of the reservation; {@link Store.settleGenerations} names it. */
  id: string;
  /** The server instance holding it; {@link Store.renewGenerationLeases} renews by holder. */
  holder: string;
  /** How long the reservation holds without a renewal, in ms. */
  ttlMs: number;
}

/**
 * How a leased reservation ended, for {@link Store.settleGenerations}.
 *
 * @example
 * ```ts
 * await store.settleGenerations({ id: lease.id, accountId: 'acme', kept: 1 });
 * ```
 */
export interface GenerationSettlement {
  /** The lease id given to {@link Store.reserveGenerations}. */
  id: string;
  accountId: string;
  /** Generations the call spent: kept in `used`; the rest of the reservation is given back. */
  kept: number;
}

/**
 * A cached running summary of a conversation's older turns (memory strategy
 * `tokenized-summary`). It holds what visitors said, so it is kept only
 * sealed by the vault, deleted with its widget and after the retention period.
 *
 * @example
 * ```ts
 * await store.putConversationSummary({ key, widgetId: 'wgt_1', sealed: await vault.seal(Buffer.from(text), summaryBinding(accountId, key)) });
 * ```
 */
export interface ConversationSummary {
  /** Hash of the widget id and the summarised messages. */
  key: string;
  widgetId: string;
  /** The summary, sealed by the vault. */
  sealed: SealedSecret;
  /** When it was saved (ISO 8601); set by the store. */
  createdAt?: string;
}

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
 * An account: owns widgets and, optionally, its own OpenAI key.
 *
 * @example
 * ```ts
 * const account = await store.createAccount({ id: 'acme', name: 'Acme Ltd' });
 * ```
 */
export interface AccountRecord {
  id: string;
  name: string;
  /**
   * Whether the account's widgets may use the operator's shared key: only
   * the operator sets it. New accounts: `'none'`; the `default` account
   * (the operator's own): `'any-model'`.
   */
  sharedKey: SharedKeyGrant;
  createdAt: string;
}

/**
 * The operator's grant of the shared key to one account:
 * - `none`: its widgets may not use the shared key (the default for new accounts);
 * - `listed-models`: they may, with the models the operator allows on it (`AirlockOptions.sharedKey.models`);
 * - `any-model`: they may, with any model (the `default` account, the operator's own).
 * Generations on the shared key count against the account's allowance either way.
 *
 * @example
 * ```ts
 * await store.setSharedKeyGrant('acme', 'listed-models');
 * ```
 */
export type SharedKeyGrant = 'none' | 'listed-models' | 'any-model';

/**
 * Owner id of the operator's shared key among the stored OpenAI keys. Never
 * an account id: account ids are letters, digits, `_` and `-` only.
 *
 * @example
 * ```ts
 * const shared = await store.getOpenAiKey(SHARED_KEY_OWNER);
 * ```
 */
export const SHARED_KEY_OWNER = '@shared';

/**
 * Status of a stored OpenAI key: `invalid` once the upstream refused it (401),
 * `revoked` once replaced or revoked (its ciphertext is then destroyed).
 */
export type OpenAiKeyStatus = 'active' | 'invalid' | 'revoked';

/**
 * A stored OpenAI key. The key itself exists only inside `sealed`.
 *
 * @example
 * ```ts
 * const key = await store.getOpenAiKey('acme'); // { fingerprint: 'sk-…abcd', status: 'active', … }
 * ```
 */
export interface OpenAiKeyRecord {
  id: string;
  /** The account id, or {@link SHARED_KEY_OWNER}. */
  ownerId: string;
  /** `sk-…abcd`: enough to recognise a key, never enough to use it. */
  fingerprint: string;
  status: OpenAiKeyStatus;
  /** The sealed key; absent once revoked (the ciphertext is destroyed, not flagged). */
  sealed?: SealedSecret;
  savedAt: string;
  lastUsedAt?: string;
  /** Airlock error code of the last upstream failure with this key. */
  lastErrorCode?: string;
  revokedAt?: string;
}

/**
 * A sealed secret as found by master-key rotation: what it is, its binding
 * owner and its current sealed value.
 *
 * @example
 * ```ts
 * for (const record of await store.listSealedRecords()) console.log(record.kind, record.sealed.kekVersion);
 * ```
 */
export interface SealedRecord {
  kind: 'openai-key' | 'signing-key' | 'conversation-summary';
  /** The record's id; for a conversation summary, `<widget id>/<summary key>`. */
  id: string;
  /** Account id (or {@link SHARED_KEY_OWNER}) of an OpenAI key; `'system'` for signing keys; the widget's account for a summary. */
  ownerId: string;
  sealed: SealedSecret;
}

/**
 * A per-account access token of the admin page: lets an account owner sign
 * in and see only their account. Only the SHA-256 hash of the token is kept.
 *
 * @example
 * ```ts
 * const token = await store.findAdminAccessToken(sha256Hex(presented)); // { id, accountId, … }
 * ```
 */
export interface AdminAccessTokenRecord {
  id: string;
  accountId: string;
  /** Hex SHA-256 of the token. */
  tokenHash: string;
  label?: string;
  createdAt: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

/**
 * A signed-in session of the admin page, kept server-side. The cookie holds
 * a random secret; the store holds only its hash.
 *
 * @example
 * ```ts
 * const session = await store.getAdminSession(sha256Hex(cookieSecret));
 * ```
 */
export interface AdminSessionRecord {
  /** Hex SHA-256 of the cookie secret. */
  idHash: string;
  principal: 'operator' | 'account';
  /** The account an `account` session may see. */
  accountId?: string;
  /** The access token an `account` session signed in with; revoking it ends the session. */
  accessTokenId?: string;
  /** Hash of the credential signed in with, so that changing the admin token ends operator sessions. */
  credentialHash: string;
  createdAt: string;
  lastSeenAt: string;
  /** Absolute end, whatever the activity. */
  expiresAt: string;
}

/**
 * A widget with what a proxy call by it needs from the store ({@link Store.getWidgetForCall}).
 *
 * @example
 * ```ts
 * const found = await store.getWidgetForCall('wgt_abc'); // { widget, keys: { own: undefined, shared: { status: 'active', … } }, generations: undefined }
 * ```
 */
export interface WidgetForCall {
  widget: WidgetRecord;
  keys: StoredKeys;
  /** The account's generation balance, as {@link Store.getGenerationBalance} gives it; absent when it has none yet. */
  generations?: GenerationBalance;
}

/**
 * The stored OpenAI keys one widget call may use: its account's current key
 * and the stored shared key, each as {@link Store.getOpenAiKey} gives it.
 */
export interface StoredKeys {
  own?: OpenAiKeyRecord;
  shared?: OpenAiKeyRecord;
  /** The account's grant of the shared key ({@link AccountRecord.sharedKey}); absent: `'none'`. */
  sharedKeyGrant?: Exclude<SharedKeyGrant, 'none'>;
}

/**
 * Persistence behind Airlock. Every method is async so SQLite and
 * PostgreSQL implementations share one interface and one conformance suite.
 *
 * @example
 * ```ts
 * const store = await openStore('sqlite:.airlock/airlock.db');
 * const widget = await store.getWidget(id);
 * ```
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies pending migrations; safe when several processes start at once. */
  migrate(): Promise<void>;
  createWidget(input: NewWidget): Promise<WidgetRecord>;
  getWidget(id: string): Promise<WidgetRecord | undefined>;
  /**
   * A widget with what a proxy call by it needs: the stored OpenAI keys it
   * may use (what {@link Store.getOpenAiKey} gives for its account and for
   * {@link SHARED_KEY_OWNER}), its account's grant of the shared key
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
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  addSigningKey(record: SigningKeyRecord): Promise<void>;
  /** Removes a signing key (one retired long enough ago that no token it signed can still be valid). */
  deleteSigningKey(kid: string): Promise<void>;
  /** Adds usage counts (one upsert per widget and day). */
  addUsage(increments: UsageIncrement[]): Promise<void>;
  /** A widget's usage from `fromDay` to `toDay` (inclusive, `YYYY-MM-DD`), oldest first; days without usage are absent. */
  listUsage(widgetId: string, fromDay: string, toDay: string): Promise<UsageDay[]>;
  /**
   * Atomically takes `amount` generations from an account's allowance: one
   * conditional update, so concurrent callers can never overspend. An
   * account without a row starts with `defaultAllowance` (`null`: unlimited).
   * Resolves to the new balance, or `undefined` when too few are left.
   * With a `lease`, the reservation is recorded in the same step and ends
   * with {@link Store.settleGenerations}, or with its lease's expiry; without
   * one it stays taken until refunded.
   */
  reserveGenerations(accountId: string, amount: number, defaultAllowance: number | null, lease?: GenerationLease): Promise<GenerationBalance | undefined>;
  /** Gives back generations reserved but not spent (never below zero used). */
  refundGenerations(accountId: string, amount: number): Promise<void>;
  /**
   * Ends a leased reservation in one atomic step: keeps `kept` generations in
   * `used` and gives back the rest. When the lease had already expired and
   * was released, `kept` is added to `used` (what was spent is charged,
   * even past the allowance), so each reservation is settled exactly once.
   */
  settleGenerations(settlement: GenerationSettlement): Promise<void>;
  /** Extends every reservation `holder` holds to `ttlMs` from now; resolves how many. */
  renewGenerationLeases(holder: string, ttlMs: number): Promise<number>;
  /**
   * Gives back every reservation whose lease has expired (its holder died,
   * or stopped renewing), each exactly once even when several instances
   * sweep at once; resolves how many generations were given back.
   */
  releaseExpiredGenerations(): Promise<number>;
  /**
   * Adds generations spent without a reservation (accounts whose allowance
   * is unlimited) to each account's `used`, in one transaction; an account
   * without a row gets one with an unlimited allowance.
   */
  addGenerationsUsed(increments: GenerationIncrement[]): Promise<void>;
  getGenerationBalance(accountId: string): Promise<GenerationBalance | undefined>;
  /** Sets an account's allowance (`null`: unlimited); `resetUsed` starts a new period at zero. */
  setGenerationAllowance(accountId: string, allowance: number | null, options?: { resetUsed?: boolean }): Promise<GenerationBalance>;
  /** The summary with this key, unless it was saved before `options.notBefore` (past its retention). */
  getConversationSummary(key: string, options?: { notBefore?: Date }): Promise<ConversationSummary | undefined>;
  /** Saves a summary once per key (a second save of a key keeps the first). */
  putConversationSummary(summary: ConversationSummary): Promise<void>;
  /** Deletes the summaries saved before `cutoff` (retention); resolves how many. */
  deleteConversationSummaries(cutoff: Date): Promise<number>;
  /** Creates an account; throws `conflict` when the id is taken. */
  createAccount(input: { id: string; name: string }): Promise<AccountRecord>;
  getAccount(id: string): Promise<AccountRecord | undefined>;
  listAccounts(): Promise<AccountRecord[]>;
  /** Sets an account's grant of the shared key; throws `not_found` when there is no such account. */
  setSharedKeyGrant(accountId: string, grant: SharedKeyGrant): Promise<AccountRecord>;
  /** The widgets of one account, oldest first. */
  listAccountWidgets(accountId: string): Promise<WidgetRecord[]>;
  /**
   * Saves an owner's OpenAI key as its one active key, in one transaction:
   * the previous key (if any) is revoked and its ciphertext destroyed.
   * Concurrent saves for one owner leave exactly one active key.
   */
  putOpenAiKey(input: { id: string; ownerId: string; fingerprint: string; sealed: SealedSecret }): Promise<OpenAiKeyRecord>;
  /** The owner's current key (active or invalid), else its most recently revoked one. */
  getOpenAiKey(ownerId: string): Promise<OpenAiKeyRecord | undefined>;
  /**
   * Revokes the owner's current key and destroys its ciphertext. With
   * `pinWidgets`, widgets of that account without a `keySource` are set to
   * `'own'` in the same transaction, so they fail instead of moving to the
   * shared key. Resolves to the revoked record, or `undefined` when there was none.
   */
  revokeOpenAiKey(ownerId: string, options?: { pinWidgets?: boolean }): Promise<OpenAiKeyRecord | undefined>;
  /** Notes that a key was used now. */
  recordOpenAiKeyUse(id: string): Promise<void>;
  /** Notes an upstream failure with a key; `invalidate` turns an active key `invalid`. */
  recordOpenAiKeyError(id: string, code: string, options?: { invalidate?: boolean }): Promise<void>;
  /** Every sealed secret held (OpenAI keys not revoked, signing keys), for master-key rotation. */
  listSealedRecords(): Promise<SealedRecord[]>;
  /**
   * Compare-and-set: replaces a record's sealed value only if it still equals
   * `record.sealed`. Resolves `false` when it changed (or is gone) meanwhile.
   */
  replaceSealed(record: SealedRecord, next: SealedSecret): Promise<boolean>;
  /** Saves an admin-page access token (hash only). */
  createAdminAccessToken(record: AdminAccessTokenRecord): Promise<void>;
  /** The access token with this hash, unless revoked; notes its use. */
  findAdminAccessToken(tokenHash: string): Promise<AdminAccessTokenRecord | undefined>;
  /** An account's access tokens (revoked ones included), oldest first. */
  listAdminAccessTokens(accountId: string): Promise<AdminAccessTokenRecord[]>;
  /** Revokes an account's access token and ends its sessions; resolves `false` when there was no such live token. */
  revokeAdminAccessToken(accountId: string, id: string): Promise<boolean>;
  createAdminSession(record: AdminSessionRecord): Promise<void>;
  getAdminSession(idHash: string): Promise<AdminSessionRecord | undefined>;
  /** Notes activity on a session (its idle expiry counts from `lastSeenAt`). */
  touchAdminSession(idHash: string, lastSeenAt: string): Promise<void>;
  deleteAdminSession(idHash: string): Promise<void>;
  /** Deletes sessions whose absolute expiry or idle expiry (last seen before `idleBefore`) has passed; resolves how many. */
  deleteExpiredAdminSessions(now: string, idleBefore: string): Promise<number>;
  /** Resolves when the database answers a trivial query; rejects when it cannot be reached (readiness checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
