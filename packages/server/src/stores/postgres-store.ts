import type pg from 'pg';
import { AirlockError, isConnectionFailure } from '../errors.js';
import { newId } from '../ids.js';
import { loadOptionalDependency } from '../optional-dependency.js';
import { assertValidWidget } from '../widgets/widget-input.js';
import type { SealedSecret } from '../vault/vault.js';
import type { Migration } from './migrations.js';
import { postgresMigrations } from './postgres-migrations.js';
import { balanceFromRow, usageDays, widgetForCallFromRow, widgetForCallStatement, type AllowanceRow, type UsageRow } from './rows.js';
import type {
  AccountRecord,
  AdminAccessTokenRecord,
  AdminSessionRecord,
  ConversationSummary,
  GenerationBalance,
  GenerationIncrement,
  GenerationLease,
  GenerationSettlement,
  KeySource,
  NewWidget,
  OpenAiKeyRecord,
  OpenAiKeyStatus,
  SealedRecord,
  SharedKeyGrant,
  SigningKeyRecord,
  Store,
  UsageDay,
  UsageIncrement,
  WidgetPatch,
  WidgetRecord,
  WidgetForCall,
} from './store.js';

/** Options of {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database`. */
  connectionString: string;
  /** Most connections the pool opens. Default: `10`. */
  maxConnections?: number;
  /** How long to wait for a new connection before failing the request. Default: `5000` (ms). */
  connectTimeoutMs?: number;
  /** Migrations to apply. Default: {@link postgresMigrations}. */
  migrations?: Migration[];
  /** Clock, for tests. Default: `() => new Date()`. */
  now?: () => Date;
}

// Arbitrary constant naming Airlock's migration lock among advisory locks.
const migrationLockId = 0x41_69_72_6c; // 'Airl'

// An owner's current key (active or invalid) first, else its most recently revoked one.
const currentKeyOrder = `status = 'revoked', revoked_at DESC NULLS LAST, saved_at DESC`;
const widgetForCallSql = widgetForCallStatement(currentKeyOrder, '$1');

interface WidgetRow {
  id: string;
  account_id: string;
  name: string;
  type: WidgetRecord['type'];
  enabled: boolean;
  allowed_origins: string[];
  presentation: WidgetRecord['presentation'];
  behaviour: WidgetRecord['behaviour'];
  epoch: number;
  created_at: Date;
  updated_at: Date;
  key_source: KeySource | null;
}

interface OpenAiKeyRow {
  id: string;
  owner_id: string;
  fingerprint: string;
  status: OpenAiKeyStatus;
  sealed: string | null;
  saved_at: Date;
  last_used_at: Date | null;
  last_error_code: string | null;
  revoked_at: Date | null;
}

const ignoreError = (): void => {};

