import { invalid } from '../../errors.js';
import type { WidgetRecord } from '../../stores/store.js';
import { checkMessageLength, chooseModel, clientInstructionsRefused } from '../chat-request.js';
import type { ChatTurn } from '../memory.js';
import type { ChatInputLimits } from '../proxy-services.js';

/**
 * What a client's `POST /v1/ui/chat` (the AI SDK's `useChat`) asks for, in
 * the chat handler's terms.
 *
 * @example
 * ```ts
 * const request: UIChatRequest = {
 *   turns: [{ role: 'user', content: 'Hello' }],
 *   model: 'gpt-4o-mini',
 *   clientInstructions: [],
 *   chatId: 'Zq3k9xB1',
 *   trigger: 'submit-message',
 * };
 * ```
 */
export interface UIChatRequest {
  /** The conversation, oldest first, ending with the visitor's turn. */
  turns: ChatTurn[];
  /** The widget's model, or one of its allowed models the client named (`model` in the body). */
  model: string;
  /**
   * The text of the client's `system` messages, in order, present only when
   * {@link ParseUIChatOptions.allowClientInstructions} is on. They go after
   * the widget's system prompt and never replace it.
   */
  clientInstructions: string[];
  /** The chat's id (`id`, the `useChat` id), when the client sent one. Unchecked beyond its type. */
  chatId?: string;
  /**
   * `'submit-message'` (a new visitor turn) or `'regenerate-message'` (the
   * last answer again: the transport has already left it out of `messages`).
   */
  trigger: 'submit-message' | 'regenerate-message';
  /** The message the trigger is about (an edited visitor turn, or the answer being regenerated), when the client named one. */
  messageId?: string;
}

/**
 * Options of {@link parseUIChatRequest}.
 */
export interface ParseUIChatOptions {
  /**
   * Whether the widget accepts instructions from the client (`system`
   * messages). Default: `false` (refused, with an error naming
   * {@link ParseUIChatOptions.instructionsSetting}).
   */
  allowClientInstructions?: boolean;
  /** The widget setting named in the refusal of client instructions. Default: `'allowClientInstructions'`. */
  instructionsSetting?: string;
}

// The fields DefaultChatTransport writes itself, besides `messages`.
const transportFields = new Set(['id', 'trigger', 'messageId']);

// Parts the SDK keeps on an answer it streamed (its steps, the model's
// reasoning, the sources it cited): they record the earlier answer, not
// what was said, so only its text goes upstream.
const answerBookkeeping = new Set(['step-start', 'reasoning', 'reasoning-file', 'source-url', 'source-document']);

/**
 * Checks the body the AI SDK's `DefaultChatTransport` (`ai` 7, as `useChat`
 * uses it) POSTs, `{ ...body, id, messages, trigger, messageId }`, and reads
 * its UIMessages (`{ id, role, parts }`) into the turns the chat handler
 * sends upstream. The `text` parts of a message are its content, joined
 * with a newline; an answer's `step-start`, `reasoning`, `reasoning-file`,
 * `source-url` and `source-document` parts are the SDK's record of how it
 * was streamed and are skipped, as is an earlier answer with no text at
 * all (one that failed before its first word). A message's `id` and
 * `metadata` are not read. `system` messages are client instructions:
 * refused unless the widget allows them, naming the setting.
 *
 * Refused by name (`input_invalid`): `file` parts, tool parts (`tool-*`,
 * `dynamic-tool`), `data-*` parts and any other part type; messages without
 * `parts` (the AI SDK 4 and chat-completions shape); more messages or
 * longer ones than the chat limits allow; a conversation not ending with
 * the visitor's turn.
 *
 * Top level: `messages`, `id`, `trigger` and `messageId` are the
 * transport's own; `model` picks one of the widget's models, as on chat.
 * Any other field (what an app adds with `useChat({ body })` or
 * `sendMessage(…, { body })`) is refused by name rather than dropped,
 * because this endpoint would do nothing with it and the developer should
 * know; a field set to `null` is skipped.
 *
 * @example
 * ```ts
 * const { turns, model, clientInstructions } = parseUIChatRequest(
 *   { id: 'chat-1', trigger: 'submit-message', messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text: 'Hello' }] }] },
 *   widget,
 *   defaultChatInputLimits,
 * );
 * // turns: [{ role: 'user', content: 'Hello' }]
 * ```
 */
