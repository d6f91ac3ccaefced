// @ts-check
// The widget editor: the form for every widget type, and the body the admin
// API takes from it.
import { api, state } from './api.js';
import { errorBox, field, h, lines, optionalNumber, select, toast } from './dom.js';
import { checkedOf, presentationFrom, styleFields, valueOf } from './widget-style.js';

/** @typedef {import('./api.js').Widget} Widget */

/**
 * Reads the form into a widget body: the fields every widget has, then the type's own.
 * @param {HTMLFormElement} form
 * @param {Widget} [current] the widget edited; none when creating one
 */
function widgetBody(form, current) {
  const value = (/** @type {string} */ name) => valueOf(form, name);
  const text = (/** @type {string} */ name) => (value(name).trim() === '' ? null : value(name));
  const type = current?.type ?? value('type');
  const memoryStrategy = value('memory');
  /** @type {import('./api.js').Memory} */
  const memory = { strategy: memoryStrategy };
  if (memoryStrategy === 'recent-context' || memoryStrategy === 'limited-recall') {
    const messages = optionalNumber(value('memoryMessages'));
    if (messages !== null) memory.messages = messages;
  }
  if (memoryStrategy === 'tokenized-summary') {
    const budget = optionalNumber(value('memoryBudget'));
    if (budget !== null) memory.budgetTokens = budget;
  }
  const blocked = lines(value('blocked'));
  const allowedModels = lines(value('allowedModels').replace(/,/g, '\n'));
  /** @type {import('./api.js').Behaviour} */
  const behaviour = {
    model: value('model').trim(),
    allowedModels: allowedModels.length ? allowedModels : null,
    systemPrompt: text('systemPrompt'),
    temperature: optionalNumber(value('temperature')),
    maxOutputTokens: optionalNumber(value('maxOutputTokens')),
    promptFilter: blocked.length ? { blocked } : null,
    timeZone: text('timeZone'),
  };
  if (type === 'chat') {
    behaviour.memory = memory;
    behaviour.allowClientInstructions = checkedOf(form, 'allowClientInstructions') || null;
    behaviour.vectorCount = optionalNumber(value('vectorCount'));
  }
  if (type === 'completion') {
    behaviour.promptTemplate = text('promptTemplate');
    const inputs = value('inputs').trim();
    behaviour.inputs = inputs ? JSON.parse(inputs) : null;
  }
  if (type === 'image') {
    const sizes = lines(value('sizes').replace(/,/g, '\n'));
    behaviour.image = {
      ...(sizes.length && { sizes }),
      ...(value('maxImages').trim() && { maxImages: Number(value('maxImages')) }),
      ...(value('quality').trim() && { quality: value('quality').trim() }),
    };
  }
  const presentation = presentationFrom(form);
  // No look set at all: no style object either.
  if (Object.values(presentation.style ?? {}).every((entry) => entry === null)) presentation.style = null;
  /** @type {{ name: string, enabled: boolean, allowedOrigins: string[], presentation: object, behaviour: object, keySource?: string | null, type?: string, accountId?: string }} */
  const body = {
    name: value('name').trim(),
    enabled: /** @type {HTMLInputElement} */ (form.elements.namedItem('enabled')).checked,
    allowedOrigins: lines(value('allowedOrigins')),
    presentation,
    behaviour,
  };
  const keySource = value('keySource');
  // Sent only when set (or changed): older servers do not take the field.
  if (keySource !== (current?.keySource ?? '')) body.keySource = keySource === '' ? null : keySource;
  if (!current) {
    body.type = type;
    if (state.accountId !== 'default') body.accountId = state.accountId;
    // On creation, null means "not set": leave such fields out.
    for (const part of [body.presentation, body.behaviour])
      for (const [name, entry] of Object.entries(part)) if (entry === null) delete (/** @type {Record<string, unknown>} */ (part)[name]);
  }
  return body;
}

/**
 * @param {Widget | undefined} widget the widget edited; none when creating one
 * @param {(saved: Widget) => unknown} onSaved
 */
