// The generation allowance operations, written once for SQLite and
// PostgreSQL. Where PostgreSQL can write inside `WITH` (`writableWith`), a
// step that SQLite takes in a transaction of several statements is one
// statement with no transaction around it: every shared-key request of an
// account updates its row, so the time the row is locked is what limits
// concurrency.
import { statement, type Operation, type Row, type SqlDialect } from './sql.js';
import type { GenerationBalance, GenerationIncrement, GenerationLease, GenerationSettlement } from './generation-store.js';

/**
 * The balance a `generation_allowances` row describes (PostgreSQL gives BIGINTs as strings).
 *
 * @example
 * ```ts
 * const balance = balanceFromRow(row);
 * ```
 */
export function balanceFromRow(row: Row): GenerationBalance {
  return { accountId: String(row.account_id), allowance: row.allowance === null ? null : Number(row.allowance), used: Number(row.used) };
}

// `used` less what is given back, never below zero.
const usedLess = (given: string) => `CASE WHEN generation_allowances.used > ${given} THEN generation_allowances.used - ${given} ELSE 0 END`;
const balanceColumns = 'account_id, allowance, used';

/** In a write transaction where `writableWith` is false; elsewhere each statement stands on its own. */
export function* reserveGenerations(
  dialect: SqlDialect,
  reservation: { accountId: string; amount: number; defaultAllowance: number | null; lease: GenerationLease | undefined; now: Date },
): Operation<GenerationBalance | undefined> {
  const { accountId, amount, defaultAllowance, lease, now } = reservation;
  const params = {
    accountId,
    amount,
    defaultAllowance,
    at: now.toISOString(),
    nowMs: now.getTime(),
    leaseId: lease?.id,
    holder: lease?.holder,
    ttlMs: lease?.ttlMs,
  };
  // On PostgreSQL the lease is recorded by the same statement as the
  // deduction (inserting for each row the deduction returns), so both commit
  // or neither does; on SQLite by the next statement of the transaction.
  const leased = (reserved: string) =>
    lease && dialect.writableWith
      ? `WITH reserved AS (${reserved}),
         leased AS (
           INSERT INTO generation_reservations (id, account_id, amount, holder, expires_at)
           SELECT @leaseId, account_id, @amount, @holder, ${dialect.leaseExpiry} FROM reserved
         )
         SELECT ${balanceColumns} FROM reserved`
      : reserved;
  let row: Row | undefined;
  if (defaultAllowance === null || amount <= defaultAllowance) {
    // One conditional statement, so the check and the deduction cannot be split
    // by another caller. A new row starts with the default allowance, which
    // covers `amount` here; an existing row is updated only if its allowance does.
    [row] = yield* statement(
      leased(
        `INSERT INTO generation_allowances (account_id, allowance, used, updated_at) VALUES (@accountId, @defaultAllowance, @amount, @at)
         ON CONFLICT (account_id) DO UPDATE SET used = generation_allowances.used + @amount, updated_at = @at
         WHERE generation_allowances.allowance IS NULL OR generation_allowances.used + @amount <= generation_allowances.allowance
         RETURNING ${balanceColumns}`,
      ),
      params,
    );
  } else {
    yield* statement(
      'INSERT INTO generation_allowances (account_id, allowance, used, updated_at) VALUES (@accountId, @defaultAllowance, 0, @at) ON CONFLICT DO NOTHING',
      params,
    );
    // PostgreSQL re-checks the condition on the latest row version when another reservation committed first.
    [row] = yield* statement(
      leased(
        `UPDATE generation_allowances SET used = used + @amount, updated_at = @at
         WHERE account_id = @accountId AND (allowance IS NULL OR used + @amount <= allowance)
         RETURNING ${balanceColumns}`,
      ),
      params,
    );
  }
  if (!row) return undefined;
  if (lease && !dialect.writableWith) {
    yield* statement(
      `INSERT INTO generation_reservations (id, account_id, amount, holder, expires_at) VALUES (@leaseId, @accountId, @amount, @holder, ${dialect.leaseExpiry})`,
      params,
    );
  }
  return balanceFromRow(row);
}

export function* refundGenerations(accountId: string, amount: number, at: string): Operation<void> {
  yield* statement(`UPDATE generation_allowances SET used = ${usedLess('@amount')}, updated_at = @at WHERE account_id = @accountId`, { accountId, amount, at });
}

