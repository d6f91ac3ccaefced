import type { WidgetInput } from '@airlock/protocol';
import { MarkdownStream } from '../render/markdown';
import { createControls, type Controls } from './controls';
import type { View, ViewOptions } from './view';

/** A form of declared inputs above a result area: shared by completion and image widgets. */
export interface FormView extends View {
  readonly result: HTMLElement;
  readonly controls: Controls;
}

/**
 * Builds a form from `inputs` into the shell's body, with Generate and Stop
 * buttons and a progress bar; the result area comes after it.
 */
export function createFormView(options: ViewOptions, inputs: readonly WidgetInput[]): FormView {
  const { shell, strings, signal } = options;
  const controls = createControls(options, strings.generate);
  const make = controls.make;
  const form = make('form', { part: 'form', 'data-airlock': 'form' });
  const fields = inputs.map((input, index) => {
    const id = `field-${index}`;
    const wrapper = make('div', { part: 'field' });
    const control =
      input.type === 'select'
        ? make('select')
        : input.type === 'textarea'
          ? make('textarea', { rows: '3' })
          : make('input', { type: input.type === 'number' ? 'number' : 'text' });
    control.id = id;
    control.name = input.name;
    control.setAttribute('part', 'input');
    control.setAttribute('data-airlock', 'input');
    if (input.required) control.required = true;
    if (input.maxLength && input.type !== 'select') control.setAttribute('maxlength', String(input.maxLength));
    if (input.type === 'select') control.append(...(input.options ?? []).map((option) => make('option', { value: option }, option)));
    wrapper.append(make('label', { for: id }, input.label), control);
    form.append(wrapper);
    return { input, control };
  });
  const buttons = make('div', { part: 'actions' });
  const { send: submit, stop } = controls;
  const progress = make('progress', { part: 'progress', 'aria-label': strings.generating, hidden: '' });
  buttons.append(submit, stop);
  form.append(buttons, progress);
  const result = make('div', { part: 'result', 'data-airlock': 'result', role: 'region', 'aria-label': strings.result, tabindex: '0', hidden: '' });
  shell.body.append(form, shell.alert, result);

  form.addEventListener(
    'submit',
    (event) => {
      event.preventDefault();
      if (controls.send.hidden) return;
      const values: Record<string, string | number> = {};
      for (const { input, control } of fields) {
        values[input.name] = input.type === 'number' && control.value !== '' ? Number(control.value) : control.value;
      }
      options.onSubmit(values);
    },
    { signal },
  );
  // Enter submits a text area too.
  for (const { input, control } of fields) if (input.type === 'textarea') controls.submitOnEnter(control, form);

  return {
    result,
    controls,
    clear() {
      result.replaceChildren();
      result.hidden = true;
    },
    setBusy(value) {
      progress.hidden = !value;
      controls.setBusy(value, result, submit);
    },
    focus() {
      fields[0]?.control.focus();
    },
  };
}

/** Builds a text-completion widget's view (the declared inputs, the streamed result, copy); without declared inputs it shows one text area. */
export function createCompletionView(options: ViewOptions, inputs: readonly WidgetInput[] | undefined): FormView {
  const fields = inputs?.length ? inputs : [{ name: 'text', label: options.strings.message, type: 'textarea' as const, required: true }];
  const view = createFormView(options, fields);
  const make = view.controls.make;
  return {
    ...view,
    startReply() {
      const output = make('div', { part: 'message message-assistant', 'data-airlock': 'assistant-message', 'data-streaming': 'true', dir: 'auto' });
      view.result.replaceChildren(output);
      view.result.hidden = false;
      const stream = new MarkdownStream(output);
      return {
        append: (delta) => stream.append(delta),
        remove: view.clear,
        finish() {
          output.removeAttribute('data-streaming');
          view.result.append(view.controls.actions(() => stream.text));
        },
      };
    },
  };
}
