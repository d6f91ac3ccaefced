// @vitest-environment happy-dom
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readJson, sendJson, startServer, type TestServer } from './support/http-server';

const cors = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'authorization, content-type',
  'Access-Control-Allow-Methods': 'POST',
};
// Not `new URL(…, import.meta.url)`: under happy-dom `URL` is the DOM's, which node:fs rejects.
const bundle = join(import.meta.dirname, '../dist/airlock.global.js');

/** A real server that records where token requests arrive and for which widget. */
async function startAirlock() {
  const tokenRequests: { path: string | undefined; body: unknown }[] = [];
  const server = await startServer(async (request, response) => {
    if (request.method === 'OPTIONS') {
      response.writeHead(204, cors);
      response.end();
      return;
    }
    tokenRequests.push({ path: request.url, body: await readJson(request) });
    const widget = { id: 'wgt_tag', type: 'chat', title: 'From the tag', theme: 'light' };
    sendJson(response, 200, { token: 'token-1', expiresAt: Date.now() + 600_000, widget }, cors);
  });
  servers.push(server);
  return { url: server.url, tokenRequests };
}

function addScriptTag(attributes: Record<string, string>): HTMLScriptElement {
  const script = document.createElement('script');
  // happy-dom evaluates no script files here; the tests evaluate the entry themselves.
  script.type = 'text/plain';
  for (const [name, value] of Object.entries(attributes)) script.setAttribute(name, value);
  document.body.append(script);
  return script;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const servers: TestServer[] = [];
afterEach(async () => {
  for (const widget of window.Airlock?.widgets ?? []) widget.destroy();
  document.body.replaceChildren();
  delete window.Airlock;
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('script tag entry', () => {
  it('mounts the widget named by its script tag once, with the API beside widget.js', async () => {
    const airlock = await startAirlock();
    const script = addScriptTag({ src: `${airlock.url}/airlock/widget.js?v=1`, 'data-widget-id': 'wgt_tag' });
    await import('../src/script-tag');
    // A second evaluation (the tag pasted twice) must not mount a second widget.
    vi.resetModules();
    await import('../src/script-tag');

    expect(typeof window.Airlock?.createWidget).toBe('function');
    expect(script.hasAttribute('data-airlock-mounted')).toBe(true);
    await until(() => airlock.tokenRequests.length > 0, 'the token request');
    await until(() => document.querySelectorAll('[data-airlock="widget"]').length > 0, 'the widget');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(document.querySelectorAll('[data-airlock="widget"]')).toHaveLength(1);
    expect(airlock.tokenRequests).toEqual([{ path: '/airlock/token', body: { widgetId: 'wgt_tag', visitorId: expect.any(String) } }]);
  });

  it('lets data-api-base override the API location', async () => {
    const airlock = await startAirlock();
    addScriptTag({ src: 'https://cdn.example/widget.js', 'data-widget-id': 'wgt_tag', 'data-api-base': `${airlock.url}/custom` });
    vi.resetModules();
    await import('../src/script-tag');
    await until(() => airlock.tokenRequests.length > 0, 'the token request');
    expect(airlock.tokenRequests[0]?.path).toBe('/custom/token');
  });

  // The published file, as the server serves it. Built by `pnpm --filter @airlock/widget build`.
  it.skipIf(!existsSync(bundle))('the built IIFE defines window.Airlock and mounts from its tag', async () => {
    const airlock = await startAirlock();
    addScriptTag({ src: `${airlock.url}/airlock/widget.js`, 'data-widget-id': 'wgt_tag' });
    new Function(readFileSync(bundle, 'utf8'))();
    expect(typeof window.Airlock?.createWidget).toBe('function');
    await until(
      () => document.querySelector('[data-airlock="widget"]')?.shadowRoot?.querySelector('[part~="header"]')?.textContent === 'From the tag',
      'the configured title',
    );
    expect(airlock.tokenRequests[0]?.path).toBe('/airlock/token');
  });

  it('reads any option from data-* attributes', async () => {
    const airlock = await startAirlock();
    const target = document.createElement('div');
    target.id = 'help';
    document.body.append(target);
    addScriptTag({
      src: `${airlock.url}/airlock/widget.js`,
      'data-widget-id': 'wgt_tag',
      'data-target': '#help',
      'data-locale': 'es',
      'data-theme': 'dark',
      'data-storage': 'memory',
      'data-strings': JSON.stringify({ send: 'Preguntar' }),
    });
    vi.resetModules();
    await import('../src/script-tag');
    await until(() => !!target.querySelector('[data-airlock="widget"]')?.shadowRoot?.querySelector('[data-airlock="send"]'), 'the inline widget');
    const host = target.querySelector('[data-airlock="widget"]')!;
    expect(host.getAttribute('data-mode')).toBe('inline');
    expect(host.getAttribute('data-theme')).toBe('dark');
    expect(host.getAttribute('lang')).toBe('es');
    expect(host.shadowRoot!.querySelector('[data-airlock="send"]')?.textContent).toBe('Preguntar');
    expect(host.shadowRoot!.querySelector('[data-airlock="stop"]')?.textContent).toBe('Detener');
  });

  it('runs the calls queued through the stub once loaded, and keeps accepting calls', async () => {
    const airlock = await startAirlock();
    // The documented stub, as a page would paste it before the script tag.
    const stub = function (...args: unknown[]) {
      ((stub as unknown as { q: unknown[] }).q ??= []).push(args);
    };
    window.Airlock = stub as unknown as Window['Airlock'];
    window.Airlock!('create' as never, { widgetId: 'wgt_queued', apiBase: `${airlock.url}/airlock`, storage: 'memory' });
    window.Airlock!('open' as never);
    addScriptTag({ src: `${airlock.url}/airlock/widget.js` });
    vi.resetModules();
    await import('../src/script-tag');
    expect(window.Airlock?.widgets).toHaveLength(1);
    await window.Airlock!.widgets![0]!.whenReady();
    const root = document.querySelector('[data-airlock="widget"]')!.shadowRoot!;
    expect(root.querySelector<HTMLElement>('[part~="panel"]')?.hidden).toBe(false);
    window.Airlock!('close' as never);
    expect(root.querySelector<HTMLElement>('[part~="panel"]')?.hidden).toBe(true);
    expect(airlock.tokenRequests[0]?.body).toEqual({ widgetId: 'wgt_queued', visitorId: expect.any(String) });
  });
});
