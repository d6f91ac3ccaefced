import type { ChatCompletionCreateParams, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { AirlockError } from '../errors.js';
import { json, readJsonObject } from '../http/responses.js';
import type { WidgetRecord } from '../stores/store.js';
import { passThroughSse } from './sse-pass-through.js';
import type { UpstreamClients } from './upstream.js';
import { upstreamError } from './upstream-errors.js';

/** Limits on what a client may send in one chat request. */
export interface ChatInputLimits {
  /** Largest body in bytes. Default: 64 KB. */
  maxBodyBytes: number;
  /** Most messages in one request. Default: 100. */
  maxMessages: number;
  /** Longest single message, in characters. Default: 16,000. */
  maxMessageChars: number;
}

export const defaultChatInputLimits: ChatInputLimits = { maxBodyBytes: 64 * 1024, maxMessages: 100, maxMessageChars: 16_000 };

interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

/**
 * Checks a client's chat request. Only `user` and `assistant` messages with
 * text content are accepted: the system prompt is the server's to set.
 *
 * @example
 * ```ts
 * const { messages, stream } = parseChatRequest(body, widget, defaultChatInputLimits);
 * ```
 */
export function parseChatRequest(
  body: Record<string, unknown>,
  widget: WidgetRecord,
  limits: ChatInputLimits,
): { messages: ChatTurn[]; stream: boolean } {
  const { messages, model, stream } = body;
  if (model !== undefined && model !== widget.behaviour.model) {
    throw new AirlockError('input_invalid', 'This widget does not allow that model.');
  }
  if (stream !== undefined && typeof stream !== 'boolean') throw new AirlockError('input_invalid', '"stream" must be true or false.');
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new AirlockError('input_invalid', '"messages" must be a non-empty array.');
  }
  if (messages.length > limits.maxMessages) {
    throw new AirlockError('input_invalid', `At most ${limits.maxMessages} messages may be sent at once.`);
  }
  const turns = messages.map((message: unknown): ChatTurn => {
    const { role, content } = (message ?? {}) as Record<string, unknown>;
    if (role !== 'user' && role !== 'assistant') {
      throw new AirlockError('input_invalid', 'Only "user" and "assistant" messages are accepted.');
    }
    if (typeof content !== 'string') throw new AirlockError('input_invalid', 'Each message needs text "content".');
    if (content.length > limits.maxMessageChars) {
      throw new AirlockError('input_invalid', `A message may be at most ${limits.maxMessageChars} characters long.`);
    }
    return { role, content };
  });
  return { messages: turns, stream: stream === true };
}

/** What the chat handler needs from the rest of the server. */
export interface ChatContext {
  upstream: UpstreamClients;
  limits: ChatInputLimits;
  /** The key for this widget, decrypted for this call only. */
  apiKeyFor(widget: WidgetRecord): Promise<string>;
}

/**
 * `POST /v1/chat/completions` for a verified widget: the server sets the
 * model, system prompt and caps, then streams the upstream's SSE through.
 *
 * @example
 * ```ts
 * return handleChatCompletions(request, widget, context);
 * ```
 */
export async function handleChatCompletions(request: Request, widget: WidgetRecord, context: ChatContext): Promise<Response> {
  if (widget.type !== 'chat') throw new AirlockError('input_invalid', 'This widget is not a chat widget.');
  const body = await readJsonObject(request, context.limits.maxBodyBytes);
  const { messages, stream } = parseChatRequest(body, widget, context.limits);
  const { behaviour } = widget;
  const upstreamMessages: ChatCompletionMessageParam[] = behaviour.systemPrompt
    ? [{ role: 'system', content: behaviour.systemPrompt }, ...messages]
    : messages;
  const params: ChatCompletionCreateParams = {
    model: behaviour.model,
    messages: upstreamMessages,
    ...(behaviour.temperature !== undefined && { temperature: behaviour.temperature }),
    ...(behaviour.maxOutputTokens !== undefined && { max_completion_tokens: behaviour.maxOutputTokens }),
  };
  const client = context.upstream.forKey(await context.apiKeyFor(widget));

  // Aborted when the client disconnects (the adapter aborts request.signal)
  // or when the stream's watchdog fires.
  const abort = new AbortController();
  const onClientGone = () => abort.abort();
  request.signal.addEventListener('abort', onClientGone, { once: true });
  const release = () => request.signal.removeEventListener('abort', onClientGone);

  try {
    if (!stream) {
      const completion = await client.chat.completions.create({ ...params, stream: false }, { signal: abort.signal });
      release();
      return json(completion);
    }
    const upstreamResponse = await client.chat.completions
      .create({ ...params, stream: true, stream_options: { include_usage: true } }, { signal: abort.signal })
      .asResponse();
    const body = passThroughSse(upstreamResponse.body!, {
      abortUpstream: () => abort.abort(),
      firstChunkTimeoutMs: context.upstream.settings.firstChunkTimeoutMs,
      idleTimeoutMs: context.upstream.settings.idleTimeoutMs,
      onEnd: release,
    });
    return new Response(body, {
      status: 200,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
      },
    });
  } catch (error) {
    release();
    throw upstreamError(error);
  }
}
