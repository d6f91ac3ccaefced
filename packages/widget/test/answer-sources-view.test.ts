// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import { SUPPORTED_LOCALES, createWidget, stringsFor, type AnswerSource, type Widget, type WidgetOptions } from '../src/index';
import { chunkEvent, readJson, sendJson, startServer, type TestServer } from './support/http-server';

// The page (happy-dom, http://localhost:3000) and the stand-in differ in origin, as on a real site.
const cors = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'authorization, content-type, idempotency-key',
  'Access-Control-Allow-Methods': 'POST',
};
const config = { id: 'wgt_ui', type: 'chat', title: 'Ask Airlock', theme: 'light' };

/** Stands in for the Airlock server: each answer carries the next of `answers`, its sources in the first chunk. */
async function startAirlock(answers: { text: string; sources?: unknown }[]): Promise<string> {
  let turn = 0;
  const server = await startServer(async (request, response) => {
    if (request.method === 'OPTIONS') {
      response.writeHead(204, cors);
      response.end();
      return;
    }
    await readJson(request);
    if (request.url === '/airlock/token') {
      sendJson(response, 200, { token: 'token-1', expiresAt: Date.now() + 600_000, widget: config }, cors);
      return;
    }
    const { text, sources } = answers[turn++] ?? { text: 'No more answers.' };
    const first = {
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' } }],
      ...(sources !== undefined && { airlock_sources: sources }),
    };
    response.writeHead(200, { 'Content-Type': 'text/event-stream', ...cors });
    response.end(`data: ${JSON.stringify(first)}\n\n` + chunkEvent(text) + 'data: [DONE]\n\n');
  });
  servers.push(server);
  return `${server.url}/airlock`;
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
  const widget = createWidget({ widgetId: 'wgt_ui', apiBase, storage: 'memory', mode: 'inline', target: document.body, ...options });
  widgets.push(widget);
  await widget.whenReady();
  const root = document.body.querySelector('[data-airlock="widget"]')?.shadowRoot;
  if (!root) throw new Error('no widget host with a shadow root');
  return { widget, root };
}

const replies = (root: ShadowRoot) => Array.from(root.querySelectorAll<HTMLElement>('[data-airlock="assistant-message"]:not([data-greeting])'));
/** What a visitor reads and can follow in an answer's sources. */
function sourcesOf(reply: HTMLElement | undefined) {
  const details = reply?.querySelector<HTMLDetailsElement>('details[part~="sources"]');
  if (!details) return undefined;
  const list = details.querySelector('ol');
  return {
    summary: details.querySelector('summary')?.textContent,
    open: details.open,
    label: list?.getAttribute('aria-label'),
    items: Array.from(list?.children ?? [], (item) => {
      const link = item.querySelector('a');
      return {
        tag: item.tagName,
        text: item.textContent,
        link: link && { text: link.textContent, href: link.getAttribute('href'), target: link.getAttribute('target'), rel: link.getAttribute('rel') },
        location: item.querySelector('small')?.textContent,
        elements: Array.from(item.querySelectorAll('*'), (element) => element.tagName),
      };
    }),
  };
}

const pricing: AnswerSource = { id: 'file_1:3', title: 'Pricing.pdf', location: 'page 3', url: 'https://example.com/pricing' };
const hostile = { id: 'file_2:0', title: '<img src=x onerror=alert(1)>', location: '<b>rows 4–9</b>' };
const script = { id: 'file_3:1', title: 'Script.md', url: 'javascript:alert(1)' };

