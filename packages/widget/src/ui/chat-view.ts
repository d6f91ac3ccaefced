import type { AnswerSource } from '@airlock/protocol';
import type { WidgetStrings } from '../locales/strings';
import { MarkdownStream, renderMarkdown } from '../render/markdown';
import { elementMaker } from './dom';
import type { Shell } from './shell';

/** What the chat view reports back to its owner. */
export interface ChatViewOptions {
  shell: Shell;
  strings: WidgetStrings;
  signal: AbortSignal;
  /** The visitor submitted a message (Enter, the Send button or a suggestion). */
  onSubmit: (text: string) => void;
  onStop: () => void;
  onCopy: (text: string, button: HTMLButtonElement) => void;
}

/** A reply bubble being streamed into. */
export interface ReplyView {
  append(delta: string): void;
  /** Marks the reply complete and adds its sources, when it has any, and its actions. */
  finish(sources?: AnswerSource[]): void;
  remove(): void;
}

/** The chat transcript and composer: DOM only, no network and no conversation state. */
export interface ChatView {
  configure(config: { greeting?: string; placeholder?: string; suggestedPrompts?: string[] }): void;
  addUserMessage(text: string): void;
  addAssistantMessage(text: string, sources?: AnswerSource[]): void;
  startReply(): ReplyView;
  setStreaming(streaming: boolean): void;
  clear(): void;
  focus(): void;
}

/** Builds the chat view into `options.shell.body`. */
export function createChatView(options: ChatViewOptions): ChatView {
  const { shell, strings, signal } = options;
  const document = shell.document;
  const make = elementMaker(document);

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
  const send = make('button', { part: 'send', type: 'submit', 'data-airlock': 'send' }, strings.send);
  const stop = make('button', { part: 'stop', type: 'button', 'data-airlock': 'stop', hidden: '' }, strings.stop);
  form.append(label, input, send, stop);
  shell.body.append(transcript, suggestions, shell.alert, form);

  let greeting: string | undefined;
  let prompts: string[] = [];
  let streaming = false;

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
    const actions = make('div', { part: 'actions' });
    const copy = make('button', { type: 'button', 'data-airlock': 'copy' }, strings.copy);
    copy.addEventListener('click', () => options.onCopy(text(), copy), { signal });
    actions.append(copy);
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
  const submit = (text: string): void => {
    // While a reply streams the visitor keeps their draft; Stop comes first.
    if (streaming || text.trim() === '') return;
    suggestions.hidden = true;
    options.onSubmit(text);
  };

  form.addEventListener(
    'submit',
    (event) => {
      event.preventDefault();
      const text = input.value;
      if (streaming || text.trim() === '') return;
      input.value = '';
      submit(text);
    },
    { signal },
  );
  input.addEventListener(
    'keydown',
    (event) => {
      // `isComposing`: Enter also confirms an IME candidate (Chinese, Japanese…) and must not send then.
      if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
      event.preventDefault();
      form.requestSubmit();
    },
    { signal },
  );
  stop.addEventListener('click', () => options.onStop(), { signal });

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
    addAssistantMessage(text, sources) {
      const message = addMessage('assistant');
      message.append(renderMarkdown(text, document));
      addSources(message, sources);
      addActions(message, () => text);
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
    setStreaming(value) {
      streaming = value;
      send.hidden = value;
      stop.hidden = !value;
      transcript.setAttribute('aria-busy', String(value));
      // Keep focus in the composer: the button under it just swapped.
      if (!value && shell.root.activeElement === stop) input.focus();
      else if (value && shell.root.activeElement === send) stop.focus();
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
