/**
 * An account's generation allowance (shared-key use). `allowance: null` means unlimited.
 *
 * @example
 * ```ts
 * const balance = await store.getGenerationBalance('acct_1'); // { accountId, allowance: 500, used: 12 }
 * ```
 */
export interface GenerationBalance {
  accountId: string;
  allowance: number | null;
  used: number;
}

/**
 * Generations an account spent, for {@link GenerationStore.addGenerationsUsed}.
 */
export interface GenerationIncrement {
  accountId: string;
  amount: number;
}

/**
 * The lease of one generation reservation ({@link GenerationStore.reserveGenerations}):
 * the reservation holds until it is settled, or until `ttlMs` pass without a
 * renewal by its holder, when {@link GenerationStore.releaseExpiredGenerations} gives
 * it back. A call of a process killed mid-answer is so never charged for
 * good, and no instance can release another live instance's reservations.
 *
 * @example
 * ```ts
 * const lease: GenerationLease = { id: newId('gres'), holder: 'inst_1', ttlMs: 60_000 };
 * await store.reserveGenerations('acme', 1, 500, lease);
 * ```
 */
export interface GenerationLease {
  /** Unique id of the reservation; {@link GenerationStore.settleGenerations} names it. */
  id: string;
  /** The server instance holding it; {@link GenerationStore.renewGenerationLeases} renews by holder. */
  holder: string;
  /** How long the reservation holds without a renewal, in ms. */
  ttlMs: number;
}

/**
 * How a leased reservation ended, for {@link GenerationStore.settleGenerations}.
 *
 * @example
 * ```ts
 * await store.settleGenerations({ id: lease.id, accountId: 'acme', kept: 1 });
 * ```
 */
export interface GenerationSettlement {
  /** The lease id given to {@link GenerationStore.reserveGenerations}. */
  id: string;
  accountId: string;
  /** Generations the call spent: kept in `used`; the rest of the reservation is given back. */
  kept: number;
}

/**
 * Accounts' generation allowances and the leased reservations taken from them.
 *
 * @example
 * ```ts
 * const balance = await store.reserveGenerations('acme', 1, 500, { id: newId('gres'), holder: 'inst_1', ttlMs: 60_000 });
 * ```
 */
export interface GenerationStore {
  /**
   * Atomically takes `amount` generations from an account's allowance: one
   * conditional update, so concurrent callers can never overspend. An
   * account without a row starts with `defaultAllowance` (`null`: unlimited).
   * Resolves to the new balance, or `undefined` when too few are left.
   * With a `lease`, the reservation is recorded in the same step and ends
   * with {@link GenerationStore.settleGenerations}, or with its lease's expiry; without
   * one it stays taken until refunded.
   */
  reserveGenerations(accountId: string, amount: number, defaultAllowance: number | null, lease?: GenerationLease): Promise<GenerationBalance | undefined>;
  /** Gives back generations reserved but not spent (never below zero used). */
  refundGenerations(accountId: string, amount: number): Promise<void>;
  /**
   * Ends a leased reservation in one atomic step: keeps `kept` generations in
   * `used` and gives back the rest. When the lease had already expired and
   * was released, `kept` is added to `used` (what was spent is charged,
   * even past the allowance), so each reservation is settled exactly once.
   */
  settleGenerations(settlement: GenerationSettlement): Promise<void>;
  /** Extends every reservation `holder` holds to `ttlMs` from now; resolves how many. */
  renewGenerationLeases(holder: string, ttlMs: number): Promise<number>;
  /**
   * Gives back every reservation whose lease has expired (its holder died,
   * or stopped renewing), each exactly once even when several instances
   * sweep at once; resolves how many generations were given back.
   */
  releaseExpiredGenerations(): Promise<number>;
  /**
   * Adds generations spent without a reservation (accounts whose allowance
   * is unlimited) to each account's `used`, in one transaction; an account
   * without a row gets one with an unlimited allowance.
   */
  addGenerationsUsed(increments: GenerationIncrement[]): Promise<void>;
  getGenerationBalance(accountId: string): Promise<GenerationBalance | undefined>;
  /** Sets an account's allowance (`null`: unlimited); `resetUsed` starts a new period at zero. */
  setGenerationAllowance(accountId: string, allowance: number | null, options?: { resetUsed?: boolean }): Promise<GenerationBalance>;
}
