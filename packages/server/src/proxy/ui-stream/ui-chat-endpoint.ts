import type { AnswerSource } from '@airlock/protocol';
import { AirlockError } from '../../errors.js';
import { readJsonObject } from '../../http/responses.js';
import type { ProxyEndpoint } from '../call.js';
import { answerChat } from '../chat-completions.js';
import { chatStreamToUIMessageStream } from './chat-stream-to-ui-message-stream.js';
import { parseUIChatRequest } from './parse-request.js';
import { uiMessageStreamHeaders, type UIStreamSource } from './ui-message-chunks.js';

/**
 * `POST /v1/ui/chat` for a chat widget: the AI SDK's UI message stream
 * protocol, as `useChat` reads it through `DefaultChatTransport` (the
 * widget token in its `headers`). Always streamed; answered through the
 * upstream's chat completions with exactly chat's rules.
 *
 * @example
 * ```ts
 * return runProxyCall(request, services, uiChatEndpoint);
 * ```
 */
export const uiChatEndpoint: ProxyEndpoint = {
  async prepare(context, services) {
    const { widget, request } = context;
    if (widget.type !== 'chat') throw new AirlockError('input_invalid', 'This widget is not a chat widget.');
    const body = await readJsonObject(request, services.input.maxBodyBytes);
    const parsed = parseUIChatRequest(body, widget, services.input, { allowClientInstructions: widget.behaviour.allowClientInstructions === true });
    return answerChat(
      services,
      context,
      { turns: parsed.turns, clientInstructions: parsed.clientInstructions, model: parsed.model, stream: true },
      { stream: { headers: uiMessageStreamHeaders, transform: (sources) => chatStreamToUIMessageStream({ sources: sources.map(uiSource) }) } },
    );
  },
};

// An answer's source as a UI message stream source part: a link when its file has a URL.
function uiSource(source: AnswerSource): UIStreamSource {
  const title = source.location ? `${source.title}, ${source.location}` : source.title;
  return { id: source.id, title, ...(source.url !== undefined ? { url: source.url } : { filename: source.title }) };
}
