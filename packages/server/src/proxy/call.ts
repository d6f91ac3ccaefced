/**
 * The one order every proxied endpoint runs in. An endpoint only reads and
 * checks its body, builds its upstream request and shapes the answer
 * ({@link ProxyEndpoint}); the steps around it, and what each gives back
 * when a later one fails, are decided here once:
 *
 *  1. authenticate  the widget token is verified and the widget, its stored keys
 *                   and its account's generation balance read (nothing is counted yet)
 *  2. admit         rate limits and the token's budgets counted; one request metered.
 *                   The call context is built here, once
 *  3. prepare       the endpoint reads and checks the body and builds its upstream
 *                   call; an endpoint that answers without the upstream answers here
 *  4. key           the widget's own key or the shared one, opened for this call only
 *  5. claim         the visitor turn's `Idempotency-Key` is claimed (409 while it runs
 *                   or once it was answered)
 *  6. stream slot   one of the visitor's concurrent slots is taken
 *  7. reserve       the call's generations are reserved from the account's allowance
 *                   (shared key only), under a lease
 *  8. upstream      the endpoint's call; calls it makes for this one (a conversation
 *                   summary) reserve and settle their own generations (`step.extra`)
 *  9. settle, meter `step.finish(outcome)`, once the answer is delivered (a stream: when
 *                   it ends): the slot is released, the claim kept when the turn was
 *                   answered, the reservation settled by what was delivered, tokens metered
 * 10. release       a failure at any step gives back what the steps before it took, in
 *                   reverse (reservation, slot, claim); the error is counted by code and
 *                   a key the upstream refused is reported
 */
import type OpenAI from 'openai';
import { AirlockError } from '../errors.js';
import { clientSignal } from '../http/request-parts.js';
import type { ResolvedKey } from '../keys/key-resolver.js';
import type { LimitedCaller } from '../limits/request-limits.js';
import type { GenerationBalance, StoredKeys, WidgetRecord } from '../stores/store.js';
import { reserveGenerations, type ProxyServices, type Reservation } from './proxy-services.js';
import { upstreamError } from './upstream-errors.js';

/**
 * Everything known about one proxied call, built once when it is admitted
 * and never changed after: endpoints and steps read it, none writes it.
 *
 * @example
 * ```ts
 * const cap = Math.min(context.widget.behaviour.maxOutputTokens ?? 4096, context.outputTokensLeft ?? Infinity);
 * ```
 */
export interface CallContext {
  readonly request: Request;
  readonly widget: WidgetRecord;
  /** Who is calling, as the limits count them (token, visitor, client address). */
  readonly caller: LimitedCaller;
  /** The stored OpenAI keys read with the widget. */
  readonly keys: StoredKeys;
  /** The account's generation balance read with the widget, `null` when it has none yet. */
  readonly generations: GenerationBalance | null;
  /** Output tokens the token still allows, as read when it was admitted; `undefined` when its token sets no such limit. */
  readonly outputTokensLeft: number | undefined;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
}

/**
 * Tokens one call used, as the usage meter records them.
 */
export interface MeteredUsage {
  inputTokens: number;
  outputTokens: number;
}

/**
 * How a call ended, told to {@link UpstreamStep.finish}.
 *
 * @example
 * ```ts
 * step.finish({ delivered: 1, usage: { inputTokens: 12, outputTokens: 40 } });
 * ```
 */
export interface CallOutcome {
  /** Units (answers, images) the client got: the reservation keeps their cost and gives the rest back. */
  delivered: number;
  /**
   * Whether the visitor's turn was answered in full, so its `Idempotency-Key`
   * is kept and a retry refused; otherwise a retry goes through. Default:
   * `delivered > 0`.
   */
  answered?: boolean;
  /** Tokens to meter, or a promise of them when they must be counted. Default: none metered. */
  usage?: MeteredUsage | Promise<MeteredUsage>;
  /** An error that ended a stream after its 200 headers went out (so the router never saw it): counted and reported here. */
  streamError?: AirlockError;
}

/**
 * What an endpoint's upstream call gets from the pipeline once the key,
 * claim, slot and reservation are held.
 *
 * @example
 * ```ts
 * const result = await step.client.images.generate(params, { signal: step.context.signal });
 * step.finish({ delivered: result.data?.length ?? 0 });
 * ```
 */
export interface UpstreamStep {
  readonly context: CallContext;
  /** The key the call is made with. */
  readonly key: ResolvedKey;
  /** The `openai` client for that key, made when first read (chat calls go through `services.upstream.post`). */
  readonly client: OpenAI;
  /**
   * Makes another upstream call for this one (a conversation summary) on
   * the same key: `units` of `model` reserved before it, kept once it
   * returned, given back when it failed; `usage` of its result metered. It
   * is not stopped when the visitor leaves: its result is kept for the
   * next turn, so once made it stays charged.
   */
  extra<T>(model: string, units: number, call: (client: OpenAI) => Promise<T>, usage: (result: T) => MeteredUsage | undefined): Promise<T>;
  /** Ends the call: releases the slot, settles the claim and the reservation, meters. Only the first call counts. */
  finish(outcome: CallOutcome): void;
}

