import type { WidgetType } from '@airlock/protocol';
import type { WidgetBehaviour } from '../stores/store.js';

const strategies = ['standard', 'recent-context', 'limited-recall', 'tokenized-summary'];
const inputTypes = ['text', 'textarea', 'number', 'select'];

const isWhole = (value: unknown, min: number, max: number) => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
const isStringList = (value: unknown, maxItems: number, maxLength: number) =>
  Array.isArray(value) && value.length <= maxItems && value.every((item) => typeof item === 'string' && item.length <= maxLength);

/**
 * Checks the fields of a widget's behaviour that the proxy uses, for an
 * admin API or CLI to call before saving. Returns one plain sentence per
 * problem; an empty list means the behaviour is usable.
 *
 * @example
 * ```ts
 * behaviourProblems({ model: 'gpt-4o-mini', memory: { strategy: 'recent-context', messages: 0 } }, 'chat');
 * // ['"memory.messages" must be a whole number from 1 to 1000.']
 * ```
 */
export function behaviourProblems(behaviour: WidgetBehaviour, type: WidgetType): string[] {
  const problems: string[] = [];
  const b = behaviour as unknown as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model.length === 0) problems.push('"model" must name a model.');
  if (b.allowedModels !== undefined && !isStringList(b.allowedModels, 50, 100)) problems.push('"allowedModels" must be a list of model names.');
  if (b.systemPrompt !== undefined && (typeof b.systemPrompt !== 'string' || b.systemPrompt.length > 32_000)) {
    problems.push('"systemPrompt" must be text of at most 32,000 characters.');
  }
  if (b.temperature !== undefined && (typeof b.temperature !== 'number' || b.temperature < 0 || b.temperature > 2)) {
    problems.push('"temperature" must be a number from 0 to 2.');
  }
  if (b.maxOutputTokens !== undefined && !isWhole(b.maxOutputTokens, 1, 1_000_000)) problems.push('"maxOutputTokens" must be a whole number of at least 1.');
  if (b.promptFilter !== undefined) {
    const filter = b.promptFilter as Record<string, unknown> | null;
    if (typeof filter !== 'object' || filter === null || !isStringList(filter.blocked, 1_000, 200)) {
      problems.push('"promptFilter.blocked" must be a list of at most 1,000 words or phrases.');
    }
  }
  if (b.memory !== undefined) {
    const memory = b.memory as Record<string, unknown> | null;
    if (typeof memory !== 'object' || memory === null || !strategies.includes(memory.strategy as string)) {
      problems.push(`"memory.strategy" must be one of ${strategies.join(', ')}.`);
    } else {
      if (memory.messages !== undefined && !isWhole(memory.messages, 1, 1_000)) problems.push('"memory.messages" must be a whole number from 1 to 1000.');
      if (memory.budgetTokens !== undefined && !isWhole(memory.budgetTokens, 100, 1_000_000)) {
        problems.push('"memory.budgetTokens" must be a whole number of at least 100.');
      }
      if (memory.summaryMaxTokens !== undefined && !isWhole(memory.summaryMaxTokens, 16, 8_000)) {
        problems.push('"memory.summaryMaxTokens" must be a whole number from 16 to 8000.');
      }
    }
  }
  if (type === 'completion') {
    if (typeof b.promptTemplate !== 'string' || b.promptTemplate.length === 0) problems.push('A completion widget needs a "promptTemplate".');
    const inputs = b.inputs ?? [];
    if (!Array.isArray(inputs)) problems.push('"inputs" must be a list.');
    else {
      for (const [index, input] of (inputs as Record<string, unknown>[]).entries()) {
        if (typeof input !== 'object' || input === null || typeof input.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(input.name)) {
          problems.push(`"inputs[${index}].name" must be letters, digits and "_".`);
          continue;
        }
        if (input.type !== undefined && !inputTypes.includes(input.type as string)) problems.push(`"inputs[${index}].type" must be one of ${inputTypes.join(', ')}.`);
        if (input.type === 'select' && !isStringList(input.options, 100, 200)) problems.push(`"inputs[${index}].options" must list the choices.`);
        if (input.maxLength !== undefined && !isWhole(input.maxLength, 1, 100_000)) problems.push(`"inputs[${index}].maxLength" must be a whole number.`);
      }
    }
  }
  if (type === 'image' && b.image !== undefined) {
    const image = b.image as Record<string, unknown> | null;
    if (typeof image !== 'object' || image === null) problems.push('"image" must be an object.');
    else {
      if (image.sizes !== undefined && (!isStringList(image.sizes, 20, 20) || (image.sizes as string[]).some((size) => !/^\d{2,5}x\d{2,5}$|^auto$/.test(size)))) {
        problems.push('"image.sizes" must list sizes such as 1024x1024.');
      }
      if (image.maxImages !== undefined && !isWhole(image.maxImages, 1, 10)) problems.push('"image.maxImages" must be a whole number from 1 to 10.');
    }
  }
  return problems;
}
