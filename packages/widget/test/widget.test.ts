// @vitest-environment happy-dom
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createWidget, type Widget, type WidgetEventMap, type WidgetOptions } from '../src/index';
import { chunkEvent, readJson, sendJson, startServer, type TestServer } from './support/http-server';

// The page (happy-dom, http://localhost:3000) and the server differ in origin,
// as on a real customer site, so every request goes through CORS.
const cors = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'authorization, content-type, idempotency-key',
  'Access-Control-Allow-Methods': 'POST',
};
const chatConfig = { id: 'wgt_ui', type: 'chat', title: 'Ask Airlock', theme: 'dark', greeting: 'Hi! How can I help?' };

interface RecordedRequest {
  path: string | undefined;
  authorization: string | undefined;
  idempotencyKey: string | undefined;
  body: { messages?: { role: string; content: string }[]; stream?: boolean; inputs?: unknown; prompt?: string };
}

/** A real local Airlock-shaped server; `reply` answers each proxied request. */
async function startAirlock(
  reply: (response: ServerResponse, request: IncomingMessage, index: number) => unknown,
  options: { config?: object; expiresIn?: number } = {},
) {
  const requests: RecordedRequest[] = [];
  let mints = 0;
  const server = await startServer(async (request, response) => {
    if (request.method === 'OPTIONS') {
      response.writeHead(204, cors);
      response.end();
      return;
    }
    if (request.url === '/airlock/token') {
      await readJson(request);
      mints += 1;
      const expiresAt = Date.now() + (options.expiresIn ?? 600_000);
      sendJson(response, 200, { token: `token-${mints}`, expiresAt, widget: options.config ?? chatConfig }, cors);
      return;
    }
    if (request.url?.startsWith('/airlock/v1/')) {
      requests.push({
        path: request.url,
        authorization: request.headers.authorization,
        idempotencyKey: request.headers['idempotency-key'] as string | undefined,
        body: (await readJson(request)) as RecordedRequest['body'],
      });
      if (request.url !== '/airlock/v1/images/generations') {
        response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', ...cors });
      }
      await reply(response, request, requests.length - 1);
      return;
    }
    sendJson(response, 404, { error: { message: 'Not found.', type: 'airlock_error', code: 'not_found' } }, cors);
  });
  servers.push(server);
  return { apiBase: `${server.url}/airlock/`, requests, mints: () => mints };
}

const servers: TestServer[] = [];
const widgets: Widget[] = [];
afterEach(async () => {
  widgets.splice(0).forEach((widget) => widget.destroy());
  await Promise.all(servers.splice(0).map((server) => server.close()));
  document.body.replaceChildren();
  sessionStorage.clear();
});

