// One set of rules mints every public visitor's token, from the public
// endpoint and from the iframe page alike: the widget must allow public use,
// the site must be allowed (now and on every later call), and the subject is
// the server's visitor namespace, never a backend user's id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WidgetRecord } from '../src/stores/store.js';
import { allowedOrigin, chatRequest, errorCode, startHarness, type Harness } from './harness.js';

let harness: Harness;
let privateWidget: WidgetRecord;
beforeAll(async () => {
  harness = await startHarness({ proxy: { limits: { visitorRequestsPerMinute: 2 } } });
  privateWidget = await harness.airlock.store.createWidget({
    name: 'members',
    type: 'chat',
    allowedOrigins: [],
    presentation: { title: 'Members', theme: 'auto' },
    behaviour: { model: 'gpt-4o-mini' },
  });
});
afterAll(async () => {
  await harness?.close();
});

const frameHeaders = () => ({ origin: harness.url, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' });

function mintFromFrame(widgetId: string, site: string | undefined, body: Record<string, unknown> = {}) {
  const query = site === undefined ? '' : `?site=${encodeURIComponent(site)}`;
  return fetch(`${harness.url}/airlock/embed/${widgetId}/token${query}`, { method: 'POST', headers: frameHeaders(), body: JSON.stringify(body) });
}

function mintPublic(widgetId: string, origin: string, body: Record<string, unknown> = {}) {
  return fetch(`${harness.url}/airlock/token`, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json' },
    body: JSON.stringify({ widgetId, ...body }),
  });
}

/** The token's `sub` claim (its signature is checked by every call that uses it). */
async function subjectOf(token: string): Promise<string> {
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string };
  return payload.sub;
}

