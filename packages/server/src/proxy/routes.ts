import { clientAddressKey } from '../adapters/client-address.js';
import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';
import type { Route } from '../http/router.js';
import { defaultGenerationCosts } from '../limits/generations.js';
import { RequestLimits } from '../limits/request-limits.js';
import { defaultAllowanceOf } from '../keys/shared-key-policy.js';
import type { StoredKeys, WidgetRecord } from '../stores/store.js';
import { authenticateWidgetRequest } from '../tokens/authenticate.js';
import { handleChatCompletions } from './chat-completions.js';
import { handleCompletionFill } from './completion-fill.js';
import { IdempotencyGuard } from './idempotency.js';
import { handleImageGenerations } from './image-generations.js';
import { defaultChatInputLimits, type ProxyCall, type ProxyServices, type ResolvedKey } from './proxy-services.js';

type ProxyHandler = (request: Request, call: ProxyCall, services: ProxyServices) => Promise<Response>;

/**
 * The OpenAI-compatible proxy under `/v1`: chat completions, text-completion
 * fill and image generations. Every request is authenticated, counted
 * against the rate limits and metered; errors are counted by code.
 *
 * @example
 * ```ts
 * const routes = [...proxyRoutes(context)];
 * ```
 */
export function proxyRoutes(context: AirlockContext): Route[] {
  const options = context.options.proxy ?? {};
  const services: ProxyServices = {
    upstream: context.upstream,
    limits: new RequestLimits(context.counters, options.limits, () => context.metrics.streamOpened()),
    usage: context.usage,
    store: context.store,
    logger: context.logger,
    metrics: context.metrics,
    input: { ...defaultChatInputLimits, ...context.options.chatLimits },
    maxOutputTokens: options.maxOutputTokens ?? 4096,
    generationCosts: { ...defaultGenerationCosts, ...options.generationCosts },
    defaultAllowance: defaultAllowanceOf(options),
    now: context.now,
    idempotency: new IdempotencyGuard(context.counters),
    generationLeases: context.generationLeases,
    summaries: context.summaries,
    async apiKeyFor(widget: WidgetRecord, keys: StoredKeys): Promise<ResolvedKey> {
      // Own or shared key, opened for this call only (keys/key-resolver.ts).
      return context.keys.apiKeyFor(widget, keys);
    },
    reportUpstreamFailure: (key, error) => context.keys.reportUpstreamFailure(key, error),
  };

  const route = (path: string, handler: ProxyHandler): Route => ({
    method: 'POST',
    path,
    browser: 'widget',
    async handle(request) {
      const { verified, widget, keys, generations } = await authenticateWidgetRequest(context, request);
      const caller = {
        widgetId: widget.id,
        subject: verified.subject,
        tokenId: verified.tokenId,
        expiresAt: verified.expiresAt,
        limits: verified.limits,
        address: clientAddressKey(request, context.options.clientAddress),
      };
      // Per request: the widget record may be shared with concurrent requests (the store may keep it).
      const call: ProxyCall = { widget, caller, keys, generations };
      try {
        await services.limits.admit(caller);
        services.usage.record(widget.id, { requests: 1 });
        return await handler(request, call, services);
      } catch (error) {
        services.usage.recordError(widget.id, AirlockError.isInstance(error) ? error.code : 'internal');
        // Keep (issue 3): a 401 marks the stored key this request used `invalid`; no retry with another key.
        await context.keys.reportUpstreamFailure(call.key, error);
        throw error;
      }
    },
  });

  return [
    route('/v1/chat/completions', handleChatCompletions),
    route('/v1/completions/fill', handleCompletionFill),
    route('/v1/images/generations', handleImageGenerations),
  ];
}
