import { invalid } from '../../errors.js';
import type { WidgetRecord } from '../../stores/store.js';
import { checkMessageLength, chooseModel, clientInstructionsRefused } from '../chat-request.js';
import type { ChatTurn } from '../memory.js';
import type { ChatInputLimits } from '../proxy-services.js';

/** What a client's `POST /v1/responses` asks for, in the chat handler's terms. */
export interface ResponsesRequest {
  /** The conversation, oldest first, ending with the visitor's turn. */
  turns: ChatTurn[];
  stream: boolean;
  /** The widget's model, or one of its allowed models the client named. */
  model: string;
  /**
   * The client's own instructions (its `instructions` field, then its
   * `system`/`developer` items, in order), present only when
   * {@link ParseResponsesOptions.allowClientInstructions} is on. They go
   * after the widget's system prompt and never replace it.
   */
  clientInstructions: string[];
}

/** Options of {@link parseResponsesRequest}. */
export interface ParseResponsesOptions {
  /**
   * Whether the widget accepts instructions from the client (`instructions`,
   * `system` and `developer` items). Default: `false` (refused, with an error
   * naming {@link ParseResponsesOptions.instructionsSetting}).
   */
  allowClientInstructions?: boolean;
  /** The widget setting named in the refusal of client instructions. Default: `'allowClientInstructions'`. */
  instructionsSetting?: string;
}

// Fields the server decides (model settings, caps, storage) or that change
// nothing for a text answer: accepted and not passed on, as chat does with
// its sampling fields. Responses are never stored upstream (`store: false`).
const ignoredFields = new Set([
  'temperature',
  'top_p',
  'max_output_tokens',
  'metadata',
  'user',
  'safety_identifier',
  'prompt_cache_key',
  'prompt_cache_retention',
  'service_tier',
  'truncation',
  'store',
  'parallel_tool_calls',
  'stream_options',
]);

// Fields whose meaning a widget cannot honour: refused by name rather than dropped silently.
const refusedFields: Record<string, string> = {
  previous_response_id:
    '"previous_response_id" is not supported: responses are not stored. Send the conversation so far in "input" (earlier answers as assistant messages).',
  conversation: '"conversation" is not supported: responses are not stored. Send the conversation so far in "input".',
  background: '"background" is not supported by this widget.',
  prompt: '"prompt" (stored prompt templates) is not supported: the widget\u2019s system prompt is set on the server.',
  reasoning: '"reasoning" is not supported by this widget: the server sets the model\u2019s settings.',
  max_tool_calls: '"max_tool_calls" is not supported by this widget: it allows no tools.',
  top_logprobs: '"top_logprobs" is not supported by this widget.',
  context_management: '"context_management" is not supported by this widget.',
};

/**
 * Checks a client's `POST /v1/responses` body and reads it into the turns
 * the chat handler sends upstream. `input` is a string (one visitor turn) or
 * a list of message items (`{role, content}` with `type: 'message'` or none)
 * whose content is a string or `input_text` parts (`output_text` parts for
 * earlier assistant answers); several text parts of one message are joined
 * with a newline. Tools, file, image and audio inputs, item types other than
 * messages, `previous_response_id` and fields this endpoint does not know
 * are refused by name (`input_invalid`); sampling fields, caps and `store`
 * are ignored: the server decides them, and nothing is stored upstream.
 *
 * @example
 * ```ts
 * const { turns, stream, model } = parseResponsesRequest({ input: 'Hello', stream: true }, widget, defaultChatInputLimits);
 * // turns: [{ role: 'user', content: 'Hello' }]
 * ```
 */
