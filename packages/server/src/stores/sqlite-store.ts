import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { keepWhileUnchanged } from './kept-reads.js';
import { sqliteMigrations, type Migration } from './migrations.js';
import { SqliteRunner, sqliteDialect } from './sqlite-sql.js';
import { SqlStore } from './sql-store.js';
import type { Store, WidgetForCall } from './store.js';
import { widgetForCallFromRow, widgetForCallRow } from './widget-sql.js';

// Whether anything changed since last asked: rows this connection has written
// (`total_changes()`) and commits by any other connection, in this process or
// another, such as the CLI (`data_version`). One cheap statement. It holds as
// long as this store's own writes change rows (its schema changes do not
// count, but each migration inserts a row) and its transactions are
// synchronous, so no read runs inside one that may still roll back.
const changesSql = 'SELECT total_changes(), data_version FROM pragma_data_version';

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
export class SqliteStore extends SqlStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #runner: SqliteRunner;
  readonly #migrations: Migration[];
  readonly #widgetForCall: (id: string) => WidgetForCall | undefined;
  #changes: [number, number] = [-1, -1];

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    const db = new Database(options.path);
    db.pragma('journal_mode = WAL');
    // WAL's recommended setting: commits stay atomic and survive a crash of the process; only a power
    // loss can drop the last ones. FULL would sync the disk on every commit, on every proxied request.
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    const runner = new SqliteRunner(db);
    super(runner, sqliteDialect, options.now);
    this.#db = db;
    this.#runner = runner;
    this.#migrations = options.migrations ?? sqliteMigrations;
    this.#widgetForCall = keepWhileUnchanged(
      (id) => {
        const row = runner.runNow(widgetForCallRow(id));
        if (!row) return undefined;
        const chars = String(row.behaviour).length + String(row.presentation).length + String(row.allowed_origins).length;
        return { value: widgetForCallFromRow(row), chars };
      },
      () => this.#unchanged(),
    );
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
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, this.at());
        changed = true;
      }
      return changed;
    });
    // What a migration removed (plaintext summaries) leaves the WAL's older
    // frames and the main file's old pages only once checkpointed.
    if (apply.immediate() && !db.memory) db.pragma('wal_checkpoint(TRUNCATE)');
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
  override async getWidgetForCall(id: string): Promise<WidgetForCall | undefined> {
    return this.#widgetForCall(id);
  }

  // True when nothing was written since the last call.
  #unchanged(): boolean {
    // The hottest statement of all (every proxied request), so run without the operation machinery.
    const [own, others] = this.#runner.prepared(changesSql).raw().get() as [number, number];
    const unchanged = own === this.#changes[0] && others === this.#changes[1];
    this.#changes = [own, others];
    return unchanged;
  }

  async ping(): Promise<void> {
    this.#runner.rows({ sql: 'SELECT 1', params: {} });
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
