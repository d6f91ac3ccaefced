// @vitest-environment happy-dom
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createWidget, type Widget, type WidgetEventMap } from '../src/index';
import { chunkEvent, readJson, sendJson, startServer, type TestServer } from './support/http-server';

// The page (happy-dom, http://localhost:3000) and the server differ in origin,
// as on a real customer site, so every request goes through CORS.
const cors = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'authorization, content-type',
  'Access-Control-Allow-Methods': 'POST',
};
const publicConfig = { id: 'wgt_ui', type: 'chat', title: 'Ask Airlock', theme: 'dark', greeting: 'Hi! How can I help?' };

interface ChatRequest {
  messages: { role: string; content: string }[];
  stream: boolean;
  model?: string;
}

/** A real local Airlock-shaped server; `reply` answers each chat request. */
async function startAirlock(reply: (response: ServerResponse, request: IncomingMessage) => unknown) {
  const chatRequests: { authorization: string | undefined; body: ChatRequest }[] = [];
  const server = await startServer(async (request, response) => {
    if (request.method === 'OPTIONS') {
      response.writeHead(204, cors);
      response.end();
      return;
    }
    if (request.url === '/airlock/token') {
      await readJson(request);
      sendJson(response, 200, { token: 'token-1', expiresAt: Date.now() + 600_000, widget: publicConfig }, cors);
      return;
    }
    if (request.url === '/airlock/v1/chat/completions') {
      chatRequests.push({ authorization: request.headers.authorization, body: (await readJson(request)) as ChatRequest });
      response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', ...cors });
      await reply(response, request);
      return;
    }
    sendJson(response, 404, { error: { message: 'Not found.', type: 'airlock_error', code: 'not_found' } }, cors);
  });
  servers.push(server);
  return { apiBase: `${server.url}/airlock/`, chatRequests };
}

const servers: TestServer[] = [];
const widgets: Widget[] = [];
afterEach(async () => {
  widgets.splice(0).forEach((widget) => widget.destroy());
  await Promise.all(servers.splice(0).map((server) => server.close()));
  document.body.replaceChildren();
});

function mount(apiBase: string, target?: Element): { widget: Widget; root: ShadowRoot; host: HTMLElement } {
  const widget = createWidget({ widgetId: 'wgt_ui', apiBase, target });
  widgets.push(widget);
  const host = (target ?? document.body).querySelector<HTMLElement>('[data-airlock="widget"]');
  if (!host?.shadowRoot) throw new Error('no widget host with a shadow root');
  return { widget, root: host.shadowRoot, host };
}

function find<T extends Element>(root: ShadowRoot, selector: string): T {
  const element = root.querySelector<T>(selector);
  if (!element) throw new Error(`nothing matches ${selector}`);
  return element;
}

/** Types into the textarea and presses Enter, as a visitor would. */
function typeAndPressEnter(root: ShadowRoot, text: string, init: KeyboardEventInit = {}): KeyboardEvent {
  const input = find<HTMLTextAreaElement>(root, '[data-airlock="input"]');
  input.value = text;
  input.dispatchEvent(new Event('input', { bubbles: true }));
  const event = new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true, ...init });
  input.dispatchEvent(event);
  return event;
}