export function parseUIChatRequest(
  body: Record<string, unknown>,
  widget: WidgetRecord,
  limits: ChatInputLimits,
  options: ParseUIChatOptions = {},
): UIChatRequest {
  for (const [name, value] of Object.entries(body)) {
    if (name === 'messages' || name === 'model' || transportFields.has(name)) continue;
    if (value === undefined || value === null) continue;
    throw invalid(`"${name.slice(0, 64)}" is not supported by this endpoint.`);
  }
  const { id, trigger, messageId, messages } = body;
  if (id !== undefined && id !== null && typeof id !== 'string') throw invalid('"id" must be a string.');
  if (trigger !== undefined && trigger !== null && trigger !== 'submit-message' && trigger !== 'regenerate-message') {
    throw invalid('"trigger" must be "submit-message" or "regenerate-message".');
  }
  if (messageId !== undefined && messageId !== null && typeof messageId !== 'string') throw invalid('"messageId" must be a string.');
  const model = chooseModel(widget, body.model);
  if (!Array.isArray(messages) || messages.length === 0) throw invalid('"messages" must be a non-empty array of UI messages.');
  if (messages.length > limits.maxMessages) throw invalid(`At most ${limits.maxMessages} messages may be sent at once.`);

  const turns: ChatTurn[] = [];
  const clientInstructions: string[] = [];
  messages.forEach((message: unknown, index) => {
    const { role, parts } = readMessage(message, index);
    const texts = readTexts(parts, role, index);
    if (role === 'system') {
      if (!options.allowClientInstructions) {
        throw clientInstructionsRefused('a "system" message', options.instructionsSetting);
      }
      clientInstructions.push(checkMessageLength(texts.join('\n'), limits));
      return;
    }
    if (texts.length === 0) {
      if (role === 'assistant') return;
      throw invalid(`messages[${index}]: a "user" message needs a text part.`);
    }
    turns.push({ role, content: checkMessageLength(texts.join('\n'), limits) });
  });
  if (turns.at(-1)?.role !== 'user') throw invalid('The last message must be the visitor\u2019s ("role": "user").');
  return {
    turns,
    model,
    clientInstructions,
    chatId: typeof id === 'string' ? id : undefined,
    trigger: trigger === 'regenerate-message' ? 'regenerate-message' : 'submit-message',
    messageId: typeof messageId === 'string' ? messageId : undefined,
  };
}

type MessageRole = 'system' | 'user' | 'assistant';

function readMessage(message: unknown, index: number): { role: MessageRole; parts: unknown[] } {
  if (typeof message !== 'object' || message === null || Array.isArray(message))
    throw invalid(`messages[${index}] must be a UI message ({ id, role, parts }).`);
  const { role, parts } = message as Record<string, unknown>;
  if (role !== 'user' && role !== 'assistant' && role !== 'system') throw invalid(`messages[${index}]: "role" must be "user" or "assistant".`);
  if (!Array.isArray(parts)) throw invalid(`messages[${index}] needs "parts", an array of message parts (the AI SDK 5+ UIMessage shape).`);
  return { role, parts };
}

function readTexts(parts: unknown[], role: MessageRole, index: number): string[] {
  const texts: string[] = [];
  parts.forEach((part: unknown, partIndex) => {
    const where = `messages[${index}].parts[${partIndex}]`;
    const { type, text } = (typeof part === 'object' && part !== null ? part : {}) as Record<string, unknown>;
    if (typeof type !== 'string') throw invalid(`${where} must be a part with a "type".`);
    if (type === 'text') {
      if (typeof text !== 'string') throw invalid(`${where} needs a string "text".`);
      texts.push(text);
      return;
    }
    if (answerBookkeeping.has(type)) {
      if (role === 'assistant') return;
      throw invalid(`${where}: "${type}" parts are not supported in a "${role}" message.`);
    }
    throw invalid(`${where}: ${refusedPart(type.slice(0, 64))}`);
  });
  return texts;
}

function refusedPart(type: string): string {
  if (type === 'file') return '"file" parts (attachments) are not supported by this widget; send text parts.';
  if (type === 'dynamic-tool' || type.startsWith('tool-')) return `"${type}" parts (tool calls) are not supported by this widget: it allows no tools.`;
  if (type.startsWith('data-')) return `"${type}" parts (custom data) are not supported by this widget.`;
  return `"${type}" parts are not supported by this widget; send text parts.`;
}
