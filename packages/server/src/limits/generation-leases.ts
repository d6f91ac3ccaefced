import { newId } from '../ids.js';
import type { Logger } from '../logging/logger.js';
import type { GenerationLease, Store } from '../stores/store.js';

/**
 * Options of {@link GenerationLeases}.
 *
 * @example
 * ```ts
 * const leases = new GenerationLeases({ store, logger, leaseMs: 60_000 });
 * ```
 */
export interface GenerationLeasesOptions {
  store: Store;
  logger: Logger;
  /**
   * How long a generation reservation holds without a renewal. Live
   * reservations are renewed every third of it; those of an instance that
   * died are given back once it has passed (by any instance's sweep, every
   * half of it). Default: `60_000` (ms).
   */
  leaseMs?: number;
}

/**
 * This instance's side of the generation reservations' leases: the holder
 * id its reservations carry, a renewal of all of them while any is open (a
 * long stream keeps its reservation), and a sweep that gives back the
 * reservations whose lease expired, whoever held them (a process killed
 * mid-answer never settles its own). Timers do not keep the process alive.
 *
 * @example
 * ```ts
 * const leases = new GenerationLeases({ store, logger });
 * leases.start();
 * const lease = leases.open();
 * await store.reserveGenerations(accountId, 1, null, lease);
 * // … once the call is settled:
 * leases.close(lease);
 * ```
 */
export class GenerationLeases {
  /** This instance's holder id: random, so a restarted process never renews a dead one's leases. */
  readonly holder = newId('inst');
  readonly leaseMs: number;
  readonly #store: Store;
  readonly #logger: Logger;
  #open = 0;
  #renewal: NodeJS.Timeout | undefined;
  #sweep: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: GenerationLeasesOptions) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.leaseMs = options.leaseMs ?? 60_000;
    if (!Number.isInteger(this.leaseMs) || this.leaseMs < 30) throw new RangeError('leaseMs must be a whole number of at least 30.');
  }

  /** Starts sweeping: once now (what a crashed run left is given back once its lease ends), then every half lease. */
  start(): void {
    if (this.#sweep || this.#stopped) return;
    void this.sweep();
    this.#sweep = setInterval(() => void this.sweep(), Math.max(10, Math.floor(this.leaseMs / 2)));
    this.#sweep.unref();
  }

  /** A new lease for one reservation; renewed until {@link GenerationLeases.close}. */
  open(): GenerationLease {
    this.#open += 1;
    if (!this.#renewal && !this.#stopped) {
      this.#renewal = setInterval(() => void this.#renew(), Math.max(10, Math.floor(this.leaseMs / 3)));
      this.#renewal.unref();
    }
    return { id: newId('gres'), holder: this.holder, ttlMs: this.leaseMs };
  }

  /** Notes that a lease's reservation was settled (or never taken); renewals stop with the last one. */
  close(lease: GenerationLease): void {
    if (lease.holder !== this.holder) return;
    this.#open = Math.max(0, this.#open - 1);
    if (this.#open === 0) this.#stopRenewal();
  }

  /** Gives back the expired reservations of every instance; resolves how many generations. */
  async sweep(): Promise<number> {
    try {
      const released = await this.#store.releaseExpiredGenerations();
      if (released > 0) this.#logger.info('gave back generations of reservations whose lease expired', { generations: released });
      return released;
    } catch (error) {
      // The next sweep tries again; nothing is lost meanwhile, only given back later.
      if (!this.#stopped) this.#logger.warn('could not give back expired generation reservations', { error });
      return 0;
    }
  }

  async #renew(): Promise<void> {
    try {
      await this.#store.renewGenerationLeases(this.holder, this.leaseMs);
    } catch (error) {
      // A lease that runs out meanwhile is given back; its call is still charged when it settles.
      if (!this.#stopped) this.#logger.warn('could not renew generation reservations', { error });
    }
  }

  #stopRenewal(): void {
    clearInterval(this.#renewal);
    this.#renewal = undefined;
  }

  /** Stops the timers (before the store closes). */
  stop(): void {
    this.#stopped = true;
    this.#stopRenewal();
    clearInterval(this.#sweep);
    this.#sweep = undefined;
  }
}
