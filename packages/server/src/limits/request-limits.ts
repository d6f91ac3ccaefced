import { AirlockError } from '../errors.js';
import type { RateLimiter } from './rate-limiter.js';

/**
 * Request limits of the proxy. Rate limits count requests per minute with
 * the context's {@link RateLimiter}; concurrent streams and per-token output
 * budgets are counted in this process.
 *
 * @example
 * ```ts
 * const limits: ProxyLimitsOptions = { visitorRequestsPerMinute: 10, concurrentStreamsPerVisitor: 2 };
 * ```
 */
export interface ProxyLimitsOptions {
  /** Requests per minute for one widget, all visitors together. Default: `600`. */
  widgetRequestsPerMinute?: number;
  /** Requests per minute for one visitor (token subject) of a widget. Default: `20`. */
  visitorRequestsPerMinute?: number;
  /** Requests per minute for one token. Default: `20`. */
  tokenRequestsPerMinute?: number;
  /** Streams one visitor may have open at once. Default: `3`. */
  concurrentStreamsPerVisitor?: number;
}

/**
 * What the limits need to know about the caller (from its verified token).
 *
 * @example
 * ```ts
 * const caller: LimitedCaller = { widgetId: 'wgt_1', subject: 'visitor_1', tokenId: 'jti', expiresAt: Date.now() + 600_000, limits: { requests: 20 } };
 * ```
 */
export interface LimitedCaller {
  widgetId: string;
  subject: string;
  tokenId: string;
  expiresAt: number;
  /** Limits carried by the token itself, over its whole lifetime. */
  limits?: { requests?: number; outputTokens?: number };
}

const minuteMs = 60_000;
// Longer than any token lives (24 h at most), so a window this long counts a token's whole life.
const tokenLifetimeWindowMs = 86_400_000;

function refused(message: string, retryAfterSeconds: number): AirlockError {
  return new AirlockError('rate_limited', message, { headers: { 'retry-after': String(retryAfterSeconds) } });
}

/**
 * Applies rate limits, concurrent-stream limits and per-token allowances.
 *
 * @example
 * ```ts
 * const limits = new RequestLimits(context.limiter, options.limits);
 * await limits.admit(caller);
 * const release = limits.openStream(caller);
 * ```
 */
export class RequestLimits {
  readonly #limiter: RateLimiter;
  readonly #options: Required<ProxyLimitsOptions>;
  readonly #streams = new Map<string, number>();
  readonly #outputSpent = new Map<string, { spent: number; expiresAt: number }>();
  readonly #now: () => number;
  #lastPrune = 0;

  constructor(limiter: RateLimiter, options: ProxyLimitsOptions = {}, now: () => number = Date.now) {
    this.#limiter = limiter;
    this.#now = now;
    this.#options = {
      widgetRequestsPerMinute: options.widgetRequestsPerMinute ?? 600,
      visitorRequestsPerMinute: options.visitorRequestsPerMinute ?? 20,
      tokenRequestsPerMinute: options.tokenRequestsPerMinute ?? 20,
      concurrentStreamsPerVisitor: options.concurrentStreamsPerVisitor ?? 3,
    };
  }

  /** Counts one request against every limit; throws `rate_limited` (with `Retry-After`) or `quota_exhausted`. */
  async admit(caller: LimitedCaller): Promise<void> {
    const options = this.#options;
    // Narrowest first, so a visitor over their own limit does not use up the widget's.
    const checks: [string, number, number, string][] = [
      [`proxy:token:${caller.tokenId}`, options.tokenRequestsPerMinute, minuteMs, 'Too many requests; slow down.'],
      [`proxy:visitor:${caller.widgetId}:${caller.subject}`, options.visitorRequestsPerMinute, minuteMs, 'Too many requests; slow down.'],
      [`proxy:widget:${caller.widgetId}`, options.widgetRequestsPerMinute, minuteMs, 'This widget is busy; try again shortly.'],
    ];
    for (const [key, limit, windowMs, message] of checks) {
      const result = await this.#limiter.hit(key, limit, windowMs);
      if (!result.allowed) throw refused(message, result.retryAfterSeconds);
    }
    const allowedRequests = caller.limits?.requests;
    if (allowedRequests !== undefined) {
      const result = await this.#limiter.hit(`proxy:token-life:${caller.tokenId}`, allowedRequests, tokenLifetimeWindowMs);
      if (!result.allowed) throw new AirlockError('quota_exhausted', 'This session has used all of its requests.');
    }
    if (caller.limits?.outputTokens !== undefined && this.outputTokensLeft(caller)! <= 0) {
      throw new AirlockError('quota_exhausted', 'This session has used all of its output tokens.');
    }
  }

  /** Output tokens the caller's token still allows, or `undefined` when it sets no such limit. */
  outputTokensLeft(caller: LimitedCaller): number | undefined {
    const limit = caller.limits?.outputTokens;
    if (limit === undefined) return undefined;
    return Math.max(0, limit - (this.#outputSpent.get(caller.tokenId)?.spent ?? 0));
  }

  /** Records output tokens a caller's answer used, against the token's allowance. */
  spendOutputTokens(caller: LimitedCaller, tokens: number): void {
    if (caller.limits?.outputTokens === undefined || tokens <= 0) return;
    const now = this.#now();
    if (now - this.#lastPrune > minuteMs) {
      this.#lastPrune = now;
      for (const [tokenId, entry] of this.#outputSpent) if (entry.expiresAt < now) this.#outputSpent.delete(tokenId);
    }
    const entry = this.#outputSpent.get(caller.tokenId) ?? { spent: 0, expiresAt: caller.expiresAt };
    entry.spent += tokens;
    this.#outputSpent.set(caller.tokenId, entry);
  }

  /** Takes one of the visitor's stream slots; throws `rate_limited` when all are in use. Returns the release function (idempotent). */
  openStream(caller: LimitedCaller): () => void {
    const key = `${caller.widgetId}\u0000${caller.subject}`;
    const open = this.#streams.get(key) ?? 0;
    if (open >= this.#options.concurrentStreamsPerVisitor) {
      throw refused('Too many answers at once; wait for one to finish.', 1);
    }
    this.#streams.set(key, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#streams.get(key) ?? 1) - 1;
      if (left <= 0) this.#streams.delete(key);
      else this.#streams.set(key, left);
    };
  }
}
