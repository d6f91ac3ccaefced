import type { Logger } from '../logging/logger.js';
import type { Store, WidgetRecord } from '../stores/store.js';
import type { SecretBinding, Vault } from '../vault/vault.js';

const dayMs = 24 * 60 * 60 * 1000;
// Expired summaries are deleted this often; reads skip them at once in between.
const sweepIntervalMs = 60 * 60 * 1000;

/**
 * The vault binding of a conversation summary: sealed for one account, one
 * widget and one summary key, so a sealed summary copied to another row,
 * widget or account does not open.
 *
 * @example
 * ```ts
 * const binding = summaryBinding(widget, key); // { accountId: 'acme', recordId: 'wgt_1/3f…', purpose: 'conversation-summary' }
 * ```
 */
export function summaryBinding(widget: Pick<WidgetRecord, 'id' | 'accountId'>, key: string): SecretBinding {
  return { accountId: widget.accountId, recordId: `${widget.id}/${key}`, purpose: 'conversation-summary' };
}

/**
 * Options of {@link ConversationSummaries}.
 *
 * @example
 * ```ts
 * const summaries = new ConversationSummaries({ store, vault, logger, retentionDays: 7 });
 * ```
 */
export interface ConversationSummariesOptions {
  store: Store;
  vault: Vault;
  logger: Logger;
  /** Days a summary is kept after it was made; older ones are never read and are deleted. Default: `30`. */
  retentionDays?: number;
  /** Clock, for tests. Default: `() => new Date()`. */
  now?: () => Date;
}

/**
 * The summaries of `tokenized-summary` conversations as the store keeps
 * them: sealed by the vault (they hold what visitors said), bound to their
 * widget and account, read only within the retention period and deleted
 * after it (once on start, then every hour). A summary that does not open
 * (tampered with, or sealed under a master key since removed) is made again.
 *
 * @example
 * ```ts
 * const summaries = new ConversationSummaries({ store, vault, logger });
 * summaries.start();
 * await summaries.put(widget, key, 'The visitor asked about tides.');
 * await summaries.get(widget, key); // 'The visitor asked about tides.'
 * ```
 */
export class ConversationSummaries {
  readonly retentionDays: number;
  readonly #store: Store;
  readonly #vault: Vault;
  readonly #logger: Logger;
  readonly #now: () => Date;
  #sweep: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: ConversationSummariesOptions) {
    this.#store = options.store;
    this.#vault = options.vault;
    this.#logger = options.logger;
    this.#now = options.now ?? (() => new Date());
    this.retentionDays = options.retentionDays ?? 30;
    if (!(this.retentionDays > 0)) throw new RangeError('retentionDays must be more than 0.');
  }

  /** Summaries made before this are past their retention. */
  #cutoff(): Date {
    return new Date(this.#now().getTime() - this.retentionDays * dayMs);
  }

  /** The summary with this key, opened; `undefined` when there is none within the retention period (or it does not open). */
  async get(widget: WidgetRecord, key: string): Promise<string | undefined> {
    const found = await this.#store.getConversationSummary(key, { notBefore: this.#cutoff() });
    if (!found || found.widgetId !== widget.id) return undefined;
    try {
      return (await this.#vault.open(found.sealed, summaryBinding(widget, key))).toString('utf8');
    } catch (error) {
      this.#logger.warn('a conversation summary did not open; it is made again', { widgetId: widget.id, error });
      return undefined;
    }
  }

  /** Seals and saves a summary. */
  async put(widget: WidgetRecord, key: string, summary: string): Promise<void> {
    const sealed = await this.#vault.seal(Buffer.from(summary, 'utf8'), summaryBinding(widget, key));
    await this.#store.putConversationSummary({ key, widgetId: widget.id, sealed });
  }

  /** Deletes the summaries past their retention; resolves how many. */
  async deleteExpired(): Promise<number> {
    try {
      const deleted = await this.#store.deleteConversationSummaries(this.#cutoff());
      if (deleted > 0) this.#logger.info('deleted conversation summaries past their retention', { deleted, retentionDays: this.retentionDays });
      return deleted;
    } catch (error) {
      if (!this.#stopped) this.#logger.warn('could not delete expired conversation summaries', { error });
      return 0;
    }
  }

  /** Deletes expired summaries now and every hour; the timer does not keep the process alive. */
  start(): void {
    if (this.#sweep || this.#stopped) return;
    void this.deleteExpired();
    this.#sweep = setInterval(() => void this.deleteExpired(), sweepIntervalMs);
    this.#sweep.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#sweep);
    this.#sweep = undefined;
  }
}