/**
 * The store for several server instances: PostgreSQL through a `pg` pool.
 * Migrations run under a transaction-scoped advisory lock, so instances that
 * start together apply each migration exactly once.
 *
 * @example
 * ```ts
 * const store = new PostgresStore({ connectionString: process.env.AIRLOCK_DATABASE_URL! });
 * await store.migrate();
 * ```
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #migrations: Migration[];
  readonly #now: () => Date;

  constructor(options: PostgresStoreOptions) {
    // pg is an optional peer dependency, loaded only by a deployment on PostgreSQL.
    const { Pool } = loadOptionalDependency<typeof pg>('pg');
    this.#pool = new Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      // Without a limit, a request waits forever for a database that does not answer.
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    });
    // A connection the server ends (a restart, a failover) emits 'error': on
    // the pool while idle, and on the client itself while checked out or after
    // the pool dropped it, where the pool listens no more. Unheard, either is
    // an uncaught error that ends the process. The statement that meets the
    // broken connection fails on its own; the next one reconnects.
    this.#pool.on('error', ignoreError);
    this.#pool.on('connect', (client) => client.on('error', ignoreError));
    this.#migrations = options.migrations ?? postgresMigrations;
    this.#now = options.now ?? (() => new Date());
  }

  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let failure: unknown;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      failure = error;
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      // A broken connection is dropped rather than returned to the pool.
      client.release(failure instanceof Error && isConnectionFailure(failure) ? failure : undefined);
    }
  }

  async #rows<T>(sql: string, values: unknown[] = []): Promise<T[]> {
    return (await this.#pool.query(sql, values)).rows as T[];
  }

  /**
   * The pool, for the stores of other areas that share it
   * (`PostgresKnowledgeStore`). It stays this store's: {@link close} ends it.
   *
   * @example
   * ```ts
   * const knowledge = new PostgresKnowledgeStore(store.pool);
   * ```
   */
  get pool(): pg.Pool {
    return this.#pool;
  }

  async migrate(): Promise<void> {
    await this.#transaction(async (client) => {
      // Taken before even creating the bookkeeping table: a second instance
      // waits here, then finds every migration applied.
      await client.query('SELECT pg_advisory_xact_lock($1)', [migrationLockId]);
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)');
      const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((row) => row.version));
      for (const migration of [...this.#migrations].sort((a, b) => a.version - b.version)) {
        if (applied.has(migration.version)) continue;
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.name, this.#now()]);
      }
    });
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
    await this.#pool.query(
      `INSERT INTO widgets (id, account_id, name, type, enabled, allowed_origins, presentation, behaviour, epoch, created_at, updated_at, key_source)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        record.id,
        record.accountId,
        record.name,
        record.type,
        record.enabled,
        JSON.stringify(record.allowedOrigins),
        JSON.stringify(record.presentation),
        JSON.stringify(record.behaviour),
        record.epoch,
        now,
        now,
        record.keySource ?? null,
      ],
    );
    return record;
  }

  async getWidget(id: string): Promise<WidgetRecord | undefined> {
    const [row] = await this.#rows<WidgetRow>('SELECT * FROM widgets WHERE id = $1', [id]);
    return row && widgetFromRow(row);
  }

  async getWidgetForCall(id: string): Promise<WidgetForCall | undefined> {
    const [row] = await this.#rows<WidgetRow>(widgetForCallSql, [id]);
    return row && widgetForCallFromRow(row, widgetFromRow, openAiKeyFromRow);
  }

  async findWidgetByName(name: string): Promise<WidgetRecord | undefined> {
    const [row] = await this.#rows<WidgetRow>('SELECT * FROM widgets WHERE name = $1 ORDER BY created_at, id LIMIT 1', [name]);
    return row && widgetFromRow(row);
  }

  async listWidgets(): Promise<WidgetRecord[]> {
    return (await this.#rows<WidgetRow>('SELECT * FROM widgets ORDER BY created_at, id')).map(widgetFromRow);
  }

  async updateWidget(id: string, patch: WidgetPatch): Promise<WidgetRecord> {
    return this.#transaction(async (client) => {
      // FOR UPDATE: a concurrent patch waits, then applies on top of this one.
      const [row] = (await client.query<WidgetRow>('SELECT * FROM widgets WHERE id = $1 FOR UPDATE', [id])).rows;
      if (!row) throw new AirlockError('widget_not_found', 'There is no such widget.');
      const next: WidgetRecord = { ...widgetFromRow(row), ...patch, updatedAt: this.#now().toISOString() };
      assertValidWidget(next, Object.keys(patch));
      // Disabling revokes every token minted so far, so enabling again later does not revive them.
      if (row.enabled && !next.enabled) next.epoch += 1;
      await client.query(
        `UPDATE widgets SET name = $1, enabled = $2, allowed_origins = $3, presentation = $4, behaviour = $5, updated_at = $6, key_source = $7, epoch = $9
         WHERE id = $8`,
        [
          next.name,
          next.enabled,
          JSON.stringify(next.allowedOrigins),
          JSON.stringify(next.presentation),
          JSON.stringify(next.behaviour),
          next.updatedAt,
          next.keySource ?? null,
          id,
          next.epoch,
        ],
      );
      return next;
    });
  }

  async deleteWidget(id: string): Promise<boolean> {
    // Its visitors' conversation summaries go with it: one statement, one transaction.
    const [row] = await this.#rows<{ deleted: number }>(
      `WITH summaries AS (DELETE FROM conversation_summaries WHERE widget_id = $1),
       gone AS (DELETE FROM widgets WHERE id = $1 RETURNING 1)
       SELECT count(*)::int AS deleted FROM gone`,
      [id],
    );
    return (row?.deleted ?? 0) > 0;
  }

  async bumpWidgetEpoch(id: string): Promise<number> {
    const [row] = await this.#rows<{ epoch: number }>('UPDATE widgets SET epoch = epoch + 1, updated_at = $1 WHERE id = $2 RETURNING epoch', [this.#now(), id]);
    if (!row) throw new AirlockError('widget_not_found', 'There is no such widget.');
    return row.epoch;
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const rows = await this.#rows<{ kid: string; public_jwk: Record<string, unknown>; sealed_private_key: string; created_at: Date }>(
      'SELECT * FROM signing_keys ORDER BY created_at, kid',
    );
    return rows.map((row) => ({
      kid: row.kid,
      publicJwk: row.public_jwk,
      sealedPrivateKey: JSON.parse(row.sealed_private_key) as SealedSecret,
      createdAt: row.created_at.toISOString(),
    }));
  }

  async addSigningKey(record: SigningKeyRecord): Promise<void> {
    await this.#pool.query('INSERT INTO signing_keys (kid, public_jwk, sealed_private_key, created_at) VALUES ($1, $2, $3, $4)', [
      record.kid,
      JSON.stringify(record.publicJwk),
      JSON.stringify(record.sealedPrivateKey),
      record.createdAt,
    ]);
  }

  async deleteSigningKey(kid: string): Promise<void> {
    await this.#pool.query('DELETE FROM signing_keys WHERE kid = $1', [kid]);
  }

  async addUsage(increments: UsageIncrement[]): Promise<void> {
    if (increments.length === 0) return;
    await this.#transaction(async (client) => {
      for (const increment of increments) {
        await client.query(
          `INSERT INTO usage_daily AS current (widget_id, day, views, requests, input_tokens, output_tokens, generations)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (widget_id, day) DO UPDATE SET views = current.views + excluded.views,
             requests = current.requests + excluded.requests, input_tokens = current.input_tokens + excluded.input_tokens,
             output_tokens = current.output_tokens + excluded.output_tokens, generations = current.generations + excluded.generations`,
          [
            increment.widgetId,
            increment.day,
            increment.views ?? 0,
            increment.requests ?? 0,
            increment.inputTokens ?? 0,
            increment.outputTokens ?? 0,
            increment.generations ?? 0,
          ],
        );
        for (const [code, count] of Object.entries(increment.errors ?? {})) {
          await client.query(
            `INSERT INTO usage_errors AS current (widget_id, day, code, count) VALUES ($1, $2, $3, $4)
             ON CONFLICT (widget_id, day, code) DO UPDATE SET count = current.count + excluded.count`,
            [increment.widgetId, increment.day, code, count],
          );
        }
      }
    });
  }

  async listUsage(widgetId: string, fromDay: string, toDay: string): Promise<UsageDay[]> {
    const rows = await this.#rows<UsageRow>('SELECT * FROM usage_daily WHERE widget_id = $1 AND day >= $2 AND day <= $3 ORDER BY day', [
      widgetId,
      fromDay,
      toDay,
    ]);
    const errors = await this.#rows<{ day: string; code: string; count: number }>(
      'SELECT day, code, count FROM usage_errors WHERE widget_id = $1 AND day >= $2 AND day <= $3',
      [widgetId, fromDay, toDay],
    );
    return usageDays(rows, errors);
  }

  async reserveGenerations(
    accountId: string,
    amount: number,
    defaultAllowance: number | null,
    lease?: GenerationLease,
  ): Promise<GenerationBalance | undefined> {
    const now = this.#now();
    // A lease is recorded by the same statement as the deduction (a CTE
    // inserting for each row the deduction returns), so both commit or
    // neither does. Its expiry is on the database's clock: instances whose
    // clocks disagree still agree on when a lease ends.
    const leased = (reserved: string, first: number) =>
      lease
        ? `WITH reserved AS (${reserved}),
           leased AS (
             INSERT INTO generation_reservations (id, account_id, amount, holder, expires_at)
             SELECT $${first}, account_id, $1, $${first + 1}, now() + ($${first + 2}::double precision * interval '1 millisecond') FROM reserved
           )
           SELECT account_id, allowance, used FROM reserved`
        : reserved;
    const leaseValues = lease ? [lease.id, lease.holder, lease.ttlMs] : [];
    if (defaultAllowance === null || amount <= defaultAllowance) {
      // One statement, one round trip and one commit: every shared-key request
      // of an account updates this row, so the time it is locked is what limits
      // concurrency. A new row starts with the default allowance, which covers
      // `amount` here; an existing row is updated only if its allowance does.
      const [row] = await this.#rows<AllowanceRow>(
        leased(
          `INSERT INTO generation_allowances AS current (account_id, allowance, used, updated_at) VALUES ($3, $4, $1, $2)
           ON CONFLICT (account_id) DO UPDATE SET used = current.used + $1, updated_at = $2
           WHERE current.allowance IS NULL OR current.used + $1 <= current.allowance
           RETURNING account_id, allowance, used`,
          5,
        ),
        [amount, now, accountId, defaultAllowance, ...leaseValues],
      );
      return row && balanceFromRow(row);
    }
    await this.#pool.query('INSERT INTO generation_allowances (account_id, allowance, used, updated_at) VALUES ($1, $2, 0, $3) ON CONFLICT DO NOTHING', [
      accountId,
      defaultAllowance,
      now,
    ]);
    // One conditional statement; PostgreSQL re-checks the condition on the
    // latest row version when another reservation committed first.
    const [row] = await this.#rows<AllowanceRow>(
      leased(
        `UPDATE generation_allowances SET used = used + $1, updated_at = $2
         WHERE account_id = $3 AND (allowance IS NULL OR used + $1 <= allowance)
         RETURNING account_id, allowance, used`,
        4,
      ),
      [amount, now, accountId, ...leaseValues],
    );
    return row && balanceFromRow(row);
  }

  async refundGenerations(accountId: string, amount: number): Promise<void> {
    await this.#pool.query('UPDATE generation_allowances SET used = GREATEST(0, used - $1), updated_at = $2 WHERE account_id = $3', [
      amount,
      this.#now(),
      accountId,
    ]);
  }

  async settleGenerations(settlement: GenerationSettlement): Promise<void> {
    const now = this.#now();
    // Releasing the lease and giving back the rest are one statement; two
    // settlements (or a settlement and the expiry sweep) cannot both find it.
    const [row] = await this.#rows<{ released: number }>(
      `WITH released AS (DELETE FROM generation_reservations WHERE id = $1 RETURNING account_id, amount),
       given AS (
         UPDATE generation_allowances AS current SET used = GREATEST(0, current.used - (released.amount - $2)), updated_at = $3
         FROM released WHERE current.account_id = released.account_id AND released.amount > $2
       )
       SELECT count(*)::int AS released FROM released`,
      [settlement.id, settlement.kept, now],
    );
    if (row?.released === 0 && settlement.kept > 0) {
      // The lease expired and its reservation was given back: charge what was spent.
      await this.#pool.query('UPDATE generation_allowances SET used = used + $1, updated_at = $2 WHERE account_id = $3', [
        settlement.kept,
        now,
        settlement.accountId,
      ]);
    }
  }

  async renewGenerationLeases(holder: string, ttlMs: number): Promise<number> {
    const result = await this.#pool.query(
      `UPDATE generation_reservations SET expires_at = now() + ($2::double precision * interval '1 millisecond') WHERE holder = $1`,
      [holder, ttlMs],
    );
    return result.rowCount ?? 0;
  }

  async releaseExpiredGenerations(): Promise<number> {
    // Deleting the expired leases and giving their generations back are one
    // statement: a second instance sweeping at once waits on the deleted
    // rows, then finds them gone, so each is given back once.
    const [row] = await this.#rows<{ total: string | number }>(
      `WITH expired AS (DELETE FROM generation_reservations WHERE expires_at <= now() RETURNING account_id, amount),
       totals AS (SELECT account_id, sum(amount) AS amount FROM expired GROUP BY account_id),
       given AS (
         UPDATE generation_allowances AS current SET used = GREATEST(0, current.used - totals.amount), updated_at = $1
         FROM totals WHERE current.account_id = totals.account_id
       )
       SELECT coalesce(sum(amount), 0) AS total FROM totals`,
      [this.#now()],
    );
    return Number(row?.total ?? 0);
  }

  async addGenerationsUsed(increments: GenerationIncrement[]): Promise<void> {
    if (increments.length === 0) return;
    const now = this.#now();
    await this.#transaction(async (client) => {
      for (const increment of increments) {
        await client.query(
          `INSERT INTO generation_allowances AS current (account_id, allowance, used, updated_at) VALUES ($1, NULL, $2, $3)
           ON CONFLICT (account_id) DO UPDATE SET used = current.used + excluded.used, updated_at = excluded.updated_at`,
          [increment.accountId, increment.amount, now],
        );
      }
    });
  }

  async getGenerationBalance(accountId: string): Promise<GenerationBalance | undefined> {
    const [row] = await this.#rows<AllowanceRow>('SELECT account_id, allowance, used FROM generation_allowances WHERE account_id = $1', [accountId]);
    return row && balanceFromRow(row);
  }

  async setGenerationAllowance(accountId: string, allowance: number | null, options: { resetUsed?: boolean } = {}): Promise<GenerationBalance> {
    const [row] = await this.#rows<AllowanceRow>(
      `INSERT INTO generation_allowances AS current (account_id, allowance, used, updated_at) VALUES ($1, $2, 0, $3)
       ON CONFLICT (account_id) DO UPDATE SET allowance = excluded.allowance,
         used = CASE WHEN $4 THEN 0 ELSE current.used END, updated_at = excluded.updated_at
       RETURNING account_id, allowance, used`,
      [accountId, allowance, this.#now(), options.resetUsed === true],
    );
    return balanceFromRow(row!);
  }

  async getConversationSummary(key: string, options: { notBefore?: Date } = {}): Promise<ConversationSummary | undefined> {
    const [row] = await this.#rows<{ key: string; widget_id: string; sealed: string; created_at: Date }>(
      'SELECT key, widget_id, sealed, created_at FROM conversation_summaries WHERE key = $1 AND ($2::timestamptz IS NULL OR created_at >= $2)',
      [key, options.notBefore ?? null],
    );
    return row && { key: row.key, widgetId: row.widget_id, sealed: JSON.parse(row.sealed) as SealedSecret, createdAt: row.created_at.toISOString() };
  }

  async putConversationSummary(summary: ConversationSummary): Promise<void> {
    await this.#pool.query('INSERT INTO conversation_summaries (key, widget_id, sealed, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING', [
      summary.key,
      summary.widgetId,
      JSON.stringify(summary.sealed),
      this.#now(),
    ]);
  }

  async deleteConversationSummaries(cutoff: Date): Promise<number> {
    return (await this.#pool.query('DELETE FROM conversation_summaries WHERE created_at < $1', [cutoff])).rowCount ?? 0;
  }

  async createAccount(input: { id: string; name: string }): Promise<AccountRecord> {
    const account: AccountRecord = { id: input.id, name: input.name, sharedKey: 'none', createdAt: this.#now().toISOString() };
    const inserted = await this.#pool.query('INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [
      account.id,
      account.name,
      account.createdAt,
    ]);
    if (inserted.rowCount === 0) throw new AirlockError('conflict', 'An account with this id already exists.');
    return account;
  }

  async getAccount(id: string): Promise<AccountRecord | undefined> {
    const [row] = await this.#rows<AccountRow>('SELECT * FROM accounts WHERE id = $1', [id]);
    return row && accountFromRow(row);
  }

  async listAccounts(): Promise<AccountRecord[]> {
    return (await this.#rows<AccountRow>('SELECT * FROM accounts ORDER BY created_at, id')).map(accountFromRow);
  }

  async setSharedKeyGrant(accountId: string, grant: SharedKeyGrant): Promise<AccountRecord> {
    const [row] = await this.#rows<AccountRow>('UPDATE accounts SET shared_key = $1 WHERE id = $2 RETURNING *', [grant, accountId]);
    if (!row) throw new AirlockError('not_found', 'There is no such account.');
    return accountFromRow(row);
  }

  async listAccountWidgets(accountId: string): Promise<WidgetRecord[]> {
    return (await this.#rows<WidgetRow>('SELECT * FROM widgets WHERE account_id = $1 ORDER BY created_at, id', [accountId])).map(widgetFromRow);
  }

  async putOpenAiKey(input: { id: string; ownerId: string; fingerprint: string; sealed: SealedSecret }): Promise<OpenAiKeyRecord> {
    const now = this.#now();
    await this.#transaction(async (client) => {
      await lockOwner(client, input.ownerId);
      await client.query(`UPDATE openai_keys SET status = 'revoked', sealed = NULL, revoked_at = $1 WHERE owner_id = $2 AND status <> 'revoked'`, [
        now,
        input.ownerId,
      ]);
      await client.query(`INSERT INTO openai_keys (id, owner_id, fingerprint, status, sealed, saved_at) VALUES ($1, $2, $3, 'active', $4, $5)`, [
        input.id,
        input.ownerId,
        input.fingerprint,
        JSON.stringify(input.sealed),
        now,
      ]);
    });
    return {
      id: input.id,
      ownerId: input.ownerId,
      fingerprint: input.fingerprint,
      status: 'active',
      sealed: input.sealed,
      savedAt: now.toISOString(),
    };
  }

  async getOpenAiKey(ownerId: string): Promise<OpenAiKeyRecord | undefined> {
    const [row] = await this.#rows<OpenAiKeyRow>(
      `SELECT * FROM openai_keys WHERE owner_id = $1
       ORDER BY ${currentKeyOrder} LIMIT 1`,
      [ownerId],
    );
    return row && openAiKeyFromRow(row);
  }

  async revokeOpenAiKey(ownerId: string, options: { pinWidgets?: boolean } = {}): Promise<OpenAiKeyRecord | undefined> {
    return this.#transaction(async (client) => {
      await lockOwner(client, ownerId);
      const [row] = (
        await client.query<OpenAiKeyRow>(
          `UPDATE openai_keys SET status = 'revoked', sealed = NULL, revoked_at = $1
           WHERE owner_id = $2 AND status <> 'revoked' RETURNING *`,
          [this.#now(), ownerId],
        )
      ).rows;
      if (row && options.pinWidgets) {
        await client.query(`UPDATE widgets SET key_source = 'own' WHERE account_id = $1 AND key_source IS NULL`, [ownerId]);
      }
      return row && openAiKeyFromRow(row);
    });
  }

  async recordOpenAiKeyUse(id: string): Promise<void> {
    await this.#pool.query('UPDATE openai_keys SET last_used_at = $1 WHERE id = $2', [this.#now(), id]);
  }

  async recordOpenAiKeyError(id: string, code: string, options: { invalidate?: boolean } = {}): Promise<void> {
    await this.#pool.query(
      `UPDATE openai_keys SET last_error_code = $1,
         status = CASE WHEN $2 AND status = 'active' THEN 'invalid' ELSE status END
       WHERE id = $3`,
      [code, options.invalidate === true, id],
    );
  }

  async listSealedRecords(): Promise<SealedRecord[]> {
    const keys = await this.#rows<{ id: string; owner_id: string; sealed: string }>(
      'SELECT id, owner_id, sealed FROM openai_keys WHERE sealed IS NOT NULL ORDER BY saved_at, id',
    );
    const signing = await this.#rows<{ kid: string; sealed_private_key: string }>('SELECT kid, sealed_private_key FROM signing_keys ORDER BY created_at, kid');
    // Summaries of widgets that still exist (deleting a widget deletes its summaries).
    const summaries = await this.#rows<{ key: string; widget_id: string; account_id: string; sealed: string }>(
      `SELECT s.key, s.widget_id, w.account_id, s.sealed FROM conversation_summaries s JOIN widgets w ON w.id = s.widget_id
       ORDER BY s.created_at, s.key`,
    );
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
      const result = await this.#pool.query('UPDATE conversation_summaries SET sealed = $1 WHERE key = $2 AND sealed = $3', [
        JSON.stringify(next),
        record.id.slice(record.id.indexOf('/') + 1),
        JSON.stringify(record.sealed),
      ]);
      return result.rowCount === 1;
    }
    const statement =
      record.kind === 'openai-key'
        ? 'UPDATE openai_keys SET sealed = $1 WHERE id = $2 AND sealed = $3'
        : 'UPDATE signing_keys SET sealed_private_key = $1 WHERE kid = $2 AND sealed_private_key = $3';
    const result = await this.#pool.query(statement, [JSON.stringify(next), record.id, JSON.stringify(record.sealed)]);
    return result.rowCount === 1;
  }

  async createAdminAccessToken(record: AdminAccessTokenRecord): Promise<void> {
    await this.#pool.query('INSERT INTO admin_access_tokens (id, account_id, token_hash, label, created_at) VALUES ($1, $2, $3, $4, $5)', [
      record.id,
      record.accountId,
      record.tokenHash,
      record.label ?? null,
      record.createdAt,
    ]);
  }

  async findAdminAccessToken(tokenHash: string): Promise<AdminAccessTokenRecord | undefined> {
    const [row] = await this.#rows<PgAdminAccessTokenRow>(
      'UPDATE admin_access_tokens SET last_used_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL RETURNING *',
      [this.#now(), tokenHash],
    );
    return row && pgAdminAccessTokenFromRow(row);
  }

  async listAdminAccessTokens(accountId: string): Promise<AdminAccessTokenRecord[]> {
    const rows = await this.#rows<PgAdminAccessTokenRow>('SELECT * FROM admin_access_tokens WHERE account_id = $1 ORDER BY created_at, id', [accountId]);
    return rows.map(pgAdminAccessTokenFromRow);
  }

  async revokeAdminAccessToken(accountId: string, id: string): Promise<boolean> {
    return this.#transaction(async (client) => {
      const revoked = await client.query('UPDATE admin_access_tokens SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL', [
        this.#now(),
        id,
        accountId,
      ]);
      await client.query('DELETE FROM admin_sessions WHERE access_token_id = $1', [id]);
      return revoked.rowCount === 1;
    });
  }

  async createAdminSession(record: AdminSessionRecord): Promise<void> {
    await this.#pool.query(
      `INSERT INTO admin_sessions (id_hash, principal, account_id, access_token_id, credential_hash, created_at, last_seen_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        record.idHash,
        record.principal,
        record.accountId ?? null,
        record.accessTokenId ?? null,
        record.credentialHash,
        record.createdAt,
        record.lastSeenAt,
        record.expiresAt,
      ],
    );
  }

  async getAdminSession(idHash: string): Promise<AdminSessionRecord | undefined> {
    const [row] = await this.#rows<PgAdminSessionRow>('SELECT * FROM admin_sessions WHERE id_hash = $1', [idHash]);
    return (
      row && {
        idHash: row.id_hash,
        principal: row.principal,
        credentialHash: row.credential_hash,
        createdAt: row.created_at.toISOString(),
        lastSeenAt: row.last_seen_at.toISOString(),
        expiresAt: row.expires_at.toISOString(),
        ...(row.account_id !== null && { accountId: row.account_id }),
        ...(row.access_token_id !== null && { accessTokenId: row.access_token_id }),
      }
    );
  }

  async touchAdminSession(idHash: string, lastSeenAt: string): Promise<void> {
    await this.#pool.query('UPDATE admin_sessions SET last_seen_at = $1 WHERE id_hash = $2', [lastSeenAt, idHash]);
  }

  async deleteAdminSession(idHash: string): Promise<void> {
    await this.#pool.query('DELETE FROM admin_sessions WHERE id_hash = $1', [idHash]);
  }

  async deleteExpiredAdminSessions(now: string, idleBefore: string): Promise<number> {
    const result = await this.#pool.query('DELETE FROM admin_sessions WHERE expires_at <= $1 OR last_seen_at < $2', [now, idleBefore]);
    return result.rowCount ?? 0;
  }

  async ping(): Promise<void> {
    await this.#pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

interface PgAdminAccessTokenRow {
  id: string;
  account_id: string;
  token_hash: string;
  label: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

function pgAdminAccessTokenFromRow(row: PgAdminAccessTokenRow): AdminAccessTokenRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    tokenHash: row.token_hash,
    createdAt: row.created_at.toISOString(),
    ...(row.label !== null && { label: row.label }),
    ...(row.last_used_at !== null && { lastUsedAt: row.last_used_at.toISOString() }),
    ...(row.revoked_at !== null && { revokedAt: row.revoked_at.toISOString() }),
  };
}

