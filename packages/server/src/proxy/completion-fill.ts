import type { WidgetInput } from '@airlock/protocol';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { AirlockError } from '../errors.js';
import { readJsonObject } from '../http/responses.js';
import type { WidgetBehaviour } from '../stores/store.js';
import type { ProxyEndpoint } from './call.js';
import { chatCall, outputCap } from './chat-completions.js';
import { checkPromptFilter } from './prompt-filter.js';

/** Longest text input when the widget sets no `maxLength`. */
const defaultInputChars = 2_000;

/**
 * Checks the visitor's inputs against the widget's declared inputs: no
 * undeclared names, required ones present, text within its length, numbers
 * finite, a `select` one of its options. Returns each value as text.
 *
 * @example
 * ```ts
 * validateInputs([{ name: 'topic', label: 'Topic', type: 'text', required: true }], { topic: 'tides' }, 16_000); // { topic: 'tides' }
 * ```
 */
export function validateInputs(declared: readonly WidgetInput[], given: unknown, maxChars: number): Record<string, string> {
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new AirlockError('input_invalid', '"inputs" must be an object of named values.');
  }
  const values = given as Record<string, unknown>;
  const names = new Set(declared.map((input) => input.name));
  for (const name of Object.keys(values)) {
    // The name is the visitor's text: never repeated in an answer (it could be markup, or someone else's words).
    if (!names.has(name)) throw new AirlockError('input_invalid', '"inputs" holds a name that is not an input of this widget.');
  }
  const result: Record<string, string> = {};
  for (const input of declared) {
    const raw = values[input.name];
    if (raw === undefined || raw === null || raw === '') {
      if (input.required) throw new AirlockError('input_invalid', `"${input.label || input.name}" is required.`);
      result[input.name] = '';
      continue;
    }
    switch (input.type) {
      case 'number': {
        const value = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
        if (!Number.isFinite(value)) throw new AirlockError('input_invalid', `"${input.label || input.name}" must be a number.`);
        result[input.name] = String(value);
        break;
      }
      case 'select':
        if (typeof raw !== 'string' || !(input.options ?? []).includes(raw)) {
          throw new AirlockError('input_invalid', `"${input.label || input.name}" must be one of its options.`);
        }
        result[input.name] = raw;
        break;
      default: {
        if (typeof raw !== 'string') throw new AirlockError('input_invalid', `"${input.label || input.name}" must be text.`);
        const max = Math.min(input.maxLength ?? defaultInputChars, maxChars);
        if (raw.length > max) throw new AirlockError('input_invalid', `"${input.label || input.name}" may be at most ${max} characters long.`);
        result[input.name] = raw;
      }
    }
  }
  return result;
}

/**
 * Fills a prompt template: `{{name}}` becomes the input's value, and
 * `{{date}}`, `{{time}}` and `{{datetime}}` the current date and time in
 * the widget's time zone. One pass, so a value containing `{{…}}` is never
 * expanded again. Unknown placeholders are left as they are.
 *
 * @example
 * ```ts
 * fillTemplate('Write about {{topic}} on {{date}}.', { topic: 'tides' }, new Date(), 'UTC'); // 'Write about tides on 2026-11-27.'
 * ```
 */
export function fillTemplate(template: string, values: Record<string, string>, now: Date, timeZone = 'UTC'): string {
  let zone = timeZone;
  try {
    new Intl.DateTimeFormat('en-CA', { timeZone: zone });
  } catch {
    zone = 'UTC';
  }
  const date = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  const time = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(now);
  const builtIn: Record<string, string> = { date, time, datetime: `${date} ${time} (${zone})` };
  return template.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (whole, name: string) =>
    Object.hasOwn(values, name) ? values[name]! : Object.hasOwn(builtIn, name) ? builtIn[name]! : whole,
  );
}

function completionPrompt(behaviour: WidgetBehaviour, values: Record<string, string>, now: Date): ChatCompletionMessageParam[] {
  if (!behaviour.promptTemplate) throw new AirlockError('internal', 'This widget has no prompt template.');
  const messages: ChatCompletionMessageParam[] = [];
  if (behaviour.systemPrompt) messages.push({ role: 'system', content: behaviour.systemPrompt });
  messages.push({ role: 'user', content: fillTemplate(behaviour.promptTemplate, values, now, behaviour.timeZone) });
  return messages;
}

/**
 * `POST /v1/completions/fill` for text-completion widgets. Body:
 * `{ "inputs": { "<name>": value, … }, "stream": true }`. The server checks
 * the inputs, fills the widget's template (which never reaches the browser)
 * and answers exactly as `/v1/chat/completions` does: OpenAI's
 * `chat.completion` JSON, or its SSE chunks when `stream` is true.
 *
 * @example
 * ```ts
 * return runProxyCall(request, services, completionFill);
 * ```
 */
export const completionFill: ProxyEndpoint = {
  async prepare(context, services) {
    const { widget, request } = context;
    if (widget.type !== 'completion') throw new AirlockError('input_invalid', 'This widget is not a text-completion widget.');
    const body = await readJsonObject(request, services.input.maxBodyBytes);
    if (body.stream !== undefined && typeof body.stream !== 'boolean') throw new AirlockError('input_invalid', '"stream" must be true or false.');
    const values = validateInputs(widget.behaviour.inputs ?? [], body.inputs ?? {}, services.input.maxMessageChars);
    checkPromptFilter(widget.behaviour.promptFilter, Object.values(values));
    const messages = completionPrompt(widget.behaviour, values, services.now());
    return chatCall(services, {
      model: widget.behaviour.model,
      stream: body.stream === true,
      maxOutputTokens: outputCap(services, context),
      messages: async () => ({ messages }),
    });
  },
};
