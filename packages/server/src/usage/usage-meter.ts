import type { Logger } from '../logging/logger.js';
import type { Store, UsageDay, UsageIncrement } from '../stores/store.js';

/**
 * Options of {@link UsageMeter}.
 *
 * @example
 * ```ts
 * const meter = new UsageMeter({ store, flushIntervalMs: 5_000 });
 * ```
 */
export interface UsageMeterOptions {
  store: Store;
  logger?: Logger;
  /** How often buffered counts are written, in ms. Default: `1_000`. */
  flushIntervalMs?: number;
  /** Clock, for tests. Default: `() => new Date()`. */
  now?: () => Date;
}

/**
 * Counts what each widget uses per UTC day: views, requests, input and
 * output tokens, generations and errors by code, and the generations
 * accounts with an unlimited allowance spend. Counts are added up in
 * memory and written in one transaction per flush (every second by
 * default), so metering costs the request path a map update, not a write.
 *
 * @example
 * ```ts
 * context.usage.recordView(widget.id);
 * context.usage.record(widget.id, { requests: 1, inputTokens: 120, outputTokens: 48 });
 * ```
 */
export class UsageMeter {
  readonly #store: Store;
  readonly #logger: Logger | undefined;
  readonly #now: () => Date;
  readonly #intervalMs: number;
  #pending = new Map<string, UsageIncrement>();
  // Generations spent by accounts with an unlimited allowance, by account.
  #spent = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(options: UsageMeterOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#now = options.now ?? (() => new Date());
    this.#intervalMs = options.flushIntervalMs ?? 1_000;
  }

  /** Counts one view of a widget (a token minted for it). */
  recordView(widgetId: string): void {
    this.record(widgetId, { views: 1 });
  }

  /** Counts an error answered for a widget, by its code. */
  recordError(widgetId: string, code: string): void {
    this.record(widgetId, { errors: { [code]: 1 } });
  }

  /** Adds counts to today's usage of a widget. */
  record(widgetId: string, counts: Omit<UsageIncrement, 'widgetId' | 'day'>): void {
    this.#add(widgetId, this.#now().toISOString().slice(0, 10), counts);
  }

  /**
   * Adds generations to an account's `used` at the next flush: for accounts
   * whose allowance is unlimited, which need no reservation before a call.
   */
  recordGenerationsUsed(accountId: string, amount: number): void {
    if (amount <= 0) return;
    this.#spent.set(accountId, (this.#spent.get(accountId) ?? 0) + amount);
    this.#schedule();
  }

  #add(widgetId: string, day: string, counts: Omit<UsageIncrement, 'widgetId' | 'day'>): void {
    const key = `${widgetId}\u0000${day}`;
    let entry = this.#pending.get(key);
    if (!entry) {
      entry = { widgetId, day, views: 0, requests: 0, inputTokens: 0, outputTokens: 0, generations: 0, errors: {} };
      this.#pending.set(key, entry);
    }
    entry.views! += counts.views ?? 0;
    entry.requests! += counts.requests ?? 0;
    entry.inputTokens! += counts.inputTokens ?? 0;
    entry.outputTokens! += counts.outputTokens ?? 0;
    entry.generations! += counts.generations ?? 0;
    for (const [code, count] of Object.entries(counts.errors ?? {})) entry.errors![code] = (entry.errors![code] ?? 0) + count;
    this.#schedule();
  }

  #schedule(): void {
    if (!this.#timer) {
      this.#timer = setTimeout(() => void this.flush(), this.#intervalMs);
      // Buffered counts must not keep a process alive; close() flushes them.
      this.#timer.unref();
    }
  }

  /** Writes buffered counts now. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = [...this.#pending.values()];
    const spent = [...this.#spent].map(([accountId, amount]) => ({ accountId, amount }));
    this.#pending = new Map();
    this.#spent = new Map();
    // Flushes run one after another so a read after flush() sees every earlier count.
    // The database may be restarting: counts that could not be written are kept
    // for the next flush rather than lost.
    this.#flushing = this.#flushing.then(async () => {
      if (batch.length > 0) {
        try {
          await this.#store.addUsage(batch);
        } catch (error) {
          this.#logger?.error('usage flush failed; will retry', { error, widgets: batch.length });
          for (const entry of batch) this.#add(entry.widgetId, entry.day, entry);
        }
      }
      if (spent.length > 0) {
        try {
          await this.#store.addGenerationsUsed(spent);
        } catch (error) {
          this.#logger?.error('generations flush failed; will retry', { error, accounts: spent.length });
          for (const { accountId, amount } of spent) this.recordGenerationsUsed(accountId, amount);
        }
      }
    });
    return this.#flushing;
  }

  /** A widget's usage per day from `fromDay` to `toDay` (inclusive), after writing buffered counts. */
  async list(widgetId: string, fromDay: string, toDay: string): Promise<UsageDay[]> {
    await this.flush();
    return this.#store.listUsage(widgetId, fromDay, toDay);
  }
}
