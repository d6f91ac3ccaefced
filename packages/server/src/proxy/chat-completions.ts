import type { ChatCompletionCreateParamsBase, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { AirlockError } from '../errors.js';
import { clientSignal, writesNodeBody } from '../http/request-parts.js';
import { json, readJsonObject } from '../http/responses.js';
import type { WidgetRecord } from '../stores/store.js';
import { applyMemory, countTurnTokens, summaryMessage, tokenCounter, type ChatTurn, type SummaryService } from './memory.js';
import { checkPromptFilter } from './prompt-filter.js';
import {
  reserveGenerations,
  resolveKey,
  type ChatInputLimits,
  type ProxyCall,
  type ProxyServices,
  type ResolvedKey,
} from './proxy-services.js';
import { sseResponse, type ReportedUsage } from './sse-pass-through.js';
import { upstreamError } from './upstream-errors.js';

export { defaultChatInputLimits, type ChatInputLimits } from './proxy-services.js';

/**
 * The model a request may use: the widget's own when the client names none,
 * else one of the widget's model and `allowedModels`.
 *
 * @example
 * ```ts
 * chooseModel(widget, body.model); // 'gpt-4o-mini'
 * ```
 */
export function chooseModel(widget: WidgetRecord, requested: unknown): string {
  const { model, allowedModels } = widget.behaviour;
  if (requested === undefined || requested === null || requested === model) return model;
  if (typeof requested === 'string' && allowedModels?.includes(requested)) return requested;
  throw new AirlockError('input_invalid', 'This widget does not allow that model.');
}

/**
 * Checks a client's chat request. Only `user` and `assistant` messages with
 * text content are accepted: the system prompt is the server's to set.
 * Sampling fields the client sends (temperature, max_tokens, tools, …) are
 * ignored: the widget's behaviour decides them.
 *
 * @example
 * ```ts
 * const { messages, stream, model } = parseChatRequest(body, widget, defaultChatInputLimits);
 * ```
 */
export function parseChatRequest(
  body: Record<string, unknown>,
  widget: WidgetRecord,
  limits: ChatInputLimits,
): { messages: ChatTurn[]; stream: boolean; model: string } {
  const { messages, stream } = body;
  const model = chooseModel(widget, body.model);
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
  if (turns.at(-1)!.role !== 'user') throw new AirlockError('input_invalid', 'The last message must be the visitor\u2019s.');
  return { messages: turns, stream: stream === true, model };
}

/**
 * Output tokens an answer may use: the widget's cap, the server's maximum
 * and what the token's own allowance has left, whichever is least.
 *
 * @example
 * ```ts
 * const cap = outputCap(services, call); // 1024
 * ```
 */
export function outputCap(services: ProxyServices, call: ProxyCall): number {
  const widgetCap = call.widget.behaviour.maxOutputTokens ?? services.maxOutputTokens;
  const tokenLeft = services.limits.outputTokensLeft(call.caller) ?? Number.POSITIVE_INFINITY;
  return Math.max(1, Math.min(widgetCap, services.maxOutputTokens, tokenLeft));
}

// The client is made only when a summary is due (most requests need none).
// A summary is an upstream call on the request's key: reserved and charged
// like the answer, and not stopped when the visitor leaves (its result is
// kept for the conversation's next turn), so once made it stays charged.
function summaryService(services: ProxyServices, call: ProxyCall, key: ResolvedKey, model: string): SummaryService {
  return {
    get: (key) => services.summaries.get(call.widget, key),
    put: (key, summary) => services.summaries.put(call.widget, key, summary),
    async summarise(previous, turns, maxTokens) {
      const transcript = turns.map((turn) => `${turn.role === 'user' ? 'Visitor' : 'Assistant'}: ${turn.content}`).join('\n\n');
      const reservation = await reserveGenerations(services, call, key, model, 1);
      let made = false;
      try {
        const completion = await services.upstream.forKey(key.apiKey).chat.completions.create({
          model,
          max_completion_tokens: maxTokens,
          messages: [
            {
              role: 'system',
              content:
                'You keep a running summary of a conversation between a visitor and an assistant. ' +
                'Fold the new messages into the summary. Keep names, facts, preferences and open questions; drop small talk. ' +
                'Answer with the summary only.',
            },
            { role: 'user', content: `${previous ? `Summary so far:\n${previous}\n\n` : ''}New messages:\n${transcript}` },
          ],
        });
        made = true;
        const usage = completion.usage;
        services.usage.record(call.widget.id, { inputTokens: usage?.prompt_tokens ?? 0, outputTokens: usage?.completion_tokens ?? 0 });
        return completion.choices[0]?.message.content?.trim() ?? previous ?? '';
      } catch (error) {
        throw upstreamError(error);
      } finally {
        // Refused or unreachable upstream: nothing was spent, all is given back.
        reservation.settle(made ? 1 : 0);
      }
    },
  };
}

/**
 * `POST /v1/chat/completions` for a verified widget: the server sets the
 * model, system prompt, memory and caps, then streams the upstream's SSE
 * through (or answers OpenAI's JSON when `stream` is not set).
 *
 * @example
 * ```ts
 * return handleChatCompletions(request, call, services);
 * ```
 */
export async function handleChatCompletions(request: Request, call: ProxyCall, services: ProxyServices): Promise<Response> {
  const { widget } = call;
  if (widget.type !== 'chat') throw new AirlockError('input_invalid', 'This widget is not a chat widget.');
  const body = await readJsonObject(request, services.input.maxBodyBytes);
  const { messages, stream, model } = parseChatRequest(body, widget, services.input);
  const { behaviour } = widget;
  checkPromptFilter(behaviour.promptFilter, messages.map((message) => message.content));
  const maxOutputTokens = outputCap(services, call);
  const key = await resolveKey(services, call);
  return runChat(request, services, call, key, {
    model,
    stream,
    maxOutputTokens,
    // Memory runs after the slot and reservation are taken: a summary is an upstream call too.
    messages: async () => {
      const memory = await applyMemory(messages, behaviour.memory, {
        model,
        systemPrompt: behaviour.systemPrompt,
        maxOutputTokens,
        widgetId: widget.id,
        summaries: summaryService(services, call, key, model),
      });
      const upstreamMessages: ChatCompletionMessageParam[] = [];
      if (behaviour.systemPrompt) upstreamMessages.push({ role: 'system', content: behaviour.systemPrompt });
      if (memory.summary) upstreamMessages.push(summaryMessage(memory.summary));
      upstreamMessages.push(...memory.turns);
      return upstreamMessages;
    },
  });
}

/**
 * One chat call to make upstream; `messages` runs once the stream slot and generations are held.
 *
 * @example
 * ```ts
 * const chat: ChatCall = { model: 'gpt-4o-mini', stream: true, maxOutputTokens: 512, messages: async () => [{ role: 'user', content: 'Hi' }] };
 * ```
 */
export interface ChatCall {
  model: string;
  stream: boolean;
  maxOutputTokens: number;
  messages: () => Promise<ChatCompletionMessageParam[]>;
}

const streamHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
};

