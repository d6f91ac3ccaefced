import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { newId } from '../ids.js';
import { assertValidWidget } from '../widgets/widget-input.js';
import { balanceFromRow, usageDays, widgetForCallFromRow, widgetForCallStatement, type AllowanceRow, type UsageRow } from './rows.js';
import { sqliteMigrations, type Migration } from './migrations.js';
import { AirlockError } from '../errors.js';
import type { SealedSecret } from '../vault/vault.js';
import type {
  AccountRecord,
  AdminAccessTokenRecord,
  AdminSessionRecord,
  KeySource,
  OpenAiKeyRecord,
  OpenAiKeyStatus,
  SealedRecord,
  SharedKeyGrant,
  ConversationSummary,
  GenerationBalance,
  GenerationIncrement,
  GenerationLease,
  GenerationSettlement,
  NewWidget,
  SigningKeyRecord,
  Store,
  UsageDay,
  UsageIncrement,
  WidgetPatch,
  WidgetRecord,
  WidgetForCall,
} from './store.js';

// An owner's current key (active or invalid) first, else its most recently revoked one.
const currentKeyOrder = `status = 'revoked', revoked_at DESC, saved_at DESC`;
const widgetForCallSql = widgetForCallStatement(currentKeyOrder, '?');
// Whether anything changed since last asked: rows this connection has written
// (`total_changes()`) and commits by any other connection, in this process or
// another, such as the CLI (`data_version`). One cheap statement. It holds as
// long as this store's own writes change rows (its schema changes do not
// count, but each migration inserts a row) and its transactions are
// synchronous, so no read runs inside one that may still roll back.
const changesSql = 'SELECT total_changes(), data_version FROM pragma_data_version';
// Most of getWidgetForCall's answers kept, by count and by the size of their
// JSON columns (a behaviour may carry a long prompt and many blocked phrases);
// past either, the kept answers are dropped.
const widgetsForCallKept = 1_000;
const widgetsForCallKeptChars = 8_000_000;

// Kept answers are shared between requests, so none of them can change one.
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const property of Object.values(value)) deepFreeze(property);
  }
  return value;
}

interface WidgetRow {
  id: string;
  account_id: string;
  name: string;
  type: WidgetRecord['type'];
  enabled: number;
  allowed_origins: string;
  presentation: string;
  behaviour: string;
  epoch: number;
  created_at: string;
  updated_at: string;
  key_source: KeySource | null;
}

interface SigningKeyRow {
  kid: string;
  public_jwk: string;
  sealed_private_key: string;
  created_at: string;
}

/** Options of {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /** Path of the database file, or `:memory:`. */
  path: string;
  /** Migrations to apply. Default: Airlock's own. */
  migrations?: Migration[];
  /** Clock, for tests. Default: `() => new Date()`. */
  now?: () => Date;
}

