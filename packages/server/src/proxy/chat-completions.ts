import type { ChatCompletion, ChatCompletionCreateParamsBase, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { AnswerSource } from '@airlock/protocol';
import { AirlockError } from '../errors.js';
import { pipesResponses } from '../http/request-parts.js';
import { json, readJsonObject } from '../http/responses.js';
import { answerSources, referenceMessage, withinBudget } from '../knowledge/retrieval.js';
import { searchQueryFor } from '../knowledge/search-query.js';
import type { CallContext, MeteredUsage, PreparedCall, ProxyEndpoint, UpstreamStep } from './call.js';
import { parseChatRequest, type ChatRequest } from './chat-request.js';
import { applyMemory, countTurnTokens, summaryMessage, tokenCounter, type SummaryService } from './memory.js';
import { checkPromptFilter } from './prompt-filter.js';
import type { ProxyServices } from './proxy-services.js';
import { sseResponse, type ReportedUsage } from './sse-pass-through.js';

export { defaultChatInputLimits, type ChatInputLimits } from './proxy-services.js';
export { chooseModel, clientInstructionsRefused, modelRefused, parseChatRequest, type ChatRequest } from './chat-request.js';

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
 * through (or answers OpenAI's JSON when `stream` is not set). The usage
 * chunk reaches the client only when it asked (`stream_options.include_usage`).
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
    const { includeUsage, ...chat } = parseChatRequest(body, widget, services.input);
    return answerChat(services, context, chat, { clientUsage: includeUsage });
  },
};

/**
 * How a chat answer reaches the client when the endpoint does not speak
 * chat completions itself (the Responses API, the UI message stream).
 * Without one, the upstream's stream and JSON go through as they are.
 */
export interface AnswerOutput {
  /** Whether the client gets the upstream's usage chunk (chat completions: when it asked). Default: `true`. */
  clientUsage?: boolean;
  /**
   * Turns the relayed chat SSE (Airlock's error event included) into the
   * endpoint's stream, sent with `headers`; `sources` are the passages the
   * model was given.
   */
  stream?: { headers: ResponseInit['headers']; transform(sources: AnswerSource[]): TransformStream<Uint8Array, Uint8Array> };
  /** Turns a chat completion into the endpoint's JSON body. */
  json?(completion: ChatCompletion, sources: AnswerSource[]): unknown;
}

/** Most tokens of reference material given to the model per answer. */
const knowledgeTokens = 3_000;

/**
 * The widget's knowledge for this turn: the passages retrieved for the
 * conversation's question (the widget's `vectorCount`, within the token
 * budget), as the system message that hands them to the model and as the
 * sources the answer reports. The question's embedding is made with the
 * call's key, its tokens metered.
 */
async function retrieveKnowledge(services: ProxyServices, step: UpstreamStep, chat: ChatRequest): Promise<{ reference?: string; sources: AnswerSource[] }> {
  const { widget } = step.context;
  const knowledge = services.knowledge;
  const vectorCount = widget.behaviour.vectorCount ?? 5;
  if (!knowledge || vectorCount === 0) return { sources: [] };
  const { query } = searchQueryFor(chat.turns);
  const hits = await knowledge.search(widget, query, vectorCount, services.embedQuestion && ((text) => services.embedQuestion!(step, text)));
  const given = withinBudget(
    hits.map((hit) => hit.passage),
    knowledgeTokens,
  );
  if (given.length === 0) return { sources: [] };
  return { reference: referenceMessage(given), sources: answerSources(given) };
}

/**
 * The upstream call that answers a conversation for a chat widget, shared
 * by every chat-shaped endpoint: the prompt filter over the visitor's text
 * and the client's instructions, the output cap, the widget's system prompt
 * first, then the client's instructions (when allowed), then the memory's
 * summary and turns.
 *
 * @example
 * ```ts
 * return answerChat(services, context, { turns, clientInstructions: [], model, stream: true });
 * ```
 */
