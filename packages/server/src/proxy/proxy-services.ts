import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../operations/metrics.js';
import { generationCost, type GenerationCosts } from '../limits/generations.js';
import { AirlockError } from '../errors.js';
import type { LimitedCaller, ProxyLimitsOptions, RequestLimits } from '../limits/request-limits.js';
import type { GenerationLeases } from '../limits/generation-leases.js';
import type { ConversationSummaries } from './conversation-summaries.js';
import type { GenerationBalance, GenerationLease, Store, StoredKeys, WidgetRecord } from '../stores/store.js';
import type { UsageMeter } from '../usage/usage-meter.js';
import type { IdempotencyGuard } from './idempotency.js';
import type { KeyResolver, ResolvedKey } from '../keys/key-resolver.js';
import type { KnowledgeService } from '../knowledge/knowledge-service.js';
import type { UpstreamStep } from './call.js';
import type { UpstreamClients } from './upstream.js';

/**
 * Limits on what a client may send in one proxy request.
 */
export interface ChatInputLimits {
  /** Largest body in bytes. Default: 64 KB. */
  maxBodyBytes: number;
  /** Most messages in one request. Default: 100. */
  maxMessages: number;
  /** Longest single message (or image prompt, or completion input), in characters. Default: 16,000. */
  maxMessageChars: number;
}

/**
 * Defaults of {@link ChatInputLimits}.
 *
 * @example
 * ```ts
 * const limits = { ...defaultChatInputLimits, ...options.chatLimits };
 * ```
 */
export const defaultChatInputLimits: ChatInputLimits = { maxBodyBytes: 64 * 1024, maxMessages: 100, maxMessageChars: 16_000 };

export type { ResolvedKey } from '../keys/key-resolver.js';

/**
 * What the proxy handlers need from the rest of the server.
 *
 * @example
 * ```ts
 * return runProxyCall(request, services, chatCompletions);
 * ```
 */
export interface ProxyServices {
  upstream: UpstreamClients;
  limits: RequestLimits;
  usage: UsageMeter;
  store: Store;
  logger: Logger;
  /** Instance metrics: errors that end a stream are counted here (the others by `airlock.fetch`). */
  metrics: Metrics;
  input: ChatInputLimits;
  /** Server-wide cap on output tokens per answer. */
  maxOutputTokens: number;
  generationCosts: GenerationCosts;
  /** Allowance of an account without one set (`null`: unlimited). */
  defaultAllowance: number | null;
  now: () => Date;
  /** Refuses a second request for a visitor turn that is running or was answered (`Idempotency-Key`). */
  idempotency: IdempotencyGuard;
  /** Leases of this instance's generation reservations (renewed while a call runs, given back if it never settles). */
  generationLeases: GenerationLeases;
  /** Conversation summaries, sealed and kept for the retention period. */
  summaries: ConversationSummaries;
  /** Verifies a widget request's token and reads its widget, stored keys and generation balance (`authenticateWidgetRequest`). */
  authenticate(request: Request): Promise<AuthenticatedCall>;
  /**
   * Opens the key for a widget's call, decrypted for that call only, and
   * hears of a refusal of it: a 401 marks a stored key `invalid`
   * (`KeyResolver`).
   */
  keys: Pick<KeyResolver, 'apiKeyFor' | 'reportUpstreamFailure'>;
  /** The widgets' knowledge; without it, answers are given without retrieval. */
  knowledge?: KnowledgeService;
  /** The embedding of a question, on the call's key (its tokens metered); without it, retrieval is by keywords alone. */
  embedQuestion?(step: UpstreamStep, text: string): Promise<Float32Array | undefined>;
}

/**
 * A verified request: its widget, what was read with it, and who is calling.
 *
 * @example
 * ```ts
 * const { verified, widget, keys, generations } = await authenticateWidgetRequest(context, request);
 * const call: AuthenticatedCall = { widget, keys, generations, caller: { widgetId: widget.id, subject: verified.subject, tokenId: verified.tokenId, expiresAt: verified.expiresAt } };
 * ```
 */
export interface AuthenticatedCall {
  widget: WidgetRecord;
  caller: LimitedCaller;
  /** The stored OpenAI keys read with the widget. */
  keys: StoredKeys;
  /** The account's generation balance read with the widget, `null` when it has none yet. */
  generations: GenerationBalance | null;
}