async function mount(apiBase: string, options: Partial<WidgetOptions> = {}) {
  const widget = createWidget({ widgetId: 'wgt_ui', apiBase, storage: 'memory', ...options });
  widgets.push(widget);
  await widget.whenReady();
  const host = (options.target ?? document.body).querySelector<HTMLElement>('[data-airlock="widget"]');
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

const replies = (root: ShadowRoot) => Array.from(root.querySelectorAll('[data-airlock="assistant-message"]:not([data-greeting])'));
const done = (response: ServerResponse, text: string) => response.end(chunkEvent(text) + 'data: [DONE]\n\n');

describe('createWidget: chat', () => {
  it('renders a launcher and a panel in a shadow root with constructable styles and the public config', async () => {
    const { apiBase } = await startAirlock((response) => response.end('data: [DONE]\n\n'));
    const { root, host } = await mount(apiBase);
    expect(host.parentElement).toBe(document.body);
    expect(host.getAttribute('data-mode')).toBe('launcher');
    expect(host.getAttribute('data-theme')).toBe('dark');
    expect(root.adoptedStyleSheets.length).toBeGreaterThanOrEqual(1);
    expect(root.querySelector('style, [style]')).toBeNull();
    expect(find(root, 'h2').textContent).toBe('Ask Airlock');
    expect(find(root, '[data-airlock="transcript"]').getAttribute('role')).toBe('log');
    expect(find(root, '[role="status"]')).toBeTruthy();
    expect(find(root, '[role="alert"]')).toBeTruthy();
    expect(find(root, '[data-greeting]').textContent).toBe('Hi! How can I help?');
    const input = find<HTMLTextAreaElement>(root, '[data-airlock="input"]');
    expect(find(root, `label[for="${input.id}"]`).textContent).toBe('Message');
    for (const part of ['panel', 'header', 'transcript', 'input', 'send', 'launcher']) expect(root.querySelector(`[part~="${part}"]`)).not.toBeNull();
  });

  it('opens and closes the launcher; Esc closes and returns focus to the launcher', async () => {
    const { apiBase } = await startAirlock((response) => response.end('data: [DONE]\n\n'));
    const { widget, root } = await mount(apiBase);
    const panel = find<HTMLElement>(root, '[part~="panel"]');
    const launcher = find<HTMLButtonElement>(root, '[part~="launcher"]');
    expect(panel.hidden).toBe(true);
    expect(launcher.getAttribute('aria-expanded')).toBe('false');
    const opened = next(widget, 'open');
    launcher.click();
    await opened;
    expect(panel.hidden).toBe(false);
    expect(launcher.getAttribute('aria-expanded')).toBe('true');
    expect(root.activeElement).toBe(find(root, '[data-airlock="input"]'));
    const closed = next(widget, 'close');
    find(root, '[data-airlock="input"]').dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, cancelable: true }));
    await closed;
    expect(panel.hidden).toBe(true);
    expect(root.activeElement).toBe(launcher);
    widget.toggle();
    expect(panel.hidden).toBe(false);
    widget.close();
    expect(panel.hidden).toBe(true);
  });

  it('starts open with open: true without taking the page focus', async () => {
    const { apiBase } = await startAirlock((response) => response.end('data: [DONE]\n\n'));
    const pageInput = document.createElement('input');
    document.body.append(pageInput);
    pageInput.focus();
    const { root } = await mount(apiBase, { open: true });
    expect(find<HTMLElement>(root, '[part~="panel"]').hidden).toBe(false);
    expect(document.activeElement).toBe(pageInput);
  });

  it('sends on Enter and streams the reply into the transcript, announcing it once when complete', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const airlock = await startAirlock(async (response) => {
      response.write(': heartbeat\n\n' + chunkEvent('Hello'));
      await released;
      response.end(chunkEvent(', **visitor**!') + 'data: [DONE]\n\n');
    });
    const { widget, root } = await mount(airlock.apiBase, { mode: 'inline', target: document.body });
    const deltas: string[] = [];
    widget.on('message-delta', ({ delta }) => deltas.push(delta));
    const complete = next(widget, 'message-complete');

    const enter = typeAndPressEnter(root, 'Hi there');
    expect(enter.defaultPrevented).toBe(true);
    expect(find<HTMLTextAreaElement>(root, '[data-airlock="input"]').value).toBe('');

    await until(() => root.querySelector('[data-airlock="assistant-message"][data-streaming="true"]')?.textContent === 'Hello', 'first delta');
    expect(find<HTMLButtonElement>(root, '[data-airlock="stop"]').hidden).toBe(false);
    expect(find<HTMLButtonElement>(root, '[data-airlock="send"]').hidden).toBe(true);
    // Not announced token by token.
    expect(find(root, '[role="status"]').textContent).toBe('');
    release();

    expect(await complete).toEqual({ message: { role: 'assistant', content: 'Hello, **visitor**!' }, stopped: false });
    const [reply] = replies(root);
    expect(reply?.textContent).toBe('Hello, visitor!');
    expect(reply?.querySelector('strong')?.textContent).toBe('visitor');
    expect(reply?.hasAttribute('data-streaming')).toBe(false);
    expect(deltas).toEqual(['Hello', ', **visitor**!']);
    await until(() => find(root, '[role="status"]').textContent === 'Hello, **visitor**!', 'the announcement');
    expect(airlock.requests).toEqual([
      {
        path: '/airlock/v1/chat/completions',
        authorization: 'Bearer token-1',
        idempotencyKey: expect.stringMatching(/^[0-9a-f-]{36}$/),
        body: { messages: [{ role: 'user', content: 'Hi there' }], stream: true },
      },
    ]);
  });

  it('keeps Shift+Enter for a new line', async () => {
    const airlock = await startAirlock((response) => response.end('data: [DONE]\n\n'));
    const { root } = await mount(airlock.apiBase);
    const enter = typeAndPressEnter(root, 'line one', { shiftKey: true });
    expect(enter.defaultPrevented).toBe(false);
    expect(find<HTMLTextAreaElement>(root, '[data-airlock="input"]').value).toBe('line one');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(airlock.requests).toHaveLength(0);
  });

  it('sends the conversation so far with the next message, each turn with its own idempotency key', async () => {
    const airlock = await startAirlock((response, _request, index) => done(response, `reply ${index + 1}`));
    const { widget } = await mount(airlock.apiBase);
    await widget.send('first');
    await widget.send('second');
    expect(airlock.requests[1]?.body.messages).toEqual([
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'reply 1' },
      { role: 'user', content: 'second' },
    ]);
    expect(airlock.requests[0]?.idempotencyKey).not.toBe(airlock.requests[1]?.idempotencyKey);
  });

  it('shows suggested prompts as buttons that send', async () => {
    const airlock = await startAirlock((response) => done(response, 'ok'));
    const { widget, root } = await mount(airlock.apiBase, { mode: 'inline', target: document.body });
    expect(root.querySelectorAll('[data-airlock="suggestion"]')).toHaveLength(0);
    widget.destroy();
    const suggested = await startAirlock((response) => done(response, 'ok'), { config: { ...chatConfig, suggestedPrompts: ['Pricing?', 'Hours?'] } });
    const second = await mount(suggested.apiBase, { mode: 'inline', target: document.body });
    const buttons = second.root.querySelectorAll<HTMLButtonElement>('[data-airlock="suggestion"]');
    expect(Array.from(buttons, (button) => button.textContent)).toEqual(['Pricing?', 'Hours?']);
    const complete = next(second.widget, 'message-complete');
    buttons[1]!.click();
    await complete;
    expect(suggested.requests[0]?.body.messages).toEqual([{ role: 'user', content: 'Hours?' }]);
    expect(find<HTMLElement>(second.root, '[part~="suggestions"]').hidden).toBe(true);
  });

  it('renders HTML in a reply as text, creating no element from it', async () => {
    const payload = '<img src=x onerror=alert(1)><script>alert(2)</script>';
    const airlock = await startAirlock((response) => response.end(chunkEvent(payload.slice(0, 9)) + chunkEvent(payload.slice(9)) + 'data: [DONE]\n\n'));
    const { widget, root } = await mount(airlock.apiBase);
    typeAndPressEnter(root, '<b>bold?</b>');
    await next(widget, 'message-complete');
    const [reply] = replies(root);
    expect(reply?.textContent).toBe(payload);
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
    const { widget, root } = await mount(airlock.apiBase);
    const complete = next(widget, 'message-complete');
    typeAndPressEnter(root, 'Tell me a long story');
    await until(() => replies(root)[0]?.textContent === 'Partial', 'first delta');
    find<HTMLButtonElement>(root, '[data-airlock="stop"]').click();
    expect(await complete).toEqual({ message: { role: 'assistant', content: 'Partial' }, stopped: true });
    await requestClosed;
    expect(root.querySelector('[data-streaming]')).toBeNull();
    expect(find(root, '[role="alert"]').textContent).toBe('');
  });

  it('shows a failure in plain words, and retries the turn with the same idempotency key', async () => {
    const airlock = await startAirlock((response, _request, index) =>
      index === 0
        ? response.end(
            chunkEvent('Half') +
              `data: ${JSON.stringify({ error: { message: 'Upstream timed out after 60 s', type: 'airlock_error', code: 'upstream_timeout' } })}\n\n`,
          )
        : done(response, 'Whole answer'),
    );
    const { widget, root } = await mount(airlock.apiBase);
    const error = next(widget, 'error');
    await widget.send('Hi');
    expect(await error).toMatchObject({ name: 'WidgetError', code: 'upstream_timeout' });
    const alert = find(root, '[role="alert"]');
    expect(alert.textContent).toContain('The reply took too long. Please try again.');
    expect(replies(root).map((reply) => reply.textContent)).toEqual(['Half']);

    const complete = next(widget, 'message-complete');
    find<HTMLButtonElement>(root, '[data-airlock="retry"]').click();
    await complete;
    expect(replies(root).map((reply) => reply.textContent)).toEqual(['Whole answer']);
    expect(root.querySelectorAll('[data-role="user"]')).toHaveLength(1);
    expect(alert.textContent).toBe('');
    expect(airlock.requests).toHaveLength(2);
    expect(airlock.requests[1]?.idempotencyKey).toBe(airlock.requests[0]?.idempotencyKey);
    expect(airlock.requests[1]?.body.messages).toEqual([{ role: 'user', content: 'Hi' }]);
  });

  it('copies a reply to the clipboard', async () => {
    const airlock = await startAirlock((response) => done(response, 'Copy me'));
    const { widget, root } = await mount(airlock.apiBase);
    await widget.send('Hi');
    const copy = find<HTMLButtonElement>(root, '[data-airlock="copy"]');
    copy.click();
    await until(() => copy.textContent === 'Copied', 'the copied label');
    expect(await navigator.clipboard.readText()).toBe('Copy me');
  });

  it('clear conversation empties the transcript and shows the greeting again', async () => {
    const airlock = await startAirlock((response) => done(response, 'Answer'));
    const { widget, root } = await mount(airlock.apiBase);
    await widget.send('Hi');
    find<HTMLButtonElement>(root, '[part~="clear"]').click();
    expect(replies(root)).toHaveLength(0);
    expect(root.querySelectorAll('[data-greeting]')).toHaveLength(1);
    await widget.send('Again');
    expect(airlock.requests[1]?.body.messages).toEqual([{ role: 'user', content: 'Again' }]);
  });

  it('mounts inside a target, and destroy() removes the host and stops listening', async () => {
    const airlock = await startAirlock((response) => done(response, 'x'));
    const target = document.createElement('div');
    document.body.append(target);
    const { widget, root, host } = await mount(airlock.apiBase, { target });
    expect(host.parentElement).toBe(target);
    expect(host.getAttribute('data-mode')).toBe('inline');
    let events = 0;
    widget.on('message-complete', () => events++);
    widget.destroy();
    expect(document.querySelectorAll('[data-airlock]')).toHaveLength(0);
    // The detached textarea no longer reacts to Enter, and send() is a no-op.
    expect(typeAndPressEnter(root, 'anyone there?').defaultPrevented).toBe(false);
    await widget.send('hello?');
    // The wake listeners are gone too: no renewal on visibilitychange or online.
    document.dispatchEvent(new Event('visibilitychange'));
    window.dispatchEvent(new Event('online'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(airlock.requests).toHaveLength(0);
    expect(airlock.mints()).toBe(1);
    expect(events).toBe(0);
    widget.destroy();
  });

  it('runs two widgets on one page independently', async () => {
    const first = await startAirlock((response) => done(response, 'from one'));
    const second = await startAirlock((response) => done(response, 'from two'));
    const a = document.createElement('div');
    const b = document.createElement('div');
    document.body.append(a, b);
    const one = await mount(first.apiBase, { target: a });
    const two = await mount(second.apiBase, { target: b });
    await one.widget.send('hello one');
    expect(replies(one.root).map((reply) => reply.textContent)).toEqual(['from one']);
    expect(replies(two.root)).toHaveLength(0);
    one.widget.destroy();
    await two.widget.send('hello two');
    expect(replies(two.root).map((reply) => reply.textContent)).toEqual(['from two']);
    expect(second.requests).toHaveLength(1);
    expect(first.requests).toHaveLength(1);
  });
});