function next<E extends keyof WidgetEventMap>(widget: Widget, event: E): Promise<WidgetEventMap[E]> {
  return new Promise((resolve) => {
    const off = widget.on(event, (detail) => {
      off();
      resolve(detail);
    });
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('createWidget', () => {
  it('renders the panel in a shadow root with constructable styles and the public config', async () => {
    const { apiBase } = await startAirlock((response) => response.end('data: [DONE]\n\n'));
    const { widget, root, host } = mount(apiBase);
    await widget.whenReady();
    expect(host.parentElement).toBe(document.body);
    expect(host.getAttribute('data-placement')).toBe('floating');
    expect(host.getAttribute('data-theme')).toBe('dark');
    expect(root.adoptedStyleSheets).toHaveLength(1);
    expect(root.querySelector('style, [style]')).toBeNull();
    expect(find(root, '[part~="header"]').textContent).toBe('Ask Airlock');
    expect(find(root, '[data-airlock="transcript"]').getAttribute('role')).toBe('log');
    expect(find(root, '[data-greeting]').textContent).toBe('Hi! How can I help?');
    const input = find<HTMLTextAreaElement>(root, '[data-airlock="input"]');
    expect(find(root, `label[for="${input.id}"]`).textContent).toBe('Message');
    for (const part of ['panel', 'header', 'transcript', 'input', 'send']) expect(root.querySelector(`[part~="${part}"]`)).not.toBeNull();
  });

  it('sends on Enter and streams the reply into the transcript as it arrives', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const airlock = await startAirlock(async (response) => {
      response.write(': heartbeat\n\n' + chunkEvent('Hello'));
      await released;
      response.end(chunkEvent(', visitor!') + 'data: [DONE]\n\n');
    });
    const { widget, root } = mount(airlock.apiBase);
    await widget.whenReady();
    const deltas: string[] = [];
    widget.on('message-delta', ({ delta }) => deltas.push(delta));
    const complete = next(widget, 'message-complete');

    const enter = typeAndPressEnter(root, 'Hi there');
    expect(enter.defaultPrevented).toBe(true);
    expect(find<HTMLTextAreaElement>(root, '[data-airlock="input"]').value).toBe('');

    // The first chunk is on screen while the server still holds back the rest.
    await until(() => root.querySelector('[data-airlock="assistant-message"][data-streaming="true"]')?.textContent === 'Hello', 'first delta');
    expect(find<HTMLButtonElement>(root, '[data-airlock="stop"]').hidden).toBe(false);
    expect(find<HTMLButtonElement>(root, '[data-airlock="send"]').hidden).toBe(true);
    release();

    expect(await complete).toEqual({ message: { role: 'assistant', content: 'Hello, visitor!' }, stopped: false });
    const replies = root.querySelectorAll('[data-airlock="assistant-message"]:not([data-greeting])');
    expect(replies).toHaveLength(1);
    expect(replies[0]?.textContent).toBe('Hello, visitor!');
    expect(replies[0]?.hasAttribute('data-streaming')).toBe(false);
    expect(deltas).toEqual(['Hello', ', visitor!']);
    expect(find<HTMLButtonElement>(root, '[data-airlock="send"]').hidden).toBe(false);
    expect(airlock.chatRequests).toEqual([
      { authorization: 'Bearer token-1', body: { messages: [{ role: 'user', content: 'Hi there' }], stream: true } },
    ]);
  });

  it('keeps Shift+Enter for a new line', async () => {
    const airlock = await startAirlock((response) => response.end('data: [DONE]\n\n'));
    const { widget, root } = mount(airlock.apiBase);
    await widget.whenReady();
    const enter = typeAndPressEnter(root, 'line one', { shiftKey: true });
    expect(enter.defaultPrevented).toBe(false);
    expect(find<HTMLTextAreaElement>(root, '[data-airlock="input"]').value).toBe('line one');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(airlock.chatRequests).toHaveLength(0);
  });

  it('sends the conversation so far with the next message', async () => {
    let turn = 0;
    const airlock = await startAirlock((response) => response.end(chunkEvent(`reply ${++turn}`) + 'data: [DONE]\n\n'));
    const { widget } = mount(airlock.apiBase);
    await widget.send('first');
    await widget.send('second');
    expect(airlock.chatRequests[1]?.body.messages).toEqual([
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'reply 1' },
      { role: 'user', content: 'second' },
    ]);
  });

  it('renders HTML in a reply as text, creating no element', async () => {
    const payload = '<img src=x onerror=alert(1)><script>alert(2)</script>';
    const airlock = await startAirlock((response) =>
      response.end(chunkEvent(payload.slice(0, 9)) + chunkEvent(payload.slice(9)) + 'data: [DONE]\n\n'),
    );
    const { widget, root } = mount(airlock.apiBase);
    typeAndPressEnter(root, '<b>bold?</b>');
    await next(widget, 'message-complete');
    const reply = find(root, '[data-airlock="assistant-message"]:not([data-greeting])');
    expect(reply.textContent).toBe(payload);
    expect(reply.children).toHaveLength(0);
    expect(root.querySelector('img, script, b')).toBeNull();
    expect(find(root, '[data-role="user"]').textContent).toBe('<b>bold?</b>');
  });

  it('Stop aborts the request and keeps the text received so far', async () => {
    let closed!: () => void;
    const requestClosed = new Promise<void>((resolve) => (closed = resolve));
    const airlock = await startAirlock((response) => {
      response.on('close', () => closed());
      response.write(chunkEvent('Partial'));
    });
    const { widget, root } = mount(airlock.apiBase);
    const complete = next(widget, 'message-complete');
    typeAndPressEnter(root, 'Tell me a long story');
    await until(() => root.querySelector('[data-airlock="assistant-message"]:not([data-greeting])')?.textContent === 'Partial', 'first delta');
    find<HTMLButtonElement>(root, '[data-airlock="stop"]').click();
    expect(await complete).toEqual({ message: { role: 'assistant', content: 'Partial' }, stopped: true });
    await requestClosed;
    expect(root.querySelector('[data-streaming]')).toBeNull();
    expect(find(root, '[role="alert"]').textContent).toBe('');
  });

  it('shows a failure after the stream started in plain words and emits it', async () => {
    const airlock = await startAirlock((response) =>
      response.end(
        chunkEvent('Half') +
          `data: ${JSON.stringify({ error: { message: 'Upstream timed out after 60 s', type: 'airlock_error', code: 'upstream_timeout' } })}\n\n`,
      ),
    );
    const { widget, root } = mount(airlock.apiBase);
    const error = next(widget, 'error');
    await widget.send('Hi');
    expect(await error).toMatchObject({ name: 'WidgetError', code: 'upstream_timeout' });
    expect(find(root, '[role="alert"]').textContent).toBe('The reply took too long. Please try again.');
    expect(find(root, '[data-airlock="assistant-message"]:not([data-greeting])').textContent).toBe('Half');
  });

  it('mounts inside a target, and destroy() removes the host and stops listening', async () => {
    const airlock = await startAirlock((response) => response.end(chunkEvent('x') + 'data: [DONE]\n\n'));
    const target = document.createElement('div');
    document.body.append(target);
    const { widget, root, host } = mount(airlock.apiBase, target);
    await widget.whenReady();
    expect(host.parentElement).toBe(target);
    expect(host.getAttribute('data-placement')).toBe('inline');
    let events = 0;
    widget.on('message-complete', () => events++);
    widget.destroy();
    expect(target.querySelector('[data-airlock="widget"]')).toBeNull();
    expect(document.querySelectorAll('[data-airlock]')).toHaveLength(0);
    // The detached textarea no longer reacts to Enter, and send() is a no-op.
    expect(typeAndPressEnter(root, 'anyone there?').defaultPrevented).toBe(false);
    await widget.send('hello?');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(airlock.chatRequests).toHaveLength(0);
    expect(events).toBe(0);
    widget.destroy();
  });
});