export function parseResponsesRequest(
  body: Record<string, unknown>,
  widget: WidgetRecord,
  limits: ChatInputLimits,
  options: ParseResponsesOptions = {},
): ResponsesRequest {
  for (const [name, value] of Object.entries(body)) {
    if (name === 'model' || name === 'input' || name === 'stream' || name === 'instructions' || ignoredFields.has(name)) continue;
    if (value === undefined || value === null) continue;
    if (name in refusedFields) throw invalid(refusedFields[name]!);
    if (name === 'tools') {
      if (Array.isArray(value) && value.length === 0) continue;
      throw invalid('"tools" are not supported by this widget.');
    }
    if (name === 'tool_choice') {
      if (value === 'none' || value === 'auto') continue;
      throw invalid('"tool_choice" is not supported by this widget: it allows no tools.');
    }
    if (name === 'include') {
      if (Array.isArray(value) && value.length === 0) continue;
      throw invalid('"include" is not supported by this widget.');
    }
    if (name === 'text') {
      checkTextConfig(value);
      continue;
    }
    throw invalid(`"${name}" is not supported by this endpoint.`);
  }
  const { stream, instructions } = body;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') throw invalid('"stream" must be true or false.');
  const model = chooseModel(widget, body.model);
  const clientInstructions: string[] = [];
  const refuseInstructions = (where: string): never => {
    throw clientInstructionsRefused(where, options.instructionsSetting);
  };
  if (instructions !== undefined && instructions !== null) {
    if (typeof instructions !== 'string') throw invalid('"instructions" must be a string.');
    if (!options.allowClientInstructions) refuseInstructions('"instructions"');
    if (instructions.length > limits.maxMessageChars) throw invalid(`"instructions" may be at most ${limits.maxMessageChars} characters long.`);
    clientInstructions.push(instructions);
  }
  const turns: ChatTurn[] = [];
  const input = body.input;
  if (typeof input === 'string') {
    turns.push({ role: 'user', content: checkMessageLength(input, limits) });
  } else if (Array.isArray(input)) {
    if (input.length > limits.maxMessages) throw invalid(`At most ${limits.maxMessages} input items may be sent at once.`);
    input.forEach((item: unknown, index) => {
      const { role, content, text } = readMessageItem(item, index);
      if (role === 'system' || role === 'developer') {
        if (!options.allowClientInstructions) refuseInstructions(`a "${role}" message`);
        clientInstructions.push(checkMessageLength(text ?? readParts(content, role, index), limits));
        return;
      }
      turns.push({ role, content: checkMessageLength(text ?? readParts(content, role, index), limits) });
    });
  } else {
    throw invalid('"input" must be a string or an array of message items.');
  }
  if (turns.length === 0) throw invalid('"input" needs at least one user message.');
  if (turns.at(-1)!.role !== 'user') throw invalid('The last input message must be the visitor\u2019s ("role": "user").');
  return { turns, stream: stream === true, model, clientInstructions };
}

type ItemRole = 'user' | 'assistant' | 'system' | 'developer';

function readMessageItem(item: unknown, index: number): { role: ItemRole; content: unknown; text?: string } {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw invalid(`input[${index}] must be a message item.`);
  const { type, role, content } = item as Record<string, unknown>;
  if (type !== undefined && type !== 'message') {
    throw invalid(`input[${index}]: items of type "${String(type).slice(0, 64)}" are not supported; send message items with text.`);
  }
  if (role !== 'user' && role !== 'assistant' && role !== 'system' && role !== 'developer') {
    throw invalid(`input[${index}]: "role" must be "user" or "assistant".`);
  }
  if (typeof content === 'string') return { role, content, text: content };
  if (!Array.isArray(content) || content.length === 0) throw invalid(`input[${index}]: "content" must be a string or a non-empty array of text parts.`);
  return { role, content };
}

function readParts(content: unknown, role: ItemRole, index: number): string {
  const textType = role === 'assistant' ? 'output_text' : 'input_text';
  const texts = (content as unknown[]).map((part: unknown, partIndex) => {
    const { type, text } = (typeof part === 'object' && part !== null ? part : {}) as Record<string, unknown>;
    if (type === textType || (role === 'assistant' && type === 'input_text')) {
      if (typeof text !== 'string') throw invalid(`input[${index}].content[${partIndex}] needs a string "text".`);
      return text;
    }
    if (typeof type === 'string') {
      throw invalid(`input[${index}].content[${partIndex}]: "${type.slice(0, 64)}" parts are not supported by this widget; send "${textType}" parts.`);
    }
    throw invalid(`input[${index}].content[${partIndex}] must be a part with a "type".`);
  });
  return texts.join('\n');
}

function checkTextConfig(value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('"text" must be an object.');
  const { format } = value as Record<string, unknown>;
  if (format === undefined || format === null) return;
  const type = typeof format === 'object' ? (format as Record<string, unknown>).type : undefined;
  if (type !== 'text') throw invalid('"text.format" may only be {"type": "text"}: structured output is not supported by this widget.');
}
