// End to end: a real Airlock with a knowledge file, the built widget on a
// strict-CSP page; the visitor's answer shows the sources the server
// retrieved for it, as text, with the file's source URL as the link.
import { launchBrowser } from '@airlock/test-services/browser';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptTagPage, startSite, type Site } from './support';

const policies = `# Policies

## Returns

Returns are free within 45 days of delivery for unused items.
`;

let browser: Browser;
let site: Site;
let widgetId: string;
beforeAll(async () => {
  [browser, site] = await Promise.all([launchBrowser(), startSite()]);
  widgetId = await site.createChatWidget();
  const widget = (await site.airlock.store.getWidget(widgetId))!;
  // A hostile file name: it must show as text.
  await site.airlock.knowledge!.add(widget, {
    name: 'policies <img src=x onerror=alert(1)>.md',
    bytes: new TextEncoder().encode(policies),
    sourceUrl: 'https://shop.example.com/policies',
  });
  await site.airlock.knowledge!.idle();
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

describe('sources from the server in the widget', () => {
  it('shows the retrieved file under the answer, linked, on a strict-CSP page', async () => {
    const url = site.addPage('knowledge', {
      html: scriptTagPage([{ 'data-widget-id': widgetId, 'data-open': 'true' }]),
      headers: { 'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'" },
    });
    const page = await (await browser.newContext()).newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('dialog', (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    await page.goto(url);
    const input = page.locator('[data-airlock="input"]');
    await input.fill('How many days do I have to return an item?');
    await input.press('Enter');
    const summary = page.locator('[part~="sources"] summary');
    await summary.waitFor();
    expect(await summary.textContent()).toBe('Sources (1)');
    await summary.click();
    const link = page.locator('[part~="sources"] a');
    expect(await link.getAttribute('href')).toBe('https://shop.example.com/policies');
    expect(await link.textContent()).toBe('policies <img src=x onerror=alert(1)>.md');
    expect(await page.locator('[part~="sources"]').textContent()).toContain('Returns');
    expect(await page.locator('[part~="sources"] img').count()).toBe(0);
    // The model was given the passage, after the widget's own instructions.
    const chat = site.upstream.requests.filter((request) => request.path === '/v1/chat/completions').at(-1)!.body as { messages: { content: string }[] };
    expect(chat.messages.some((message) => message.content.includes('Returns are free within 45 days'))).toBe(true);
    expect(problems).toEqual([]);
  });
});