interface PgAdminSessionRow {
  id_hash: string;
  principal: 'operator' | 'account';
  account_id: string | null;
  access_token_id: string | null;
  credential_hash: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
}

/** Serialises key changes for one owner across connections and instances. */
async function lockOwner(client: pg.PoolClient, ownerId: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('airlock:openai-key:' || $1, 0))`, [ownerId]);
}

function widgetFromRow(row: WidgetRow): WidgetRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    type: row.type,
    enabled: row.enabled,
    allowedOrigins: row.allowed_origins,
    presentation: row.presentation,
    behaviour: row.behaviour,
    epoch: row.epoch,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    ...(row.key_source && { keySource: row.key_source }),
  };
}

function openAiKeyFromRow(row: OpenAiKeyRow): OpenAiKeyRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    fingerprint: row.fingerprint,
    status: row.status,
    ...(row.sealed !== null && { sealed: JSON.parse(row.sealed) as SealedSecret }),
    savedAt: row.saved_at.toISOString(),
    ...(row.last_used_at !== null && { lastUsedAt: row.last_used_at.toISOString() }),
    ...(row.last_error_code !== null && { lastErrorCode: row.last_error_code }),
    ...(row.revoked_at !== null && { revokedAt: row.revoked_at.toISOString() }),
  };
}

interface AccountRow {
  id: string;
  name: string;
  shared_key: SharedKeyGrant;
  created_at: Date;
}

function accountFromRow(row: AccountRow): AccountRecord {
  return { id: row.id, name: row.name, sharedKey: row.shared_key, createdAt: row.created_at.toISOString() };
}
