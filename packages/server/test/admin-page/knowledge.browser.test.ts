// The Knowledge section of the admin page in a real Chromium, on a real
// Airlock (SQLite) with the stand-in upstream (its /v1/embeddings included):
// uploads with a progress bar each, the file list, the retrieval test,
// replace and remove, and the 390 px layout.
import { launchBrowser } from '@airlock/test-services/browser';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WidgetRecord } from '../../src/stores/store.js';
import { adminToken, startAdminServer, type AdminServer } from './setup.js';

const axeSource = readFileSync(createRequire(fileURLToPath(new URL('../../../widget/package.json', import.meta.url))).resolve('axe-core/axe.min.js'), 'utf8');

const pricing = `# Pricing

## Plans

The Pro plan costs 29 euros a month and includes priority support.
The Team plan costs 99 euros a month for up to ten people.

## Refunds

Refunds are given within 30 days of purchase, no questions asked.
`;
const stores = `city,opening hours,phone
Lyon,9:00 to 18:00 from Monday to Saturday,+33 4 00 00 00 01
Ghent,10:00 to 19:00 from Tuesday to Sunday,+32 9 00 00 00 02
`;
const hostileName = '<img src=x onerror="window.__pwned=1">.md';

let server: AdminServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let widget: WidgetRecord;

const file = (name: string, text: string, mimeType = 'text/plain') => ({ name, mimeType, buffer: Buffer.from(text) });
const upload = (name: string) => page.locator(`li.upload[data-name="${name.replace(/"/g, '\\"')}"]`);
const row = (name: string) =>
  page
    .getByTestId('knowledge-files')
    .locator('tbody tr')
    .filter({ has: page.getByRole('cell', { name, exact: true }) });
const files = async () => (await server.airlock.knowledge!.list(widget.id)).map((entry) => [entry.name, entry.status]);