/**
 * The embedded default store: one SQLite file through better-sqlite3, in WAL
 * mode. Calls are synchronous underneath and wrapped in promises to share
 * the async {@link Store} interface.
 *
 * @example
 * ```ts
 * const store = new SqliteStore({ path: '.airlock/airlock.db' });
 * await store.migrate();
 * ```
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #migrations: Migration[];
  readonly #now: () => Date;
  // Statements of the hot paths (usage, generations), prepared once.
  readonly #statements = new Map<string, Database.Statement>();
  // getWidgetForCall's answers, kept while the database is unchanged (#unchanged).
  readonly #widgetsForCall = new Map<string, WidgetForCall>();
  #widgetsForCallChars = 0;
  #changes: [number, number] = [-1, -1];

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new Database(options.path);
    this.#db.pragma('journal_mode = WAL');
    // WAL's recommended setting: commits stay atomic and survive a crash of the process; only a power
    // loss can drop the last ones. FULL would sync the disk on every commit, on every proxied request.
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('foreign_keys = ON');
    this.#migrations = options.migrations ?? sqliteMigrations;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * The connection, for the stores of other areas that share it
   * (`SqliteKnowledgeStore`). It stays this store's: {@link close} closes it.
   *
   * @example
   * ```ts
   * const knowledge = new SqliteKnowledgeStore(store.database);
   * ```
   */
  get database(): Database.Database {
    return this.#db;
  }

  async migrate(): Promise<void> {
    const db = this.#db;
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    // IMMEDIATE takes the write lock before reading the applied versions, so a
    // second process starting at the same moment waits, then sees them applied.
    const apply = db.transaction(() => {
      const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((row) => row.version));
      let changed = false;
      for (const migration of this.#migrations) {
        if (applied.has(migration.version)) continue;
        db.exec(migration.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
          migration.version,
          migration.name,
          this.#now().toISOString(),
        );
        changed = true;
      }
      return changed;
    });
    // What a migration removed (plaintext summaries) leaves the WAL's older
    // frames and the main file's old pages only once checkpointed.
    if (apply.immediate() && !db.memory) db.pragma('wal_checkpoint(TRUNCATE)');
  }

  async createWidget(input: NewWidget): Promise<WidgetRecord> {
    // The same schema as the admin API's, whoever writes: no malformed cap or list reaches the proxy.
    assertValidWidget(input);
    const now = this.#now().toISOString();
    const record: WidgetRecord = {
      id: input.id ?? newId('wgt'),
      accountId: input.accountId ?? 'default',
      name: input.name,
      type: input.type,
      enabled: input.enabled ?? true,
      allowedOrigins: input.allowedOrigins,
      presentation: input.presentation,
      behaviour: input.behaviour,
      epoch: 0,
      createdAt: now,
      updatedAt: now,
      ...(input.keySource && { keySource: input.keySource }),
    };
    this.#statement(
      `INSERT INTO widgets (id, account_id, name, type, enabled, allowed_origins, presentation, behaviour, epoch, created_at, updated_at, key_source)
         VALUES (@id, @accountId, @name, @type, @enabled, @allowedOrigins, @presentation, @behaviour, @epoch, @createdAt, @updatedAt, @keySource)`,
    ).run({
      ...record,
      enabled: record.enabled ? 1 : 0,
      allowedOrigins: JSON.stringify(record.allowedOrigins),
      presentation: JSON.stringify(record.presentation),
      behaviour: JSON.stringify(record.behaviour),
      keySource: record.keySource ?? null,
    });
    return record;
  }

  async getWidget(id: string): Promise<WidgetRecord | undefined> {
    const row = this.#statement('SELECT * FROM widgets WHERE id = ?').get(id) as WidgetRow | undefined;
    return row && widgetFromRow(row);
  }

  /**
   * Kept between calls while the database is unchanged, checked on every call
   * by one cheap statement: any write, through this store or any other
   * connection to the file (another process, the CLI), drops every kept
   * answer. A revoked token or key is refused on the next request, as with
   * a fresh read; the widget statement, whose cost grows with the work
   * between requests (cold caches), runs only after a change. Writes
   * include the usage meter's flush (each second while requests come) and,
   * for an account with a limited allowance, every request's reservation, so
   * such an account's answer is read afresh each time.
   */
  async getWidgetForCall(id: string): Promise<WidgetForCall | undefined> {
    if (!this.#unchanged()) this.#forgetWidgetsForCall();
    const kept = this.#widgetsForCall.get(id);
    if (kept) return kept;
    const row = this.#statement(widgetForCallSql).get(id) as WidgetRow | undefined;
    if (!row) return undefined;
    const found = deepFreeze(widgetForCallFromRow(row, widgetFromRow, openAiKeyFromRow));
    const chars = row.behaviour.length + row.presentation.length + row.allowed_origins.length;
    if (this.#widgetsForCall.size >= widgetsForCallKept || this.#widgetsForCallChars + chars > widgetsForCallKeptChars) {
      this.#forgetWidgetsForCall();
    }
    this.#widgetsForCall.set(id, found);
    this.#widgetsForCallChars += chars;
    return found;
  }

  #forgetWidgetsForCall(): void {
    this.#widgetsForCall.clear();
    this.#widgetsForCallChars = 0;
  }

  // True when nothing was written since the last call; a read between this
  // check and a later write is kept no longer than that write.
  #unchanged(): boolean {
    const [own, others] = this.#statement(changesSql).raw().get() as [number, number];
    const unchanged = own === this.#changes[0] && others === this.#changes[1];
    this.#changes = [own, others];
    return unchanged;
  }

  async findWidgetByName(name: string): Promise<WidgetRecord | undefined> {
    const row = this.#statement('SELECT * FROM widgets WHERE name = ? ORDER BY created_at LIMIT 1').get(name) as WidgetRow | undefined;
    return row && widgetFromRow(row);
  }

  async listWidgets(): Promise<WidgetRecord[]> {
    return (this.#statement('SELECT * FROM widgets ORDER BY created_at, id').all() as WidgetRow[]).map(widgetFromRow);
  }

  async updateWidget(id: string, patch: WidgetPatch): Promise<WidgetRecord> {
    // Read and write in one synchronous step, so no other update interleaves.
    const row = this.#statement('SELECT * FROM widgets WHERE id = ?').get(id) as WidgetRow | undefined;
    const current = row && widgetFromRow(row);
    if (!current) throw new AirlockError('widget_not_found', 'There is no such widget.');
    const next: WidgetRecord = { ...current, ...patch, updatedAt: this.#now().toISOString() };
    assertValidWidget(next, Object.keys(patch));
    // Disabling revokes every token minted so far, so enabling again later does not revive them.
    const disabling = current.enabled && !next.enabled ? 1 : 0;
    const written = this.#statement(
      `UPDATE widgets SET name = ?, enabled = ?, allowed_origins = ?, presentation = ?, behaviour = ?, updated_at = ?, key_source = ?, epoch = epoch + ?
         WHERE id = ? RETURNING epoch`,
    ).get(
      next.name,
      next.enabled ? 1 : 0,
      JSON.stringify(next.allowedOrigins),
      JSON.stringify(next.presentation),
      JSON.stringify(next.behaviour),
      next.updatedAt,
      next.keySource ?? null,
      disabling,
      id,
    ) as { epoch: number } | undefined;
    if (written) next.epoch = written.epoch;
    return next;
  }

  async deleteWidget(id: string): Promise<boolean> {
    // Its visitors' conversation summaries go with it, in the same transaction.
    return this.#db.transaction(() => {
      this.#statement('DELETE FROM conversation_summaries WHERE widget_id = ?').run(id);
      return this.#statement('DELETE FROM widgets WHERE id = ?').run(id).changes > 0;
    })();
  }

  async bumpWidgetEpoch(id: string): Promise<number> {
    const row = this.#statement('UPDATE widgets SET epoch = epoch + 1, updated_at = ? WHERE id = ? RETURNING epoch').get(this.#now().toISOString(), id) as
      { epoch: number } | undefined;
    if (!row) throw new AirlockError('widget_not_found', 'There is no such widget.');
    return row.epoch;
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const rows = this.#statement('SELECT * FROM signing_keys ORDER BY created_at, kid').all() as SigningKeyRow[];
    return rows.map((row) => ({
      kid: row.kid,
      publicJwk: JSON.parse(row.public_jwk) as Record<string, unknown>,
      sealedPrivateKey: JSON.parse(row.sealed_private_key) as SigningKeyRecord['sealedPrivateKey'],
      createdAt: row.created_at,
    }));
  }

  async addSigningKey(record: SigningKeyRecord): Promise<void> {
    this.#statement('INSERT INTO signing_keys (kid, public_jwk, sealed_private_key, created_at) VALUES (?, ?, ?, ?)').run(
      record.kid,
      JSON.stringify(record.publicJwk),
      JSON.stringify(record.sealedPrivateKey),
      record.createdAt,
    );
  }

  async deleteSigningKey(kid: string): Promise<void> {
    this.#statement('DELETE FROM signing_keys WHERE kid = ?').run(kid);
  }

  /** Each SQL text is prepared once: preparing costs more than most of these queries. */
  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  async addUsage(increments: UsageIncrement[]): Promise<void> {
    const db = this.#db;
    const day = this.#statement(
      `INSERT INTO usage_daily (widget_id, day, views, requests, input_tokens, output_tokens, generations)
       VALUES (@widgetId, @day, @views, @requests, @inputTokens, @outputTokens, @generations)
       ON CONFLICT (widget_id, day) DO UPDATE SET views = views + excluded.views, requests = requests + excluded.requests,
         input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
         generations = generations + excluded.generations`,
    );
    const error = this.#statement(
      `INSERT INTO usage_errors (widget_id, day, code, count) VALUES (?, ?, ?, ?)
       ON CONFLICT (widget_id, day, code) DO UPDATE SET count = count + excluded.count`,
    );
    db.transaction(() => {
      for (const increment of increments) {
        day.run({
          widgetId: increment.widgetId,
          day: increment.day,
          views: increment.views ?? 0,
          requests: increment.requests ?? 0,
          inputTokens: increment.inputTokens ?? 0,
          outputTokens: increment.outputTokens ?? 0,
          generations: increment.generations ?? 0,
        });
        for (const [code, count] of Object.entries(increment.errors ?? {})) error.run(increment.widgetId, increment.day, code, count);
      }
    })();
  }

  async listUsage(widgetId: string, fromDay: string, toDay: string): Promise<UsageDay[]> {
    const rows = this.#statement('SELECT * FROM usage_daily WHERE widget_id = ? AND day >= ? AND day <= ? ORDER BY day').all(
      widgetId,
      fromDay,
      toDay,
    ) as UsageRow[];
    const errors = this.#statement('SELECT day, code, count FROM usage_errors WHERE widget_id = ? AND day >= ? AND day <= ?').all(widgetId, fromDay, toDay) as {
      day: string;
      code: string;
      count: number;
    }[];
    return usageDays(rows, errors);
  }

  async reserveGenerations(
    accountId: string,
    amount: number,
    defaultAllowance: number | null,
    lease?: GenerationLease,
  ): Promise<GenerationBalance | undefined> {
    const now = this.#now();
    const at = now.toISOString();
    // One conditional statement: the check and the deduction cannot be split by another caller.
    const reserve = () =>
      this.#statement(
        `UPDATE generation_allowances SET used = used + @amount, updated_at = @at
         WHERE account_id = @accountId AND (allowance IS NULL OR used + @amount <= allowance)
         RETURNING account_id, allowance, used`,
      ).get({ accountId, amount, at }) as AllowanceRow | undefined;
    // The deduction and its lease commit together: a crash leaves both or neither.
    return this.#db.transaction(() => {
      let row = reserve();
      if (!row) {
        // No row, or too little left: create the row (first use) and try once more.
        const created = this.#statement(
          'INSERT INTO generation_allowances (account_id, allowance, used, updated_at) VALUES (?, ?, 0, ?) ON CONFLICT DO NOTHING',
        ).run(accountId, defaultAllowance, at);
        if (created.changes === 0) return undefined;
        row = reserve();
        if (!row) return undefined;
      }
      if (lease) {
        this.#statement('INSERT INTO generation_reservations (id, account_id, amount, holder, expires_at) VALUES (?, ?, ?, ?, ?)').run(
          lease.id,
          accountId,
          amount,
          lease.holder,
          now.getTime() + lease.ttlMs,
        );
      }
      return balanceFromRow(row);
    })();
  }

  async settleGenerations(settlement: GenerationSettlement): Promise<void> {
    const at = this.#now().toISOString();
    this.#db.transaction(() => {
      const released = this.#statement('DELETE FROM generation_reservations WHERE id = ? RETURNING amount').get(settlement.id) as
        { amount: number } | undefined;
      if (released) {
        if (released.amount > settlement.kept) {
          this.#statement('UPDATE generation_allowances SET used = MAX(0, used - ?), updated_at = ? WHERE account_id = ?').run(
            released.amount - settlement.kept,
            at,
            settlement.accountId,
          );
        }
      } else if (settlement.kept > 0) {
        // The lease expired and its reservation was given back: charge what was spent.
        this.#statement('UPDATE generation_allowances SET used = used + ?, updated_at = ? WHERE account_id = ?').run(settlement.kept, at, settlement.accountId);
      }
    })();
  }

  async renewGenerationLeases(holder: string, ttlMs: number): Promise<number> {
    return this.#statement('UPDATE generation_reservations SET expires_at = ? WHERE holder = ?').run(this.#now().getTime() + ttlMs, holder).changes;
  }

  async releaseExpiredGenerations(): Promise<number> {
    const now = this.#now();
    return this.#db.transaction(() => {
      const expired = this.#statement('DELETE FROM generation_reservations WHERE expires_at <= ? RETURNING account_id, amount').all(now.getTime()) as {
        account_id: string;
        amount: number;
      }[];
      const byAccount = new Map<string, number>();
      for (const row of expired) byAccount.set(row.account_id, (byAccount.get(row.account_id) ?? 0) + row.amount);
      const give = this.#statement('UPDATE generation_allowances SET used = MAX(0, used - ?), updated_at = ? WHERE account_id = ?');
      let total = 0;
      for (const [accountId, amount] of byAccount) {
        give.run(amount, now.toISOString(), accountId);
        total += amount;
      }
      return total;
    })();
  }

  async refundGenerations(accountId: string, amount: number): Promise<void> {
    this.#statement('UPDATE generation_allowances SET used = MAX(0, used - ?), updated_at = ? WHERE account_id = ?').run(
      amount,
      this.#now().toISOString(),
      accountId,
    );
  }

  async addGenerationsUsed(increments: GenerationIncrement[]): Promise<void> {
    const add = this.#statement(
      `INSERT INTO generation_allowances (account_id, allowance, used, updated_at) VALUES (?, NULL, ?, ?)
       ON CONFLICT (account_id) DO UPDATE SET used = used + excluded.used, updated_at = excluded.updated_at`,
    );
    const now = this.#now().toISOString();
    this.#db.transaction(() => {
      for (const increment of increments) add.run(increment.accountId, increment.amount, now);
    })();
  }

  async getGenerationBalance(accountId: string): Promise<GenerationBalance | undefined> {
    const row = this.#statement('SELECT account_id, allowance, used FROM generation_allowances WHERE account_id = ?').get(accountId) as
      AllowanceRow | undefined;
    return row && balanceFromRow(row);
  }

  async setGenerationAllowance(accountId: string, allowance: number | null, options: { resetUsed?: boolean } = {}): Promise<GenerationBalance> {
    const row = this.#statement(
      `INSERT INTO generation_allowances (account_id, allowance, used, updated_at) VALUES (@accountId, @allowance, 0, @now)
         ON CONFLICT (account_id) DO UPDATE SET allowance = excluded.allowance,
           used = CASE WHEN @resetUsed = 1 THEN 0 ELSE used END, updated_at = excluded.updated_at
         RETURNING account_id, allowance, used`,
    ).get({ accountId, allowance, now: this.#now().toISOString(), resetUsed: options.resetUsed ? 1 : 0 }) as AllowanceRow;
    return balanceFromRow(row);
  }

  async getConversationSummary(key: string, options: { notBefore?: Date } = {}): Promise<ConversationSummary | undefined> {
    const row = this.#statement('SELECT key, widget_id, sealed, created_at FROM conversation_summaries WHERE key = ? AND created_at >= ?').get(
      key,
      options.notBefore?.toISOString() ?? '',
    ) as { key: string; widget_id: string; sealed: string; created_at: string } | undefined;
    return row && { key: row.key, widgetId: row.widget_id, sealed: JSON.parse(row.sealed) as SealedSecret, createdAt: row.created_at };
  }

  async putConversationSummary(summary: ConversationSummary): Promise<void> {
    this.#statement('INSERT INTO conversation_summaries (key, widget_id, sealed, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING').run(
      summary.key,
      summary.widgetId,
      JSON.stringify(summary.sealed),
      this.#now().toISOString(),
    );
  }

  async deleteConversationSummaries(cutoff: Date): Promise<number> {
    return this.#statement('DELETE FROM conversation_summaries WHERE created_at < ?').run(cutoff.toISOString()).changes;
  }

  async createAccount(input: { id: string; name: string }): Promise<AccountRecord> {
    const account: AccountRecord = { id: input.id, name: input.name, sharedKey: 'none', createdAt: this.#now().toISOString() };
    const inserted = this.#statement('INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING').run(
      account.id,
      account.name,
      account.createdAt,
    );
    if (inserted.changes === 0) throw new AirlockError('conflict', 'An account with this id already exists.');
    return account;
  }

  async getAccount(id: string): Promise<AccountRecord | undefined> {
    const row = this.#statement('SELECT * FROM accounts WHERE id = ?').get(id) as AccountRow | undefined;
    return row && accountFromRow(row);
  }

  async listAccounts(): Promise<AccountRecord[]> {
    return (this.#statement('SELECT * FROM accounts ORDER BY created_at, id').all() as AccountRow[]).map(accountFromRow);
  }

  async setSharedKeyGrant(accountId: string, grant: SharedKeyGrant): Promise<AccountRecord> {
    const row = this.#statement('UPDATE accounts SET shared_key = ? WHERE id = ? RETURNING *').get(grant, accountId) as AccountRow | undefined;
    if (!row) throw new AirlockError('not_found', 'There is no such account.');
    return accountFromRow(row);
  }

  async listAccountWidgets(accountId: string): Promise<WidgetRecord[]> {
    const rows = this.#statement('SELECT * FROM widgets WHERE account_id = ? ORDER BY created_at, id').all(accountId) as WidgetRow[];
    return rows.map(widgetFromRow);
  }

  async putOpenAiKey(input: { id: string; ownerId: string; fingerprint: string; sealed: SealedSecret }): Promise<OpenAiKeyRecord> {
    const now = this.#now().toISOString();
    // IMMEDIATE: the revoke of the old key and the insert of the new one are
    // one step even when another process saves a key for the same owner.
    this.#db
      .transaction(() => {
        this.#statement(`UPDATE openai_keys SET status = 'revoked', sealed = NULL, revoked_at = ? WHERE owner_id = ? AND status <> 'revoked'`).run(
          now,
          input.ownerId,
        );
        this.#statement(`INSERT INTO openai_keys (id, owner_id, fingerprint, status, sealed, saved_at) VALUES (?, ?, ?, 'active', ?, ?)`).run(
          input.id,
          input.ownerId,
          input.fingerprint,
          JSON.stringify(input.sealed),
          now,
        );
      })
      .immediate();
    return { id: input.id, ownerId: input.ownerId, fingerprint: input.fingerprint, status: 'active', sealed: input.sealed, savedAt: now };
  }

  async getOpenAiKey(ownerId: string): Promise<OpenAiKeyRecord | undefined> {
    const row = this.#statement(
      `SELECT * FROM openai_keys WHERE owner_id = ?
         ORDER BY ${currentKeyOrder} LIMIT 1`,
    ).get(ownerId) as OpenAiKeyRow | undefined;
    return row && openAiKeyFromRow(row);
  }

  async revokeOpenAiKey(ownerId: string, options: { pinWidgets?: boolean } = {}): Promise<OpenAiKeyRecord | undefined> {
    const now = this.#now().toISOString();
    return this.#db
      .transaction(() => {
        const row = this.#statement(
          `UPDATE openai_keys SET status = 'revoked', sealed = NULL, revoked_at = ?
             WHERE owner_id = ? AND status <> 'revoked' RETURNING *`,
        ).get(now, ownerId) as OpenAiKeyRow | undefined;
        if (row && options.pinWidgets) {
          this.#statement(`UPDATE widgets SET key_source = 'own' WHERE account_id = ? AND key_source IS NULL`).run(ownerId);
        }
        return row && openAiKeyFromRow(row);
      })
      .immediate();
  }

  async recordOpenAiKeyUse(id: string): Promise<void> {
    this.#statement('UPDATE openai_keys SET last_used_at = ? WHERE id = ?').run(this.#now().toISOString(), id);
  }

  async recordOpenAiKeyError(id: string, code: string, options: { invalidate?: boolean } = {}): Promise<void> {
    this.#statement(
      `UPDATE openai_keys SET last_error_code = ?,
           status = CASE WHEN ? = 1 AND status = 'active' THEN 'invalid' ELSE status END
         WHERE id = ?`,
    ).run(code, options.invalidate ? 1 : 0, id);
  }

  async listSealedRecords(): Promise<SealedRecord[]> {
    const keys = this.#statement(`SELECT id, owner_id, sealed FROM openai_keys WHERE sealed IS NOT NULL ORDER BY saved_at, id`).all() as {
      id: string;
      owner_id: string;
      sealed: string;
    }[];
    const signing = this.#statement('SELECT kid, sealed_private_key FROM signing_keys ORDER BY created_at, kid').all() as {
      kid: string;
      sealed_private_key: string;
    }[];
    // Summaries of widgets that still exist (deleting a widget deletes its summaries).
    const summaries = this.#statement(
      `SELECT s.key, s.widget_id, w.account_id, s.sealed FROM conversation_summaries s JOIN widgets w ON w.id = s.widget_id
       ORDER BY s.created_at, s.key`,
    ).all() as { key: string; widget_id: string; account_id: string; sealed: string }[];
    return [
      ...keys.map((row): SealedRecord => ({ kind: 'openai-key', id: row.id, ownerId: row.owner_id, sealed: JSON.parse(row.sealed) as SealedSecret })),
      ...signing.map((row): SealedRecord => ({
        kind: 'signing-key',
        id: row.kid,
        ownerId: 'system',
        sealed: JSON.parse(row.sealed_private_key) as SealedSecret,
      })),
      ...summaries.map((row): SealedRecord => ({
        kind: 'conversation-summary',
        id: `${row.widget_id}/${row.key}`,
        ownerId: row.account_id,
        sealed: JSON.parse(row.sealed) as SealedSecret,
      })),
    ];
  }

  async replaceSealed(record: SealedRecord, next: SealedSecret): Promise<boolean> {
    if (record.kind === 'conversation-summary') {
      return (
        this.#statement('UPDATE conversation_summaries SET sealed = ? WHERE key = ? AND sealed = ?').run(
          JSON.stringify(next),
          summaryKeyOf(record),
          JSON.stringify(record.sealed),
        ).changes === 1
      );
    }
    const statement =
      record.kind === 'openai-key'
        ? 'UPDATE openai_keys SET sealed = ? WHERE id = ? AND sealed = ?'
        : 'UPDATE signing_keys SET sealed_private_key = ? WHERE kid = ? AND sealed_private_key = ?';
    return this.#statement(statement).run(JSON.stringify(next), record.id, JSON.stringify(record.sealed)).changes === 1;
  }

  async createAdminAccessToken(record: AdminAccessTokenRecord): Promise<void> {
    this.#statement('INSERT INTO admin_access_tokens (id, account_id, token_hash, label, created_at) VALUES (?, ?, ?, ?, ?)').run(
      record.id,
      record.accountId,
      record.tokenHash,
      record.label ?? null,
      record.createdAt,
    );
  }

  async findAdminAccessToken(tokenHash: string): Promise<AdminAccessTokenRecord | undefined> {
    const row = this.#statement('UPDATE admin_access_tokens SET last_used_at = ? WHERE token_hash = ? AND revoked_at IS NULL RETURNING *').get(
      this.#now().toISOString(),
      tokenHash,
    ) as AdminAccessTokenRow | undefined;
    return row && adminAccessTokenFromRow(row);
  }

  async listAdminAccessTokens(accountId: string): Promise<AdminAccessTokenRecord[]> {
    const rows = this.#statement('SELECT * FROM admin_access_tokens WHERE account_id = ? ORDER BY created_at, id').all(accountId) as AdminAccessTokenRow[];
    return rows.map(adminAccessTokenFromRow);
  }

  async revokeAdminAccessToken(accountId: string, id: string): Promise<boolean> {
    const revoke = this.#db.transaction(() => {
      const changed = this.#statement('UPDATE admin_access_tokens SET revoked_at = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL').run(
        this.#now().toISOString(),
        id,
        accountId,
      ).changes;
      this.#statement('DELETE FROM admin_sessions WHERE access_token_id = ?').run(id);
      return changed === 1;
    });
    return revoke.immediate();
  }

  async createAdminSession(record: AdminSessionRecord): Promise<void> {
    this.#statement(
      `INSERT INTO admin_sessions (id_hash, principal, account_id, access_token_id, credential_hash, created_at, last_seen_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      record.idHash,
      record.principal,
      record.accountId ?? null,
      record.accessTokenId ?? null,
      record.credentialHash,
      record.createdAt,
      record.lastSeenAt,
      record.expiresAt,
    );
  }

  async getAdminSession(idHash: string): Promise<AdminSessionRecord | undefined> {
    const row = this.#statement('SELECT * FROM admin_sessions WHERE id_hash = ?').get(idHash) as AdminSessionRow | undefined;
    return row && adminSessionFromRow(row);
  }

  async touchAdminSession(idHash: string, lastSeenAt: string): Promise<void> {
    this.#statement('UPDATE admin_sessions SET last_seen_at = ? WHERE id_hash = ?').run(lastSeenAt, idHash);
  }

  async deleteAdminSession(idHash: string): Promise<void> {
    this.#statement('DELETE FROM admin_sessions WHERE id_hash = ?').run(idHash);
  }

  async deleteExpiredAdminSessions(now: string, idleBefore: string): Promise<number> {
    return this.#statement('DELETE FROM admin_sessions WHERE expires_at <= ? OR last_seen_at < ?').run(now, idleBefore).changes;
  }

  async ping(): Promise<void> {
    this.#statement('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

/** A summary's key, from its sealed record's id (`<widget id>/<key>`). */
function summaryKeyOf(record: SealedRecord): string {
  return record.id.slice(record.id.indexOf('/') + 1);
}

interface AdminAccessTokenRow {
  id: string;
  account_id: string;
  token_hash: string;
  label: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

function adminAccessTokenFromRow(row: AdminAccessTokenRow): AdminAccessTokenRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    tokenHash: row.token_hash,
    createdAt: row.created_at,
    ...(row.label !== null && { label: row.label }),
    ...(row.last_used_at !== null && { lastUsedAt: row.last_used_at }),
    ...(row.revoked_at !== null && { revokedAt: row.revoked_at }),
  };
}

interface AdminSessionRow {
  id_hash: string;
  principal: 'operator' | 'account';
  account_id: string | null;
  access_token_id: string | null;
  credential_hash: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

function adminSessionFromRow(row: AdminSessionRow): AdminSessionRecord {
  return {
    idHash: row.id_hash,
    principal: row.principal,
    credentialHash: row.credential_hash,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    ...(row.account_id !== null && { accountId: row.account_id }),
    ...(row.access_token_id !== null && { accessTokenId: row.access_token_id }),
  };
}

interface AccountRow {
  id: string;
  name: string;
  shared_key: SharedKeyGrant;
  created_at: string;
}

function accountFromRow(row: AccountRow): AccountRecord {
  return { id: row.id, name: row.name, sharedKey: row.shared_key, createdAt: row.created_at };
}

interface OpenAiKeyRow {
  id: string;
  owner_id: string;
  fingerprint: string;
  status: OpenAiKeyStatus;
  sealed: string | null;
  saved_at: string;
  last_used_at: string | null;
  last_error_code: string | null;
  revoked_at: string | null;
}

function openAiKeyFromRow(row: OpenAiKeyRow): OpenAiKeyRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    fingerprint: row.fingerprint,
    status: row.status,
    ...(row.sealed !== null && { sealed: JSON.parse(row.sealed) as SealedSecret }),
    savedAt: row.saved_at,
    ...(row.last_used_at !== null && { lastUsedAt: row.last_used_at }),
    ...(row.last_error_code !== null && { lastErrorCode: row.last_error_code }),
    ...(row.revoked_at !== null && { revokedAt: row.revoked_at }),
  };
}

function widgetFromRow(row: WidgetRow): WidgetRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    type: row.type,
    enabled: row.enabled === 1,
    allowedOrigins: JSON.parse(row.allowed_origins) as string[],
    presentation: JSON.parse(row.presentation) as WidgetRecord['presentation'],
    behaviour: JSON.parse(row.behaviour) as WidgetRecord['behaviour'],
    epoch: row.epoch,
    ...(row.key_source && { keySource: row.key_source }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
