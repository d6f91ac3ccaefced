import { clientAddressKey } from '../http/client-address.js';
import type { AirlockContext } from '../context.js';
import type { Route } from '../http/router.js';
import { defaultGenerationCosts } from '../limits/generations.js';
import { RequestLimits } from '../limits/request-limits.js';
import { defaultAllowanceOf } from '../keys/shared-key-policy.js';
import { authenticateWidgetRequest } from '../tokens/authenticate.js';
import { runProxyCall, type ProxyEndpoint } from './call.js';
import { chatCompletions } from './chat-completions.js';
import { completionFill } from './completion-fill.js';
import { IdempotencyGuard } from './idempotency.js';
import { imageGenerations } from './image-generations.js';
import { modelsResponse } from './models.js';
import { responsesEndpoint } from './responses/responses-endpoint.js';
import { uiChatEndpoint } from './ui-stream/ui-chat-endpoint.js';
import { defaultChatInputLimits, type ProxyServices } from './proxy-services.js';

/**
 * The OpenAI-compatible proxy under `/v1`: chat completions, the Responses
 * API, the AI SDK's UI message stream, text-completion fill and image
 * generations, each an endpoint on the one pipeline
 * (`runProxyCall`): authenticated, counted against the rate limits, metered;
 * errors counted by code.
 *
 * @example
 * ```ts
 * const routes = [...proxyRoutes(context)];
 * ```
 */
export function proxyRoutes(context: AirlockContext): Route[] {
  const options = context.config.proxy;
  const services: ProxyServices = {
    upstream: context.upstream,
    limits: new RequestLimits(context.counters, options.limits, () => context.metrics.streamOpened()),
    usage: context.usage,
    store: context.store,
    logger: context.logger,
    metrics: context.metrics,
    input: { ...defaultChatInputLimits, ...context.config.chatLimits },
    maxOutputTokens: options.maxOutputTokens ?? 4096,
    generationCosts: { ...defaultGenerationCosts, ...options.generationCosts },
    defaultAllowance: defaultAllowanceOf(options),
    now: context.now,
    idempotency: new IdempotencyGuard(context.counters),
    generationLeases: context.generationLeases,
    summaries: context.summaries,
    async authenticate(request) {
      const { verified, widget, keys, generations } = await authenticateWidgetRequest(context, request);
      const caller = {
        widgetId: widget.id,
        subject: verified.subject,
        tokenId: verified.tokenId,
        expiresAt: verified.expiresAt,
        limits: verified.limits,
        address: clientAddressKey(request, context.config.clientAddress),
      };
      return { widget, caller, keys, generations };
    },
    // Own or shared key, opened for one call only; a refusal of it is reported (keys/key-resolver.ts).
    keys: context.keys,
    ...(context.knowledge && { knowledge: context.knowledge }),
    // The question's embedding on the call's key; it reserves no generations (the answer's cover the turn).
    embedQuestion: (step, text) =>
      context.knowledge
        ? step.extra(
            'embeddings',
            0,
            () => context.knowledge!.embedQuestion(step.context.widget.id, step.key.apiKey, text, step.context.signal),
            () => undefined,
          )
        : Promise.resolve(undefined),
  };

  const route = (path: string, endpoint: ProxyEndpoint): Route => ({
    method: 'POST',
    path,
    browser: 'widget',
    handle: (request) => runProxyCall(request, services, endpoint),
  });

  // The models a token may ask for: read from the widget, nothing counted or sent upstream.
  const models = (path: string | RegExp): Route => ({
    method: 'GET',
    path,
    browser: 'widget',
    async handle(request, params) {
      const { widget } = await services.authenticate(request);
      return modelsResponse(widget, params.id === undefined ? undefined : decodedId(params.id));
    },
  });

  return [
    route('/v1/chat/completions', chatCompletions),
    route('/v1/responses', responsesEndpoint),
    route('/v1/ui/chat', uiChatEndpoint),
    models('/v1/models'),
    // Model ids may hold slashes (`accounts/x/models/y`).
    models(/^\/v1\/models\/(?<id>.+)$/),
    route('/v1/completions/fill', completionFill),
    route('/v1/images/generations', imageGenerations),
  ];
}

function decodedId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
