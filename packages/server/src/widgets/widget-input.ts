import type { WidgetTheme, WidgetType } from '@airlock/protocol';
import { invalid } from '../errors.js';
import type { KeySource, NewWidget, WidgetBehaviour, WidgetPatch, WidgetPresentation, WidgetRecord } from '../stores/store.js';
import { assertValidBehaviour } from '../proxy/behaviour-check.js';
import { originPatternProblem } from './origins.js';
import { parseProactiveGreeting, parseTranslations, parseWidgetStyle } from './widget-style.js';

const widgetTypes: readonly WidgetType[] = ['chat', 'completion', 'image'];
const themes: readonly WidgetTheme[] = ['light', 'dark', 'auto'];
const maxOrigins = 100;

function text(value: unknown, field: string, max: number, options: { allowEmpty?: boolean } = {}): string {
  if (typeof value !== 'string') throw invalid(`"${field}" must be a string.`);
  const trimmed = value.trim();
  if ((!options.allowEmpty && trimmed.length === 0) || trimmed.length > max) {
    throw invalid(`"${field}" must be ${options.allowEmpty ? 'at most' : '1 to'} ${max} characters.`);
  }
  return trimmed;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks a list of allowed origins: each an exact origin
 * (`https://example.com`, `http://localhost:3000`) or a subdomain wildcard
 * (`https://*.example.com`). Duplicates are dropped.
 *
 * @example
 * ```ts
 * parseAllowedOrigins(['https://example.com', 'https://*.example.com']);
 * ```
 */
export function parseAllowedOrigins(value: unknown): string[] {
  if (!Array.isArray(value)) throw invalid('"allowedOrigins" must be a list of origins.');
  if (value.length > maxOrigins) throw invalid(`"allowedOrigins" may hold at most ${maxOrigins} origins.`);
  const origins: string[] = [];
  for (const [index, entry] of value.entries()) {
    const problem = typeof entry === 'string' ? originPatternProblem(entry.trim()) : 'must be a string';
    if (problem) throw invalid(`"allowedOrigins[${index}]" ${problem}.`);
    const normalised = entry.trim().toLowerCase();
    if (!origins.includes(normalised)) origins.push(normalised);
  }
  return origins;
}

/**
 * Checks presentation fields (what visitors see). With `base`, the input is
 * a partial update merged over it; a field set to `null` is removed.
 *
 * @example
 * ```ts
 * parsePresentation({ title: 'Ask us', theme: 'dark', suggestedPrompts: ['Opening hours?'] });
 * ```
 */
export function parsePresentation(value: unknown, base?: WidgetPresentation): WidgetPresentation {
  if (!isPlainObject(value)) throw invalid('"presentation" must be an object.');
  const next: Record<string, unknown> = { ...base };
  for (const [field, raw] of Object.entries(value)) {
    if (raw === undefined) continue;
    if (raw === null) {
      if (field === 'title' || field === 'theme') throw invalid(`"presentation.${field}" cannot be removed.`);
      delete next[field];
      continue;
    }
    switch (field) {
      case 'title':
        next.title = text(raw, 'presentation.title', 100);
        break;
      case 'theme':
        if (!themes.includes(raw as WidgetTheme)) throw invalid('"presentation.theme" must be light, dark or auto.');
        next.theme = raw;
        break;
      case 'greeting':
        next.greeting = text(raw, 'presentation.greeting', 1000, { allowEmpty: true });
        break;
      case 'placeholder':
        next.placeholder = text(raw, 'presentation.placeholder', 200, { allowEmpty: true });
        break;
      case 'locale':
        if (typeof raw !== 'string' || !/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/.test(raw)) {
          throw invalid('"presentation.locale" must be a language tag such as en or pt-BR.');
        }
        next.locale = raw;
        break;
      case 'suggestedPrompts':
        if (!Array.isArray(raw) || raw.length > 8) throw invalid('"presentation.suggestedPrompts" must be a list of at most 8 prompts.');
        next.suggestedPrompts = raw.map((prompt, index) => text(prompt, `presentation.suggestedPrompts[${index}]`, 200));
        break;
      case 'style':
        next.style = parseWidgetStyle(raw, base?.style);
        break;
      case 'translations':
        next.translations = parseTranslations(raw);
        break;
      case 'proactiveGreeting':
        next.proactiveGreeting = parseProactiveGreeting(raw);
        break;
      default:
        throw invalid(`"presentation.${field}" is not a presentation field.`);
    }
  }
  if (typeof next.title !== 'string') throw invalid('"presentation.title" is required.');
  next.theme ??= 'auto';
  return next as unknown as WidgetPresentation;
}

/**
 * Checks the server-side `behaviour` (model, prompts, caps, memory, …)
 * against the one behaviour schema (`behaviourProblems`): every field's
 * type and range, no unknown fields, at most 64 KB as JSON, and what the
 * widget's `type` needs (a completion widget's `promptTemplate`). With
 * `base`, the input is merged over it and the result checked; a field set to
 * `null` is removed. Throws `input_invalid` naming the first bad field.
 *
 * @example
 * ```ts
 * parseBehaviour({ model: 'gpt-4o-mini', systemPrompt: 'Be brief.' }, undefined, 'chat');
 * ```
 */
export function parseBehaviour(value: unknown, base?: WidgetBehaviour, type: WidgetType = 'chat'): WidgetBehaviour {
  if (!isPlainObject(value)) throw invalid('"behaviour" must be an object.');
  const next: Record<string, unknown> = { ...base };
  for (const [field, raw] of Object.entries(value)) {
    if (raw === undefined) continue;
    if (raw === null) delete next[field];
    else next[field] = raw;
  }
  assertValidBehaviour(next, type);
  return next as unknown as WidgetBehaviour;
}

const createFields = new Set(['accountId', 'name', 'type', 'enabled', 'allowedOrigins', 'presentation', 'behaviour', 'keySource']);

/** `keySource`: `'own'`, `'shared'`, or `null` for the default (own key when the account has one). */
function parseKeySource(value: unknown): KeySource | undefined {
  if (value === null) return undefined;
  if (value === 'own' || value === 'shared') return value;
  throw invalid('"keySource" must be "own", "shared" or null.');
}

/**
 * Checks the body of `POST /admin/widgets`. Defaults: type `chat`, enabled,
 * title = name, theme `auto`, model `gpt-4o-mini`.
 *
 * @example
 * ```ts
 * const input = parseNewWidget({ name: 'support', allowedOrigins: ['https://example.com'] });
 * await store.createWidget(input);
 * ```
 */
export function parseNewWidget(body: Record<string, unknown>): NewWidget {
  for (const field of Object.keys(body)) if (!createFields.has(field)) throw invalid(`"${field}" is not a widget field.`);
  const name = text(body.name, 'name', 100);
  const type = body.type ?? 'chat';
  if (!widgetTypes.includes(type as WidgetType)) throw invalid('"type" must be chat, completion or image.');
  if (body.enabled !== undefined && typeof body.enabled !== 'boolean') throw invalid('"enabled" must be true or false.');
  if (body.presentation !== undefined && !isPlainObject(body.presentation)) throw invalid('"presentation" must be an object.');
  if (body.behaviour !== undefined && !isPlainObject(body.behaviour)) throw invalid('"behaviour" must be an object.');
  if (body.accountId !== undefined && (typeof body.accountId !== 'string' || !/^[A-Za-z0-9_-]{1,100}$/.test(body.accountId))) {
    throw invalid('"accountId" must be an account id.');
  }
  return {
    ...(body.accountId !== undefined && { accountId: body.accountId as string }),
    ...(body.keySource !== undefined && body.keySource !== null && { keySource: parseKeySource(body.keySource) }),
    name,
    type: type as WidgetType,
    enabled: (body.enabled as boolean | undefined) ?? true,
    allowedOrigins: parseAllowedOrigins(body.allowedOrigins ?? []),
    presentation: parsePresentation({ title: name, ...(body.presentation as object | undefined) }),
    behaviour: parseBehaviour({ model: 'gpt-4o-mini', ...(body.behaviour as object | undefined) }, undefined, type as WidgetType),
  };
}

const patchFields = new Set(['name', 'enabled', 'allowedOrigins', 'presentation', 'behaviour', 'keySource']);

/**
 * Checks the body of `PATCH /admin/widgets/:id` against the current widget.
 * `presentation` and `behaviour` are merged field by field (`null` removes a
 * field); `allowedOrigins` is replaced as a whole. The type cannot change.
 *
 * @example
 * ```ts
 * const patch = parseWidgetPatch({ enabled: false }, widget);
 * await store.updateWidget(widget.id, patch);
 * ```
 */
export function parseWidgetPatch(body: Record<string, unknown>, current: WidgetRecord): WidgetPatch {
  const patch: WidgetPatch = {};
  for (const field of Object.keys(body)) {
    if (field === 'type') throw invalid("A widget's type cannot change; create a new widget.");
    if (!patchFields.has(field)) throw invalid(`"${field}" is not a widget field that can be changed.`);
  }
  if (body.name !== undefined) patch.name = text(body.name, 'name', 100);
  if (body.enabled !== undefined) {
    if (typeof body.enabled !== 'boolean') throw invalid('"enabled" must be true or false.');
    patch.enabled = body.enabled;
  }
  if (body.allowedOrigins !== undefined) patch.allowedOrigins = parseAllowedOrigins(body.allowedOrigins);
  if (body.keySource !== undefined) patch.keySource = parseKeySource(body.keySource);
  if (body.presentation !== undefined) patch.presentation = parsePresentation(body.presentation, current.presentation);
  if (body.behaviour !== undefined) patch.behaviour = parseBehaviour(body.behaviour, current.behaviour, current.type);
  return patch;
}

/**
 * The check a store runs on every widget it writes: the same schema as the
 * admin API's, so a widget written in code, by the CLI or by a custom tool is
 * held to the same rules. `createWidget` checks every field; `updateWidget`
 * passes the patched widget and the fields its patch sets, so a widget whose
 * stored behaviour predates these checks can still be renamed or turned off.
 * Throws `input_invalid` naming the first bad field; changes nothing.
 *
 * @example
 * ```ts
 * assertValidWidget({ ...current, ...patch }, Object.keys(patch));
 * ```
 */
export function assertValidWidget(widget: NewWidget, fields?: readonly string[]): void {
  const checks = (field: string) => fields === undefined || fields.includes(field);
  if (checks('name')) text(widget.name, 'name', 100);
  if (!widgetTypes.includes(widget.type)) throw invalid('"type" must be chat, completion or image.');
  if (checks('enabled') && widget.enabled !== undefined && typeof widget.enabled !== 'boolean') throw invalid('"enabled" must be true or false.');
  if (checks('keySource') && widget.keySource !== undefined) parseKeySource(widget.keySource);
  if (checks('allowedOrigins')) parseAllowedOrigins(widget.allowedOrigins);
  if (checks('presentation')) parsePresentation(widget.presentation);
  if (checks('behaviour')) assertValidBehaviour(widget.behaviour, widget.type);
}