describe('the chat view: an answer’s sources', () => {
  it('lists them under the answer, numbered, in a "Sources (n)" disclosure: titles as text, links only for http(s) urls', async () => {
    const apiBase = await startAirlock([{ text: 'Annual plans cost **10%** less.', sources: [pricing, hostile, script] }, { text: 'Hello!' }]);
    const { widget, root } = await mount(apiBase);
    const complete = new Promise((resolve) => widget.on('message-complete', resolve));
    await widget.send('How much is the annual plan?');
    expect(await complete).toEqual({
      message: { role: 'assistant', content: 'Annual plans cost **10%** less.', sources: [pricing, hostile, { id: 'file_3:1', title: 'Script.md' }] },
      stopped: false,
    });

    const [reply] = replies(root);
    expect(reply?.querySelector('strong')?.textContent).toBe('10%');
    expect(sourcesOf(reply)).toEqual({
      summary: 'Sources (3)',
      open: false,
      label: 'Sources',
      items: [
        {
          tag: 'LI',
          text: 'Pricing.pdf page 3',
          link: { text: 'Pricing.pdf', href: 'https://example.com/pricing', target: '_blank', rel: 'noopener noreferrer' },
          location: 'page 3',
          elements: ['A', 'SMALL'],
        },
        // Text, not HTML: no <img>, no <b>.
        { tag: 'LI', text: '<img src=x onerror=alert(1)> <b>rows 4–9</b>', link: null, location: '<b>rows 4–9</b>', elements: ['SMALL'] },
        { tag: 'LI', text: 'Script.md', link: null, location: undefined, elements: [] },
      ],
    });
    expect(root.querySelector('img')).toBeNull();
    // The answer's Copy copies the answer, not its sources.
    expect(reply?.textContent?.startsWith('Annual plans cost 10% less.')).toBe(true);

    // An answer without sources shows none.
    await widget.send('Hi');
    expect(replies(root)).toHaveLength(2);
    expect(sourcesOf(replies(root)[1])).toBeUndefined();
  });

  it('says "Sources" in the visitor’s language', async () => {
    const apiBase = await startAirlock([{ text: 'Jährlich günstiger.', sources: [pricing] }]);
    const { widget, root } = await mount(apiBase, { locale: 'de-AT' });
    await widget.send('Was kostet es?');
    expect(sourcesOf(replies(root)[0])).toMatchObject({ summary: 'Quellen (1)', label: 'Quellen' });
  });

  it('keeps each answer’s sources across a reload, and checks what storage gives back', async () => {
    const apiBase = await startAirlock([{ text: 'From the manual.', sources: [pricing, script] }]);
    const first = await mount(apiBase, { storage: 'session' });
    await first.widget.send('Where is it written?');
    const saved = JSON.parse(sessionStorage.getItem('airlock:wgt_ui') ?? 'null');
    expect(saved.messages[1]).toMatchObject({ role: 'assistant', content: 'From the manual.', sources: [pricing, { id: 'file_3:1', title: 'Script.md' }] });
    first.widget.destroy();
    document.body.replaceChildren();

    const second = await mount(apiBase, { storage: 'session' });
    expect(sourcesOf(replies(second.root)[0])).toMatchObject({
      summary: 'Sources (2)',
      items: [
        { text: 'Pricing.pdf page 3', link: { href: 'https://example.com/pricing' } },
        { text: 'Script.md', link: null },
      ],
    });
    second.widget.destroy();
    document.body.replaceChildren();

    // Storage is input too: another script (or an older version) may have written anything there.
    sessionStorage.setItem(
      'airlock:wgt_ui',
      JSON.stringify({
        messages: [
          { id: 'm1', role: 'user', content: 'Q' },
          { id: 'm2', role: 'assistant', content: 'Tampered.', sources: [{ ...hostile, url: 'javascript:alert(1)' }, { id: 'f:9' }, 'x'] },
          { id: 'm3', role: 'assistant', content: 'Not a list.', sources: { id: 'f:1', title: 'Object' } },
          {
            id: 'm4',
            role: 'assistant',
            content: 'Too many.',
            sources: Array.from({ length: 40 }, (_, index) => ({ id: `f:${index}`, title: `File ${index}` })),
          },
        ],
      }),
    );
    const third = await mount(apiBase, { storage: 'session' });
    const [tampered, notAList, tooMany] = replies(third.root);
    expect(sourcesOf(tampered)).toMatchObject({
      summary: 'Sources (1)',
      items: [{ text: '<img src=x onerror=alert(1)> <b>rows 4–9</b>', link: null, elements: ['SMALL'] }],
    });
    expect(third.root.querySelector('img, b')).toBeNull();
    expect(sourcesOf(notAList)).toBeUndefined();
    expect(sourcesOf(tooMany)?.items).toHaveLength(20);
  });
});

describe('locales', () => {
  it('every locale has every string, "Sources" included', () => {
    const keys = Object.keys(stringsFor('en'));
    expect(keys).toContain('sources');
    for (const locale of SUPPORTED_LOCALES) {
      const strings = stringsFor(locale);
      for (const key of keys) expect(strings[key as keyof typeof strings], `${locale}.${key}`).toMatch(/\S/);
    }
    expect(new Set(SUPPORTED_LOCALES.map((locale) => stringsFor(locale).sources)).size).toBeGreaterThan(10);
  });
});
