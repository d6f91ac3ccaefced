import type pg from 'pg';
import { isConnectionFailure } from '../errors.js';
import type { Operation, Query, Row, SqlDialect, SqlRunner } from './sql.js';

/**
 * PostgreSQL's SQL: rows locked `FOR UPDATE`, one owner's keys serialised by
 * an advisory lock, writes inside `WITH`, lease expiries on the database's
 * clock (instances whose clocks disagree still agree on when a lease ends).
 */
export const postgresDialect: SqlDialect = {
  kind: 'postgres',
  forUpdate: ' FOR UPDATE',
  writableWith: true,
  keyOwnerLock: `SELECT pg_advisory_xact_lock(hashtextextended('airlock:openai-key:' || @ownerId, 0))`,
  leaseExpiry: `now() + (@ttlMs::double precision * interval '1 millisecond')`,
  leaseNow: 'now()',
};

/**
 * `@name` parameters as PostgreSQL's `$1`…, with the names in their order
 * (a name used twice is one parameter).
 */
function positional(sql: string): { text: string; names: string[] } {
  const names: string[] = [];
  const text = sql.replace(/@([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
    let index = names.indexOf(name);
    if (index < 0) index = names.push(name) - 1;
    return `$${index + 1}`;
  });
  return { text, names };
}

/**
 * Runs operations on a `pg` pool: a statement on its own on any pooled
 * connection, a transaction on one.
 *
 * @example
 * ```ts
 * const runner = new PostgresRunner(pool);
 * const [row] = await runner.run(statement('SELECT 1 AS one'));
 * ```
 */
export class PostgresRunner implements SqlRunner {
  readonly #pool: pg.Pool;
  readonly #compiled = new Map<string, { text: string; names: string[] }>();

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  #prepare(query: Query): { text: string; values: unknown[] } {
    let compiled = this.#compiled.get(query.sql);
    if (!compiled) {
      compiled = positional(query.sql);
      this.#compiled.set(query.sql, compiled);
    }
    return { text: compiled.text, values: compiled.names.map((name) => query.params[name] ?? null) };
  }

  async run<T>(operation: Operation<T>): Promise<T> {
    let step = operation.next();
    while (!step.done) {
      const { text, values } = this.#prepare(step.value);
      step = operation.next((await this.#pool.query(text, values)).rows as Row[]);
    }
    return step.value;
  }

  async transaction<T>(operation: Operation<T>, mode: 'write' | 'read'): Promise<T> {
    const client = await this.#pool.connect();
    let failure: unknown;
    try {
      await client.query(mode === 'write' ? 'BEGIN' : 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      let step = operation.next();
      while (!step.done) {
        const { text, values } = this.#prepare(step.value);
        step = operation.next((await client.query(text, values)).rows as Row[]);
      }
      await client.query('COMMIT');
      return step.value;
    } catch (error) {
      failure = error;
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      // A broken connection is dropped rather than returned to the pool.
      client.release(failure instanceof Error && isConnectionFailure(failure) ? failure : undefined);
    }
  }
}
