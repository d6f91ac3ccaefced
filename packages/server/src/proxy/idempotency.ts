import { AirlockError } from '../errors.js';
import type { LimitCounters } from '../limits/counters.js';

/** How long a finished turn's key is remembered: a retry after that is treated as new. */
const rememberMs = 10 * 60_000;
/**
 * How long a running turn holds its key when it is never settled (its
 * instance crashed). Longer than any answer takes, so a running turn is never
 * released early.
 */
const runningMs = 15 * 60_000;

/**
 * Makes a retried turn safe: the widget sends one `Idempotency-Key` per
 * visitor turn and reuses it for the turn's retries. While a request with a
 * key is running, or after it produced an answer, another request with the
 * same key (from the same visitor of the same widget) is refused with 409
 * `conflict` instead of being sent upstream again. A turn that failed before
 * producing anything forgets its key, so its retry goes through.
 *
 * Keys live in the context's {@link LimitCounters}: per instance by default,
 * shared by every instance when Redis is configured.
 *
 * @example
 * ```ts
 * const guard = new IdempotencyGuard(context.counters);
 * const settle = await guard.begin(`${widgetId}:${subject}`, request.headers.get('idempotency-key'));
 * // … later: settle(true) once an answer was produced, settle(false) when nothing was.
 * ```
 */
export class IdempotencyGuard {
  readonly #counters: LimitCounters;

  constructor(counters: LimitCounters) {
    this.#counters = counters;
  }

  /** Claims `key` for `scope`; returns how to settle it (without waiting). Without a key, every request is new. */
  async begin(scope: string, key: string | null): Promise<(answered: boolean) => void> {
    if (key === null) return () => {};
    if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(key)) {
      throw new AirlockError('input_invalid', 'The Idempotency-Key header must be 1 to 128 letters, digits or "_.:-".');
    }
    // A NUL cannot occur in a key, so no scope and key pair can look like another.
    const id = `idempotency:${scope}\u0000${key}`;
    const result = await this.#counters.claimOnce(id, runningMs);
    if (!result.claimed) {
      throw new AirlockError('conflict', result.state === 'running' ? 'This message is already being answered.' : 'This message was already answered.');
    }
    let settled = false;
    return (answered) => {
      if (settled) return;
      settled = true;
      this.#counters.settleOnce(id, result.claim, answered, rememberMs).catch(() => {});
    };
  }
}
