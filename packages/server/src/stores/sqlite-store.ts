import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { newId } from '../ids.js';
import { sqliteMigrations, type Migration } from './migrations.js';
import { AirlockError } from '../errors.js';
import type { NewWidget, SigningKeyRecord, Store, WidgetPatch, WidgetRecord } from './store.js';

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

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new Database(options.path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('foreign_keys = ON');
    this.#migrations = options.migrations ?? sqliteMigrations;
    this.#now = options.now ?? (() => new Date());
  }

  async migrate(): Promise<void> {
    const db = this.#db;
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    // IMMEDIATE takes the write lock before reading the applied versions, so a
    // second process starting at the same moment waits, then sees them applied.
    const apply = db.transaction(() => {
      const applied = new Set(
        (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((row) => row.version),
      );
      for (const migration of this.#migrations) {
        if (applied.has(migration.version)) continue;
        db.exec(migration.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
          migration.version,
          migration.name,
          this.#now().toISOString(),
        );
      }
    });
    apply.immediate();
  }

  async createWidget(input: NewWidget): Promise<WidgetRecord> {
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
    };
    this.#db
      .prepare(
        `INSERT INTO widgets (id, account_id, name, type, enabled, allowed_origins, presentation, behaviour, epoch, created_at, updated_at)
         VALUES (@id, @accountId, @name, @type, @enabled, @allowedOrigins, @presentation, @behaviour, @epoch, @createdAt, @updatedAt)`,
      )
      .run({
        ...record,
        enabled: record.enabled ? 1 : 0,
        allowedOrigins: JSON.stringify(record.allowedOrigins),
        presentation: JSON.stringify(record.presentation),
        behaviour: JSON.stringify(record.behaviour),
      });
    return record;
  }

  async getWidget(id: string): Promise<WidgetRecord | undefined> {
    const row = this.#db.prepare('SELECT * FROM widgets WHERE id = ?').get(id) as WidgetRow | undefined;
    return row && widgetFromRow(row);
  }

  async findWidgetByName(name: string): Promise<WidgetRecord | undefined> {
    const row = this.#db.prepare('SELECT * FROM widgets WHERE name = ? ORDER BY created_at LIMIT 1').get(name) as
      | WidgetRow
      | undefined;
    return row && widgetFromRow(row);
  }

  async listWidgets(): Promise<WidgetRecord[]> {
    return (this.#db.prepare('SELECT * FROM widgets ORDER BY created_at, id').all() as WidgetRow[]).map(widgetFromRow);
  }

  async updateWidget(id: string, patch: WidgetPatch): Promise<WidgetRecord> {
    // Read and write in one synchronous step, so no other update interleaves.
    const row = this.#db.prepare('SELECT * FROM widgets WHERE id = ?').get(id) as WidgetRow | undefined;
    const current = row && widgetFromRow(row);
    if (!current) throw new AirlockError('widget_not_found', 'There is no such widget.');
    const next: WidgetRecord = { ...current, ...patch, updatedAt: this.#now().toISOString() };
    this.#db
      .prepare(
        `UPDATE widgets SET name = ?, enabled = ?, allowed_origins = ?, presentation = ?, behaviour = ?, updated_at = ?
         WHERE id = ?`,
      )
      .run(
        next.name,
        next.enabled ? 1 : 0,
        JSON.stringify(next.allowedOrigins),
        JSON.stringify(next.presentation),
        JSON.stringify(next.behaviour),
        next.updatedAt,
        id,
      );
    return next;
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const rows = this.#db.prepare('SELECT * FROM signing_keys ORDER BY created_at, kid').all() as SigningKeyRow[];
    return rows.map((row) => ({
      kid: row.kid,
      publicJwk: JSON.parse(row.public_jwk) as Record<string, unknown>,
      sealedPrivateKey: JSON.parse(row.sealed_private_key) as SigningKeyRecord['sealedPrivateKey'],
      createdAt: row.created_at,
    }));
  }

  async addSigningKey(record: SigningKeyRecord): Promise<void> {
    this.#db
      .prepare('INSERT INTO signing_keys (kid, public_jwk, sealed_private_key, created_at) VALUES (?, ?, ?, ?)')
      .run(record.kid, JSON.stringify(record.publicJwk), JSON.stringify(record.sealedPrivateKey), record.createdAt);
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
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
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
