import type { WidgetPublicConfig } from '@airlock/protocol';
import type { WidgetRecord } from '../stores/store.js';

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
  const { title, theme, greeting, placeholder, suggestedPrompts, locale } = widget.presentation;
  return {
    id: widget.id,
    type: widget.type,
    title,
    theme,
    ...(greeting !== undefined && { greeting }),
    ...(placeholder !== undefined && { placeholder }),
    ...(suggestedPrompts !== undefined && { suggestedPrompts }),
    ...(locale !== undefined && { locale }),
  };
}
