import { AirlockError } from '../../errors.js';
import { readJsonObject } from '../../http/responses.js';
import type { ProxyEndpoint } from '../call.js';
import { answerChat } from '../chat-completions.js';
import { chatStreamToResponses } from './chat-stream-to-responses.js';
import { parseResponsesRequest } from './parse-request.js';
import { responseFromChatCompletion, responsesId, type ResponsesOutputOptions } from './response-events.js';

const eventStreamHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
};

/**
 * `POST /v1/responses` for a chat widget: OpenAI's Responses API, streamed
 * (its event stream, a `sequence_number` on every event, no `[DONE]`) or
 * not. It is answered through the upstream's chat completions, with exactly
 * chat's rules (model, system prompt, client instructions, caps, filter,
 * memory, limits, generations, metering), so it works with any
 * OpenAI-compatible upstream and nothing is stored upstream.
 *
 * @example
 * ```ts
 * return runProxyCall(request, services, responsesEndpoint);
 * ```
 */
export const responsesEndpoint: ProxyEndpoint = {
  async prepare(context, services) {
    const { widget, request } = context;
    if (widget.type !== 'chat') throw new AirlockError('input_invalid', 'This widget is not a chat widget.');
    const body = await readJsonObject(request, services.input.maxBodyBytes);
    const parsed = parseResponsesRequest(body, widget, services.input, { allowClientInstructions: widget.behaviour.allowClientInstructions === true });
    const options: ResponsesOutputOptions = {
      model: parsed.model,
      responseId: responsesId('resp'),
      messageId: responsesId('msg'),
      createdAt: Math.floor(services.now().getTime() / 1000),
      instructions: parsed.clientInstructions.length > 0 ? parsed.clientInstructions.join('\n\n') : null,
    };
    return answerChat(services, context, parsed, {
      stream: { headers: eventStreamHeaders, transform: (sources) => chatStreamToResponses({ ...options, sources }) },
      json: (completion, sources) => responseFromChatCompletion(completion, { ...options, sources }),
    });
  },
};
