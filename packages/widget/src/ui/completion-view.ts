import type { WidgetInput } from '@airlock/protocol';
import type { WidgetStrings } from '../locales/strings';
import { MarkdownStream } from '../render/markdown';
import { elementMaker } from './dom';
import type { Shell } from './shell';

/** What the completion and image views report back to their owner. */
export interface FormViewOptions {
  shell: Shell;
  strings: WidgetStrings;
  signal: AbortSignal;
  /** The visitor submitted the form; values by input name. */
  onSubmit: (values: Record<string, string | number>) => void;
  onStop: () => void;
  onCopy: (text: string, button: HTMLButtonElement) => void;
}

/** A form of declared inputs above a result area: shared by completion and image widgets. */
export interface FormView {
  readonly result: HTMLElement;
  setBusy(busy: boolean): void;
  focus(): void;
}

/** A text-completion widget: the declared inputs, the streamed result, copy. */
export interface CompletionView extends FormView {
  /** Empties the result and returns the stream to render into. */
  startResult(): { append(delta: string): void; finish(): void; readonly text: string };
}

/**
 * Builds a form from `inputs` into the shell's body, with Generate and Stop
 * buttons and a progress bar; the result area comes after it.
 */
export function createFormView(options: FormViewOptions, inputs: readonly WidgetInput[]): FormView {
  const { shell, strings, signal } = options;
  const make = elementMaker(shell.document);
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
  const submit = make('button', { type: 'submit', part: 'send', 'data-airlock': 'send' }, strings.generate);
  const stop = make('button', { type: 'button', part: 'stop', 'data-airlock': 'stop', hidden: '' }, strings.stop);
  const progress = make('progress', { part: 'progress', 'aria-label': strings.generating, hidden: '' });
  buttons.append(submit, stop);
  form.append(buttons, progress);
  const result = make('div', { part: 'result', 'data-airlock': 'result', role: 'region', 'aria-label': strings.result, tabindex: '0', hidden: '' });
  shell.body.append(form, shell.alert, result);

  let busy = false;
  form.addEventListener(
    'submit',
    (event) => {
      event.preventDefault();
      if (busy) return;
      const values: Record<string, string | number> = {};
      for (const { input, control } of fields) {
        values[input.name] = input.type === 'number' && control.value !== '' ? Number(control.value) : control.value;
      }
      options.onSubmit(values);
    },
    { signal },
  );
  for (const { input, control } of fields) {
    if (input.type !== 'textarea') continue;
    // Enter submits a text area too; Shift+Enter starts a new line.
    control.addEventListener(
      'keydown',
      (event: Event) => {
        const key = event as KeyboardEvent;
        if (key.key !== 'Enter' || key.shiftKey || key.isComposing) return;
        event.preventDefault();
        form.requestSubmit();
      },
      { signal },
    );
  }
  stop.addEventListener('click', () => options.onStop(), { signal });

  return {
    result,
    setBusy(value) {
      busy = value;
      submit.hidden = value;
      stop.hidden = !value;
      progress.hidden = !value;
      result.setAttribute('aria-busy', String(value));
      if (!value && shell.root.activeElement === stop) submit.focus();
      else if (value && shell.root.activeElement === submit) stop.focus();
    },
    focus() {
      fields[0]?.control.focus();
    },
  };
}

/** Builds a text-completion widget's view; without declared inputs it shows one text area. */
export function createCompletionView(options: FormViewOptions, inputs: readonly WidgetInput[] | undefined): CompletionView {
  const fields = inputs?.length ? inputs : [{ name: 'text', label: options.strings.message, type: 'textarea' as const, required: true }];
  const view = createFormView(options, fields);
  const make = elementMaker(options.shell.document);
  return {
    ...view,
    startResult() {
      const output = make('div', { part: 'message message-assistant', 'data-airlock': 'assistant-message', 'data-streaming': 'true', dir: 'auto' });
      view.result.replaceChildren(output);
      view.result.hidden = false;
      const stream = new MarkdownStream(output);
      return {
        append: (delta) => stream.append(delta),
        finish() {
          output.removeAttribute('data-streaming');
          const actions = make('div', { part: 'actions' });
          const copy = make('button', { type: 'button', 'data-airlock': 'copy' }, options.strings.copy);
          copy.addEventListener('click', () => options.onCopy(stream.text, copy), { signal: options.signal });
          actions.append(copy);
          view.result.append(actions);
        },
        get text() {
          return stream.text;
        },
      };
    },
  };
}
