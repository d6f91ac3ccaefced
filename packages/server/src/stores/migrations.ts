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
  {
    version: 2,
    name: 'accounts and OpenAI keys',
    sql: `
      CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      INSERT INTO accounts (id, name, created_at) VALUES ('default', 'Default account', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
      CREATE TABLE openai_keys (
        id TEXT PRIMARY KEY,
        owner_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'invalid', 'revoked')),
        sealed TEXT,
        saved_at TEXT NOT NULL,
        last_used_at TEXT,
        last_error_code TEXT,
        revoked_at TEXT,
        CHECK ((status = 'revoked') = (sealed IS NULL))
      );
      CREATE UNIQUE INDEX openai_keys_one_current ON openai_keys (owner_id) WHERE status <> 'revoked';
      CREATE INDEX openai_keys_owner ON openai_keys (owner_id, saved_at);
    `,
  },
  {
    version: 4,
    name: 'usage metering and generation allowances',
    sql: `
      CREATE TABLE usage_daily (
        widget_id TEXT NOT NULL,
        day TEXT NOT NULL,
        views INTEGER NOT NULL DEFAULT 0,
        requests INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        generations INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (widget_id, day)
      );
      CREATE TABLE usage_errors (
        widget_id TEXT NOT NULL,
        day TEXT NOT NULL,
        code TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (widget_id, day, code)
      );
      CREATE TABLE generation_allowances (
        account_id TEXT PRIMARY KEY,
        allowance INTEGER,
        used INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
        updated_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'widget key source',
    sql: `ALTER TABLE widgets ADD COLUMN key_source TEXT CHECK (key_source IN ('own', 'shared'));`,
  },
  {
    version: 7,
    name: 'conversation summaries',
    sql: `
      CREATE TABLE conversation_summaries (
        key TEXT PRIMARY KEY,
        widget_id TEXT NOT NULL,
        summary TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX conversation_summaries_created ON conversation_summaries (created_at);
    `,
  },
  {
    version: 8,
    name: 'admin page access tokens and sessions',
    sql: `
      CREATE TABLE admin_access_tokens (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        label TEXT,
        created_at TEXT NOT NULL,
        last_used_at TEXT,
        revoked_at TEXT
      );
      CREATE INDEX admin_access_tokens_account ON admin_access_tokens (account_id);
      CREATE TABLE admin_sessions (
        id_hash TEXT PRIMARY KEY,
        principal TEXT NOT NULL CHECK (principal IN ('operator', 'account')),
        account_id TEXT,
        access_token_id TEXT,
        credential_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
      );
      CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);
    `,
  },
  {
    version: 9,
    name: 'generation reservation leases',
    // expires_at in ms since the epoch: compared as numbers, and the lease sweep is one range scan.
    sql: `
      CREATE TABLE generation_reservations (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount >= 0),
        holder TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX generation_reservations_expires ON generation_reservations (expires_at);
      CREATE INDEX generation_reservations_holder ON generation_reservations (holder);
    `,
  },
  {
    version: 10,
    name: 'shared key grants',
    // Only the operator's own account keeps the shared key, with any model and no limit, as before;
    // every other account needs the operator's grant, and gets the default allowance unless given one.
    sql: `
      ALTER TABLE accounts ADD COLUMN shared_key TEXT NOT NULL DEFAULT 'none' CHECK (shared_key IN ('none', 'listed-models', 'any-model'));
      UPDATE accounts SET shared_key = 'any-model' WHERE id = 'default';
      INSERT INTO generation_allowances (account_id, allowance, used, updated_at) VALUES ('default', NULL, 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) ON CONFLICT DO NOTHING;
    `,
  },
  {
    version: 11,
    name: 'sealed conversation summaries',
    // Summaries hold what visitors said: from now on only sealed by the vault (which
    // SQL cannot do), so the plaintext ones are dropped, a cache rebuilt as conversations
    // go on. secure_delete zeroes their pages instead of leaving them in the file's free list.
    sql: `
      PRAGMA secure_delete = ON;
      DROP TABLE conversation_summaries;
      CREATE TABLE conversation_summaries (
        key TEXT PRIMARY KEY,
        widget_id TEXT NOT NULL,
        sealed TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX conversation_summaries_created ON conversation_summaries (created_at);
      CREATE INDEX conversation_summaries_widget ON conversation_summaries (widget_id);
      PRAGMA secure_delete = OFF;
    `,
  },
  {
    version: 12,
    name: 'knowledge files and passages',
    // Used by SqliteKnowledgeStore. A file's passages, and through a trigger their
    // keyword entries, go with the file, and the files with their widget.
    // knowledge_passages_fts is contentless: it holds each passage's words as
    // searchTerms reads them (lower-cased, accents removed), written with the
    // passage, so the index and the query always agree on what a word is, and
    // its widget as one token, so a search reads only that widget's entries
    // (filtering by a join instead scores every widget's matching passages).
    // knowledge_versions counts changes to a widget's searchable passages.
    sql: `
      CREATE TABLE knowledge_files (
        id TEXT PRIMARY KEY,
        widget_id TEXT NOT NULL REFERENCES widgets (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        format TEXT NOT NULL,
        bytes INTEGER NOT NULL CHECK (bytes >= 0),
        sha256 TEXT NOT NULL,
        source_url TEXT,
        status TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
        progress REAL NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
        error TEXT,
        passages INTEGER NOT NULL DEFAULT 0,
        tokens INTEGER NOT NULL DEFAULT 0,
        embedding_model TEXT,
        vectors_note TEXT,
        replaces TEXT REFERENCES knowledge_files (id) ON DELETE SET NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        CHECK ((status = 'failed') = (error IS NOT NULL))
      );
      CREATE UNIQUE INDEX knowledge_files_content ON knowledge_files (widget_id, sha256);
      CREATE INDEX knowledge_files_replaces ON knowledge_files (replaces) WHERE replaces IS NOT NULL;
      CREATE INDEX knowledge_files_unfinished ON knowledge_files (updated_at) WHERE status IN ('queued', 'processing');
      CREATE TABLE knowledge_passages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        file_id TEXT NOT NULL REFERENCES knowledge_files (id) ON DELETE CASCADE,
        widget_id TEXT NOT NULL,
        ordinal INTEGER NOT NULL,
        text TEXT NOT NULL,
        heading_path TEXT NOT NULL,
        page_start INTEGER,
        page_end INTEGER,
        row_start INTEGER,
        row_end INTEGER,
        tokens INTEGER NOT NULL,
        hash TEXT NOT NULL,
        vector BLOB,
        UNIQUE (file_id, ordinal)
      );
      CREATE INDEX knowledge_passages_widget ON knowledge_passages (widget_id);
      CREATE VIRTUAL TABLE knowledge_passages_fts USING fts5 (widget, terms, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0');
      CREATE TRIGGER knowledge_passages_fts_delete AFTER DELETE ON knowledge_passages BEGIN
        DELETE FROM knowledge_passages_fts WHERE rowid = old.id;
      END;
      CREATE TABLE knowledge_versions (
        widget_id TEXT PRIMARY KEY REFERENCES widgets (id) ON DELETE CASCADE,
        version INTEGER NOT NULL
      );
    `,
  },
];
