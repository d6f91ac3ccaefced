import { elementMaker } from './dom';
import type { ViewOptions } from './view';

/** What chat and form views share: the send and Stop buttons, Enter to send, the copy action. */
export interface Controls {
  readonly make: ReturnType<typeof elementMaker>;
  readonly send: HTMLButtonElement;
  readonly stop: HTMLButtonElement;
  /** Swaps send for Stop while busy, marks `region` busy, and keeps focus on whichever button is shown (`back` once done). */
  setBusy(busy: boolean, region: HTMLElement, back: HTMLElement): void;
  /** Enter in `control` submits its form; Shift+Enter starts a new line. */
  submitOnEnter(control: HTMLElement, form: HTMLFormElement): void;
  /** Actions under an answer: a copy button for the text `text()` returns. */
  actions(text: () => string): HTMLElement;
}

/** Makes the send button (labelled `sendLabel`) and the Stop button of a view. */
export function createControls(options: ViewOptions, sendLabel: string): Controls {
  const { shell, strings, signal } = options;
  const make = elementMaker(shell.document);
  const send = make('button', { part: 'send', type: 'submit', 'data-airlock': 'send' }, sendLabel);
  const stop = make('button', { part: 'stop', type: 'button', 'data-airlock': 'stop', hidden: '' }, strings.stop);
  stop.addEventListener('click', () => options.onStop(), { signal });
  return {
    make,
    send,
    stop,
    setBusy(value, region, back) {
      // While busy the send button is hidden: views read it as the busy state.
      send.hidden = value;
      stop.hidden = !value;
      region.setAttribute('aria-busy', String(value));
      // The button under focus just swapped.
      if (!value && shell.root.activeElement === stop) back.focus();
      else if (value && shell.root.activeElement === send) stop.focus();
    },
    submitOnEnter(control, form) {
      control.addEventListener(
        'keydown',
        (event) => {
          const key = event as KeyboardEvent;
          // `isComposing`: Enter also confirms an IME candidate (Chinese, Japanese…) and must not send then.
          if (key.key !== 'Enter' || key.shiftKey || key.isComposing) return;
          event.preventDefault();
          form.requestSubmit();
        },
        { signal },
      );
    },
    actions(text) {
      const actions = make('div', { part: 'actions' });
      const copy = actions.appendChild(make('button', { type: 'button', 'data-airlock': 'copy' }, strings.copy));
      copy.addEventListener('click', () => options.onCopy(text(), copy), { signal });
      return actions;
    },
  };
}
