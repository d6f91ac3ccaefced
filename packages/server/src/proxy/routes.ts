import type { AirlockContext } from '../context.js';
import type { Route } from '../http/router.js';
import { authenticateWidgetRequest } from '../tokens/authenticate.js';
import { defaultChatInputLimits, handleChatCompletions, type ChatContext } from './chat-completions.js';
import { AirlockError } from '../errors.js';

/** The OpenAI-compatible proxy under `/v1`. */
export function proxyRoutes(context: AirlockContext): Route[] {
  const chat: ChatContext = {
    upstream: context.upstream,
    limits: { ...defaultChatInputLimits, ...context.options.chatLimits },
    async apiKeyFor() {
      const key = context.upstream.settings.apiKey;
      if (!key) throw new AirlockError('upstream_key_invalid', 'No OpenAI key is configured for this widget.');
      return key;
    },
  };
  return [
    {
      method: 'POST',
      path: '/v1/chat/completions',
      browser: 'widget',
      async handle(request) {
        const { widget } = await authenticateWidgetRequest(context, request);
        return handleChatCompletions(request, widget, chat);
      },
    },
  ];
}
