import type { AnswerSource } from '@airlock/protocol';
import { MarkdownStream, renderMarkdown } from '../render/markdown';
import { createControls } from './controls';
import type { View, ViewOptions } from './view';

/** Builds the chat view (transcript and composer) into `options.shell.body`. */
export function createChatView(options: ViewOptions): View {
  const { shell, strings, signal } = options;
  const document = shell.document;
  const controls = createControls(options, strings.send);
  const { make, send } = controls;

  // Completed answers are announced once through the shell's live region, so the
  // log itself stays quiet: otherwise screen readers would read every delta, or
  // each answer twice.
  const transcript = make('div', {
    part: 'transcript',
    role: 'log',
    'aria-live': 'off',
    'data-airlock': 'transcript',
    tabindex: '0',
    'aria-label': strings.title,
  });
  const suggestions = make('div', { part: 'suggestions', role: 'group', 'aria-label': strings.suggestions, hidden: '' });
  const form = make('form', { part: 'composer' });
  const label = make('label', { for: 'input', class: 'visually-hidden' }, strings.message);
  const input = make('textarea', { part: 'input', id: 'input', rows: '1', 'data-airlock': 'input', dir: 'auto' });
  form.append(label, input, send, controls.stop);
  shell.body.append(transcript, suggestions, shell.alert, form);

  let greeting: string | undefined;
  let prompts: string[] = [];

  // Once a frame, not once a token: reading scrollHeight forces a layout.
  let scrollFrame = 0;
  const scrollToEnd = (): void => {
    const view = document.defaultView;
    if (!view) return;
    scrollFrame ||= view.requestAnimationFrame(() => {
      scrollFrame = 0;
      transcript.scrollTop = transcript.scrollHeight;
    });
  };
  const addMessage = (role: 'user' | 'assistant'): HTMLElement => {
    // `auto`: each message takes the direction of its own words, so an English answer in an Arabic page ends on the right.
    const message = make('div', { part: `message message-${role}`, 'data-role': role, dir: 'auto' });
    if (role === 'assistant') message.setAttribute('data-airlock', 'assistant-message');
    transcript.append(message);
    return message;
  };
  const addActions = (message: HTMLElement, text: () => string): HTMLElement => {
    const actions = controls.actions(text);
    message.after(actions);
    return actions;
  };
  // A disclosure, so an answer's sources take one line until the visitor opens it; `<ol>` numbers them.
  const addSources = (message: HTMLElement, sources: AnswerSource[] = []): void => {
    if (!sources[0]) return;
    const list = make('ol', { 'aria-label': strings.sources });
    const details = make('details', { part: 'sources' });
    details.append(make('summary', {}, `${strings.sources} (${sources.length})`), list);
    message.append(details);
    for (const { title, location, url } of sources) {
      // Text only: titles and locations are the words of the owner's files, never markup.
      const item = list.appendChild(make('li'));
      item.append(url ? make('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, title) : title);
      if (location) item.append(' ', make('small', {}, location));
    }
  };
  const showIntro = (): void => {
    if (greeting) {
      const message = addMessage('assistant');
      message.setAttribute('data-greeting', 'true');
      message.append(greeting);
    }
    suggestions.hidden = prompts.length === 0;
  };
  /** Sends `text` unless it is blank or a reply is streaming (the visitor keeps their draft; Stop comes first); says whether it did. */
  const submit = (text: string): boolean => {
    if (controls.send.hidden || !text.trim()) return false;
    suggestions.hidden = true;
    options.onSubmit(text);
    return true;
  };

  form.addEventListener(
    'submit',
    (event) => {
      event.preventDefault();
      if (submit(input.value)) input.value = '';
    },
    { signal },
  );
  controls.submitOnEnter(input, form);

  return {
    configure(config) {
      input.placeholder = config.placeholder ?? '';
      greeting = config.greeting;
      prompts = config.suggestedPrompts ?? [];
      suggestions.replaceChildren(
        ...prompts.map((prompt) => {
          const button = make('button', { type: 'button', part: 'suggestion', 'data-airlock': 'suggestion' }, prompt);
          button.addEventListener('click', () => submit(prompt), { signal });
          return button;
        }),
      );
      // Until the visitor writes, the intro follows the settings (the admin page's preview changes them as the owner types).
      if (!transcript.querySelector('[data-role="user"]')) {
        transcript.replaceChildren();
        showIntro();
      }
    },
    addUserMessage(text) {
      addMessage('user').append(text);
      suggestions.hidden = true;
      scrollToEnd();
    },
    addAnswer({ content, sources }) {
      const message = addMessage('assistant');
      message.append(renderMarkdown(content, document));
      addSources(message, sources);
      addActions(message, () => content);
    },
    startReply() {
      const message = addMessage('assistant');
      message.setAttribute('data-streaming', 'true');
      const view = new MarkdownStream(message);
      let actions: HTMLElement | undefined;
      return {
        append(delta) {
          view.append(delta);
          scrollToEnd();
        },
        finish(sources) {
          message.removeAttribute('data-streaming');
          addSources(message, sources);
          actions = addActions(message, () => view.text);
          scrollToEnd();
        },
        remove() {
          message.remove();
          actions?.remove();
        },
      };
    },
    setBusy(value) {
      // Focus stays in the composer.
      controls.setBusy(value, transcript, input);
    },
    clear() {
      transcript.replaceChildren();
      shell.showError(undefined);
      showIntro();
    },
    focus() {
      input.focus();
    },
  };
}
