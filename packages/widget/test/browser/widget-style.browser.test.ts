import { launchBrowser } from '@airlock/test-services/browser';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, Frame, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptTagPage, startSite, type Site } from './support';

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

async function open(url: string, options: { width?: number; height?: number; locale?: string } = {}) {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1000, height: options.height ?? 760 },
    ...(options.locale && { locale: options.locale }),
  });
  const page = await context.newPage();
  const problems: string[] = [];
  const warnings: string[] = [];
  const tokenRequests: string[] = [];
  const refused: number[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    if (message.type() === 'warning') warnings.push(message.text());
  });
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.endsWith('/token') && request.method() === 'POST') tokenRequests.push(request.url());
  });
  page.on('response', (response) => {
    if (response.status() === 401) refused.push(response.status());
  });
  await page.goto(url);
  return { page, context, problems, warnings, tokenRequests, refused, close: () => context.close() };
}

type Scope = Page | Frame;
const css = (locator: Locator, property: string) => locator.evaluate((element, name) => getComputedStyle(element).getPropertyValue(name), property);

async function ask(scope: Scope, text: string): Promise<string> {
  const done = scope.locator('[data-airlock="assistant-message"]:not([data-greeting]):not([data-streaming])');
  const before = await done.count();
  const input = scope.locator('[data-airlock="input"]');
  await input.fill(text);
  await input.press('Enter');
  const answer = done.nth(before);
  await answer.waitFor({ timeout: 10_000 });
  return (await answer.textContent()) ?? '';
}

const brand = { brandColor: '#0a7d4f', position: 'left', launcherLabel: 'Chat with us', poweredBy: true, fontFamily: 'Georgia, serif', radius: 20 };

