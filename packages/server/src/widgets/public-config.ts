import type { WidgetInput, WidgetPublicConfig } from '@airlock/protocol';
import type { WidgetRecord } from '../stores/store.js';
import { publicStyle } from './widget-style.js';

/**
 * The part of a widget that may reach a browser. Built field by field (not by
 * spreading) so a new server-side field can never leak by accident.
 *
 * @example
 * ```ts
 * const config = publicConfig(widget); // no model, no system prompt
 * ```
 */
export function publicConfig(widget: WidgetRecord): WidgetPublicConfig {
  const { title, theme, greeting, placeholder, suggestedPrompts, locale, style, translations, proactiveGreeting } = widget.presentation;
  return {
    id: widget.id,
    type: widget.type,
    title,
    theme,
    ...(greeting !== undefined && { greeting }),
    ...(placeholder !== undefined && { placeholder }),
    ...(suggestedPrompts !== undefined && { suggestedPrompts }),
    ...(locale !== undefined && { locale }),
    ...(style !== undefined && { style: publicStyle(style) }),
    // Already field by field: parseTranslations and parseProactiveGreeting keep only known fields.
    ...(translations !== undefined && { translations }),
    ...(proactiveGreeting !== undefined && { proactiveGreeting }),
    ...(widget.type === 'completion' && widget.behaviour.inputs && { inputs: widget.behaviour.inputs.map(publicInput) }),
  };
}

/** A completion input's form field; copied field by field, like the rest. */
function publicInput(input: WidgetInput): WidgetInput {
  const { name, label, type, required, maxLength, options } = input;
  return {
    name,
    label,
    type,
    ...(required !== undefined && { required }),
    ...(maxLength !== undefined && { maxLength }),
    ...(options !== undefined && { options }),
  };
}