/**
 * Generations held for one request until it is settled.
 *
 * @example
 * ```ts
 * const reservation = await reserveGenerations(services, call, key, 'gpt-4o', 1);
 * reservation.settle(1);
 * ```
 */
export interface Reservation {
  /** Generations one unit (response or image) costs. */
  readonly unitCost: number;
  /** Keeps `units × unitCost` and gives the rest back; meters what was kept. Only the first call counts. */
  settle(units: number): void;
}

/**
 * Takes a request's generations from the account's allowance before the
 * upstream call (shared key only; own keys reserve nothing). Throws
 * `quota_exhausted` when the allowance cannot cover it. An account whose
 * allowance was unlimited when its widget was read cannot overspend, so
 * nothing is reserved: what the call keeps is added to its `used` with the
 * usage counts (within a second), and the request makes no write.
 *
 * @example
 * ```ts
 * const reservation = await reserveGenerations(services, call, key, model, 1);
 * ```
 */
export async function reserveGenerations(
  services: ProxyServices,
  call: Pick<AuthenticatedCall, 'widget' | 'generations'>,
  key: ResolvedKey,
  model: string,
  units: number,
): Promise<Reservation> {
  const unitCost = generationCost(model, services.generationCosts);
  const amount = unitCost * units;
  const accountId = call.widget.accountId;
  const metered = key.source === 'shared' && amount > 0;
  const { generations } = call;
  const unlimited = generations === null ? services.defaultAllowance === null : generations.allowance === null;
  let lease: GenerationLease | undefined;
  if (metered && !unlimited) {
    // Leased: the reservation of a call whose process dies before settling is given back when the lease ends.
    lease = services.generationLeases.open();
    let balance: GenerationBalance | undefined;
    try {
      balance = await services.store.reserveGenerations(accountId, amount, services.defaultAllowance, lease);
    } finally {
      if (!balance) services.generationLeases.close(lease);
    }
    if (!balance) throw new AirlockError('quota_exhausted', 'This assistant has used up its allowance for now.');
  }
  let settled = false;
  return {
    unitCost,
    settle(keptUnits) {
      if (settled || !metered) return;
      settled = true;
      const kept = Math.min(amount, Math.max(0, keptUnits) * unitCost);
      if (unlimited) {
        services.usage.recordGenerationsUsed(accountId, kept);
      } else if (lease) {
        const held = lease;
        // Renewed until the settlement is written; one that fails leaves the lease to expire (given back in full).
        services.store
          .settleGenerations({ id: held.id, accountId, kept })
          .catch((error: unknown) => services.logger.error('generation settlement failed', { accountId, error }))
          .finally(() => services.generationLeases.close(held));
      }
      if (kept > 0) services.usage.record(call.widget.id, { generations: kept });
    },
  };
}

/**
 * Proxy settings of `createAirlock` (`AirlockOptions.proxy`).
 */
export interface ProxyOptions {
  /** Server-wide cap on output tokens per answer; a widget's `maxOutputTokens` cannot exceed it. Default: `4096`. */
  maxOutputTokens?: number;
  /** Rate and concurrency limits. Default: see {@link ProxyLimitsOptions}. */
  limits?: ProxyLimitsOptions;
  /** Generations per response (or image) by model, merged over the defaults. Default: `defaultGenerationCosts`. */
  generationCosts?: Record<string, number>;
  /**
   * Generations an account may spend on the shared key while it has no
   * allowance of its own; `null` is unlimited. The `default` account (the
   * operator's own) starts with an unlimited allowance of its own. Default:
   * `1000` (`defaultSharedKeyAllowance`).
   */
  defaultGenerationAllowance?: number | null;
  /**
   * How long a generation reservation holds without a renewal, in ms. Each
   * instance renews its open reservations every third of it; a process that
   * dies mid-call leaves its reservations taken until this has passed, when
   * any instance gives them back. Default: `60_000`.
   */
  reservationLeaseMs?: number;
  /**
   * Days a conversation summary (memory strategy `tokenized-summary`) is
   * kept after it was made; it is then deleted, and a conversation that goes
   * on is summarised afresh. Default: `30`.
   */
  summaryRetentionDays?: number;
}
