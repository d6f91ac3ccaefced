// Parts of the page that are shown only sometimes (the allowance form for operators, the
// knowledge section for chat widgets) leave nothing behind when they are not: a `false` once
// reached the DOM as the text "false" there. Real Chromium, real Airlock (SQLite).
import { launchBrowser } from '@airlock/test-services/browser';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WidgetRecord } from '../../src/stores/store.js';
import { startAdminServer, type AdminServer } from './setup.js';

let server: AdminServer;
let browser: Browser;
let page: Page;
let imageWidget: WidgetRecord;

beforeAll(async () => {
  server = await startAdminServer();
  await server.airlock.store.createAccount({ id: 'acme', name: 'Acme' });
  imageWidget = await server.airlock.store.createWidget({
    accountId: 'acme',
    name: 'acme-pictures',
    type: 'image',
    allowedOrigins: ['https://acme.example'],
    presentation: { title: 'Pictures', theme: 'auto' },
    behaviour: { model: 'gpt-image-1' },
  });
  const { token } = (await (await server.admin('POST', '/accounts/acme/access-tokens', {})).json()) as { token: string };
  browser = await launchBrowser();
  page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(`${server.url}/airlock/admin/`);
  await page.getByLabel('Admin token or account access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'OpenAI API key' }).waitFor();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('what the page leaves out', () => {
  it("shows an account owner the allowance without the operator's form, and nothing in its place", async () => {
    await page.goto(`${server.url}/airlock/admin/#/usage`);
    const allowance = page.getByTestId('allowance');
    await allowance.getByText(/used/).waitFor();
    expect(await allowance.getByRole('button', { name: 'Set allowance' }).count()).toBe(0);
    expect(await allowance.evaluate((element) => [...element.childNodes].map((node) => node.nodeName))).toEqual(['H2', 'P']);
  });

  it('shows an image widget without a knowledge section, and nothing in its place', async () => {
    await page.goto(`${server.url}/airlock/admin/#/widgets/${imageWidget.id}`);
    await page.getByRole('heading', { name: 'acme-pictures' }).waitFor();
    expect(await page.getByTestId('knowledge').count()).toBe(0);
    const section = page.locator('section[aria-labelledby="widget-title"]');
    expect(await section.evaluate((element) => element.lastChild?.nodeName)).toBe('DIV');
    expect(
      await section.evaluate((element) => [...element.childNodes].filter((node) => node.nodeType === Node.TEXT_NODE).map((node) => node.textContent)),
    ).toEqual([]);
  });
});
