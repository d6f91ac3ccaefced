/**
 * A versioned schema change. Versions only grow; a released migration is
 * never edited, a new one is added.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** SQLite migrations, applied in order by `SqliteStore.migrate()`. */
export const sqliteMigrations: Migration[] = [
  {
    version: 1,
    name: 'widgets and signing keys',
    sql: `
      CREATE TABLE widgets (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL CHECK (type IN ('chat', 'completion', 'image')),
        enabled INTEGER NOT NULL DEFAULT 1,
        allowed_origins TEXT NOT NULL,
        presentation TEXT NOT NULL,
        behaviour TEXT NOT NULL,
        epoch INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX widgets_account ON widgets (account_id);
      CREATE INDEX widgets_name ON widgets (name);
      CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        public_jwk TEXT NOT NULL,
        sealed_private_key TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
    `,
  },
];