/** Records every state each upload goes through (a MutationObserver sees each change as it happens). */
async function recordUploadStates(target: Page): Promise<void> {
  await target.evaluate(() => {
    const seen: Record<string, string[]> = {};
    (window as unknown as { uploadStates: typeof seen }).uploadStates = seen;
    const list = document.querySelector('[data-testid="knowledge-uploads"]')!;
    new MutationObserver(() => {
      for (const item of list.querySelectorAll<HTMLElement>('li.upload')) {
        const states = (seen[item.dataset.name!] ??= []);
        const state = item.dataset.state ?? '';
        if (states.at(-1) !== state) states.push(state);
      }
    }).observe(list, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
  });
}
const uploadStates = (target: Page) => target.evaluate(() => (window as unknown as { uploadStates: Record<string, string[]> }).uploadStates);

beforeAll(async () => {
  server = await startAdminServer();
  widget = await server.airlock.store.createWidget({
    name: 'shop-helper',
    type: 'chat',
    allowedOrigins: ['https://shop.example.com'],
    presentation: { title: 'Shop', theme: 'auto' },
    behaviour: { model: 'gpt-4o-mini' },
  });
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(15_000);
  page = await context.newPage();
  await page.goto(`${server.url}/airlock/admin/`);
  await page.getByLabel('Admin token or account access token').fill(adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'OpenAI API key' }).waitFor();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('knowledge in the admin page', () => {
  it('uploads a .md and a .csv, each with its progress bar through the upload and the reading to ready, then lists them', async () => {
    await page.goto(`${server.url}/airlock/admin/#/widgets/${widget.id}`);
    const section = page.getByTestId('knowledge');
    await section.getByRole('heading', { name: 'Knowledge' }).waitFor();
    await section.getByText('No files yet').waitFor();
    await section.getByText(/Up to 10 MB a file/).waitFor();
    await recordUploadStates(page);

    await page.getByLabel('Source URL').fill('https://shop.example.com/pricing');
    // The label is the visible control; the real input behind it takes the files.
    await page
      .getByLabel('Drop files here or choose files')
      .setInputFiles([file('pricing.md', pricing, 'text/markdown'), file('stores.csv', stores, 'text/csv')]);
    for (const name of ['pricing.md', 'stores.csv']) {
      await upload(name).and(page.locator('[data-state="ready"]')).waitFor();
      expect(
        await upload(name)
          .locator('progress')
          .evaluate((bar: HTMLProgressElement) => bar.value),
      ).toBe(1);
      expect(await upload(name).locator('.upload-state').textContent()).toMatch(/^ready: \d+ passages$/);
    }
    const states = await uploadStates(page);
    // The upload's own progress, then the server's reading of the file, polled until ready.
    for (const name of ['pricing.md', 'stores.csv']) expect(states[name], name).toEqual(['uploading', 'reading', 'ready']);
    await expect.poll(files).toEqual([
      ['pricing.md', 'ready'],
      ['stores.csv', 'ready'],
    ]);
    const [pricingFile] = await server.airlock.knowledge!.list(widget.id);
    expect(pricingFile!.sourceUrl).toBe('https://shop.example.com/pricing');

    for (const [name, type] of [
      ['pricing.md', 'md'],
      ['stores.csv', 'csv'],
    ] as const) {
      await expect.poll(() => row(name).locator('[data-label="Status"]').textContent()).toBe('ready');
      expect(await row(name).locator('[data-label="Type"]').textContent()).toBe(type);
      expect(await row(name).locator('[data-label="Size"]').textContent()).toMatch(/^\d+ B$/);
      expect(Number(await row(name).locator('[data-label="Passages"]').textContent())).toBeGreaterThan(0);
      expect(Number(await row(name).locator('[data-label="Tokens"]').textContent())).toBeGreaterThan(0);
      expect(await row(name).locator('[data-label="Added"]').textContent()).not.toBe('—');
    }
    // The file with a source URL links to it.
    expect(await row('pricing.md').getByRole('link', { name: 'pricing.md' }).getAttribute('href')).toBe('https://shop.example.com/pricing');
  });

  it('tries a question: the ranked passages with their scores, the right one first', async () => {
    await page.getByLabel('Question').fill('How much does the Pro plan cost per month?');
    await page.getByRole('button', { name: 'Try', exact: true }).click();
    const first = page.getByTestId('knowledge-hits').locator('li.hit').first();
    await first.waitFor();
    expect(await first.locator('.hit-file').textContent()).toBe('pricing.md');
    expect(await first.locator('.hit-file').getAttribute('href')).toBe('https://shop.example.com/pricing');
    expect(await first.locator('.passage').textContent()).toContain('The Pro plan costs 29 euros a month');
    expect(await first.locator('.hit-head').textContent()).toMatch(/^#1 pricing\.md — Pricing > Plans/);
    expect(await first.locator('.hint').textContent()).toMatch(/^score 0\.\d{4} · keyword #\d+ \(\d+\.\d{3}\) · vector #\d+ \(-?\d\.\d{3}\)$/);

    await page.getByLabel('Question').fill('What are the opening hours in Ghent?');
    await page.getByRole('button', { name: 'Try', exact: true }).click();
    await expect.poll(() => page.getByTestId('knowledge-hits').locator('li.hit').first().locator('.passage').textContent()).toContain('Ghent');
    expect(await page.getByTestId('knowledge-hits').locator('li.hit').first().locator('.hit-file').textContent()).toBe('stores.csv');
    expect(
      await page.evaluate(axeSource).then(() =>
        page.evaluate(async () => {
          const axe = (window as unknown as { axe: { run(context: Document): Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }> } }).axe;
          return (await axe.run(document)).violations.map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
        }),
      ),
    ).toEqual([]);
  });

  it('says when a file is already there, shows a failed file\u2019s reason and the server\u2019s refusal of a type, and renders hostile names as text', async () => {
    await page.getByLabel('Source URL').fill('');
    await page.getByLabel('Drop files here or choose files').setInputFiles([file('pricing-copy.md', pricing, 'text/markdown')]);
    await upload('pricing-copy.md').and(page.locator('[data-state="duplicate"]')).waitFor();
    expect(await upload('pricing-copy.md').textContent()).toContain('The same content is already in this widget’s knowledge as pricing.md');

    await page
      .getByLabel('Drop files here or choose files')
      .setInputFiles([file('ragged.csv', 'a,b\n1,2,3,4\n', 'text/csv'), file('tool.exe', 'MZ', 'application/octet-stream')]);
    await upload('ragged.csv').and(page.locator('[data-state="failed"]')).waitFor();
    expect((await upload('ragged.csv').getByRole('alert').textContent())!.length).toBeGreaterThan(10);
    await upload('tool.exe').and(page.locator('[data-state="failed"]')).waitFor();
    expect(await upload('tool.exe').getByRole('alert').textContent()).toMatch(/not supported; upload .*\.md/);
    await expect.poll(() => row('ragged.csv').locator('[data-label="Status"]').textContent()).toMatch(/^failed/);

    await page
      .getByLabel('Drop files here or choose files')
      .setInputFiles([file(hostileName, '# Hostile\n\nA file with a hostile name, shown as text.\n', 'text/markdown')]);
    await upload(hostileName).and(page.locator('[data-state="ready"]')).waitFor();
    await expect.poll(() => row(hostileName).count()).toBe(1);
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  });

  it('replaces a file with a new version and removes one after confirmation', async () => {
    const chooser = page.waitForEvent('filechooser');
    await page.getByRole('button', { name: 'Replace pricing.md' }).click();
    await (await chooser).setFiles([file('pricing.md', pricing.replace('29 euros', '35 euros'), 'text/markdown')]);
    await expect
      .poll(async () => (await server.airlock.knowledge!.list(widget.id)).filter((entry) => entry.name === 'pricing.md').map((entry) => entry.status))
      .toEqual(['ready']);
    await page.getByLabel('Question').fill('How much does the Pro plan cost per month?');
    await page.getByRole('button', { name: 'Try', exact: true }).click();
    await expect.poll(() => page.getByTestId('knowledge-hits').locator('li.hit').first().locator('.passage').textContent()).toContain('35 euros');
    expect(await page.getByTestId('knowledge-hits').textContent()).not.toContain('29 euros');

    await page.getByRole('button', { name: 'Remove stores.csv' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove stores.csv?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await files()).map(([name]) => name)).toContain('stores.csv');
    await page.getByRole('button', { name: 'Remove stores.csv' }).click();
    await dialog.getByRole('button', { name: 'Remove file' }).click();
    await page.getByText('stores.csv removed.').waitFor();
    await expect.poll(() => row('stores.csv').count()).toBe(0);
    expect((await files()).map(([name]) => name)).not.toContain('stores.csv');
  });

  it('saves the vector count with the chat settings; empty removes it', async () => {
    const count = page.getByLabel('Passages per answer (vector count)');
    await count.fill('3');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(async () => (await server.airlock.store.getWidget(widget.id))?.behaviour.vectorCount).toBe(3);
    await page.getByTestId('knowledge').getByText('its vector count: 3').waitFor();
    await page.getByLabel('Passages per answer (vector count)').fill('');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await expect.poll(async () => (await server.airlock.store.getWidget(widget.id))?.behaviour.vectorCount ?? 'unset').toBe('unset');
  });

  it('does not scroll sideways on a 390 px screen with the knowledge section open', async () => {
    const phone = await context.newPage();
    try {
      await phone.setViewportSize({ width: 390, height: 844 });
      await phone.goto(`${server.url}/airlock/admin/#/widgets/${widget.id}`);
      await phone.getByTestId('knowledge-files').waitFor();
      await phone.getByLabel('Question').fill('What is the refund policy?');
      await phone.getByRole('button', { name: 'Try', exact: true }).click();
      await phone.getByTestId('knowledge-hits').locator('li.hit').first().waitFor();
      await phone.getByTestId('knowledge').scrollIntoViewIfNeeded();
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      if (process.env.KNOWLEDGE_SCREENSHOTS) {
        await phone.getByTestId('knowledge').screenshot({ path: `${process.env.KNOWLEDGE_SCREENSHOTS}/phone.png` });
        await page.getByTestId('knowledge').screenshot({ path: `${process.env.KNOWLEDGE_SCREENSHOTS}/desktop.png` });
      }
    } finally {
      await phone.close();
    }
  });
});
