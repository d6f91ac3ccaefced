// What the SQLite and PostgreSQL stores share: every operation is written
// once, as a generator that yields its statements (named `@parameters`) and
// receives their rows. A runner runs it: SQLite synchronously (better-sqlite3
// transactions must be, so nothing else on the shared connection runs inside
// one), PostgreSQL on its pool. What truly differs between the databases is
// one small `SqlDialect` object, not a second copy of the operation.

/**
 * A row as a driver returns it.
 */
export type Row = Record<string, unknown>;

/**
 * One statement with its named parameters (`@name` in `sql`).
 */
export interface Query {
  sql: string;
  params: Record<string, unknown>;
}

/**
 * An operation on the store: yields statements, receives each one's rows
 * (none for a statement without `RETURNING`), returns its answer.
 *
 * @example
 * ```ts
 * function* count(widgetId: string): Operation<number> {
 *   const [row] = yield { sql: 'SELECT count(*) AS n FROM knowledge_files WHERE widget_id = @widgetId', params: { widgetId } };
 *   return Number(row?.n ?? 0);
 * }
 * ```
 */
export type Operation<T> = Generator<Query, T, Row[]>;

/**
 * Runs operations on one database.
 *
 * @example
 * ```ts
 * const widget = await runner.run(getWidget(id));
 * ```
 */
export interface SqlRunner {
  /** Runs each statement of an operation on its own, as it comes (no transaction around them). */
  run<T>(operation: Operation<T>): Promise<T>;
  /**
   * Runs an operation in one transaction: `write` rolled back if it throws,
   * `read` with every statement reading the same snapshot.
   */
  transaction<T>(operation: Operation<T>, mode: 'write' | 'read'): Promise<T>;
}

/**
 * What the SQL of the two databases does differently, for the operations
 * that are written once.
 *
 * @example
 * ```ts
 * const sql = `SELECT * FROM widgets WHERE id = @id${dialect.forUpdate}`;
 * ```
 */
export interface SqlDialect {
  readonly kind: 'sqlite' | 'postgres';
  /** What locks a selected row until the transaction ends (`' FOR UPDATE'`), or `''` where write transactions are exclusive. */
  readonly forUpdate: string;
  /**
   * Whether a `WITH` clause may hold writes (PostgreSQL): an operation then
   * does in one statement, with no transaction around it, what it does
   * elsewhere in a transaction of several.
   */
  readonly writableWith: boolean;
  /** Takes a lock on `@ownerId`'s OpenAI keys until the transaction ends; `undefined` where write transactions are exclusive. */
  readonly keyOwnerLock: string | undefined;
  /** The expiry of a lease renewed now for `@ttlMs` ms (SQLite: the clock's `@nowMs`; PostgreSQL: the database's clock). */
  readonly leaseExpiry: string;
  /** The present instant, as lease expiries are compared with it. */
  readonly leaseNow: string;
}

/**
 * One statement as an operation of its own, answering its rows.
 *
 * @example
 * ```ts
 * const [row] = yield* statement('SELECT * FROM widgets WHERE id = @id', { id });
 * ```
 */
export function* statement(sql: string, params: Record<string, unknown> = {}): Operation<Row[]> {
  return yield { sql, params };
}

/**
 * An instant as ISO 8601: PostgreSQL gives timestamps as dates, SQLite as the
 * ISO strings it was given.
 *
 * @example
 * ```ts
 * createdAt: iso(row.created_at),
 * ```
 */
export function iso(value: unknown): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

/**
 * A nullable column as an optional text.
 *
 * @example
 * ```ts
 * ...(optionalText(row.label) !== undefined && { label: String(row.label) }),
 * ```
 */
export function optionalText(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : String(value);
}

/**
 * A nullable timestamp column as an optional ISO 8601 text.
 *
 * @example
 * ```ts
 * const lastUsedAt = optionalIso(row.last_used_at);
 * ```
 */
export function optionalIso(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : iso(value);
}

/**
 * A JSON column: PostgreSQL parses JSONB itself, SQLite keeps the text.
 *
 * @example
 * ```ts
 * const origins = json<string[]>(row.allowed_origins);
 * ```
 */
export function json<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}