describe('the iframe page mints exactly as public minting does', () => {
  it('refuses a private widget (no allowed origins) on the page and on its token endpoint', async () => {
    const page = await fetch(`${harness.url}/airlock/embed/${privateWidget.id}`, { headers: { referer: 'https://anywhere.example/' } });
    expect(page.status).toBe(403);
    expect(await errorCode(page)).toBe('origin_not_allowed');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    for (const site of [undefined, harness.url, allowedOrigin]) {
      const response = await mintFromFrame(privateWidget.id, site, { visitorId: 'alice' });
      expect(response.status, String(site)).toBe(403);
      expect(await errorCode(response)).toBe('origin_not_allowed');
    }
  });

  it('takes the site from the page that frames it, and refuses sites the widget does not allow', async () => {
    const framed = await fetch(`${harness.url}/airlock/embed/${harness.widget.id}`, { headers: { referer: 'https://help.example.org/faq?q=1' } });
    expect(framed.status).toBe(200);
    expect(await framed.text()).toContain(`/token?site=${encodeURIComponent('https://help.example.org')}"`);
    const elsewhere = await fetch(`${harness.url}/airlock/embed/${harness.widget.id}`, { headers: { referer: 'https://evil.example/' } });
    expect(elsewhere.status).toBe(403);
    // Two allowed origins and no Referer: the page cannot tell its site.
    const unknown = await fetch(`${harness.url}/airlock/embed/${harness.widget.id}`);
    expect(unknown.status).toBe(403);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain('referrer');
    for (const site of [undefined, 'https://evil.example', harness.url, 'null']) {
      const response = await mintFromFrame(harness.widget.id, site);
      expect(response.status, String(site)).toBe(403);
      expect(await errorCode(response)).toBe('origin_not_allowed');
    }
  });

  it('without a Referer, serves a widget that allows exactly one origin, for that origin', async () => {
    const single = await harness.airlock.store.createWidget({
      name: 'single',
      type: 'chat',
      allowedOrigins: [allowedOrigin],
      presentation: { title: 'Single', theme: 'auto' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    const page = await fetch(`${harness.url}/airlock/embed/${single.id}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`/token?site=${encodeURIComponent(allowedOrigin)}"`);
  });

  it('namespaces the visitor: the caller cannot take a backend user id, or its limits', async () => {
    const framed = await mintFromFrame(harness.widget.id, allowedOrigin, { visitorId: 'alice' });
    expect(framed.status).toBe(200);
    const frameToken = ((await framed.json()) as { token: string }).token;
    expect(await subjectOf(frameToken)).toBe('v:alice');
    const publicToken = ((await (await mintPublic(harness.widget.id, allowedOrigin, { visitorId: 'alice' })).json()) as { token: string }).token;
    expect(await subjectOf(publicToken)).toBe('v:alice');
    const backend = await harness.airlock.mintToken({ widgetId: harness.widget.id, userId: 'alice', origin: allowedOrigin });
    expect(await subjectOf(backend.token)).toBe('alice');

    // A stranger spends "alice"'s visitor allowance (2 a minute here)…
    for (let index = 0; index < 2; index += 1) {
      harness.upstream.next({ type: 'answer', text: 'ok' });
      const response = await chatRequest(harness.url, publicToken, { messages: [{ role: 'user', content: 'hi' }] });
      expect(response.status).toBe(200);
      await response.text();
    }
    const limited = await chatRequest(harness.url, publicToken, { messages: [{ role: 'user', content: 'hi' }] });
    expect(limited.status).toBe(429);
    await limited.text();
    // …and the signed-in user "alice" is untouched.
    harness.upstream.next({ type: 'answer', text: 'still yours' });
    const own = await chatRequest(harness.url, backend.token, { messages: [{ role: 'user', content: 'hi' }] });
    expect(own.status).toBe(200);
    await own.text();
  });

  it('refuses backend user ids in the visitor namespace', async () => {
    await expect(harness.airlock.mintToken({ widgetId: harness.widget.id, userId: 'v:alice' })).rejects.toMatchObject({ code: 'input_invalid' });
  });
});

describe('a visitor token works only while its site is allowed', () => {
  it('stops public and iframe tokens at once when their origin is removed, and again when it comes back', async () => {
    const widget = await harness.airlock.store.createWidget({
      name: 'moving',
      type: 'chat',
      allowedOrigins: [allowedOrigin, 'https://other.example.net'],
      presentation: { title: 'Moving', theme: 'auto' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    const publicToken = ((await (await mintPublic(widget.id, allowedOrigin, { visitorId: 'p1' })).json()) as { token: string }).token;
    const frameToken = ((await (await mintFromFrame(widget.id, allowedOrigin, { visitorId: 'f1' })).json()) as { token: string }).token;
    const call = async (token: string, origin: string) => {
      harness.upstream.next({ type: 'answer', text: 'ok' });
      const response = await chatRequest(harness.url, token, { messages: [{ role: 'user', content: 'hi' }] }, { origin });
      const code = response.status === 200 ? 'ok' : await errorCode(response);
      if (response.status === 200) await response.text();
      return code;
    };
    expect(await call(publicToken, allowedOrigin)).toBe('ok');
    expect(await call(frameToken, harness.url)).toBe('ok');

    await harness.airlock.store.updateWidget(widget.id, { allowedOrigins: ['https://other.example.net'] });
    expect(await call(publicToken, allowedOrigin)).toBe('origin_not_allowed');
    expect(await call(frameToken, harness.url)).toBe('origin_not_allowed');
    // A backend token bound to that origin is the backend's own grant, and keeps working.
    const backend = await harness.airlock.mintToken({ widgetId: widget.id, userId: 'u1', origin: allowedOrigin });
    expect(await call(backend.token, allowedOrigin)).toBe('ok');

    await harness.airlock.store.updateWidget(widget.id, { allowedOrigins: [allowedOrigin] });
    expect(await call(publicToken, allowedOrigin)).toBe('ok');
  });
});

describe('what the widget needs to know', () => {
  it('states the lifetime in seconds, for a client whose clock is off', async () => {
    const answer = (await (await mintPublic(harness.widget.id, allowedOrigin)).json()) as { expiresAt: number; expiresIn: number };
    expect(answer.expiresIn).toBe(600);
    const backend = await harness.airlock.mintToken({ widgetId: harness.widget.id, userId: 'u2', ttlSeconds: 120 });
    expect(backend.expiresIn).toBe(120);
  });

  it('lets a refused site read its refusal, on minting and on a call', async () => {
    const minted = await mintPublic(harness.widget.id, 'https://unlisted.example.net');
    expect(minted.status).toBe(403);
    expect(minted.headers.get('access-control-allow-origin')).toBe('https://unlisted.example.net');
    expect(await errorCode(minted)).toBe('origin_not_allowed');
    const token = ((await (await mintPublic(harness.widget.id, allowedOrigin)).json()) as { token: string }).token;
    const call = await chatRequest(harness.url, token, { messages: [{ role: 'user', content: 'hi' }] }, { origin: 'https://unlisted.example.net' });
    expect(call.status).toBe(403);
    expect(call.headers.get('access-control-allow-origin')).toBe('https://unlisted.example.net');
    expect(await errorCode(call)).toBe('origin_not_allowed');
  });
});