/** In a transaction where `writableWith` is false: two settlements (or a settlement and the expiry sweep) cannot both find the lease. */
export function* settleGenerations(dialect: SqlDialect, settlement: GenerationSettlement, at: string): Operation<void> {
  const params = { ...settlement, at };
  let released: boolean;
  if (dialect.writableWith) {
    const [row] = yield* statement(
      `WITH released AS (DELETE FROM generation_reservations WHERE id = @id RETURNING account_id, amount),
       given AS (
         UPDATE generation_allowances SET used = ${usedLess('(released.amount - @kept)')}, updated_at = @at
         FROM released WHERE generation_allowances.account_id = released.account_id AND released.amount > @kept
       )
       SELECT count(*) AS released FROM released`,
      params,
    );
    released = Number(row?.released ?? 0) > 0;
  } else {
    const [row] = yield* statement('DELETE FROM generation_reservations WHERE id = @id RETURNING amount', params);
    released = row !== undefined;
    if (row && Number(row.amount) > settlement.kept) {
      yield* refundGenerations(settlement.accountId, Number(row.amount) - settlement.kept, at);
    }
  }
  if (!released && settlement.kept > 0) {
    // The lease expired and its reservation was given back: charge what was spent.
    yield* statement('UPDATE generation_allowances SET used = used + @kept, updated_at = @at WHERE account_id = @accountId', params);
  }
}

export function* renewGenerationLeases(dialect: SqlDialect, holder: string, ttlMs: number, now: Date): Operation<number> {
  const renewed = yield* statement(`UPDATE generation_reservations SET expires_at = ${dialect.leaseExpiry} WHERE holder = @holder RETURNING id`, {
    holder,
    ttlMs,
    nowMs: now.getTime(),
  });
  return renewed.length;
}

/** In a transaction where `writableWith` is false, so each expired lease is given back once even when several instances sweep at once. */
export function* releaseExpiredGenerations(dialect: SqlDialect, now: Date): Operation<number> {
  const params = { at: now.toISOString(), nowMs: now.getTime() };
  const expired = `DELETE FROM generation_reservations WHERE expires_at <= ${dialect.leaseNow} RETURNING account_id, amount`;
  if (dialect.writableWith) {
    // A second instance sweeping at once waits on the deleted rows, then finds them gone.
    const [row] = yield* statement(
      `WITH expired AS (${expired}),
       totals AS (SELECT account_id, sum(amount) AS amount FROM expired GROUP BY account_id),
       given AS (
         UPDATE generation_allowances SET used = ${usedLess('totals.amount')}, updated_at = @at
         FROM totals WHERE generation_allowances.account_id = totals.account_id
       )
       SELECT coalesce(sum(amount), 0) AS total FROM totals`,
      params,
    );
    return Number(row?.total ?? 0);
  }
  const byAccount = new Map<string, number>();
  for (const row of yield* statement(expired, params)) {
    byAccount.set(String(row.account_id), (byAccount.get(String(row.account_id)) ?? 0) + Number(row.amount));
  }
  let total = 0;
  for (const [accountId, amount] of byAccount) {
    yield* refundGenerations(accountId, amount, params.at);
    total += amount;
  }
  return total;
}

/** In a write transaction. */
export function* addGenerationsUsed(increments: GenerationIncrement[], at: string): Operation<void> {
  for (const increment of increments) {
    yield* statement(
      `INSERT INTO generation_allowances (account_id, allowance, used, updated_at) VALUES (@accountId, NULL, @amount, @at)
       ON CONFLICT (account_id) DO UPDATE SET used = generation_allowances.used + excluded.used, updated_at = excluded.updated_at`,
      { ...increment, at },
    );
  }
}

export function* getGenerationBalance(accountId: string): Operation<GenerationBalance | undefined> {
  const [row] = yield* statement(`SELECT ${balanceColumns} FROM generation_allowances WHERE account_id = @accountId`, { accountId });
  return row && balanceFromRow(row);
}

export function* setGenerationAllowance(accountId: string, allowance: number | null, resetUsed: boolean, at: string): Operation<GenerationBalance> {
  const [row] = yield* statement(
    `INSERT INTO generation_allowances (account_id, allowance, used, updated_at) VALUES (@accountId, @allowance, 0, @at)
     ON CONFLICT (account_id) DO UPDATE SET allowance = excluded.allowance,
       used = CASE WHEN @resetUsed THEN 0 ELSE generation_allowances.used END, updated_at = excluded.updated_at
     RETURNING ${balanceColumns}`,
    { accountId, allowance, resetUsed, at },
  );
  return balanceFromRow(row!);
}
