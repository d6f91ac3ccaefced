// The Store is one interface per area, each beside its records; importers
// keep taking every type from here.
export * from './account-store.js';
export * from './admin-store.js';
export * from './generation-store.js';
export * from './openai-key-store.js';
export * from './signing-key-store.js';
export * from './summary-store.js';
export * from './usage-store.js';
export * from './widget-store.js';
import type { AccountStore } from './account-store.js';
import type { AdminAccessTokenStore, AdminSessionStore } from './admin-store.js';
import type { GenerationStore } from './generation-store.js';
import type { OpenAiKeyStore } from './openai-key-store.js';
import type { SigningKeyStore } from './signing-key-store.js';
import type { ConversationSummaryStore } from './summary-store.js';
import type { UsageStore } from './usage-store.js';
import type { WidgetStore } from './widget-store.js';

/**
 * What every store does besides keeping records: its schema, its
 * connection's health, its end.
 *
 * @example
 * ```ts
 * await store.migrate();
 * await store.ping();
 * ```
 */
export interface LifecycleStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies pending migrations; safe when several processes start at once. */
  migrate(): Promise<void>;
  /** Resolves when the database answers a trivial query; rejects when it cannot be reached (readiness checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Persistence behind Airlock. Every method is async so SQLite and
 * PostgreSQL implementations share one interface and one conformance suite.
 *
 * @example
 * ```ts
 * const store = await openStore('sqlite:.airlock/airlock.db');
 * const widget = await store.getWidget(id);
 * ```
 */
export interface Store
  extends
    LifecycleStore,
    WidgetStore,
    SigningKeyStore,
    UsageStore,
    GenerationStore,
    ConversationSummaryStore,
    AccountStore,
    OpenAiKeyStore,
    AdminAccessTokenStore,
    AdminSessionStore {}