describe('createWidget: token lifecycle', () => {
  it('renews a stale token when the tab becomes visible again or the network returns', async () => {
    // Tokens that are already inside the 30 s renewal margin when they arrive.
    const airlock = await startAirlock((response) => done(response, 'x'), { expiresIn: 20_000 });
    const { widget } = await mount(airlock.apiBase);
    const refreshed: number[] = [];
    widget.on('token-refreshed', ({ expiresAt }) => refreshed.push(expiresAt));
    expect(airlock.mints()).toBe(1);
    document.dispatchEvent(new Event('visibilitychange'));
    await until(() => refreshed.length === 1, 'a renewal on visibilitychange');
    expect(airlock.mints()).toBe(2);
    window.dispatchEvent(new Event('online'));
    await until(() => refreshed.length === 2, 'a renewal on online');
    expect(airlock.mints()).toBe(3);
  });

  it('does not renew a fresh token on wake', async () => {
    const airlock = await startAirlock((response) => done(response, 'x'));
    await mount(airlock.apiBase);
    document.dispatchEvent(new Event('visibilitychange'));
    window.dispatchEvent(new Event('online'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(airlock.mints()).toBe(1);
  });

  it('shows an unusable widget in plain words and rejects whenReady', async () => {
    const server = await startServer((request, response) => {
      if (request.method === 'OPTIONS') {
        response.writeHead(204, cors);
        response.end();
        return;
      }
      sendJson(response, 403, { error: { message: 'Origin https://x not in allow-list', type: 'airlock_error', code: 'origin_not_allowed' } }, cors);
    });
    servers.push(server);
    const widget = createWidget({ widgetId: 'wgt_ui', apiBase: `${server.url}/airlock`, storage: 'memory', mode: 'inline', target: document.body });
    widgets.push(widget);
    await expect(widget.whenReady()).rejects.toMatchObject({ code: 'origin_not_allowed' });
    const root = document.querySelector('[data-airlock="widget"]')!.shadowRoot!;
    expect(find(root, '[role="alert"]').textContent).toBe('This chat is not available on this page.');
    expect(root.querySelector('[data-airlock="retry"]')).toBeNull();
  });
});

describe('createWidget: storage', () => {
  it('writes nothing before the first message, then restores the conversation; reset() wipes it', async () => {
    const airlock = await startAirlock((response) => done(response, 'Stored *answer*'));
    const first = await mount(airlock.apiBase, { storage: 'session', mode: 'inline', target: document.body });
    expect(sessionStorage.length).toBe(0);
    await first.widget.send('Remember me');
    const saved = JSON.parse(sessionStorage.getItem('airlock:wgt_ui') ?? 'null');
    expect(saved.messages.map((message: { role: string; content: string }) => [message.role, message.content])).toEqual([
      ['user', 'Remember me'],
      ['assistant', 'Stored *answer*'],
    ]);
    expect(saved.visitorId).toMatch(/^[0-9a-f-]{36}$/);
    first.widget.destroy();
    document.body.replaceChildren();

    const second = await mount(airlock.apiBase, { storage: 'session', mode: 'inline', target: document.body });
    expect(replies(second.root).map((reply) => reply.innerHTML)).toEqual(['<p>Stored <em>answer</em></p>']);
    await second.widget.send('And now?');
    expect(airlock.requests[1]?.body.messages?.map((message) => message.content)).toEqual(['Remember me', 'Stored *answer*', 'And now?']);
    second.widget.reset();
    await until(() => sessionStorage.getItem('airlock:wgt_ui') === null, 'the wipe');
    expect(replies(second.root)).toHaveLength(0);
  });

  it('keeps instances apart with storageKey', async () => {
    const airlock = await startAirlock((response) => done(response, 'ok'));
    const { widget } = await mount(airlock.apiBase, { storage: 'session', storageKey: 'support-page' });
    await widget.send('Hi');
    expect(sessionStorage.getItem('airlock:support-page')).not.toBeNull();
    expect(sessionStorage.getItem('airlock:wgt_ui')).toBeNull();
  });
});

describe('createWidget: locales', () => {
  it('uses the locale option, lays Arabic out right to left, and lets any string be overridden', async () => {
    const airlock = await startAirlock((response) => done(response, 'x'), { config: { id: 'wgt_ui', type: 'chat', title: 'Aide', theme: 'light' } });
    const french = await mount(airlock.apiBase, { locale: 'fr-CA', strings: { send: 'Go' } });
    expect(french.host.getAttribute('lang')).toBe('fr');
    expect(french.host.hasAttribute('dir')).toBe(false);
    expect(find(french.root, '[part~="launcher"]').getAttribute('aria-label')).toBe('Ouvrir le chat');
    expect(find(french.root, '[data-airlock="send"]').textContent).toBe('Go');
    expect(find(french.root, '[data-airlock="stop"]').textContent).toBe('Arrêter');
    french.widget.destroy();
    const arabic = await mount(airlock.apiBase, { locale: 'ar' });
    expect(arabic.host.getAttribute('dir')).toBe('rtl');
    expect(find(arabic.root, '[data-airlock="send"]').textContent).toBe('إرسال');
  });

  it('follows the widget configured locale when no locale option is given', async () => {
    const airlock = await startAirlock((response) => done(response, 'x'), { config: { ...chatConfig, locale: 'de' } });
    const { root } = await mount(airlock.apiBase);
    expect(find(root, '[data-airlock="send"]').textContent).toBe('Senden');
  });
});

describe('createWidget: completion and image widgets', () => {
  const completionConfig = {
    id: 'wgt_ui',
    type: 'completion',
    title: 'Product blurb',
    theme: 'light',
    inputs: [
      { name: 'product', label: 'Product', type: 'text', required: true, maxLength: 80 },
      { name: 'tone', label: 'Tone', type: 'select', options: ['friendly', 'formal'] },
      { name: 'words', label: 'Words', type: 'number' },
    ],
  };

  it('builds a form from the declared inputs and streams the result', async () => {
    const airlock = await startAirlock((response) => response.end(chunkEvent('A **great**') + chunkEvent(' lamp.') + 'data: [DONE]\n\n'), {
      config: completionConfig,
    });
    const { widget, root } = await mount(airlock.apiBase, { mode: 'inline', target: document.body });
    const labels = Array.from(root.querySelectorAll('[part~="field"] label'), (label) => label.textContent);
    expect(labels).toEqual(['Product', 'Tone', 'Words']);
    const product = find<HTMLInputElement>(root, 'input[name="product"]');
    expect(product.required).toBe(true);
    expect(product.maxLength).toBe(80);
    expect(find(root, `label[for="${product.id}"]`).textContent).toBe('Product');
    expect(Array.from(root.querySelectorAll('select[name="tone"] option'), (option) => option.textContent)).toEqual(['friendly', 'formal']);
    product.value = 'Desk lamp';
    find<HTMLSelectElement>(root, 'select[name="tone"]').value = 'formal';
    find<HTMLInputElement>(root, 'input[name="words"]').value = '12';
    const complete = next(widget, 'message-complete');
    find<HTMLButtonElement>(root, '[data-airlock="send"]').click();
    expect(await complete).toEqual({ message: { role: 'assistant', content: 'A **great** lamp.' }, stopped: false });
    expect(airlock.requests).toEqual([
      {
        path: '/airlock/v1/completions/fill',
        authorization: 'Bearer token-1',
        idempotencyKey: expect.any(String),
        body: { inputs: { product: 'Desk lamp', tone: 'formal', words: 12 }, stream: true },
      },
    ]);
    expect(find(root, '[data-airlock="result"] [data-airlock="assistant-message"]').innerHTML).toBe('<p>A <strong>great</strong> lamp.</p>');
    expect(find(root, '[data-airlock="copy"]')).toBeTruthy();
  });

  it('generates an image with progress and offers it for download', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const airlock = await startAirlock(
      async (response) => {
        await released;
        sendJson(response, 200, { created: 1, data: [{ b64_json: 'iVBORw0KGgo=' }] }, cors);
      },
      { config: { id: 'wgt_ui', type: 'image', title: 'Draw', theme: 'auto' } },
    );
    const { widget, root } = await mount(airlock.apiBase, { mode: 'inline', target: document.body });
    const finished = next(widget, 'image-complete');
    const sent = widget.send('A red fox in snow');
    await until(() => airlock.requests.length === 1, 'the image request');
    expect(find<HTMLElement>(root, 'progress').hidden).toBe(false);
    release();
    await sent;
    expect(await finished).toEqual({ url: 'data:image/png;base64,iVBORw0KGgo=' });
    expect(airlock.requests[0]?.body).toEqual({ prompt: 'A red fox in snow' });
    const image = find<HTMLImageElement>(root, '[data-airlock="image"]');
    expect(image.getAttribute('src')).toBe('data:image/png;base64,iVBORw0KGgo=');
    expect(image.alt).toBe('A red fox in snow');
    expect(find<HTMLAnchorElement>(root, '[data-airlock="download"]').getAttribute('href')).toBe('data:image/png;base64,iVBORw0KGgo=');
    expect(find<HTMLElement>(root, 'progress').hidden).toBe(true);
  });
});

describe('createWidget: states the owner and the developer can act on', () => {
  it('says "Please sign in to chat." with the code sign_in_required when getToken finds nobody signed in, and recovers once they are', async () => {
    const { apiBase } = await startAirlock((response) => done(response, 'Signed in now.'));
    let signedIn = false;
    const widget = createWidget({
      widgetId: 'wgt_ui',
      apiBase,
      storage: 'memory',
      getToken: async () => (signedIn ? { token: 'private', expiresAt: Date.now() + 600_000, expiresIn: 600, widget: chatConfig as never } : null),
    });
    widgets.push(widget);
    const errors: string[] = [];
    widget.on('error', (error) => errors.push(error.code));
    await widget.whenReady().catch(() => {});
    const root = document.querySelector('[data-airlock="widget"]')!.shadowRoot!;
    expect(find(root, '[data-airlock="error"]').textContent).toBe('Please sign in to chat.');
    expect(errors).toEqual(['sign_in_required']);
    signedIn = true;
    const complete = next(widget, 'message-complete');
    typeAndPressEnter(root, 'Hello');
    expect((await complete).message.content).toBe('Signed in now.');
  });

  it('on origin_not_allowed tells the visitor the chat is not available here, and the owner in one console line which origin to add', async () => {
    const server = await startServer((request, response) => {
      if (request.method === 'OPTIONS') {
        response.writeHead(204, cors);
        response.end();
        return;
      }
      sendJson(response, 403, { error: { message: 'This site is not allowed to use this widget.', type: 'airlock_error', code: 'origin_not_allowed' } }, cors);
    });
    servers.push(server);
    const warnings: string[] = [];
    const original = console.warn;
    console.warn = (line: string) => warnings.push(line);
    try {
      const widget = createWidget({ widgetId: 'wgt_ui', apiBase: `${server.url}/airlock`, storage: 'memory', mode: 'inline', target: document.body });
      widgets.push(widget);
      await widget.whenReady().catch(() => {});
      await widget.send('Hello?');
    } finally {
      console.warn = original;
    }
    const root = document.querySelector('[data-airlock="widget"]')!.shadowRoot!;
    expect(find(root, '[data-airlock="error"]').textContent).toBe('This chat is not available on this page.');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`Add ${location.origin} to its allowed origins`);
    expect(warnings[0]).toContain('wgt_ui');
  });
});
