// The `openai` SDK itself, bundled into a page and run by headless Chromium
// with a widget token as its key: its preflight names the SDK's own headers
// (x-stainless-*, …), which Airlock allows for an origin a widget allows and
// for no other.
import { launchBrowser } from '@airlock/test-services/browser';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlockServer, startPageServer, type AirlockServer } from './support';

const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SDK</title><script src="/openai.js"></script></head><body>
<script>
  // A token from Airlock's public minting, as a page would get one, unless the test hands one in.
  async function widgetToken(airlockUrl, widgetId) {
    const response = await fetch(airlockUrl + '/airlock/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ widgetId }) });
    if (!response.ok) throw new Error('minting failed: ' + response.status);
    return (await response.json()).token;
  }
  window.chat = async ({ airlockUrl, widgetId, token, stream }) => {
    const client = new OpenAI({ apiKey: token ?? await widgetToken(airlockUrl, widgetId), baseURL: airlockUrl + '/airlock/v1', dangerouslyAllowBrowser: true, maxRetries: 0 });
    try {
      const request = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] };
      if (!stream) return { text: (await client.chat.completions.create(request)).choices[0].message.content };
      let text = '';
      let chunks = 0;
      for await (const chunk of await client.chat.completions.create({ ...request, stream: true })) {
        chunks += 1;
        text += chunk.choices[0]?.delta?.content ?? '';
      }
      return { text, chunks };
    } catch (error) {
      return { error: error.constructor.name + ': ' + error.message };
    }
  };
  window.respond = async ({ airlockUrl, widgetId }) => {
    const client = new OpenAI({ apiKey: await widgetToken(airlockUrl, widgetId), baseURL: airlockUrl + '/airlock/v1', dangerouslyAllowBrowser: true, maxRetries: 0 });
    try {
      return { text: (await client.responses.create({ model: 'gpt-4o-mini', input: 'Hello' })).output_text };
    } catch (error) {
      return { error: error.constructor.name + ': ' + error.message };
    }
  };
</script></body></html>`;

let browser: Browser;
let server: AirlockServer;
let allowedSite: { origin: string; close(): Promise<void> };
let otherSite: { origin: string; close(): Promise<void> };
let widgetId: string;

beforeAll(async () => {
  [browser, server, allowedSite, otherSite] = await Promise.all([launchBrowser(), startAirlockServer(), startPageServer(page), startPageServer(page)]);
  widgetId = await server.createChatWidget([allowedSite.origin]);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await allowedSite?.close();
  await otherSite?.close();
});

async function onPage<T>(origin: string, run: (page: Page) => Promise<T>): Promise<T> {
  const context = await browser.newContext();
  try {
    const opened = await context.newPage();
    await opened.goto(`${origin}/`);
    return await run(opened);
  } finally {
    await context.close();
  }
}

describe('the openai SDK in a browser with a widget token', () => {
  it('chats without streaming from a page on an allowed origin', async () => {
    server.upstream.next({ type: 'answer', text: 'Hello from the browser.' });
    const result = await onPage(allowedSite.origin, (opened) =>
      opened.evaluate((input) => (window as never as { chat(input: object): Promise<unknown> }).chat(input), {
        airlockUrl: server.url,
        widgetId,
        stream: false,
      }),
    );
    expect(result).toEqual({ text: 'Hello from the browser.' });
    const preflight = server.seen.findLast((request) => request.method === 'OPTIONS' && request.path === '/airlock/v1/chat/completions');
    // What Chromium asked for on the SDK's behalf, so the docs' list stays true.
    expect(preflight?.requestedHeaders).toMatch(/x-stainless-/);
  });

  it('streams from a page on an allowed origin', async () => {
    server.upstream.next({ type: 'answer', text: 'One two three four.' });
    const result = await onPage(allowedSite.origin, (opened) =>
      opened.evaluate((input) => (window as never as { chat(input: object): Promise<unknown> }).chat(input), {
        airlockUrl: server.url,
        widgetId,
        stream: true,
      }),
    );
    expect(result).toMatchObject({ text: 'One two three four.' });
    expect((result as { chunks: number }).chunks).toBeGreaterThanOrEqual(4);
  });

  it('creates a response from a page on an allowed origin (waits for POST /responses)', async () => {
    server.upstream.next({ type: 'answer', text: 'A response in the browser.' });
    try {
      const result = await onPage(allowedSite.origin, (opened) =>
        opened.evaluate((input) => (window as never as { respond(input: object): Promise<unknown> }).respond(input), { airlockUrl: server.url, widgetId }),
      );
      expect(result).toEqual({ text: 'A response in the browser.' });
    } finally {
      // Refused before the upstream, the scripted answer would be the next test's.
      server.upstream.reset();
    }
  });

  it('is refused at the preflight from a page on an origin no widget allows, even with a valid token', async () => {
    const { token } = await server.airlock.mintToken({ widgetId, userId: 'user-1' });
    const upstreamCalls = server.upstream.requests.length;
    const result = await onPage(otherSite.origin, (opened) =>
      opened.evaluate((input) => (window as never as { chat(input: object): Promise<unknown> }).chat(input), { airlockUrl: server.url, token, stream: false }),
    );
    expect((result as { error?: string }).error).toMatch(/^APIConnectionError/);
    const last = server.seen.at(-1)!;
    // The browser stopped at the preflight: the call itself never reached Airlock, nor the upstream.
    expect(last).toMatchObject({ method: 'OPTIONS', path: '/airlock/v1/chat/completions', origin: otherSite.origin });
    expect(server.upstream.requests.length).toBe(upstreamCalls);
  });
});

describe('the preflight', () => {
  const sdkHeaders =
    'authorization,content-type,x-stainless-arch,x-stainless-lang,x-stainless-os,x-stainless-package-version,x-stainless-retry-count,x-stainless-runtime,x-stainless-runtime-version,x-stainless-timeout';

  async function preflight(origin: string, requested: string): Promise<Response> {
    return fetch(`${server.url}/airlock/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requested },
    });
  }

  it('allows the headers an allowed origin asks for within the client families', async () => {
    const response = await preflight(allowedSite.origin, `${sdkHeaders},openai-organization,openai-project,user-agent,idempotency-key,accept`);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(allowedSite.origin);
    const allowed = response.headers.get('access-control-allow-headers')!.split(', ');
    for (const name of [...sdkHeaders.split(','), 'openai-organization', 'openai-project', 'user-agent', 'idempotency-key', 'accept'])
      expect(allowed).toContain(name);
    expect(response.headers.get('vary')).toContain('Access-Control-Request-Headers');
  });

  it('widens nothing for an origin no widget allows', async () => {
    const response = await preflight(otherSite.origin, sdkHeaders);
    expect(response.headers.get('access-control-allow-headers')).toBe('authorization, content-type, idempotency-key, x-airlock-widget-id');
  });

  it('widens nothing when an allowed origin asks for a header outside the families', async () => {
    const response = await preflight(allowedSite.origin, 'authorization,x-stainless-os,cookie2,x-forwarded-for');
    expect(response.headers.get('access-control-allow-headers')).toBe('authorization, content-type, idempotency-key, x-airlock-widget-id');
  });
});
