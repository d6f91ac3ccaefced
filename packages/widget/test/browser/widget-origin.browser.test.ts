// A page on an origin the widget does not allow: the server's refusal is
// readable across origins, so the visitor reads that the chat is not
// available here (not that it cannot be reached), and the owner gets one
// console line naming the origin to add.
import { launchBrowser } from '@airlock/test-services/browser';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSite, type Site } from './support';

let browser: Browser;
let site: Site;
beforeAll(async () => {
  [browser, site] = await Promise.all([launchBrowser(), startSite()]);
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

describe('a widget on a page whose origin it does not allow', () => {
  it('says the chat is not available here and tells the owner which origin to add', async () => {
    const widget = await site.airlock.store.createWidget({
      name: 'elsewhere',
      type: 'chat',
      allowedOrigins: [site.url],
      presentation: { title: 'Elsewhere', theme: 'light' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    // The page lives on the other origin and loads the widget from the Airlock server's, as a customer's site does.
    site.addPage('wrong-origin', {
      html: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body><h1>Shop</h1><script src="${site.url}/airlock/widget.js" data-widget-id="${widget.id}" async></script></body></html>`,
    });
    const context = await browser.newContext();
    const page = await context.newPage();
    const warnings: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'warning') warnings.push(message.text());
    });
    try {
      await page.goto(`${site.otherOrigin}/pages/wrong-origin`);
      await page.locator('[data-airlock="launcher"]').click();
      const alert = page.locator('[data-airlock="error"]');
      await expect.poll(() => alert.textContent(), { timeout: 10_000 }).toContain('This chat is not available on this page.');
      const advice = warnings.filter((line) => line.startsWith('Airlock:'));
      expect(advice).toHaveLength(1);
      expect(advice[0]).toContain(`Add ${site.otherOrigin} to its allowed origins`);
    } finally {
      await context.close();
    }
  });
});
