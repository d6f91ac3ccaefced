import type { SealedSecret } from '../vault/vault.js';
import * as accounts from './account-sql.js';
import * as admin from './admin-sql.js';
import * as generations from './generation-sql.js';
import * as openAiKeys from './openai-key-sql.js';
import * as signingKeys from './signing-key-sql.js';
import type { Operation, SqlDialect, SqlRunner } from './sql.js';
import type {
  AccountRecord,
  AdminAccessTokenRecord,
  AdminSessionRecord,
  ConversationSummary,
  GenerationBalance,
  GenerationIncrement,
  GenerationLease,
  GenerationSettlement,
  NewWidget,
  OpenAiKeyRecord,
  SealedRecord,
  SharedKeyGrant,
  SigningKeyRecord,
  Store,
  UsageDay,
  UsageIncrement,
  WidgetForCall,
  WidgetPatch,
  WidgetRecord,
} from './store.js';
import * as summaries from './summary-sql.js';
import * as usage from './usage-sql.js';
import * as widgets from './widget-sql.js';

/**
 * A {@link Store} over SQL: every operation is written once, by area
 * (`widget-sql.ts`, `generation-sql.ts`, …), and run by the dialect's
 * runner; a dialect's store (`SqliteStore`, `PostgresStore`) adds only its
 * connection, its migrations and what it keeps.
 *
 * @example
 * ```ts
 * class MyStore extends SqlStore {
 *   // kind, migrate, ping, close
 * }
 * ```
 */
export abstract class SqlStore implements Store {
  abstract readonly kind: 'sqlite' | 'postgres';
  readonly #runner: SqlRunner;
  readonly #dialect: SqlDialect;
  readonly #now: () => Date;

  constructor(runner: SqlRunner, dialect: SqlDialect, now: (() => Date) | undefined) {
    this.#runner = runner;
    this.#dialect = dialect;
    this.#now = now ?? (() => new Date());
  }

  abstract migrate(): Promise<void>;
  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;

  /** The store's clock, as an ISO 8601 text. */
  protected at(): string {
    return this.#now().toISOString();
  }

