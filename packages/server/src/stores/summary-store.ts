import type { SealedSecret } from '../vault/vault.js';

/**
 * A cached running summary of a conversation's older turns (memory strategy
 * `tokenized-summary`). It holds what visitors said, so it is kept only
 * sealed by the vault, deleted with its widget and after the retention period.
 *
 * @example
 * ```ts
 * await store.putConversationSummary({ key, widgetId: 'wgt_1', sealed: await vault.seal(Buffer.from(text), summaryBinding(accountId, key)) });
 * ```
 */
export interface ConversationSummary {
  /** Hash of the widget id and the summarised messages. */
  key: string;
  widgetId: string;
  /** The summary, sealed by the vault. */
  sealed: SealedSecret;
  /** When it was saved (ISO 8601); set by the store. */
  createdAt?: string;
}

/**
 * Sealed running summaries of conversations (memory strategy `tokenized-summary`).
 *
 * @example
 * ```ts
 * const summary = await store.getConversationSummary(key, { notBefore: retentionStart });
 * ```
 */
export interface ConversationSummaryStore {
  /** The summary with this key, unless it was saved before `options.notBefore` (past its retention). */
  getConversationSummary(key: string, options?: { notBefore?: Date }): Promise<ConversationSummary | undefined>;
  /** Saves a summary once per key (a second save of a key keeps the first). */
  putConversationSummary(summary: ConversationSummary): Promise<void>;
  /** Deletes the summaries saved before `cutoff` (retention); resolves how many. */
  deleteConversationSummaries(cutoff: Date): Promise<number>;
}
