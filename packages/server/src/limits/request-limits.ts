import { AirlockError } from '../errors.js';
import type { LimitCounters, RateCheck } from './counters.js';

/**
 * Request limits of the proxy, counted by the context's {@link LimitCounters}:
 * in this process by default, in Redis (shared by every instance) when
 * `redis` is configured.
 */
export interface ProxyLimitsOptions {
  /** Requests per minute for one widget, all visitors together. Default: `600`. */
  widgetRequestsPerMinute?: number;
  /** Requests per minute for one visitor (token subject) of a widget. Default: `20`. */
  visitorRequestsPerMinute?: number;
  /** Requests per minute for one token. Default: `20`. */
  tokenRequestsPerMinute?: number;
  /**
   * Requests per minute from one client address (an IPv6 address counts as
   * its /64) to one widget, over all its tokens and visitors, so that one
   * script cannot take the whole widget's limit. Not counted when the address
   * is unknown (see `AirlockOptions.clientAddress`). Raise it when many
   * visitors share an address (an office, a school, carrier NAT). Default: `60`.
   */
  addressRequestsPerMinute?: number;
  /** Streams one visitor may have open at once. Default: `3`. */
  concurrentStreamsPerVisitor?: number;
}

/**
 * What the limits need to know about the caller (from its verified token).
 */
export interface LimitedCaller {
  widgetId: string;
  subject: string;
  tokenId: string;
  expiresAt: number;
  /** The client's address as a rate-limit key (`clientAddressKey`), when known. */
  address?: string;
  /** Limits carried by the token itself, over its whole lifetime. */
  limits?: { requests?: number; outputTokens?: number };
}

/**
 * What {@link RequestLimits.admit} read while counting a request.
 *
 * @example
 * ```ts
 * const { outputTokensLeft } = await limits.admit(caller); // undefined: the token sets no output limit
 * ```
 */
export interface Admission {
  /** Output tokens the caller's token still allows; `undefined` when it sets no such limit. */
  outputTokensLeft: number | undefined;
}

const minuteMs = 60_000;
// Budgets outlive their token by the verification clock tolerance, so a token
// still accepted a few seconds after `exp` still finds its count.
const budgetGraceMs = 60_000;

function refused(message: string, retryAfterSeconds: number): AirlockError {
  return new AirlockError('rate_limited', message, { headers: { 'retry-after': String(retryAfterSeconds) } });
}

/**
 * Applies rate limits, concurrent-stream limits and per-token allowances.
 *
 * @example
 * ```ts
 * const limits = new RequestLimits(context.counters, options.limits);
 * await limits.admit(caller);
 * const release = await limits.openStream(caller);
 * ```
 */
export class RequestLimits {
  readonly #counters: LimitCounters;
  readonly #options: Required<ProxyLimitsOptions>;
  readonly #streamOpened: () => () => void;

  /** `streamOpened` is told of each slot taken and returns what to call when it is released (metrics count active streams with it). */
  constructor(counters: LimitCounters, options: ProxyLimitsOptions = {}, streamOpened: () => () => void = () => () => {}) {
    this.#counters = counters;
    this.#streamOpened = streamOpened;
    this.#options = {
      widgetRequestsPerMinute: options.widgetRequestsPerMinute ?? 600,
      visitorRequestsPerMinute: options.visitorRequestsPerMinute ?? 20,
      tokenRequestsPerMinute: options.tokenRequestsPerMinute ?? 20,
      addressRequestsPerMinute: options.addressRequestsPerMinute ?? 60,
      concurrentStreamsPerVisitor: options.concurrentStreamsPerVisitor ?? 3,
    };
  }

  /**
   * Counts one request against every limit; throws `rate_limited` (with
   * `Retry-After`), `quota_exhausted`, or `limits_unavailable` when the
   * shared counters cannot be reached. Returns what it read on the way: the
   * output tokens the token still allows, so the answer's cap needs no
   * second round trip.
   */
  async admit(caller: LimitedCaller): Promise<Admission> {
    const options = this.#options;
    // Narrowest first, so a visitor over their own limit does not use up the
    // address's, nor one address the widget's: a script minting many tokens
    // from one address is stopped at the address, before the widget is full.
    const checks: RateCheck[] = [
      { key: `proxy:token:${caller.tokenId}`, limit: options.tokenRequestsPerMinute, windowMs: minuteMs },
      { key: `proxy:visitor:${caller.widgetId}:${caller.subject}`, limit: options.visitorRequestsPerMinute, windowMs: minuteMs },
    ];
    if (caller.address !== undefined) {
      checks.push({ key: `proxy:address:${caller.widgetId}:${caller.address}`, limit: options.addressRequestsPerMinute, windowMs: minuteMs });
    }
    checks.push({ key: `proxy:widget:${caller.widgetId}`, limit: options.widgetRequestsPerMinute, windowMs: minuteMs });
    const refusal = await this.#counters.hitInOrder(checks);
    if (refusal) {
      const message = refusal.index === checks.length - 1 ? 'This widget is busy; try again shortly.' : 'Too many requests; slow down.';
      throw refused(message, refusal.result.retryAfterSeconds);
    }
    const expiresAt = caller.expiresAt + budgetGraceMs;
    const allowedRequests = caller.limits?.requests;
    if (allowedRequests !== undefined) {
      const taken = await this.#counters.addToBudget(`budget:requests:${caller.tokenId}`, 1, { limit: allowedRequests, expiresAt });
      if (!taken.accepted) throw new AirlockError('quota_exhausted', 'This session has used all of its requests.');
    }
    const allowedOutput = caller.limits?.outputTokens;
    if (allowedOutput !== undefined) {
      const left = Math.max(0, allowedOutput - (await this.#counters.readBudget(`budget:output:${caller.tokenId}`)));
      if (left <= 0) throw new AirlockError('quota_exhausted', 'This session has used all of its output tokens.');
      return { outputTokensLeft: left };
    }
    return { outputTokensLeft: undefined };
  }

  /**
   * Records output tokens a caller's answer used, against the token's
   * allowance. Does not wait: the answer is already delivered, and a count
   * that cannot be written is logged by the counters, never the visitor's problem.
   */
  spendOutputTokens(caller: LimitedCaller, tokens: number): void {
    if (caller.limits?.outputTokens === undefined || tokens <= 0) return;
    this.#counters.addToBudget(`budget:output:${caller.tokenId}`, tokens, { expiresAt: caller.expiresAt + budgetGraceMs }).catch(() => {});
  }

  /**
   * Takes one of the visitor's stream slots; throws `rate_limited` when all
   * are in use. Returns the release function (idempotent, does not wait).
   */
  async openStream(caller: LimitedCaller): Promise<() => void> {
    const lease = await this.#counters.acquireSlot(`streams:${caller.widgetId}:${caller.subject}`, this.#options.concurrentStreamsPerVisitor);
    if (!lease) throw refused('Too many answers at once; wait for one to finish.', 1);
    const closed = this.#streamOpened();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      closed();
      void lease.release().catch(() => {});
    };
  }
}
