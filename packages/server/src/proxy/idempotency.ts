import { AirlockError } from '../errors.js';

/** How long a finished turn's key is remembered: a retry after that is treated as new. */
const rememberMs = 10 * 60_000;
/** Keys remembered per instance; the oldest are forgotten first. */
const maxEntries = 50_000;

/**
 * Makes a retried turn safe: the widget sends one `Idempotency-Key` per
 * visitor turn and reuses it for the turn's retries. While a request with a
 * key is running, or after it produced an answer, another request with the
 * same key (from the same visitor of the same widget) is refused with 409
 * `conflict` instead of being sent upstream again. A turn that failed before
 * producing anything forgets its key, so its retry goes through.
 *
 * In-process: with several instances, a retry that lands on another
 * instance is not recognised (documented in docs/errors.md).
 *
 * @example
 * ```ts
 * const settle = guard.begin(`${widgetId}:${subject}`, request.headers.get('idempotency-key'));
 * // … later: settle(true) once an answer was produced, settle(false) when nothing was.
 * ```
 */
export class IdempotencyGuard {
  readonly #entries = new Map<string, { state: 'running' | 'answered'; at: number }>();
  readonly #now: () => number;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Claims `key` for `scope`; returns how to settle it. Without a key, every request is new. */
  begin(scope: string, key: string | null): (answered: boolean) => void {
    if (key === null) return () => {};
    if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(key)) {
      throw new AirlockError('input_invalid', 'The Idempotency-Key header must be 1 to 128 letters, digits or "_.:-".');
    }
    const id = `${scope}\u0000${key}`;
    const now = this.#now();
    const existing = this.#entries.get(id);
    if (existing && (existing.state === 'running' || now - existing.at < rememberMs)) {
      throw new AirlockError(
        'conflict',
        existing.state === 'running' ? 'This message is already being answered.' : 'This message was already answered.',
      );
    }
    this.#entries.delete(id);
    if (this.#entries.size >= maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    const entry = { state: 'running' as 'running' | 'answered', at: now };
    this.#entries.set(id, entry);
    let settled = false;
    return (answered) => {
      if (settled) return;
      settled = true;
      if (answered) {
        entry.state = 'answered';
        entry.at = this.#now();
      } else if (this.#entries.get(id) === entry) {
        this.#entries.delete(id);
      }
    };
  }
}