/**
 * An endpoint's upstream call, as {@link ProxyEndpoint.prepare} builds it.
 */
export interface PreparedCall {
  /** The model whose cost is reserved. */
  model: string;
  /** Units (answers, images) reserved; `0` reserves nothing. */
  units: number;
  /** Whether the output tokens count against the token's `outputTokens` allowance (text answers do, images do not). */
  spendsOutputTokens: boolean;
  /**
   * Makes the upstream call and shapes the answer. It calls `step.finish`
   * once the answer is delivered (a stream: when it ends); a throw before
   * that gives everything back, as if nothing was delivered.
   */
  send(step: UpstreamStep): Promise<Response>;
}

/**
 * One proxied endpoint: checks the request and builds its upstream call;
 * {@link runProxyCall} runs the rest in its fixed order. Returning a
 * `Response` answers without the upstream (no key, claim, slot or
 * reservation is taken).
 */
export interface ProxyEndpoint {
  prepare(context: CallContext, services: ProxyServices): Promise<PreparedCall | Response>;
}

/**
 * Runs one proxied request through every step, in the order at the top of
 * this file.
 *
 * @example
 * ```ts
 * return runProxyCall(request, services, chatCompletions);
 * ```
 */
export async function runProxyCall(request: Request, services: ProxyServices, endpoint: ProxyEndpoint): Promise<Response> {
  const { widget, caller, keys, generations } = await services.authenticate(request);
  let key: ResolvedKey | undefined;
  try {
    const admitted = await services.limits.admit(caller);
    services.usage.record(widget.id, { requests: 1 });
    const context: CallContext = {
      request,
      widget,
      caller,
      keys,
      generations,
      outputTokensLeft: admitted.outputTokensLeft,
      signal: clientSignal(request),
    };
    const prepared = await endpoint.prepare(context, services);
    if (prepared instanceof Response) return prepared;
    key = await services.keys.apiKeyFor(widget, keys);
    return await callUpstream(services, context, key, prepared);
  } catch (error) {
    services.usage.recordError(widget.id, AirlockError.isInstance(error) ? error.code : 'internal');
    // A refusal of the key this request used marks it (an own key `invalid`); never retried with another key.
    await services.keys.reportUpstreamFailure(key, error);
    throw error;
  }
}

// Steps 5 to 9: claim, slot, reservation, the endpoint's call, settlement.
async function callUpstream(services: ProxyServices, context: CallContext, key: ResolvedKey, prepared: PreparedCall): Promise<Response> {
  const { widget, caller, request } = context;
  const settleClaim = await services.idempotency.begin(`${widget.id}:${caller.subject}`, request.headers.get('idempotency-key'));
  let releaseSlot: () => void;
  try {
    releaseSlot = await services.limits.openStream(caller);
  } catch (error) {
    settleClaim(false);
    throw error;
  }
  let reservation: Reservation;
  try {
    reservation = await reserveGenerations(services, context, key, prepared.model, prepared.units);
  } catch (error) {
    releaseSlot();
    settleClaim(false);
    throw error;
  }
  let client: OpenAI | undefined;
  const clientForKey = () => (client ??= services.upstream.forKey(key.apiKey));
  const meter = (usage: MeteredUsage) => {
    if (prepared.spendsOutputTokens) services.limits.spendOutputTokens(caller, usage.outputTokens);
    services.usage.record(widget.id, { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens });
  };
  let finished = false;
  const step: UpstreamStep = {
    context,
    key,
    get client() {
      return clientForKey();
    },
    async extra(model, units, call, usageOf) {
      const held = await reserveGenerations(services, context, key, model, units);
      let made = false;
      try {
        const result = await call(clientForKey());
        made = true;
        const usage = usageOf(result);
        if (usage) services.usage.record(widget.id, usage);
        return result;
      } catch (error) {
        throw upstreamError(error);
      } finally {
        // Refused or unreachable upstream: nothing was spent, all is given back.
        held.settle(made ? units : 0);
      }
    },
    finish(outcome) {
      if (finished) return;
      finished = true;
      releaseSlot();
      settleClaim(outcome.answered ?? outcome.delivered > 0);
      reservation.settle(outcome.delivered);
      const { streamError, usage } = outcome;
      if (streamError) {
        services.usage.recordError(widget.id, streamError.code);
        services.metrics.recordError(streamError.code);
        void services.keys.reportUpstreamFailure(key, streamError);
      }
      if (usage === undefined) return;
      if (!(usage instanceof Promise)) {
        meter(usage);
        return;
      }
      usage.then(meter, (error: unknown) => services.logger.error('could not count the tokens of an answer', { widgetId: widget.id, error }));
    },
  };
  try {
    return await prepared.send(step);
  } catch (error) {
    step.finish({ delivered: 0 });
    throw upstreamError(error);
  }
}
