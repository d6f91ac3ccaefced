import { launchBrowser } from '@airlock/test-services/browser';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryKey, scriptTagPage, startSite, type Site } from './support';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
// Set AIRLOCK_SCREENSHOTS=1 to refresh the screenshots in docs/images.
const screenshots = process.env.AIRLOCK_SCREENSHOTS ? join(import.meta.dirname, '../../../../docs/images') : undefined;

let browser: Browser;
let site: Site;
beforeAll(async () => {
  [browser, site] = await Promise.all([launchBrowser(), startSite()]);
  if (screenshots) mkdirSync(screenshots, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

/** Opens a page, recording CSP violations, page errors and every response body it received. */
async function open(url: string, options: { width?: number; height?: number; referer?: string } = {}) {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1000, height: options.height ?? 760 }, permissions: [] });
  const page = await context.newPage();
  const problems: string[] = [];
  const received: Promise<string>[] = [];
  const tokenRequests: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.endsWith('/token') && request.method() === 'POST') tokenRequests.push(request.url());
  });
  page.on('response', (response) => received.push(response.text().catch(() => '')));
  await page.addInitScript(() => {
    const record = window as unknown as { __violations: string[] };
    record.__violations = [];
    document.addEventListener('securitypolicyviolation', (event) => record.__violations.push(`${event.violatedDirective} ${event.blockedURI}`));
  });
  await page.goto(url, options.referer ? { referer: options.referer } : {});
  return {
    page,
    problems,
    tokenRequests,
    violations: () => page.evaluate(() => (window as unknown as { __violations: string[] }).__violations),
    bodies: () => Promise.all(received),
    close: () => context.close(),
  };
}

type Scope = Page | Frame;
const answers = (scope: Scope) => scope.locator('[data-airlock="assistant-message"]:not([data-greeting]):not([data-streaming])');

/** Types a message the way a visitor does and waits for the finished answer. */
async function ask(scope: Scope, text: string, root = ''): Promise<string> {
  const done = scope.locator(`${root} [data-airlock="assistant-message"]:not([data-greeting]):not([data-streaming])`.trim());
  const before = await done.count();
  const input = scope.locator(`${root} [data-airlock="input"]`.trim());
  await input.fill(text);
  await input.press('Enter');
  const answer = done.nth(before);
  await answer.waitFor({ timeout: 10_000 });
  return (await answer.textContent()) ?? '';
}

