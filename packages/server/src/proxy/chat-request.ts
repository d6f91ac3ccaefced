import { AirlockError, invalid } from '../errors.js';
import type { WidgetRecord } from '../stores/store.js';
import type { ChatTurn } from './memory.js';
import type { ChatInputLimits } from './proxy-services.js';

/**
 * A conversation to answer, as every chat-shaped endpoint (chat
 * completions, the Responses API, the UI message stream) reads it from its
 * own body.
 */
export interface ChatRequest {
  /** The conversation, oldest first, ending with the visitor's turn. */
  turns: ChatTurn[];
  /** The client's own instructions, accepted only when the widget allows them; sent after the widget's system prompt. */
  clientInstructions: string[];
  /** The widget's model, or one of its allowed models the client named. */
  model: string;
  stream: boolean;
}

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
 * The refusal of instructions a client sent (`where`: which field or
 * message) to a widget that does not accept them, naming the setting that
 * would (`setting`, default `allowClientInstructions`).
 *
 * @example
 * ```ts
 * throw clientInstructionsRefused('a "system" message');
 * ```
 */
export function clientInstructionsRefused(where: string, setting = 'allowClientInstructions'): AirlockError {
  return new AirlockError(
    'input_invalid',
    `This widget does not accept instructions from the client (${where}); its system prompt is set on the server. The widget setting "${setting}" allows them.`,
  );
}

/**
 * Checks a client's `POST /v1/chat/completions` body. `user` and
 * `assistant` messages carry text: a string or an array of
 * `{type: "text", text}` parts (joined with a newline); other part types are
 * refused by name. A `system` or `developer` message is the client's own
 * instruction, refused unless the widget sets `allowClientInstructions`.
 * Sampling fields the client sends (temperature, max_tokens, tools, …) are
 * ignored: the widget's behaviour decides them. `includeUsage` says whether
 * the client asked for the usage chunk (`stream_options.include_usage`).
 *
 * @example
 * ```ts
 * const { turns, stream, model } = parseChatRequest(body, widget, defaultChatInputLimits);
 * ```
 */
export function parseChatRequest(body: Record<string, unknown>, widget: WidgetRecord, limits: ChatInputLimits): ChatRequest & { includeUsage: boolean } {
  const { messages, stream } = body;
  const model = chooseModel(widget, body.model);
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') throw invalid('"stream" must be true or false.');
  const includeUsage = readStreamOptions(body.stream_options);
  if (!Array.isArray(messages) || messages.length === 0) throw invalid('"messages" must be a non-empty array.');
  if (messages.length > limits.maxMessages) throw invalid(`At most ${limits.maxMessages} messages may be sent at once.`);
  const turns: ChatTurn[] = [];
  const clientInstructions: string[] = [];
  messages.forEach((message: unknown, index) => {
    const { role, content } = (typeof message === 'object' && message !== null ? message : {}) as Record<string, unknown>;
    if (role === 'system' || role === 'developer') {
      if (widget.behaviour.allowClientInstructions !== true) throw clientInstructionsRefused(`a "${role}" message`);
      clientInstructions.push(checkMessageLength(messageText(content, index), limits));
      return;
    }
    if (role !== 'user' && role !== 'assistant') throw invalid('Only "user" and "assistant" messages are accepted.');
    turns.push({ role, content: checkMessageLength(messageText(content, index), limits) });
  });
  if (turns.length === 0 || turns.at(-1)!.role !== 'user') throw invalid('The last message must be the visitor\u2019s.');
  return { turns, clientInstructions, stream: stream === true, model, includeUsage };
}

function readStreamOptions(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid('"stream_options" must be an object.');
  const includeUsage = (value as Record<string, unknown>).include_usage;
  if (includeUsage !== undefined && includeUsage !== null && typeof includeUsage !== 'boolean') {
    throw invalid('"stream_options.include_usage" must be true or false.');
  }
  return includeUsage === true;
}

// A message's text: a string, or text parts joined with a newline.
function messageText(content: unknown, index: number): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content) || content.length === 0) throw invalid('Each message needs text "content".');
  return content
    .map((part: unknown, partIndex) => {
      const { type, text } = (typeof part === 'object' && part !== null ? part : {}) as Record<string, unknown>;
      if (type === 'text') {
        if (typeof text !== 'string') throw invalid(`messages[${index}].content[${partIndex}] needs a string "text".`);
        return text;
      }
      if (typeof type === 'string') {
        throw invalid(`messages[${index}].content[${partIndex}]: "${type.slice(0, 64)}" parts are not supported by this widget; send "text" parts.`);
      }
      throw invalid(`messages[${index}].content[${partIndex}] must be a part with a "type".`);
    })
    .join('\n');
}

/**
 * `text`, when it is within a message's length limit; `input_invalid` otherwise.
 *
 * @example
 * ```ts
 * turns.push({ role: 'user', content: checkMessageLength(text, limits) });
 * ```
 */
export function checkMessageLength(text: string, limits: ChatInputLimits): string {
  if (text.length > limits.maxMessageChars) throw invalid(`A message may be at most ${limits.maxMessageChars} characters long.`);
  return text;
}
