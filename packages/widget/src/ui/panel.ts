import type { WidgetPublicConfig } from '@airlock/protocol';
import { createStyleSheet } from './styles';

/** What the panel reports back to its owner. */
export interface PanelOptions {
  /** Element the widget's host element is appended to. */
  parent: Element;
  /** `floating` pins the panel to the viewport's corner; `inline` fills `parent`. */
  placement: 'floating' | 'inline';
  /** The visitor submitted a message (Enter or the Send button). */
  onSubmit: (text: string) => void;
  /** The visitor pressed Stop. */
  onStop: () => void;
}

/** A reply bubble being streamed into. */
export interface ReplyView {
  append(delta: string): void;
  finish(): void;
  remove(): void;
}

/** The chat panel: DOM only, no network and no conversation state. */
export interface Panel {
  readonly host: HTMLElement;
  configure(config: WidgetPublicConfig): void;
  addUserMessage(text: string): void;
  startReply(): ReplyView;
  setStreaming(streaming: boolean): void;
  showError(text: string | undefined): void;
  clear(): void;
  destroy(): void;
}

/** Builds the panel inside a shadow root on a new host element appended to `options.parent`. */
export function createPanel(options: PanelOptions): Panel {
  const document = options.parent.ownerDocument;
  // One signal removes every DOM listener on destroy, however many there are.
  const listeners = new AbortController();
  const element = <K extends keyof HTMLElementTagNameMap>(
    tag: K,
    attributes: Record<string, string>,
    text?: string,
  ): HTMLElementTagNameMap[K] => {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const host = element('div', { 'data-airlock': 'widget', 'data-placement': options.placement, 'data-theme': 'auto' });
  const root = host.attachShadow({ mode: 'open' });
  root.adoptedStyleSheets = [createStyleSheet()];

  const panel = element('section', { part: 'panel', 'data-airlock': 'panel', 'aria-labelledby': 'title' });
  const header = element('h2', { part: 'header', id: 'title' }, 'Chat');
  const transcript = element('div', { part: 'transcript', role: 'log', 'data-airlock': 'transcript' });
  const alert = element('div', { part: 'alert', role: 'alert', 'data-airlock': 'error' });
  const form = element('form', { part: 'composer' });
  const label = element('label', { for: 'input', class: 'visually-hidden' }, 'Message');
  const input = element('textarea', { part: 'input', id: 'input', rows: '1', 'data-airlock': 'input' });
  const send = element('button', { part: 'send', type: 'submit', 'data-airlock': 'send' }, 'Send');
  const stop = element('button', { part: 'stop', type: 'button', 'data-airlock': 'stop', hidden: '' }, 'Stop');
  form.append(label, input, send, stop);
  panel.append(header, transcript, alert, form);
  root.append(panel);

  let greeting: string | undefined;
  let streaming = false;

  const scrollToEnd = (): void => {
    transcript.scrollTop = transcript.scrollHeight;
  };
  const addMessage = (role: 'user' | 'assistant', text: string): HTMLElement => {
    const message = element('div', { part: `message message-${role}`, 'data-role': role }, text);
    if (role === 'assistant') message.setAttribute('data-airlock', 'assistant-message');
    transcript.append(message);
    scrollToEnd();
    return message;
  };
  const showGreeting = (): void => {
    if (greeting) addMessage('assistant', greeting).setAttribute('data-greeting', 'true');
  };
  const submit = (): void => {
    const text = input.value;
    // While a reply streams the visitor keeps their draft; Stop comes first.
    if (streaming || text.trim() === '') return;
    input.value = '';
    options.onSubmit(text);
  };

  const signal = listeners.signal;
  form.addEventListener(
    'submit',
    (event) => {
      event.preventDefault();
      submit();
    },
    { signal },
  );
  input.addEventListener(
    'keydown',
    (event) => {
      // `isComposing`: Enter also confirms an IME candidate (Chinese, Japanese…) and must not send then.
      if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
      event.preventDefault();
      submit();
    },
    { signal },
  );
  stop.addEventListener('click', () => options.onStop(), { signal });

  options.parent.append(host);

  return {
    host,
    configure(config) {
      header.textContent = config.title;
      host.setAttribute('data-theme', config.theme);
      if (config.placeholder) input.placeholder = config.placeholder;
      greeting = config.greeting;
      if (transcript.childElementCount === 0) showGreeting();
    },
    addUserMessage(text) {
      addMessage('user', text);
    },
    startReply() {
      const message = addMessage('assistant', '');
      message.setAttribute('data-streaming', 'true');
      // Model output only ever lands in this text node's data, never in HTML; one
      // node grown with appendData keeps a long reply linear rather than quadratic.
      const text = document.createTextNode('');
      message.append(text);
      return {
        append(delta) {
          text.appendData(delta);
          scrollToEnd();
        },
        finish() {
          message.removeAttribute('data-streaming');
        },
        remove() {
          message.remove();
        },
      };
    },
    setStreaming(value) {
      streaming = value;
      send.hidden = value;
      stop.hidden = !value;
      // Screen readers wait for the whole reply instead of reading every delta.
      transcript.setAttribute('aria-busy', String(value));
    },
    showError(text) {
      alert.textContent = text ?? '';
    },
    clear() {
      transcript.replaceChildren();
      alert.textContent = '';
      showGreeting();
    },
    destroy() {
      listeners.abort();
      host.remove();
    },
  };
}
