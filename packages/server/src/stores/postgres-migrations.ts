import type { Migration } from './migrations.js';

/**
 * PostgreSQL migrations, applied in order by `PostgresStore.migrate()`. Each
 * version matches the SQLite migration of the same number (same tables, same
 * meaning), written in PostgreSQL's types: `timestamptz`, `jsonb`, `boolean`.
 * Sealed secrets stay `text` so compare-and-set compares exact bytes.
 *
 * @example
 * ```ts
 * const store = new PostgresStore({ connectionString, migrations: postgresMigrations });
 * ```
 */
export const postgresMigrations: Migration[] = [
  {
    version: 1,
    name: 'widgets and signing keys',
    sql: `
      CREATE TABLE widgets (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL CHECK (type IN ('chat', 'completion', 'image')),
        enabled BOOLEAN NOT NULL DEFAULT TRUE,
        allowed_origins JSONB NOT NULL,
        presentation JSONB NOT NULL,
        behaviour JSONB NOT NULL,
        epoch INTEGER NOT NULL DEFAULT 0,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
      );
      CREATE INDEX widgets_account ON widgets (account_id);
      CREATE INDEX widgets_name ON widgets (name);
      CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        public_jwk JSONB NOT NULL,
        sealed_private_key TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL
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
        created_at TIMESTAMPTZ NOT NULL
      );
      INSERT INTO accounts (id, name, created_at) VALUES ('default', 'Default account', now());
      CREATE TABLE openai_keys (
        id TEXT PRIMARY KEY,
        owner_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'invalid', 'revoked')),
        sealed TEXT,
        saved_at TIMESTAMPTZ NOT NULL,
        last_used_at TIMESTAMPTZ,
        last_error_code TEXT,
        revoked_at TIMESTAMPTZ,
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
        views BIGINT NOT NULL DEFAULT 0,
        requests BIGINT NOT NULL DEFAULT 0,
        input_tokens BIGINT NOT NULL DEFAULT 0,
        output_tokens BIGINT NOT NULL DEFAULT 0,
        generations BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (widget_id, day)
      );
      CREATE TABLE usage_errors (
        widget_id TEXT NOT NULL,
        day TEXT NOT NULL,
        code TEXT NOT NULL,
        count BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (widget_id, day, code)
      );
      CREATE TABLE generation_allowances (
        account_id TEXT PRIMARY KEY,
        allowance BIGINT,
        used BIGINT NOT NULL DEFAULT 0 CHECK (used >= 0),
        updated_at TIMESTAMPTZ NOT NULL
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
        created_at TIMESTAMPTZ NOT NULL
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
        created_at TIMESTAMPTZ NOT NULL,
        last_used_at TIMESTAMPTZ,
        revoked_at TIMESTAMPTZ
      );
      CREATE INDEX admin_access_tokens_account ON admin_access_tokens (account_id);
      CREATE TABLE admin_sessions (
        id_hash TEXT PRIMARY KEY,
        principal TEXT NOT NULL CHECK (principal IN ('operator', 'account')),
        account_id TEXT,
        access_token_id TEXT,
        credential_hash TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        last_seen_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
      );
      CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);
    `,
  },
  {
    version: 9,
    name: 'generation reservation leases',
    sql: `
      CREATE TABLE generation_reservations (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        amount BIGINT NOT NULL CHECK (amount >= 0),
        holder TEXT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
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
      INSERT INTO generation_allowances (account_id, allowance, used, updated_at) VALUES ('default', NULL, 0, now()) ON CONFLICT DO NOTHING;
    `,
  },
  {
    version: 11,
    name: 'sealed conversation summaries',
    // As in SQLite: the plaintext summaries are dropped (DROP TABLE removes the table's
    // files, dead row versions included), and summaries are kept sealed from now on.
    sql: `
      DROP TABLE conversation_summaries;
      CREATE TABLE conversation_summaries (
        key TEXT PRIMARY KEY,
        widget_id TEXT NOT NULL,
        sealed TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL
      );
      CREATE INDEX conversation_summaries_created ON conversation_summaries (created_at);
      CREATE INDEX conversation_summaries_widget ON conversation_summaries (widget_id);
    `,
  },
  {
    version: 12,
    name: 'knowledge files and passages',
    // Used by PostgresKnowledgeStore; as in SQLite, passages go with their file and
    // files with their widget. search holds each passage's words as searchTerms
    // reads them (lower-cased, accents removed), under the 'simple' configuration
    // (no stemming, no stop words: files may be in any language), written in the
    // passage's INSERT. It is not a generated column: one would have to compute
    // the words in SQL, which folds no accents without the unaccent extension
    // (not immutable, and not installable everywhere), so the index would hold
    // other words than the query and SQLite's index.
    sql: `
      CREATE TABLE knowledge_files (
        id TEXT PRIMARY KEY,
        widget_id TEXT NOT NULL REFERENCES widgets (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        format TEXT NOT NULL,
        bytes BIGINT NOT NULL CHECK (bytes >= 0),
        sha256 TEXT NOT NULL,
        source_url TEXT,
        status TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
        progress DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
        error TEXT,
        passages INTEGER NOT NULL DEFAULT 0,
        tokens BIGINT NOT NULL DEFAULT 0,
        embedding_model TEXT,
        vectors_note TEXT,
        replaces TEXT REFERENCES knowledge_files (id) ON DELETE SET NULL,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        CHECK ((status = 'failed') = (error IS NOT NULL))
      );
      CREATE UNIQUE INDEX knowledge_files_content ON knowledge_files (widget_id, sha256);
      CREATE INDEX knowledge_files_replaces ON knowledge_files (replaces) WHERE replaces IS NOT NULL;
      CREATE INDEX knowledge_files_unfinished ON knowledge_files (updated_at) WHERE status IN ('queued', 'processing');
      CREATE TABLE knowledge_passages (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
        vector BYTEA,
        search TSVECTOR NOT NULL,
        UNIQUE (file_id, ordinal)
      );
      CREATE INDEX knowledge_passages_widget ON knowledge_passages (widget_id);
      CREATE INDEX knowledge_passages_search ON knowledge_passages USING GIN (search);
      CREATE TABLE knowledge_versions (
        widget_id TEXT PRIMARY KEY REFERENCES widgets (id) ON DELETE CASCADE,
        version BIGINT NOT NULL
      );
    `,
  },
];