export function widgetForm(widget, onSaved) {
  /** @type {import('./api.js').Behaviour} */
  const behaviour = widget?.behaviour ?? { model: 'gpt-4o-mini' };
  /** @type {import('./api.js').Presentation} */
  const presentation = widget?.presentation ?? { title: '', theme: 'auto' };
  const memory = behaviour.memory ?? { strategy: 'standard' };
  const type = widget?.type ?? 'chat';
  /** @type {import('./widget-style.js').InputMaker} */
  const input = (name, value, attributes = {}) => h('input', { name, value: value ?? '', ...attributes });
  const area = (/** @type {string} */ name, /** @type {string | null | undefined} */ value, rows = 3) => h('textarea', { name, rows }, value ?? '');
  const problem = h('div', { 'aria-live': 'polite' });
  const typeSelect = select(
    'type',
    [
      ['chat', 'Chat'],
      ['completion', 'Text completion'],
      ['image', 'Image generation'],
    ],
    type,
  );
  if (widget) typeSelect.disabled = true;
  /** @type {Record<string, HTMLFieldSetElement>} */
  const typeGroups = {};
  const group = (/** @type {string} */ forType, /** @type {string} */ legend, /** @type {HTMLElement[]} */ ...children) =>
    (typeGroups[forType] = h('fieldset', { 'data-type': forType }, h('legend', {}, legend), ...children));
  const form = h(
    'form',
    {
      class: 'widget-form',
      async onsubmit(event) {
        event.preventDefault();
        problem.replaceChildren();
        try {
          const body = widgetBody(form, widget);
          const saved = /** @type {Widget} */ (
            widget ? await api('PATCH', `/widgets/${encodeURIComponent(widget.id)}`, body) : await api('POST', '/widgets', body)
          );
          toast(`Widget ${saved.name} saved.`);
          await onSaved(saved);
        } catch (error) {
          problem.replaceChildren(errorBox(error instanceof SyntaxError ? new Error('"Inputs" and "Texts in other languages" must be valid JSON.') : error));
        }
      },
    },
    h(
      'fieldset',
      {},
      h('legend', {}, 'Widget'),
      field('Name', input('name', widget?.name, { required: true, maxlength: 100 })),
      field('Type', typeSelect, widget ? 'The type cannot change; create a new widget instead.' : undefined),
      h(
        'div',
        { class: 'field check' },
        h('input', { type: 'checkbox', name: 'enabled', id: 'widget-enabled', checked: widget?.enabled ?? true }),
        h('label', { for: 'widget-enabled' }, 'Enabled'),
      ),
      field('Allowed origins', area('allowedOrigins', widget?.allowedOrigins.join('\n')), 'One per line: https://example.com or https://*.example.com.'),
      field(
        'OpenAI key',
        select(
          'keySource',
          [
            ['', 'Default (own key if the account has one)'],
            ['own', 'The account’s own key'],
            ['shared', 'The shared key'],
          ],
          widget?.keySource ?? '',
        ),
      ),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Model'),
      field('Model', input('model', behaviour.model, { required: true })),
      field('Other allowed models', input('allowedModels', (behaviour.allowedModels ?? []).join(', ')), 'Comma-separated; clients may ask for these by name.'),
      field('System prompt', area('systemPrompt', behaviour.systemPrompt, 4), 'Never sent to the browser.'),
      field('Temperature', input('temperature', behaviour.temperature, { type: 'number', min: 0, max: 2, step: 0.1 })),
      field('Max output tokens per answer', input('maxOutputTokens', behaviour.maxOutputTokens, { type: 'number', min: 1, step: 1 })),
      field(
        'Blocked words and phrases',
        area('blocked', (behaviour.promptFilter?.blocked ?? []).join('\n')),
        'One per line; a match is refused without calling the model.',
      ),
      field('Time zone', input('timeZone', behaviour.timeZone, { placeholder: 'UTC' })),
    ),
    group(
      'chat',
      'Memory',
      field(
        'Strategy',
        select(
          'memory',
          [
            ['standard', 'Standard (everything that fits)'],
            ['recent-context', 'Recent context (last N messages)'],
            ['limited-recall', 'Limited recall (first question + last N)'],
            ['tokenized-summary', 'Summary of older turns'],
          ],
          memory.strategy,
        ),
      ),
      field('Messages kept (N)', input('memoryMessages', memory.messages, { type: 'number', min: 1 })),
      field('Summary budget (tokens)', input('memoryBudget', memory.budgetTokens, { type: 'number', min: 100 })),
      h(
        'div',
        { class: 'field check' },
        h('input', { type: 'checkbox', name: 'allowClientInstructions', id: 'allow-client-instructions', checked: behaviour.allowClientInstructions ?? false }),
        h(
          'label',
          { for: 'allow-client-instructions' },
          'Accept instructions from clients (their own system messages, sent after this widget\u2019s). Anyone with a token can then steer the model: keep it off for a public widget.',
        ),
      ),
      field(
        'Passages per answer (vector count)',
        input('vectorCount', behaviour.vectorCount, { type: 'number', min: 0, max: 20, step: 1, placeholder: '5' }),
        'How many passages of the widget’s knowledge files the model is given with each question, 0 to 20; empty: 5; 0: none.',
      ),
    ),
    group(
      'completion',
      'Text completion',
      field('Prompt template', area('promptTemplate', behaviour.promptTemplate, 4), 'Use {{name}} for each input, plus {{date}} and {{time}}.'),
      field('Inputs (JSON)', area('inputs', behaviour.inputs ? JSON.stringify(behaviour.inputs, null, 2) : '', 4)),
    ),
    group(
      'image',
      'Images',
      field('Sizes', input('sizes', (behaviour.image?.sizes ?? []).join(', '), { placeholder: '1024x1024' })),
      field('Images per request', input('maxImages', behaviour.image?.maxImages, { type: 'number', min: 1, max: 10 })),
      field('Quality', input('quality', behaviour.image?.quality)),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Look and texts'),
      field('Title', input('title', presentation.title, { maxlength: 100 })),
      field(
        'Theme',
        select(
          'theme',
          [
            ['auto', 'Auto (follows the visitor)'],
            ['light', 'Light'],
            ['dark', 'Dark'],
          ],
          presentation.theme,
        ),
      ),
      field('Greeting', area('greeting', presentation.greeting, 2)),
      field('Input placeholder', input('placeholder', presentation.placeholder)),
      field('Suggested prompts', area('suggestedPrompts', (presentation.suggestedPrompts ?? []).join('\n')), 'One per line, at most 8.'),
      field('Language', input('locale', presentation.locale, { placeholder: 'visitor’s' }), 'Empty: each visitor’s own language (15 are built in).'),
      field(
        'Texts in other languages (JSON)',
        area('translations', presentation.translations ? JSON.stringify(presentation.translations, null, 2) : '', 4),
        'By language tag: {"fr": {"greeting": "Bonjour !", "placeholder": "…", "suggestedPrompts": ["…"], "proactiveGreeting": "…"}}. A visitor gets their exact tag (pt-BR), else their language (pt), else the texts above.',
      ),
      field(
        'Proactive message',
        input('proactiveGreeting', presentation.proactiveGreeting?.text, { maxlength: 300, placeholder: 'Questions? Ask us.' }),
        'A proactive greeting beside the closed launcher, once per visitor; empty for none.',
      ),
      field(
        'Show it after (seconds)',
        input('proactiveDelay', presentation.proactiveGreeting?.delaySeconds, { type: 'number', min: 0, max: 600, placeholder: '5' }),
      ),
    ),
    styleFields(presentation.style ?? {}, input),
    problem,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, widget ? 'Save changes' : 'Create widget')),
  );
  const showType = () => {
    for (const [forType, element] of Object.entries(typeGroups)) element.hidden = forType !== typeSelect.value;
  };
  typeSelect.addEventListener('change', showType);
  showType();
  return form;
}
