import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowedOrigin, canaryKey, chatRequest, startHarness, type Harness } from './harness.js';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => {
  await harness?.close();
});

const mintFromFrame = (widgetId: string, headers: Record<string, string>, site = allowedOrigin) =>
  fetch(`${harness.url}/airlock/embed/${widgetId}/token?site=${encodeURIComponent(site)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ visitorId: 'visitor_1' }),
  });

describe('GET /airlock/embed/<widgetId>', () => {
  it('serves a page that loads the widget in full-page mode under a strict CSP framed only by the allowed origins', async () => {
    // As a browser loads a frame: the Referer names the page that frames it.
    const response = await fetch(`${harness.url}/airlock/embed/${harness.widget.id}?locale=fr&theme=dark`, { headers: { referer: `${allowedOrigin}/help` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(policy.split('; ')).toEqual([
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "connect-src 'self'",
      "img-src 'self' data: https:",
      "base-uri 'none'",
      "form-action 'none'",
      `frame-ancestors ${allowedOrigin} https://*.example.org`,
    ]);
    expect(policy).not.toContain('unsafe');
    const page = await response.text();
    expect(page).toContain(
      // The bundle by version (cached for a year; see widget-script.test.ts).
      `<script src="../widget.js?v=${page.match(/widget\.js\?v=([\w-]{12})"/)?.[1]}" data-widget-id="${harness.widget.id}" data-mode="page" data-token-url="/airlock/embed/${harness.widget.id}/token?site=${encodeURIComponent(allowedOrigin)}" data-locale="fr" data-theme="dark"></script>`,
    );
    expect(page).toContain('<title>Support</title>');
    // No inline script or style: the page's own CSP would refuse them.
    expect(page).not.toMatch(/<style|style=|<script>/);
    expect(page).not.toContain('SECRET-SYSTEM-PROMPT');
    expect(page).not.toContain(canaryKey);
  });

  it('ignores query values that are not a locale or a theme', async () => {
    const page = await (
      await fetch(`${harness.url}/airlock/embed/${harness.widget.id}?locale="><script>&theme=neon`, { headers: { referer: allowedOrigin } })
    ).text();
    expect(page).not.toContain('data-locale');
    expect(page).not.toContain('data-theme');
    expect(page).not.toContain('"><script>');
  });

  it('answers 404 widget_not_found for an unknown widget and 403 for a disabled one', async () => {
    const missing = await fetch(`${harness.url}/airlock/embed/wgt_nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'widget_not_found' } });
    const disabled = await harness.airlock.store.createWidget({
      name: 'off',
      type: 'chat',
      enabled: false,
      allowedOrigins: [allowedOrigin],
      presentation: { title: 'Off', theme: 'auto' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    expect((await fetch(`${harness.url}/airlock/embed/${disabled.id}`)).status).toBe(403);
  });

  it('frames nowhere when a widget allows no origin', async () => {
    const widget = await harness.airlock.store.createWidget({
      name: 'nowhere',
      type: 'chat',
      allowedOrigins: [],
      presentation: { title: 'Nowhere', theme: 'auto' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    const response = await fetch(`${harness.url}/airlock/embed/${widget.id}`);
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });
});

describe('POST /airlock/embed/<widgetId>/token', () => {
  it('mints for the page itself (same origin), and the token works from that origin', async () => {
    const response = await mintFromFrame(harness.widget.id, { origin: harness.url, 'sec-fetch-site': 'same-origin' });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    const { token, widget } = (await response.json()) as { token: string; widget: { id: string; title: string } };
    expect(widget).toMatchObject({ id: harness.widget.id, title: 'Support' });
    harness.upstream.next({ type: 'answer', text: 'From the frame.' });
    const chat = await chatRequest(harness.url, token, { messages: [{ role: 'user', content: 'Hi' }] }, { origin: harness.url });
    expect(chat.status).toBe(200);
    // Bound to the server's own origin: refused from any other.
    const elsewhere = await chatRequest(harness.url, token, { messages: [{ role: 'user', content: 'Hi' }] });
    expect(elsewhere.status).toBe(403);
  });

  it('refuses other sites, cross-site requests and requests without an origin', async () => {
    for (const headers of [
      { origin: allowedOrigin },
      { origin: 'https://evil.example' },
      { origin: harness.url, 'sec-fetch-site': 'cross-site' },
      {} as Record<string, string>,
    ]) {
      const response = await mintFromFrame(harness.widget.id, headers);
      expect(response.status, JSON.stringify(headers)).toBe(403);
      expect(await response.json()).toMatchObject({ error: { code: 'origin_not_allowed' } });
    }
  });
});
