/**
 * Counts to add to one widget's usage for one UTC day.
 *
 * @example
 * ```ts
 * await store.addUsage([{ widgetId: 'wgt_1', day: '2026-11-27', requests: 1, inputTokens: 12, outputTokens: 40, errors: {} }]);
 * ```
 */
export interface UsageIncrement {
  widgetId: string;
  /** `YYYY-MM-DD`, UTC. */
  day: string;
  views?: number;
  requests?: number;
  inputTokens?: number;
  outputTokens?: number;
  generations?: number;
  /** Error code → count. */
  errors?: Record<string, number>;
}

/**
 * One widget's usage on one UTC day.
 */
export interface UsageDay {
  day: string;
  views: number;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  generations: number;
  errors: Record<string, number>;
}

/**
 * Daily usage counts per widget.
 *
 * @example
 * ```ts
 * const days = await store.listUsage('wgt_1', '2026-11-01', '2026-11-30');
 * ```
 */
export interface UsageStore {
  /** Adds usage counts (one upsert per widget and day). */
  addUsage(increments: UsageIncrement[]): Promise<void>;
  /** A widget's usage from `fromDay` to `toDay` (inclusive, `YYYY-MM-DD`), oldest first; days without usage are absent. */
  listUsage(widgetId: string, fromDay: string, toDay: string): Promise<UsageDay[]>;
}