export function answerChat(services: ProxyServices, context: CallContext, chat: ChatRequest, output: AnswerOutput = {}): PreparedCall {
  const { widget } = context;
  const { behaviour } = widget;
  checkPromptFilter(behaviour.promptFilter, [...chat.clientInstructions, ...chat.turns.map((turn) => turn.content)]);
  const maxOutputTokens = outputCap(services, context);
  const instructions = [behaviour.systemPrompt, ...chat.clientInstructions].filter((text): text is string => Boolean(text));
  return chatCall(services, {
    model: chat.model,
    stream: chat.stream,
    maxOutputTokens,
    output,
    // Retrieval and memory run after the slot and reservation are taken: the
    // question's embedding and a summary are upstream calls too.
    messages: async (step) => {
      const { reference, sources } = await retrieveKnowledge(services, step, chat);
      const system = reference === undefined ? instructions : [...instructions, reference];
      const memory = await applyMemory(chat.turns, behaviour.memory, {
        model: chat.model,
        systemPrompt: system.join('\n\n'),
        maxOutputTokens,
        widgetId: widget.id,
        summaries: summaryService(services, step, chat.model),
      });
      const messages: ChatCompletionMessageParam[] = system.map((content) => ({ role: 'system', content }));
      if (memory.summary) messages.push(summaryMessage(memory.summary));
      messages.push(...memory.turns);
      return { messages, sources };
    },
  });
}

/**
 * One chat call to make upstream; `messages` runs once the claim, stream slot and generations are held.
 */
export interface ChatCall {
  model: string;
  stream: boolean;
  maxOutputTokens: number;
  /** The messages to send, and the sources the answer reports (the knowledge passages among them). */
  messages: (step: UpstreamStep) => Promise<{ messages: ChatCompletionMessageParam[]; sources?: AnswerSource[] }>;
  /** How the answer reaches the client. Default: chat completions as the upstream sent them. */
  output?: AnswerOutput;
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
 * return chatCall(services, { model, stream: true, maxOutputTokens: 512, messages: async () => ({ messages }) });
 * ```
 */
export function chatCall(services: ProxyServices, chat: ChatCall): PreparedCall {
  return {
    model: chat.model,
    units: 1,
    spendsOutputTokens: true,
    async send(step) {
      const { widget, request, signal } = step.context;
      const output = chat.output ?? {};
      const { messages, sources = [] } = await chat.messages(step);
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
      const { apiKey } = step.key;
      if (!chat.stream) {
        const completion = await services.upstream.postJson<ChatCompletion>(apiKey, '/chat/completions', params, signal);
        finish(completion.usage ?? undefined, completion.choices[0]?.message.content ?? '');
        if (output.json) return json(output.json(completion, sources));
        return json(sources.length > 0 ? { ...completion, airlock_sources: sources } : completion);
      }
      // Aborted when the client disconnects, which aborts the upstream call;
      // once the answer streams, the relay stops it (the watchdog, the client gone).
      const reply = await services.upstream.post(apiKey, '/chat/completions', { ...params, stream: true, stream_options: { include_usage: true } }, signal);
      const settings = services.upstream.settings;
      const translated = output.stream;
      const relayed = sseResponse(reply.body, streamHeaders, {
        firstChunkTimeoutMs: settings.firstChunkTimeoutMs,
        idleTimeoutMs: settings.idleTimeoutMs,
        heartbeatIntervalMs: settings.heartbeatIntervalMs,
        clientBufferBytes: settings.clientBufferBytes,
        slowClientTimeoutMs: settings.slowClientTimeoutMs,
        // A translated stream is read as a Web stream, whatever the adapter.
        webBody: translated !== undefined || !pipesResponses(request),
        clientUsage: output.clientUsage ?? true,
        // Chat completions reports its sources on the first chunk; other shapes in their own way.
        ...(!translated && sources.length > 0 && { firstChunkFields: { airlock_sources: sources } }),
        onEnd(meter, error) {
          const cancelled = error === 'cancelled';
          finish(meter.usage, meter.text ?? '', cancelled ? undefined : error, cancelled);
        },
      });
      if (!translated) return relayed;
      return new Response(relayed.body!.pipeThrough(translated.transform(sources)), { status: 200, headers: translated.headers });
    },
  };
}

// The tokens of an answer: as the upstream reported them, else counted from
// the delivered text and the prompt.
function answerUsage(usage: ReportedUsage | undefined, delivered: string, messages: ChatCompletionMessageParam[]): MeteredUsage | Promise<MeteredUsage> {
  const reported = usage?.completion_tokens;
  const outputKnown = reported !== undefined && (reported > 0 || delivered === '');
  if (outputKnown && usage?.prompt_tokens !== undefined) return { inputTokens: usage.prompt_tokens, outputTokens: reported };
  const prompt = messages.map((message) => ({ role: 'user' as const, content: String(message.content ?? '') }));
  return Promise.all([outputKnown ? reported : countText(delivered), usage?.prompt_tokens ?? countTurnTokens(prompt)]).then(([outputTokens, inputTokens]) => ({
    inputTokens,
    outputTokens,
  }));
}

// Output tokens of a delivered answer, at least one.
async function countText(text: string): Promise<number> {
  if (text === '') return 0;
  return Math.max(1, (await tokenCounter())(text));
}
