import type { ChatCompletionCreateParamsBase, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { AirlockError } from '../errors.js';
import { writesNodeBody } from '../http/request-parts.js';
import { json, readJsonObject } from '../http/responses.js';
import type { WidgetRecord } from '../stores/store.js';
import { applyMemory, countTurnTokens, summaryMessage, tokenCounter, type ChatTurn, type SummaryService } from './memory.js';
import { checkPromptFilter } from './prompt-filter.js';
import type { CallContext, MeteredUsage, PreparedCall, ProxyEndpoint, UpstreamStep } from './call.js';
import type { ChatInputLimits, ProxyServices } from './proxy-services.js';
import { sseResponse, type ReportedUsage } from './sse-pass-through.js';

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
  throw modelRefused([model, ...(allowedModels ?? [])]);
}

/**
 * The refusal of a model a widget does not allow, naming those it does, so
 * a developer pointing an SDK at the widget sees what to ask for.
 *
 * @example
 * ```ts
 * throw modelRefused(['gpt-4o-mini', 'gpt-4o']); // This widget does not allow that model; it allows gpt-4o-mini, gpt-4o.
 * ```
 */
export function modelRefused(allowed: readonly string[]): AirlockError {
  const names = [...new Set(allowed)];
  return new AirlockError('input_invalid', `This widget does not allow that model; it allows ${names.join(', ')}.`);
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
 * const cap = outputCap(services, context); // 1024
 * ```
 */
export function outputCap(services: ProxyServices, context: CallContext): number {
  const widgetCap = context.widget.behaviour.maxOutputTokens ?? services.maxOutputTokens;
  const tokenLeft = context.outputTokensLeft ?? Number.POSITIVE_INFINITY;
  return Math.max(1, Math.min(widgetCap, services.maxOutputTokens, tokenLeft));
}

const summaryInstructions =
  'You keep a running summary of a conversation between a visitor and an assistant. ' +
  'Fold the new messages into the summary. Keep names, facts, preferences and open questions; drop small talk. ' +
  'Answer with the summary only.';

// A summary is an upstream call on the request's key, reserved and charged
// like the answer (`step.extra`); its client is needed only when one is due.
function summaryService(services: ProxyServices, step: UpstreamStep, model: string): SummaryService {
  const { widget } = step.context;
  return {
    get: (key) => services.summaries.get(widget, key),
    put: (key, summary) => services.summaries.put(widget, key, summary),
    async summarise(previous, turns, maxTokens) {
      const transcript = turns.map((turn) => `${turn.role === 'user' ? 'Visitor' : 'Assistant'}: ${turn.content}`).join('\n\n');
      const completion = await step.extra(
        model,
        1,
        (client) =>
          client.chat.completions.create({
            model,
            max_completion_tokens: maxTokens,
            messages: [
              { role: 'system', content: summaryInstructions },
              { role: 'user', content: `${previous ? `Summary so far:\n${previous}\n\n` : ''}New messages:\n${transcript}` },
            ],
          }),
        ({ usage }) => ({ inputTokens: usage?.prompt_tokens ?? 0, outputTokens: usage?.completion_tokens ?? 0 }),
      );
      return completion.choices[0]?.message.content?.trim() ?? previous ?? '';
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
 * return runProxyCall(request, services, chatCompletions);
 * ```
 */
export const chatCompletions: ProxyEndpoint = {
  async prepare(context, services) {
    const { widget, request } = context;
    if (widget.type !== 'chat') throw new AirlockError('input_invalid', 'This widget is not a chat widget.');
    const body = await readJsonObject(request, services.input.maxBodyBytes);
    const { messages, stream, model } = parseChatRequest(body, widget, services.input);
    const { behaviour } = widget;
    checkPromptFilter(behaviour.promptFilter, messages.map((message) => message.content));
    const maxOutputTokens = outputCap(services, context);
    return chatCall(services, {
      model,
      stream,
      maxOutputTokens,
      // Memory runs after the slot and reservation are taken: a summary is an upstream call too.
      messages: async (step) => {
        const memory = await applyMemory(messages, behaviour.memory, {
          model,
          systemPrompt: behaviour.systemPrompt,
          maxOutputTokens,
          widgetId: widget.id,
          summaries: summaryService(services, step, model),
        });
        const upstreamMessages: ChatCompletionMessageParam[] = [];
        if (behaviour.systemPrompt) upstreamMessages.push({ role: 'system', content: behaviour.systemPrompt });
        if (memory.summary) upstreamMessages.push(summaryMessage(memory.summary));
        upstreamMessages.push(...memory.turns);
        return upstreamMessages;
      },
    });
  },
};

/**
 * One chat call to make upstream; `messages` runs once the claim, stream slot and generations are held.
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
  messages: (step: UpstreamStep) => Promise<ChatCompletionMessageParam[]>;
}

const streamHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
};

/**
 * The upstream call of a chat answer, for the pipeline (`runProxyCall`):
 * one answer reserved, streamed through or answered as JSON, settled from
 * what came back. Shared by chat and text-completion widgets.
 *
 * @example
 * ```ts
 * return chatCall(services, { model, stream: true, maxOutputTokens: 512, messages: async () => messages });
 * ```
 */
export function chatCall(services: ProxyServices, chat: ChatCall): PreparedCall {
  return {
    model: chat.model,
    units: 1,
    spendsOutputTokens: true,
    async send(step) {
      const { widget, request, signal } = step.context;
      const messages = await chat.messages(step);
      // The visitor left while the memory was prepared (a summary takes a while): ask for no answer.
      signal.throwIfAborted();
      // `delivered`: the answer's text as the client got it, counted with the
      // tokenizer when the upstream reported no usage (some compatible servers
      // never do, and a stream cut short never gets that far).
      const finish = (usage: ReportedUsage | undefined, delivered: string, streamError?: AirlockError, cancelled = false) => {
        // An answer that reached the client is charged, whatever the upstream reported.
        const produced = delivered !== '' || (usage?.completion_tokens ?? 0) > 0;
        step.finish({
          delivered: produced ? 1 : 0,
          // A turn answered in full keeps its key; one that failed or whose client
          // went away (it did not get the answer) may be retried.
          answered: produced && !streamError && !cancelled,
          ...(streamError && { streamError }),
          ...((produced || usage?.prompt_tokens !== undefined) && { usage: answerUsage(usage, delivered, messages) }),
        });
      };
      const params: ChatCompletionCreateParamsBase = {
        model: chat.model,
        messages,
        max_completion_tokens: chat.maxOutputTokens,
        ...(widget.behaviour.temperature !== undefined && { temperature: widget.behaviour.temperature }),
      };
      if (!chat.stream) {
        const completion = await step.client.chat.completions.create({ ...params, stream: false }, { signal });
        finish(completion.usage ?? undefined, completion.choices[0]?.message.content ?? '');
        return json(completion);
      }
      // Aborted when the client disconnects, which aborts the upstream call;
      // once the answer streams, the relay stops it (the watchdog, the client gone).
      const upstreamResponse = await step.client.chat.completions
        .create({ ...params, stream: true, stream_options: { include_usage: true } }, { signal })
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
          const cancelled = error === 'cancelled';
          finish(meter.usage, meter.text ?? '', cancelled ? undefined : error, cancelled);
        },
      });
    },
  };
}

// The tokens of an answer: as the upstream reported them, else counted from
// the delivered text and the prompt.
function answerUsage(
  usage: ReportedUsage | undefined,
  delivered: string,
  messages: ChatCompletionMessageParam[],
): MeteredUsage | Promise<MeteredUsage> {
  const reported = usage?.completion_tokens;
  const outputKnown = reported !== undefined && (reported > 0 || delivered === '');
  if (outputKnown && usage?.prompt_tokens !== undefined) return { inputTokens: usage.prompt_tokens, outputTokens: reported };
  const prompt = messages.map((message) => ({ role: 'user' as const, content: String(message.content ?? '') }));
  return Promise.all([outputKnown ? reported : countText(delivered), usage?.prompt_tokens ?? countTurnTokens(prompt)]).then(
    ([outputTokens, inputTokens]) => ({ inputTokens, outputTokens }),
  );
}

// Output tokens of a delivered answer, at least one.
async function countText(text: string): Promise<number> {
  if (text === '') return 0;
  return Math.max(1, (await tokenCounter())(text));
}
