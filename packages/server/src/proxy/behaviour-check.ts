import type { WidgetType } from '@airlock/protocol';
import { AirlockError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { WidgetBehaviour, WidgetRecord } from '../stores/store.js';
// The blocked list's bounds are the prompt filter's: what it is built and measured for.
import { maxBlockedBytes, maxBlockedEntries, maxBlockedEntryLength } from './prompt-filter.js';

const strategies = ['standard', 'recent-context', 'limited-recall', 'tokenized-summary'];
const inputTypes = ['text', 'textarea', 'number', 'select'];
const behaviourFields = new Set([
  'model',
  'allowedModels',
  'systemPrompt',
  'allowClientInstructions',
  'vectorCount',
  'temperature',
  'maxOutputTokens',
  'promptFilter',
  'memory',
  'promptTemplate',
  'inputs',
  'timeZone',
  'image',
]);
const memoryFields: Record<string, readonly string[]> = {
  standard: [],
  'recent-context': ['messages'],
  'limited-recall': ['messages'],
  'tokenized-summary': ['budgetTokens', 'summaryMaxTokens'],
};
const inputFields = new Set(['name', 'label', 'type', 'required', 'maxLength', 'options']);
const imageFields = new Set(['model', 'sizes', 'maxImages', 'quality']);

/** Largest `behaviour` object, as JSON. */
export const maxBehaviourBytes = 64 * 1024;
const maxModelNames = 50;
const maxInputs = 50;

// Model names as OpenAI and compatible servers spell them (`gpt-4o-mini`,
// `ft:gpt-4o-mini:org::id`, `accounts/x/models/y`): printable, no spaces.
const modelName = /^[\x21-\x7e]{1,100}$/;

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isWhole = (value: unknown, min: number, max: number) => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
const isStringList = (value: unknown, maxItems: number, maxLength: number): value is string[] =>
  Array.isArray(value) && value.length <= maxItems && value.every((item) => typeof item === 'string' && item.length <= maxLength);
const isModelName = (value: unknown): value is string => typeof value === 'string' && modelName.test(value);
// An unknown field's name is the caller's input: echoed only when it is a plain identifier.
const shown = (field: string) => (/^[A-Za-z_][A-Za-z0-9_]{0,39}$/.test(field) ? field : '…');

function isTimeZone(value: unknown): boolean {
  if (typeof value !== 'string' || value.length === 0 || value.length > 100) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/**
 * The problems of a behaviour, each a sentence naming its field as
 * `prefix` + the field's path: the one schema every widget write and every
 * proxied call goes through.
 */
function problemsOf(behaviour: unknown, type: WidgetType, prefix: string): string[] {
  const name = (field: string) => `"${prefix}${field}"`;
  if (!isPlainObject(behaviour)) return [`"${prefix.replace(/\.$/, '') || 'behaviour'}" must be an object.`];
  const problems: string[] = [];
  const b = behaviour;
  for (const field of Object.keys(b)) {
    if (!behaviourFields.has(field)) problems.push(`${name(shown(field))} is not a behaviour field.`);
  }
  if (!isModelName(b.model)) problems.push(`${name('model')} must name a model, such as gpt-4o-mini.`);
  if (b.allowedModels !== undefined && !(isStringList(b.allowedModels, maxModelNames, 100) && b.allowedModels.every(isModelName))) {
    problems.push(`${name('allowedModels')} must be a list of at most ${maxModelNames} model names.`);
  }
  if (b.systemPrompt !== undefined && (typeof b.systemPrompt !== 'string' || b.systemPrompt.length > 32_000)) {
    problems.push(`${name('systemPrompt')} must be text of at most 32,000 characters.`);
  }
  if (b.allowClientInstructions !== undefined && typeof b.allowClientInstructions !== 'boolean') {
    problems.push(`${name('allowClientInstructions')} must be true or false.`);
  }
  if (b.vectorCount !== undefined && !isWhole(b.vectorCount, 0, 20)) {
    problems.push(`${name('vectorCount')} must be a whole number from 0 to 20.`);
  }
  if (b.temperature !== undefined && (typeof b.temperature !== 'number' || !(b.temperature >= 0 && b.temperature <= 2))) {
    problems.push(`${name('temperature')} must be a number from 0 to 2.`);
  }
  if (b.maxOutputTokens !== undefined && !isWhole(b.maxOutputTokens, 1, 1_000_000)) {
    problems.push(`${name('maxOutputTokens')} must be a whole number from 1 to 1,000,000.`);
  }
  if (b.promptFilter !== undefined) {
    const filter = b.promptFilter;
    if (
      !isPlainObject(filter) ||
      Object.keys(filter).some((field) => field !== 'blocked') ||
      !isStringList(filter.blocked, maxBlockedEntries, maxBlockedEntryLength)
    ) {
      problems.push(`${name('promptFilter.blocked')} must be a list of at most ${maxBlockedEntries.toLocaleString('en')} words or phrases.`);
    } else if (filter.blocked.reduce((bytes, entry) => bytes + Buffer.byteLength(entry, 'utf8'), 0) > maxBlockedBytes) {
      problems.push(`${name('promptFilter.blocked')} must hold at most ${maxBlockedBytes / 1024} KB of words and phrases.`);
    }
  }
  if (b.memory !== undefined) {
    const memory = b.memory;
    if (!isPlainObject(memory) || !strategies.includes(memory.strategy as string)) {
      problems.push(`${name('memory.strategy')} must be one of ${strategies.join(', ')}.`);
    } else {
      const allowed = memoryFields[memory.strategy as string]!;
      for (const field of Object.keys(memory)) {
        if (field !== 'strategy' && !allowed.includes(field)) {
          problems.push(`${name(`memory.${shown(field)}`)} is not a setting of the ${memory.strategy as string} strategy.`);
        }
      }
      if (memory.messages !== undefined && !isWhole(memory.messages, 1, 1_000))
        problems.push(`${name('memory.messages')} must be a whole number from 1 to 1000.`);
      if (memory.budgetTokens !== undefined && !isWhole(memory.budgetTokens, 1, 1_000_000)) {
        problems.push(`${name('memory.budgetTokens')} must be a whole number from 1 to 1,000,000.`);
      }
      if (memory.summaryMaxTokens !== undefined && !isWhole(memory.summaryMaxTokens, 16, 8_000)) {
        problems.push(`${name('memory.summaryMaxTokens')} must be a whole number from 16 to 8000.`);
      }
    }
  }
  if (b.promptTemplate !== undefined && (typeof b.promptTemplate !== 'string' || b.promptTemplate.length === 0 || b.promptTemplate.length > 32_000)) {
    problems.push(`${name('promptTemplate')} must be text of 1 to 32,000 characters.`);
  } else if (type === 'completion' && b.promptTemplate === undefined) {
    problems.push(`A completion widget needs a ${name('promptTemplate')}.`);
  }
  if (b.inputs !== undefined) problems.push(...inputProblems(b.inputs, name));
  if (b.timeZone !== undefined && !isTimeZone(b.timeZone)) problems.push(`${name('timeZone')} must be an IANA time zone, such as Europe/Paris.`);
  if (b.image !== undefined) {
    const image = b.image;
    if (!isPlainObject(image)) problems.push(`${name('image')} must be an object.`);
    else {
      for (const field of Object.keys(image)) if (!imageFields.has(field)) problems.push(`${name(`image.${shown(field)}`)} is not an image setting.`);
      if (image.model !== undefined && !isModelName(image.model)) problems.push(`${name('image.model')} must name a model, such as gpt-image-1.`);
      if (image.sizes !== undefined && (!isStringList(image.sizes, 20, 20) || image.sizes.some((size) => !/^\d{2,5}x\d{2,5}$|^auto$/.test(size)))) {
        problems.push(`${name('image.sizes')} must list sizes such as 1024x1024.`);
      }
      if (image.maxImages !== undefined && !isWhole(image.maxImages, 1, 10)) problems.push(`${name('image.maxImages')} must be a whole number from 1 to 10.`);
      if (image.quality !== undefined && (typeof image.quality !== 'string' || !/^[a-z]{1,20}$/.test(image.quality))) {
        problems.push(`${name('image.quality')} must be a quality such as standard, hd, low or high.`);
      }
    }
  }
  return problems;
}

function inputProblems(inputs: unknown, name: (field: string) => string): string[] {
  if (!Array.isArray(inputs) || inputs.length > maxInputs) return [`${name('inputs')} must be a list of at most ${maxInputs} inputs.`];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [index, input] of (inputs as unknown[]).entries()) {
    const at = (field: string) => name(`inputs[${index}].${field}`);
    if (!isPlainObject(input) || typeof input.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(input.name)) {
      problems.push(`${at('name')} must be letters, digits and "_".`);
      continue;
    }
    if (seen.has(input.name)) problems.push(`${at('name')} repeats another input's name.`);
    seen.add(input.name);
    for (const field of Object.keys(input)) if (!inputFields.has(field)) problems.push(`${at(shown(field))} is not an input setting.`);
    if (input.label !== undefined && (typeof input.label !== 'string' || input.label.length > 200))
      problems.push(`${at('label')} must be text of at most 200 characters.`);
    if (input.type !== undefined && !inputTypes.includes(input.type as string)) problems.push(`${at('type')} must be one of ${inputTypes.join(', ')}.`);
    if (input.required !== undefined && typeof input.required !== 'boolean') problems.push(`${at('required')} must be true or false.`);
    if (
      input.type === 'select'
        ? !isStringList(input.options, 100, 200) || input.options.length === 0
        : input.options !== undefined && !isStringList(input.options, 100, 200)
    ) {
      problems.push(`${at('options')} must list the choices.`);
    }
    if (input.maxLength !== undefined && !isWhole(input.maxLength, 1, 100_000)) problems.push(`${at('maxLength')} must be a whole number.`);
  }
  return problems;
}

/**
 * Checks a widget's behaviour against the one schema that every widget
 * write (admin API, admin page, CLI, `store.createWidget` and
 * `updateWidget`) and every proxied call goes through. Returns one plain
 * sentence per problem, naming the field; an empty list means the behaviour
 * is usable.
 *
 * @example
 * ```ts
 * behaviourProblems({ model: 'gpt-4o-mini', memory: { strategy: 'recent-context', messages: 0 } }, 'chat');
 * // ['"memory.messages" must be a whole number from 1 to 1000.']
 * ```
 */
export function behaviourProblems(behaviour: WidgetBehaviour, type: WidgetType): string[] {
  return problemsOf(behaviour, type, '');
}

/**
 * Throws `input_invalid` with the first problem of a behaviour about to be
 * saved, its field named as `behaviour.…`.
 *
 * @example
 * ```ts
 * assertValidBehaviour({ model: 'gpt-4o-mini', maxOutputTokens: 'lots' }, 'chat');
 * // AirlockError: "behaviour.maxOutputTokens" must be a whole number from 1 to 1,000,000.
 * ```
 */
export function assertValidBehaviour(behaviour: unknown, type: WidgetType): void {
  if (isPlainObject(behaviour) && Buffer.byteLength(JSON.stringify(behaviour), 'utf8') > maxBehaviourBytes) {
    throw new AirlockError('input_invalid', `"behaviour" must be at most ${maxBehaviourBytes / 1024} KB as JSON.`);
  }
  const [problem] = problemsOf(behaviour, type, 'behaviour.');
  if (problem !== undefined) throw new AirlockError('input_invalid', problem);
}

// Behaviours already found usable. A store may hand out the same frozen
// record on every call (the SQLite store keeps its answers), so each is
// checked once, not on every request; held weakly, so it goes with its record.
const usable = new WeakSet<object>();

/**
 * Refuses a proxied call whose widget's stored behaviour fails the schema
 * (written before these checks, or straight into the database): a
 * malformed cap or list must not let a call through uncapped. Answers
 * `widget_disabled`, as for a widget turned off; the log names the fields
 * for the operator, and the widget works again once it is saved with a
 * valid behaviour.
 *
 * @example
 * ```ts
 * assertUsableBehaviour(widget, context.logger);
 * ```
 */
export function assertUsableBehaviour(widget: WidgetRecord, logger: Logger): void {
  const { behaviour } = widget;
  if (usable.has(behaviour)) return;
  const problems = problemsOf(behaviour, widget.type, 'behaviour.');
  if (problems.length === 0) {
    // Only a frozen behaviour is remembered: any other could change after the check.
    if (isPlainObject(behaviour) && Object.isFrozen(behaviour)) usable.add(behaviour);
    return;
  }
  logger.warn('refused a call: the widget\u2019s stored behaviour is not valid; save it again to fix it', { widgetId: widget.id, problems });
  throw new AirlockError('widget_disabled', 'This widget\u2019s settings are not valid, so it is out of service until its owner fixes them.');
}