describe("the owner's look, in a real browser", () => {
  it("puts the brand colour on the launcher and the visitor's messages, and the launcher and panel on the left", async () => {
    const widgetId = await site.createChatWidget({ title: 'Acme help', style: brand });
    const { page, problems, close } = await open(site.addPage('brand', { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-storage': 'memory' }]) }));
    const launcher = page.locator('[data-airlock="launcher"]');
    await launcher.waitFor();
    expect(await css(launcher, 'background-color')).toBe('rgb(10, 125, 79)');
    // The server chose the text colour that reaches AA on this green.
    expect(await css(launcher, 'color')).toBe('rgb(255, 255, 255)');
    expect(await launcher.textContent()).toBe('Chat with us');
    expect(await launcher.getAttribute('aria-label')).toBe('Chat with us');
    const closed = (await launcher.boundingBox())!;
    expect(closed.x).toBe(20);
    if (screenshots) {
      await page.setViewportSize({ width: 720, height: 320 });
      await page.screenshot({ path: join(screenshots, 'widget-launcher-label.png') });
      await page.setViewportSize({ width: 1000, height: 760 });
    }
    await launcher.click();
    const panel = page.locator('[data-airlock="panel"]');
    const box = (await panel.boundingBox())!;
    expect(box.x).toBe(20);
    expect(box.x + box.width).toBeLessThan(1000 / 2);
    // Open, the launcher is the close control.
    expect(await launcher.getAttribute('aria-label')).toBe('Close chat');
    expect(await css(panel, 'border-top-left-radius')).toBe('20px');
    site.upstream.next({ type: 'answer', text: 'Hello from Acme.' });
    await ask(page, 'Hi');
    const bubble = page.locator('[data-role="user"]');
    expect(await css(bubble, 'background-color')).toBe('rgb(10, 125, 79)');
    expect(await css(bubble, 'color')).toBe('rgb(255, 255, 255)');
    expect(await css(page.locator('[data-airlock="send"]'), 'background-color')).toBe('rgb(10, 125, 79)');
    expect(await css(panel, 'font-family')).toContain('Georgia');
    expect(await page.locator('[part~="powered-by"]').isVisible()).toBe(true);
    expect(problems).toEqual([]);
    if (screenshots) await page.screenshot({ path: join(screenshots, 'widget-left.png') });
    await close();
  });

  it("gives the message box the widget's font (not monospace) and room for a long placeholder", async () => {
    const placeholder = 'Ask anything about orders, deliveries, returns and refunds';
    const widgetId = await site.createChatWidget({ placeholder });
    const { page, close } = await open(
      site.addPage('font', { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-open': 'true', 'data-storage': 'memory' }]) }),
    );
    const input = page.locator('[data-airlock="input"]');
    await input.waitFor();
    const font = await css(input, 'font-family');
    expect(font).not.toMatch(/monospace/);
    expect(font).toBe(await css(page.locator('[data-airlock="panel"]'), 'font-family'));
    expect(await css(input, 'font-size')).toBe('16px');
    // The whole placeholder shows: the box grows to it instead of clipping it.
    expect(await input.evaluate((element) => element.scrollHeight <= element.clientHeight)).toBe(true);
    await close();
  });

  it('fills a 390×844 screen when open, with the launcher out of the way, and returns to the corner when closed', async () => {
    const widgetId = await site.createChatWidget({ style: brand });
    const { page, close } = await open(site.addPage('mobile', { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-storage': 'memory' }]) }), {
      width: 390,
      height: 844,
    });
    const launcher = page.locator('[data-airlock="launcher"]');
    await launcher.click();
    const panel = page.locator('[data-airlock="panel"]');
    await page.locator('[data-airlock="input"]').waitFor();
    // The panel slides in (160 ms); measure where it comes to rest.
    await panel.evaluate((element) => Promise.all(element.getAnimations().map((animation) => animation.finished)));
    expect(await panel.boundingBox()).toEqual({ x: 0, y: 0, width: 390, height: 844 });
    expect(await launcher.isVisible()).toBe(false);
    site.upstream.next({ type: 'answer', text: 'Full screen works.' });
    await ask(page, 'Hi');
    if (screenshots) await page.screenshot({ path: join(screenshots, 'widget-mobile.png') });
    await page.locator('[part~="close"]').click();
    expect(await panel.isHidden()).toBe(true);
    expect(await launcher.isVisible()).toBe(true);
    await close();
  });

  it('applies the same settings in the iframe page', async () => {
    const widgetId = await site.createChatWidget({ title: 'Framed Acme', style: brand });
    site.addPage('styled-host', {
      html: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host</title><link rel="icon" href="data:,"></head><body><iframe src="${site.url}/airlock/embed/${widgetId}" title="Framed Acme" width="420" height="560"></iframe></body></html>`,
    });
    const { page, problems, close } = await open(`${site.otherOrigin}/pages/styled-host`);
    await page.frameLocator('iframe').locator('[data-airlock="input"]').waitFor();
    const frame = page.frames().find((candidate) => candidate.url().includes('/airlock/embed/'))!;
    site.upstream.next({ type: 'answer', text: 'Framed and branded.' });
    await ask(frame, 'Hi');
    expect(await css(frame.locator('[data-role="user"]'), 'background-color')).toBe('rgb(10, 125, 79)');
    expect(await css(frame.locator('[data-airlock="send"]'), 'background-color')).toBe('rgb(10, 125, 79)');
    expect(await css(frame.locator('[data-airlock="panel"]'), 'font-family')).toContain('Georgia');
    expect(await css(frame.locator('[data-airlock="input"]'), 'font-family')).not.toMatch(/monospace/);
    expect(problems).toEqual([]);
    await close();
  });

  it('has no axe-core violations with a light brand colour (text on it turns dark)', async () => {
    for (const theme of ['light', 'dark']) {
      const widgetId = await site.createChatWidget({
        theme,
        suggestedPrompts: ['Opening hours?'],
        style: { brandColor: '#ffd400', launcherLabel: 'Chat with us', poweredBy: true },
      });
      const { page, close } = await open(
        site.addPage(`axe-brand-${theme}`, { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-open': 'true', 'data-storage': 'memory' }]) }),
      );
      site.upstream.next({ type: 'answer', text: 'Open 9 to 5, and [here](https://example.com) is more.' });
      await ask(page, 'When are you open?');
      expect(await css(page.locator('[data-role="user"]'), 'color')).toBe('rgb(0, 0, 0)');
      await page.addScriptTag({ path: axePath });
      const violations = await page.evaluate(async () => {
        const axe = (
          window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: { id: string; nodes: { target: unknown }[] }[] }> } }
        ).axe;
        const result = await axe.run(
          { include: [['[data-airlock="widget"]']] },
          { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } },
        );
        return result.violations.map((violation) => ({ id: violation.id, targets: violation.nodes.map((node) => node.target) }));
      });
      expect(violations, JSON.stringify(violations)).toEqual([]);
      if (screenshots) await page.screenshot({ path: join(screenshots, `widget-${theme}.png`) });
      await close();
    }
  });

  it('lays English answers out left to right in the Arabic UI', async () => {
    const widgetId = await site.createChatWidget({ locale: 'ar', greeting: 'مرحبًا! كيف يمكننا مساعدتك؟' });
    const { page, close } = await open(
      site.addPage('rtl', { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-open': 'true', 'data-storage': 'memory' }]) }),
    );
    site.upstream.next({ type: 'answer', text: 'Our shop opens at 9.' });
    await ask(page, 'When do you open?');
    const answer = page.locator('[data-airlock="assistant-message"]:not([data-greeting])');
    expect(await css(answer, 'direction')).toBe('ltr');
    expect(await css(page.locator('[data-greeting]'), 'direction')).toBe('rtl');
    expect(await css(page.locator('[data-airlock="panel"]'), 'direction')).toBe('rtl');
    // The launcher sits at the end of an Arabic line: bottom left.
    expect((await page.locator('[data-airlock="launcher"]').boundingBox())!.x).toBe(20);
    if (screenshots) await page.screenshot({ path: join(screenshots, 'widget-rtl.png') });
    await close();
  });

  it("shows the greeting, placeholder and prompts in the visitor's language", async () => {
    const widgetId = await site.createChatWidget({
      greeting: 'Hello!',
      placeholder: 'Your question',
      suggestedPrompts: ['Opening hours?'],
      translations: { fr: { greeting: 'Bonjour !', placeholder: 'Votre question', suggestedPrompts: ['Horaires ?'] }, 'pt-BR': { greeting: 'Olá!' } },
    });
    const url = site.addPage('locales', { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-open': 'true', 'data-storage': 'memory' }]) });
    for (const [locale, greeting, placeholder, prompt, send] of [
      ['fr-CA', 'Bonjour !', 'Votre question', 'Horaires ?', 'Envoyer'],
      ['pt-BR', 'Olá!', 'Your question', 'Opening hours?', 'Enviar'],
      ['de-DE', 'Hello!', 'Your question', 'Opening hours?', 'Senden'],
    ]) {
      const { page, close } = await open(url, { locale });
      await page.locator('[data-greeting]').waitFor();
      expect(await page.locator('[data-greeting]').textContent()).toBe(greeting);
      expect(await page.locator('[data-airlock="input"]').getAttribute('placeholder')).toBe(placeholder);
      expect(await page.locator('[data-airlock="suggestion"]').textContent()).toBe(prompt);
      expect(await page.locator('[data-airlock="send"]').textContent()).toBe(send);
      await close();
    }
  });

  it('shows a proactive greeting beside the launcher after its delay, once per visitor', async () => {
    const widgetId = await site.createChatWidget({ proactiveGreeting: { text: 'Questions about sizes? Ask us.', delaySeconds: 1 }, style: brand });
    const url = site.addPage('teaser', { html: scriptTagPage([{ 'data-widget-id': widgetId }]) });
    const { page, context, close } = await open(url);
    const teaser = page.locator('[data-airlock="teaser"]');
    await page.locator('[data-airlock="launcher"]').waitFor();
    expect(await teaser.count()).toBe(0);
    await teaser.waitFor({ timeout: 3_000 });
    expect(await teaser.textContent()).toBe('Questions about sizes? Ask us.');
    const box = (await page.locator('[part~="teaser"]').boundingBox())!;
    expect(box.x).toBe(20);
    if (screenshots) {
      await page.setViewportSize({ width: 720, height: 360 });
      await page.screenshot({ path: join(screenshots, 'widget-proactive-greeting.png') });
    }
    await page.getByRole('button', { name: 'Dismiss' }).click();
    expect(await teaser.count()).toBe(0);
    expect(await page.locator('[data-airlock="panel"]').isHidden()).toBe(true);
    // The same visitor, on the next page: no second greeting.
    const again = await context.newPage();
    await again.goto(url);
    await again.locator('[data-airlock="launcher"]').waitFor();
    await again.waitForTimeout(1_500);
    expect(await again.locator('[data-airlock="teaser"]').count()).toBe(0);
    await close();
    // A new visitor who clicks it: the chat opens.
    const other = await open(url);
    await other.page.locator('[data-airlock="teaser"]').click({ timeout: 3_000 });
    expect(await other.page.locator('[data-airlock="panel"]').isVisible()).toBe(true);
    await other.close();
  });
});

describe('token renewal under a wrong device clock', () => {
  it('mints once for many messages when the device clock is 10 minutes fast', async () => {
    const widgetId = await site.createChatWidget();
    // The server's clock 10 minutes behind the browser's is the browser's 10 minutes fast.
    site.shiftClock(-10 * 60_000);
    try {
      const { page, tokenRequests, refused, close } = await open(
        site.addPage('fast-clock', { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-open': 'true', 'data-storage': 'memory' }]) }),
      );
      for (let turn = 0; turn < 5; turn += 1) {
        site.upstream.next({ type: 'answer', text: `Answer ${turn}.` });
        expect(await ask(page, `Question ${turn}`)).toBe(`Answer ${turn}.`);
      }
      expect(tokenRequests).toHaveLength(1);
      expect(refused).toEqual([]);
      await close();
    } finally {
      site.shiftClock(10 * 60_000);
    }
  });

  it('renews before expiry, by the time that passed, when the device clock is 10 minutes slow', async () => {
    const widgetId = await site.createChatWidget();
    site.shiftClock(10 * 60_000);
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      const tokenRequests: string[] = [];
      const refused: string[] = [];
      page.on('request', (request) => {
        if (request.url().endsWith('/token')) tokenRequests.push(request.url());
      });
      page.on('response', (response) => {
        if (response.status() === 401) refused.push(response.url());
      });
      // A controllable clock for the page: Date and performance.now move together when fast-forwarded.
      await page.clock.install();
      await page.goto(site.addPage('slow-clock', { html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-open': 'true', 'data-storage': 'memory' }]) }));
      site.upstream.next({ type: 'answer', text: 'First.' });
      expect(await ask(page, 'One')).toBe('First.');
      expect(tokenRequests).toHaveLength(1);
      // 9 minutes 40 seconds pass for both: the token has 20 s left, inside the renewal margin.
      await page.clock.fastForward('09:40');
      site.shiftClock(9 * 60_000 + 40_000);
      site.upstream.next({ type: 'answer', text: 'Second.' });
      expect(await ask(page, 'Two')).toBe('Second.');
      expect(tokenRequests).toHaveLength(2);
      expect(refused).toEqual([]);
      site.shiftClock(-(9 * 60_000 + 40_000));
      await context.close();
    } finally {
      site.shiftClock(-10 * 60_000);
    }
  });
});