  // Where PostgreSQL writes inside `WITH`, the generation steps are single statements.
  #atomic<T>(operation: Operation<T>): Promise<T> {
    return this.#dialect.writableWith ? this.#runner.run(operation) : this.#runner.transaction(operation, 'write');
  }

  createWidget(input: NewWidget): Promise<WidgetRecord> {
    return this.#runner.run(widgets.createWidget(input, this.at()));
  }
  getWidget(id: string): Promise<WidgetRecord | undefined> {
    return this.#runner.run(widgets.getWidget(id));
  }
  getWidgetForCall(id: string): Promise<WidgetForCall | undefined> {
    return this.#runner.run(widgets.getWidgetForCall(id));
  }
  findWidgetByName(name: string): Promise<WidgetRecord | undefined> {
    return this.#runner.run(widgets.findWidgetByName(name));
  }
  listWidgets(): Promise<WidgetRecord[]> {
    return this.#runner.run(widgets.listWidgets());
  }
  listAccountWidgets(accountId: string): Promise<WidgetRecord[]> {
    return this.#runner.run(widgets.listAccountWidgets(accountId));
  }
  updateWidget(id: string, patch: WidgetPatch): Promise<WidgetRecord> {
    return this.#runner.transaction(widgets.updateWidget(this.#dialect, id, patch, this.at()), 'write');
  }
  deleteWidget(id: string): Promise<boolean> {
    return this.#runner.transaction(widgets.deleteWidget(id), 'write');
  }
  bumpWidgetEpoch(id: string): Promise<number> {
    return this.#runner.run(widgets.bumpWidgetEpoch(id, this.at()));
  }

  listSigningKeys(): Promise<SigningKeyRecord[]> {
    return this.#runner.run(signingKeys.listSigningKeys());
  }
  addSigningKey(record: SigningKeyRecord): Promise<void> {
    return this.#runner.run(signingKeys.addSigningKey(record));
  }
  deleteSigningKey(kid: string): Promise<void> {
    return this.#runner.run(signingKeys.deleteSigningKey(kid));
  }

  async addUsage(increments: UsageIncrement[]): Promise<void> {
    if (increments.length > 0) await this.#runner.transaction(usage.addUsage(increments), 'write');
  }
  listUsage(widgetId: string, fromDay: string, toDay: string): Promise<UsageDay[]> {
    return this.#runner.run(usage.listUsage(widgetId, fromDay, toDay));
  }

  reserveGenerations(accountId: string, amount: number, defaultAllowance: number | null, lease?: GenerationLease): Promise<GenerationBalance | undefined> {
    return this.#atomic(generations.reserveGenerations(this.#dialect, { accountId, amount, defaultAllowance, lease, now: this.#now() }));
  }
  refundGenerations(accountId: string, amount: number): Promise<void> {
    return this.#runner.run(generations.refundGenerations(accountId, amount, this.at()));
  }
  settleGenerations(settlement: GenerationSettlement): Promise<void> {
    return this.#atomic(generations.settleGenerations(this.#dialect, settlement, this.at()));
  }
  renewGenerationLeases(holder: string, ttlMs: number): Promise<number> {
    return this.#runner.run(generations.renewGenerationLeases(this.#dialect, holder, ttlMs, this.#now()));
  }
  releaseExpiredGenerations(): Promise<number> {
    return this.#atomic(generations.releaseExpiredGenerations(this.#dialect, this.#now()));
  }
  async addGenerationsUsed(increments: GenerationIncrement[]): Promise<void> {
    if (increments.length > 0) await this.#runner.transaction(generations.addGenerationsUsed(increments, this.at()), 'write');
  }
  getGenerationBalance(accountId: string): Promise<GenerationBalance | undefined> {
    return this.#runner.run(generations.getGenerationBalance(accountId));
  }
  setGenerationAllowance(accountId: string, allowance: number | null, options: { resetUsed?: boolean } = {}): Promise<GenerationBalance> {
    return this.#runner.run(generations.setGenerationAllowance(accountId, allowance, options.resetUsed === true, this.at()));
  }

  getConversationSummary(key: string, options: { notBefore?: Date } = {}): Promise<ConversationSummary | undefined> {
    return this.#runner.run(summaries.getConversationSummary(key, options.notBefore));
  }
  putConversationSummary(summary: ConversationSummary): Promise<void> {
    return this.#runner.run(summaries.putConversationSummary(summary, this.at()));
  }
  deleteConversationSummaries(cutoff: Date): Promise<number> {
    return this.#runner.run(summaries.deleteConversationSummaries(cutoff));
  }

  createAccount(input: { id: string; name: string }): Promise<AccountRecord> {
    return this.#runner.run(accounts.createAccount(input, this.at()));
  }
  getAccount(id: string): Promise<AccountRecord | undefined> {
    return this.#runner.run(accounts.getAccount(id));
  }
  listAccounts(): Promise<AccountRecord[]> {
    return this.#runner.run(accounts.listAccounts());
  }
  setSharedKeyGrant(accountId: string, grant: SharedKeyGrant): Promise<AccountRecord> {
    return this.#runner.run(accounts.setSharedKeyGrant(accountId, grant));
  }

  putOpenAiKey(input: { id: string; ownerId: string; fingerprint: string; sealed: SealedSecret }): Promise<OpenAiKeyRecord> {
    return this.#runner.transaction(openAiKeys.putOpenAiKey(this.#dialect, input, this.at()), 'write');
  }
  getOpenAiKey(ownerId: string): Promise<OpenAiKeyRecord | undefined> {
    return this.#runner.run(openAiKeys.getOpenAiKey(ownerId));
  }
  revokeOpenAiKey(ownerId: string, options: { pinWidgets?: boolean } = {}): Promise<OpenAiKeyRecord | undefined> {
    return this.#runner.transaction(openAiKeys.revokeOpenAiKey(this.#dialect, ownerId, options.pinWidgets === true, this.at()), 'write');
  }
  recordOpenAiKeyUse(id: string): Promise<void> {
    return this.#runner.run(openAiKeys.recordOpenAiKeyUse(id, this.at()));
  }
  recordOpenAiKeyError(id: string, code: string, options: { invalidate?: boolean } = {}): Promise<void> {
    return this.#runner.run(openAiKeys.recordOpenAiKeyError(id, code, options.invalidate === true));
  }
  listSealedRecords(): Promise<SealedRecord[]> {
    return this.#runner.run(openAiKeys.listSealedRecords());
  }
  replaceSealed(record: SealedRecord, next: SealedSecret): Promise<boolean> {
    return this.#runner.run(openAiKeys.replaceSealed(record, next));
  }

  createAdminAccessToken(record: AdminAccessTokenRecord): Promise<void> {
    return this.#runner.run(admin.createAdminAccessToken(record));
  }
  findAdminAccessToken(tokenHash: string): Promise<AdminAccessTokenRecord | undefined> {
    return this.#runner.run(admin.findAdminAccessToken(tokenHash, this.at()));
  }
  listAdminAccessTokens(accountId: string): Promise<AdminAccessTokenRecord[]> {
    return this.#runner.run(admin.listAdminAccessTokens(accountId));
  }
  revokeAdminAccessToken(accountId: string, id: string): Promise<boolean> {
    return this.#runner.transaction(admin.revokeAdminAccessToken(accountId, id, this.at()), 'write');
  }
  createAdminSession(record: AdminSessionRecord): Promise<void> {
    return this.#runner.run(admin.createAdminSession(record));
  }
  getAdminSession(idHash: string): Promise<AdminSessionRecord | undefined> {
    return this.#runner.run(admin.getAdminSession(idHash));
  }
  touchAdminSession(idHash: string, lastSeenAt: string): Promise<void> {
    return this.#runner.run(admin.touchAdminSession(idHash, lastSeenAt));
  }
  deleteAdminSession(idHash: string): Promise<void> {
    return this.#runner.run(admin.deleteAdminSession(idHash));
  }
  deleteExpiredAdminSessions(now: string, idleBefore: string): Promise<number> {
    return this.#runner.run(admin.deleteExpiredAdminSessions(now, idleBefore));
  }
}