/**
 * Makes one chat call upstream under the request limits: a stream slot for
 * the visitor, generations reserved (shared key) and settled from what came
 * back, usage metered. Shared by chat and text-completion widgets.
 *
 * @example
 * ```ts
 * return runChat(request, services, call, key, { model, stream: true, maxOutputTokens: 512, messages: async () => messages });
 * ```
 */
export async function runChat(request: Request, services: ProxyServices, call: ProxyCall, key: ResolvedKey, chat: ChatCall): Promise<Response> {
  const { widget } = call;
  const settleTurn = await services.idempotency.begin(`${widget.id}:${call.caller.subject}`, request.headers.get('idempotency-key'));
  let releaseSlot: () => void;
  try {
    releaseSlot = await services.limits.openStream(call.caller);
  } catch (error) {
    settleTurn(false);
    throw error;
  }
  let reservation;
  try {
    reservation = await reserveGenerations(services, call, key, chat.model, 1);
  } catch (error) {
    releaseSlot();
    settleTurn(false);
    throw error;
  }
  // The adapter aborts it when the client disconnects, which aborts the upstream
  // call; once the answer streams, the relay stops it (the watchdog, the client gone).
  const gone = clientSignal(request);
  let messages: ChatCompletionMessageParam[] = [];

  let finished = false;
  let cancelled = false;
  // `delivered`: the answer's text as the client got it, counted with the
  // tokenizer when the upstream reported no usage (some compatible servers
  // never do, and a stream cut short never gets that far).
  const finish = (usage: ReportedUsage | undefined, delivered: string, streamError?: AirlockError) => {
    if (finished) return;
    finished = true;
    releaseSlot();
    // An answer that reached the client is charged, whatever the upstream reported.
    const produced = delivered !== '' || (usage?.completion_tokens ?? 0) > 0;
    // A turn answered in full keeps its key; one that failed or whose client
    // went away (it did not get the answer) may be retried.
    settleTurn(produced && !streamError && !cancelled);
    reservation.settle(produced ? 1 : 0);
    if (streamError) {
      // Answered inside the stream (headers were 200), so airlock.fetch never saw it.
      services.usage.recordError(widget.id, streamError.code);
      services.metrics.recordError(streamError.code);
      void services.reportUpstreamFailure?.(call.key, streamError);
    }
    if (!produced && usage?.prompt_tokens === undefined) return;
    const meter = (inputTokens: number, outputTokens: number) => {
      services.limits.spendOutputTokens(call.caller, outputTokens);
      services.usage.record(widget.id, { inputTokens, outputTokens });
    };
    const reported = usage?.completion_tokens;
    const outputKnown = reported !== undefined && (reported > 0 || delivered === '');
    if (outputKnown && usage?.prompt_tokens !== undefined) {
      meter(usage.prompt_tokens, reported);
      return;
    }
    const prompt = messages.map((message) => ({ role: 'user' as const, content: String(message.content ?? '') }));
    void Promise.all([outputKnown ? reported : countText(delivered), usage?.prompt_tokens ?? countTurnTokens(prompt)]).then(
      ([outputTokens, inputTokens]) => meter(inputTokens, outputTokens),
      (error: unknown) => services.logger.error('could not count the tokens of an answer', { widgetId: widget.id, error }),
    );
  };

  try {
    messages = await chat.messages();
    // The visitor left while the memory was prepared (a summary takes a while): ask for no answer.
    gone.throwIfAborted();
    const params: ChatCompletionCreateParamsBase = {
      model: chat.model,
      messages,
      max_completion_tokens: chat.maxOutputTokens,
      ...(widget.behaviour.temperature !== undefined && { temperature: widget.behaviour.temperature }),
    };
    const client = services.upstream.forKey(key.apiKey);
    if (!chat.stream) {
      const completion = await client.chat.completions.create({ ...params, stream: false }, { signal: gone });
      finish(completion.usage ?? undefined, completion.choices[0]?.message.content ?? '');
      return json(completion);
    }
    const upstreamResponse = await client.chat.completions
      .create({ ...params, stream: true, stream_options: { include_usage: true } }, { signal: gone })
      .asResponse();
    const settings = services.upstream.settings;
    return sseResponse(upstreamResponse, streamHeaders, {
      firstChunkTimeoutMs: settings.firstChunkTimeoutMs,
      idleTimeoutMs: settings.idleTimeoutMs,
      heartbeatIntervalMs: settings.heartbeatIntervalMs,
      clientBufferBytes: settings.clientBufferBytes,
      slowClientTimeoutMs: settings.slowClientTimeoutMs,
      webBody: !writesNodeBody(request),
      onEnd(meter, error) {
        cancelled = error === 'cancelled';
        finish(meter.usage, meter.text ?? '', error === 'cancelled' ? undefined : error);
      },
    });
  } catch (error) {
    finish(undefined, '');
    throw upstreamError(error);
  }
}

// Output tokens of a delivered answer, at least one.
async function countText(text: string): Promise<number> {
  if (text === '') return 0;
  return Math.max(1, (await tokenCounter())(text));
}