describe('the widget in a real browser against a real Airlock server', () => {
  it('mounts from a script tag on a plain page as a launcher, and answers with streamed Markdown', async () => {
    const widgetId = await site.createChatWidget();
    site.upstream.next({ type: 'answer', text: 'Here is **bold** and a [link](https://example.com/docs).', delayMs: 5 });
    const { page, problems, bodies, close } = await open(site.addPage('plain', { html: scriptTagPage([{ 'data-widget-id': widgetId }]) }));
    const launcher = page.locator('[data-airlock="launcher"]');
    await launcher.click();
    expect(await launcher.getAttribute('aria-expanded')).toBe('true');
    expect(await ask(page, 'Hello')).toBe('Here is bold and a link.');
    const link = answers(page).locator('a');
    expect(await link.getAttribute('href')).toBe('https://example.com/docs');
    expect(await link.getAttribute('rel')).toBe('noopener noreferrer');
    expect(await link.getAttribute('target')).toBe('_blank');
    // The key never reached the page.
    for (const body of await bodies()) expect(body).not.toContain(canaryKey);
    expect(problems).toEqual([]);
    if (screenshots) await page.screenshot({ path: join(screenshots, 'widget-launcher.png') });
    await close();
  });

  it('works under a strict CSP (no unsafe-inline, no unsafe-eval) with no violation', async () => {
    const widgetId = await site.createChatWidget({ title: 'Strict page' });
    site.upstream.next({ type: 'answer', text: 'Still working under CSP.', delayMs: 5 });
    const url = site.addPage('strict', {
      html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-target': '#chat', 'data-storage': 'memory' }], '<div id="chat"></div>'),
      headers: { 'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'" },
    });
    const { page, problems, violations, close } = await open(url);
    expect(await ask(page, 'Does CSP break you?')).toBe('Still working under CSP.');
    // The styles really applied: constructable sheets are allowed by style-src 'self'.
    const background = await page.locator('[data-airlock="panel"]').evaluate((element) => getComputedStyle(element).display);
    expect(background).toBe('flex');
    expect(await violations()).toEqual([]);
    expect(problems).toEqual([]);
    if (screenshots) {
      await page.setViewportSize({ width: 720, height: 640 });
      await page.screenshot({ path: join(screenshots, 'widget-inline.png') });
    }
    await close();
  });

  it('renders an answer full of HTML and script payloads as text, and runs none of it', async () => {
    const widgetId = await site.createChatWidget();
    const payload = [
      '<img src=x onerror="window.__pwned=1">',
      '<script>window.__pwned=2</script>',
      '[click](javascript:window.__pwned=3)',
      '<iframe src="javascript:window.parent.__pwned=4"></iframe>',
      '**<svg onload="window.__pwned=5">**',
    ].join('\n\n');
    site.upstream.next({ type: 'stream', chunks: payload.match(/.{1,7}/gs)!, delayMs: 1 });
    const { page, violations, close } = await open(site.addPage('xss', { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-open': 'true' }]) }));
    const text = await ask(page, 'Say something dangerous');
    expect(text).toContain('<img src=x onerror="window.__pwned=1">');
    expect(text).toContain('<script>window.__pwned=2</script>');
    await page.waitForTimeout(200);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await answers(page).locator('img, script, iframe, svg, a').count()).toBe(0);
    expect(await violations()).toEqual([]);
    await close();
  });

  it('runs two widgets on one page independently', async () => {
    const first = await site.createChatWidget({ title: 'First' });
    const second = await site.createChatWidget({ title: 'Second' });
    const url = site.addPage('two', {
      html: scriptTagPage(
        [
          { 'data-widget-id': first, 'data-target': '#one', 'data-storage': 'memory' },
          { 'data-widget-id': second, 'data-target': '#two', 'data-storage': 'memory' },
        ],
        '<div id="one"></div><div id="two"></div>',
      ),
    });
    const { page, close } = await open(url);
    site.upstream.next({ type: 'answer', text: 'Answer one.' });
    expect(await ask(page, 'To the first', '#one')).toBe('Answer one.');
    site.upstream.next({ type: 'answer', text: 'Answer two.' });
    expect(await ask(page, 'To the second', '#two')).toBe('Answer two.');
    expect(await page.locator('#one h2').textContent()).toBe('First');
    expect(await page.locator('#two h2').textContent()).toBe('Second');
    expect(await page.locator('#one [data-role="user"]').allTextContents()).toEqual(['To the first']);
    expect(await page.locator('#two [data-role="user"]').allTextContents()).toEqual(['To the second']);
    await close();
  });

  it('is usable with the keyboard alone: Tab to the launcher, Enter, type, Shift+Enter, Enter, Esc back to the launcher', async () => {
    const widgetId = await site.createChatWidget();
    const { page, close } = await open(site.addPage('keyboard', { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-storage': 'memory' }]) }));
    await page.locator('[data-airlock="launcher"]').waitFor();
    const focused = () =>
      page.evaluate(() => {
        let element = document.activeElement;
        while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement;
        return element?.getAttribute('data-airlock') ?? element?.tagName;
      });
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('launcher');
    // The focus ring is visible.
    expect(await page.locator('[data-airlock="launcher"]').evaluate((element) => getComputedStyle(element).outlineStyle)).toBe('solid');
    await page.keyboard.press('Enter');
    expect(await focused()).toBe('input');
    site.upstream.next({ type: 'answer', text: 'Typed answer.' });
    await page.keyboard.type('first line');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('second line');
    await page.keyboard.press('Enter');
    await answers(page).first().waitFor();
    expect(await page.locator('[data-role="user"]').textContent()).toBe('first line\nsecond line');
    expect(await answers(page).first().textContent()).toBe('Typed answer.');
    expect(await focused()).toBe('input');
    // The live region said the answer once it was complete.
    await page.waitForFunction(
      () => document.querySelector('[data-airlock="widget"]')?.shadowRoot?.querySelector('[role="status"]')?.textContent === 'Typed answer.',
    );
    await page.keyboard.press('Escape');
    expect(await page.locator('[data-airlock="panel"]').isHidden()).toBe(true);
    expect(await focused()).toBe('launcher');
    await close();
  });

  it('uses 16 px inputs, honours reduced motion, and fits the panel to the visual viewport when it shrinks', async () => {
    const widgetId = await site.createChatWidget();
    const { page, close } = await open(
      site.addPage('viewport', { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-open': 'true', 'data-storage': 'memory' }]) }),
      {
        width: 390,
        height: 800,
      },
    );
    const panel = page.locator('[data-airlock="panel"]');
    await page.locator('[data-airlock="input"]').waitFor();
    expect(await page.locator('[data-airlock="input"]').evaluate((element) => getComputedStyle(element).fontSize)).toBe('16px');
    // A page that shrinks its root font size does not shrink the widget.
    await page.addStyleTag({ content: 'html { font-size: 62.5% }' });
    expect(await page.locator('[data-airlock="input"]').evaluate((element) => getComputedStyle(element).fontSize)).toBe('16px');
    expect(await panel.evaluate((element) => getComputedStyle(element).animationName)).toBe('airlock-in');
    await page.emulateMedia({ reducedMotion: 'reduce' });
    expect(await panel.evaluate((element) => getComputedStyle(element).animationName)).toBe('none');
    const tall = (await panel.boundingBox())!.height;
    // What a mobile keyboard does to the visual viewport.
    await page.setViewportSize({ width: 390, height: 420 });
    await page.waitForFunction(() => {
      const element = document.querySelector('[data-airlock="widget"]')?.shadowRoot?.querySelector('[data-airlock="panel"]');
      // Under 480 px wide the open panel fills the visual viewport.
      return element ? element.getBoundingClientRect().height <= 420 : false;
    });
    // The height came from visualViewport (which a mobile keyboard shrinks, unlike 100dvh), through a constructable sheet.
    await page.waitForFunction(() =>
      Array.from(document.querySelector('[data-airlock="widget"]')!.shadowRoot!.adoptedStyleSheets).some((sheet) =>
        Array.from(sheet.cssRules).some((rule) => rule.cssText.includes('--_viewport: 420px')),
      ),
    );
    const box = (await panel.boundingBox())!;
    expect(box.height).toBeLessThan(tall);
    expect(box.y).toBeGreaterThanOrEqual(0);
    expect(box.y + box.height).toBeLessThanOrEqual(420);
    await close();
  });

  it('has no axe-core violations, inside the shadow root included, in light and dark', async () => {
    for (const theme of ['light', 'dark']) {
      const widgetId = await site.createChatWidget({ theme, suggestedPrompts: ['What do you do?', 'Pricing'] });
      site.upstream.next({ type: 'answer', text: 'An answer with `code`, a list:\n\n- one\n- two\n\nand [a link](https://example.com).' });
      const { page, close } = await open(
        site.addPage(`axe-${theme}`, { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-open': 'true', 'data-storage': 'memory' }]) }),
      );
      await ask(page, 'Check me');
      await page.addScriptTag({ path: axePath });
      const results = await page.evaluate(async () => {
        const axe = (
          window as unknown as {
            axe: { run(context: unknown, options: unknown): Promise<{ violations: { id: string; nodes: { target: unknown }[] }[]; passes: unknown[] }> };
          }
        ).axe;
        const result = await axe.run(
          { include: [['[data-airlock="widget"]']] },
          { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } },
        );
        return {
          violations: result.violations.map((violation) => ({ id: violation.id, targets: violation.nodes.map((node) => node.target) })),
          passes: result.passes.length,
        };
      });
      expect(results.violations, JSON.stringify(results.violations)).toEqual([]);
      // It really looked inside the shadow root.
      expect(results.passes).toBeGreaterThan(5);
      await close();
    }
  });

  it('recovers from a token that expires in the middle of a conversation without the visitor noticing', async () => {
    const widgetId = await site.createChatWidget();
    const { page, tokenRequests, close } = await open(
      site.addPage('expiry', { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-open': 'true', 'data-storage': 'memory' }]) }),
    );
    site.upstream.next({ type: 'answer', text: 'Before expiry.' });
    expect(await ask(page, 'One')).toBe('Before expiry.');
    expect(tokenRequests).toHaveLength(1);
    // Eleven minutes pass for the server: the token is past its 10 minutes and the 60 s of allowed skew.
    site.shiftClock(11 * 60_000);
    site.upstream.next({ type: 'answer', text: 'After expiry.' });
    expect(await ask(page, 'Two')).toBe('After expiry.');
    expect(tokenRequests).toHaveLength(2);
    expect(await page.locator('[role="alert"]').textContent()).toBe('');
    expect(await answers(page).allTextContents()).toEqual(['Before expiry.', 'After expiry.']);
    await close();
  });

  it('Stop closes the connection to the upstream', async () => {
    const widgetId = await site.createChatWidget();
    const { page, close } = await open(
      site.addPage('stop', { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-open': 'true', 'data-storage': 'memory' }]) }),
    );
    site.upstream.next({ type: 'stream', chunks: Array.from({ length: 200 }, (_, index) => `word${index} `), delayMs: 50 });
    const input = page.locator('[data-airlock="input"]');
    await input.fill('Tell me a very long story');
    await input.press('Enter');
    await page.locator('[data-streaming]').filter({ hasText: 'word2' }).waitFor();
    const upstreamRequests = site.upstream.requests.length;
    const stopped = Date.now();
    await page.locator('[data-airlock="stop"]').click();
    const closedConnection = await site.upstream.waitForClose({ timeoutMs: 3_000 });
    expect(closedConnection.closedAt - stopped).toBeLessThan(2_000);
    const text = (await answers(page).first().textContent()) ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain('word199');
    expect(await page.locator('[data-airlock="send"]').isVisible()).toBe(true);
    expect(site.upstream.requests.length).toBe(upstreamRequests);
    await close();
  });

  it('keeps the conversation in IndexedDB across reloads, writing nothing before the first message', async () => {
    const widgetId = await site.createChatWidget();
    const { page, close } = await open(site.addPage('storage', { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-open': 'true' }]) }));
    await page.locator('[data-airlock="input"]').waitFor();
    expect(await page.evaluate(async () => (await indexedDB.databases()).map((database) => database.name))).toEqual([]);
    site.upstream.next({ type: 'answer', text: 'Remembered.' });
    await ask(page, 'Remember this');
    expect(await page.evaluate(async () => (await indexedDB.databases()).map((database) => database.name))).toEqual(['airlock']);
    await page.reload();
    await answers(page).first().waitFor();
    expect(await answers(page).allTextContents()).toEqual(['Remembered.']);
    await page.locator('[part~="clear"]').click();
    await page.reload();
    await page.locator('[data-greeting]').waitFor();
    expect(await answers(page).count()).toBe(0);
    await close();
  });

  it("fills a text-completion widget's declared form and streams the result", async () => {
    const widget = await site.airlock.store.createWidget({
      name: 'blurb',
      type: 'completion',
      allowedOrigins: [site.url],
      presentation: { title: 'Product blurb', theme: 'light' },
      behaviour: {
        model: 'gpt-4o-mini',
        promptTemplate: 'Write a {{tone}} blurb for {{product}}.',
        inputs: [
          { name: 'product', label: 'Product', type: 'text', required: true, maxLength: 80 },
          { name: 'tone', label: 'Tone', type: 'select', options: ['friendly', 'formal'] },
        ],
      },
    });
    // The form is built from the declared inputs the server publishes; the template stays on the server.
    const minted = await site.airlock.mintToken({ widgetId: widget.id, userId: 'probe' });
    expect(minted.widget.inputs?.map((input) => input.name)).toEqual(['product', 'tone']);
    expect(JSON.stringify(minted.widget)).not.toContain('blurb for');
    const { page, problems, close } = await open(
      site.addPage('completion', { html: scriptTagPage([{ 'data-widget-id': widget.id, 'data-target': '#form' }], '<div id="form"></div>') }),
    );
    await page.getByLabel('Product', { exact: true }).fill('Desk lamp');
    await page.getByLabel('Tone', { exact: true }).selectOption('formal');
    site.upstream.next({ type: 'answer', text: 'A **bright** desk lamp.', delayMs: 5 });
    await page.locator('[data-airlock="send"]').click();
    const result = page.locator('[data-airlock="result"] [data-airlock="assistant-message"]:not([data-streaming])');
    await result.waitFor();
    expect(await result.textContent()).toBe('A bright desk lamp.');
    const request = site.upstream.requests.at(-1)!;
    expect(JSON.stringify(request.body)).toContain('Write a formal blurb for Desk lamp.');
    expect(problems).toEqual([]);
    await close();
  });

  it('generates an image in an image widget, with progress, the image and a download link', async () => {
    const widget = await site.airlock.store.createWidget({
      name: 'draw',
      type: 'image',
      allowedOrigins: [site.url],
      presentation: { title: 'Draw', theme: 'light' },
      behaviour: { model: 'dall-e-3' },
    });
    const { page, close } = await open(
      site.addPage('image', { html: scriptTagPage([{ 'data-widget-id': widget.id, 'data-target': '#draw' }], '<div id="draw"></div>') }),
    );
    await page.getByLabel('Describe the image').fill('A red fox in snow');
    await page.keyboard.press('Enter');
    const image = page.locator('[data-airlock="image"]');
    await image.waitFor();
    expect(await image.getAttribute('alt')).toBe('A red fox in snow');
    expect(await image.evaluate((element: HTMLImageElement) => element.decode().then(() => element.naturalWidth))).toBeGreaterThan(0);
    expect(await page.locator('[data-airlock="download"]').getAttribute('href')).toBe(await image.getAttribute('src'));
    expect(await page.locator('progress').isHidden()).toBe(true);
    await close();
  });

  it('serves an iframe page, framed by an allowed origin, where the widget fills the frame and answers', async () => {
    const widgetId = await site.createChatWidget({ title: 'Framed help' });
    // The host page lives on another origin than Airlock, as a customer site does.
    site.addPage('host', {
      html: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host</title><link rel="icon" href="data:,"></head><body><h1>Hostile host page</h1><iframe src="${site.url}/airlock/embed/${widgetId}" title="Framed help" width="420" height="560"></iframe></body></html>`,
    });
    const { page, problems, close } = await open(`${site.otherOrigin}/pages/host`);
    const frame = page.frameLocator('iframe');
    await frame.locator('[data-airlock="input"]').waitFor();
    expect(await frame.locator('h2').textContent()).toBe('Framed help');
    const frameHandle = page.frames().find((candidate) => candidate.url().includes('/airlock/embed/'))!;
    site.upstream.next({ type: 'answer', text: 'Hello from the frame.' });
    expect(await ask(frameHandle, 'Hi frame')).toBe('Hello from the frame.');
    expect(await frameHandle.evaluate(() => (window as unknown as { __violations?: string[] }).__violations ?? [])).toEqual([]);
    expect(problems).toEqual([]);
    if (screenshots) {
      await page.setViewportSize({ width: 520, height: 680 });
      await page.screenshot({ path: join(screenshots, 'widget-iframe.png') });
      const full = await open(`${site.url}/airlock/embed/${widgetId}`, { width: 480, height: 640, referer: `${site.otherOrigin}/pages/host` });
      await full.page.locator('[data-airlock="input"]').waitFor();
      await full.page.screenshot({ path: join(screenshots, 'widget-page.png') });
      await full.close();
    }
    await close();
  });

  it('refuses to be framed by an origin the widget does not allow', async () => {
    const widget = await site.airlock.store.createWidget({
      name: 'only-127',
      type: 'chat',
      allowedOrigins: [site.url],
      presentation: { title: 'Not here', theme: 'light' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    site.addPage('host-refused', {
      html: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host</title></head><body><iframe src="${site.url}/airlock/embed/${widget.id}" title="x"></iframe></body></html>`,
    });
    const { page, close } = await open(`${site.otherOrigin}/pages/host-refused`);
    await page.waitForTimeout(500);
    const frame = page.frames().find((candidate) => candidate !== page.mainFrame());
    const mounted = await frame
      ?.locator('[data-airlock="widget"]')
      .count()
      .catch(() => 0);
    expect(mounted ?? 0).toBe(0);
    await close();
  });
});
