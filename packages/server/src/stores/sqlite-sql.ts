import type Database from 'better-sqlite3';
import type { Operation, Query, Row, SqlDialect, SqlRunner } from './sql.js';

/**
 * SQLite's SQL: write transactions are IMMEDIATE, so they need no row locks;
 * lease expiries are milliseconds on the process's clock.
 */
export const sqliteDialect: SqlDialect = {
  kind: 'sqlite',
  forUpdate: '',
  writableWith: false,
  keyOwnerLock: undefined,
  leaseExpiry: '@nowMs + @ttlMs',
  leaseNow: '@nowMs',
};

// better-sqlite3 binds neither booleans nor undefined, and binds Buffers (not
// every Uint8Array) as BLOBs; most parameters need none of this, and are
// passed as they are.
function bindable(params: Record<string, unknown>): Record<string, unknown> {
  let bound: Record<string, unknown> | undefined;
  for (const name in params) {
    const value = params[name];
    let next = value;
    if (typeof value === 'boolean') next = value ? 1 : 0;
    else if (value === undefined) next = null;
    else if (value instanceof Uint8Array && !Buffer.isBuffer(value)) next = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (next !== value) (bound ??= { ...params })[name] = next;
  }
  return bound ?? params;
}

/**
 * Runs operations on one better-sqlite3 connection, synchronously
 * underneath: a transaction never yields to the event loop. Each SQL text is
 * prepared once, as preparing costs more than most of these statements.
 *
 * @example
 * ```ts
 * const runner = new SqliteRunner(new Database('.airlock/airlock.db'));
 * const rows = runner.rows({ sql: 'SELECT 1 AS one', params: {} });
 * ```
 */
export class SqliteRunner implements SqlRunner {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();
  readonly #transaction: Database.Transaction<(operation: Operation<unknown>) => unknown>;

  constructor(database: Database.Database) {
    this.#db = database;
    this.#transaction = database.transaction((operation: Operation<unknown>) => this.runNow(operation));
  }

  /** The prepared statement of a SQL text, for a caller that needs better-sqlite3's own calls (`raw()`, `get()`). */
  prepared(sql: string): Database.Statement {
    let prepared = this.#statements.get(sql);
    if (!prepared) {
      prepared = this.#db.prepare(sql);
      this.#statements.set(sql, prepared);
    }
    return prepared;
  }

  /** One statement's rows (none for a statement without `RETURNING`), now. */
  rows(query: Query): Row[] {
    const prepared = this.prepared(query.sql);
    const params = bindable(query.params);
    if (prepared.reader) return prepared.all(params) as Row[];
    prepared.run(params);
    return [];
  }

  /** Runs an operation now, each statement on its own. */
  runNow<T>(operation: Operation<T>): T {
    let step = operation.next();
    while (!step.done) step = operation.next(this.rows(step.value));
    return step.value;
  }

  async run<T>(operation: Operation<T>): Promise<T> {
    return this.runNow(operation);
  }

  async transaction<T>(operation: Operation<T>, mode: 'write' | 'read'): Promise<T> {
    // IMMEDIATE takes the write lock first, so a transaction that reads and then
    // writes never finds another process's commit in between (SQLITE_BUSY).
    return (mode === 'write' ? this.#transaction.immediate(operation) : this.#transaction.deferred(operation)) as T;
  }
}
