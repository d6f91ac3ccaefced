import { launchBrowser } from '@airlock/test-services/browser';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJson, sendJson, startServer, type TestServer } from '../support/http-server';
import { bundlePath, scriptTagPage } from './support';

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const sources = [
  { id: 'file_1:3', title: 'Pricing.pdf', location: 'page 3', url: 'https://example.com/pricing' },
  { id: 'file_2:0', title: '<img src=x onerror=alert(1)>', location: 'Plans › Annual' },
];

// Until the server sends sources, this stands in for it at the HTTP boundary: the page, the built
// bundle, minting, and chat answers whose first chunk carries `airlock_sources` as the contract says.
let server: TestServer;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync(bundlePath)) throw new Error('Build the widget first: npx -y pnpm@12 --filter @airlock/widget build');
  const scripts: Record<string, Buffer> = { '/airlock/widget.js': readFileSync(bundlePath), '/axe.js': readFileSync(axePath) };
  server = await startServer(async (request, response) => {
    const script = scripts[request.url ?? ''];
    if (script) {
      response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      response.end(script);
    } else if (request.url === '/airlock/token') {
      await readJson(request);
      sendJson(response, 200, { token: 'token-1', expiresAt: Date.now() + 600_000, widget: { id: 'wgt_1', type: 'chat', title: 'Support', theme: 'light' } });
    } else if (request.url === '/airlock/v1/chat/completions') {
      await readJson(request);
      const first = { id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: '' } }], airlock_sources: sources };
      const text = { id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'Annual plans cost 10% less.' } }] };
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(`data: ${JSON.stringify(first)}\n\ndata: ${JSON.stringify(text)}\n\ndata: [DONE]\n\n`);
    } else if (request.url === '/page') {
      response.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'",
      });
      response.end(scriptTagPage([{ 'data-widget-id': 'wgt_1', 'data-open': 'true' }]));
    } else {
      response.writeHead(404);
      response.end();
    }
  });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('an answer’s sources in a real browser', () => {
  it('shows them under a strict CSP, reachable and opened with the keyboard, with no axe violation, and again after a reload', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('dialog', (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    await page.addInitScript(() => {
      const record = window as unknown as { __violations: string[] };
      record.__violations = [];
      document.addEventListener('securitypolicyviolation', (event) => record.__violations.push(event.violatedDirective));
    });
    await page.goto(`${server.url}/page`);
    const input = page.locator('[data-airlock="input"]');
    await input.fill('How much is the annual plan?');
    await input.press('Enter');
    const summary = page.locator('[part~="sources"] summary');
    await summary.waitFor();
    expect(await summary.textContent()).toBe('Sources (2)');
    expect(await page.locator('[part~="sources"] ol li').first().isVisible()).toBe(false);

    const focused = () =>
      page.evaluate(() => {
        let element = document.activeElement;
        while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement;
        return element?.textContent;
      });
    // The transcript is focusable (tabindex 0); the first stop inside it is the disclosure.
    await page.locator('[data-airlock="transcript"]').focus();
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Sources (2)');
    await page.keyboard.press('Enter');
    const items = page.locator('[part~="sources"] ol li');
    expect(await items.allTextContents()).toEqual(['Pricing.pdf page 3', '<img src=x onerror=alert(1)> Plans › Annual']);
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Pricing.pdf');
    const link = page.locator('[part~="sources"] a');
    expect(await link.evaluate((element) => [element.getAttribute('href'), element.getAttribute('target'), element.getAttribute('rel')])).toEqual([
      'https://example.com/pricing',
      '_blank',
      'noopener noreferrer',
    ]);
    // Muted, yet readable.
    expect(
      await page
        .locator('[part~="sources"] small')
        .first()
        .evaluate((element) => getComputedStyle(element).color),
    ).toBe('rgb(92, 101, 112)');

    // From the page's origin: the strict CSP refuses an inline script.
    await page.addScriptTag({ url: '/axe.js' });
    const violations = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: { id: string }[] }> } }).axe;
      const result = await axe.run(
        { include: [['[data-airlock="widget"]']] },
        { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } },
      );
      return result.violations.map((violation) => violation.id);
    });
    expect(violations).toEqual([]);

    // The default storage, IndexedDB, keeps them with the answer.
    await page.reload();
    await summary.waitFor();
    expect(await summary.textContent()).toBe('Sources (2)');
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations)).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });
});
