import { DEFAULT_ANSWER_TEXT } from '@airlock/testing';
import { launchBrowser } from '@airlock/test-services/browser';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WidgetRecord } from '../../src/stores/store.js';
import { adminToken, canaryKey, sharedKey, startAdminServer, type AdminServer } from './setup.js';

// axe-core is installed for the widget's accessibility tests; the admin page uses the same copy.
const axeSource = readFileSync(createRequire(fileURLToPath(new URL('../../../widget/package.json', import.meta.url))).resolve('axe-core/axe.min.js'), 'utf8');
// Screenshots for docs/admin.md: `AIRLOCK_SCREENSHOTS=1 npx vitest run packages/server/test/admin-page`.
const screenshots = process.env.AIRLOCK_SCREENSHOTS ? fileURLToPath(new URL('../../../../docs/images/', import.meta.url)) : undefined;

let server: AdminServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let host: Server;
let hostOrigin: string;
let hostPage = '';
let rivalWidget: WidgetRecord;
let acmeWidget: WidgetRecord;

async function accessibilityViolations(target: Page): Promise<string[]> {
  await target.evaluate(axeSource);
  return target.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document): Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const result = await axe.run(document);
    return result.violations.map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
  });
}

async function shoot(target: Page, name: string, height = 900): Promise<void> {
  if (!screenshots) return;
  await target.evaluate(() => document.getElementById('toast')?.replaceChildren());
  await target.setViewportSize({ width: 1280, height });
  await target.screenshot({ path: `${screenshots}admin-${name}.png` });
  await target.setViewportSize({ width: 1280, height: 900 });
}

async function signIn(target: Page, token: string): Promise<void> {
  await target.goto(`${server.url}/airlock/admin/`);
  await target.getByLabel('Admin token or account access token').fill(token);
  await target.getByRole('button', { name: 'Sign in' }).click();
  await target.getByRole('heading', { name: 'OpenAI API key' }).waitFor();
}

beforeAll(async () => {
  server = await startAdminServer();
  const store = server.airlock.store;
  await store.createAccount({ id: 'acme', name: 'Acme' });
  await store.createAccount({ id: 'rival', name: 'Rival' });
  acmeWidget = await store.createWidget({
    accountId: 'acme',
    name: 'acme-helper',
    type: 'chat',
    allowedOrigins: ['https://acme.example'],
    presentation: { title: 'Acme', theme: 'auto' },
    behaviour: { model: 'gpt-4o-mini' },
  });
  rivalWidget = await store.createWidget({
    accountId: 'rival',
    name: 'rival-secret-widget',
    type: 'chat',
    allowedOrigins: ['https://rival.example'],
    presentation: { title: 'Rival', theme: 'auto' },
    behaviour: { model: 'gpt-4o-mini', systemPrompt: 'RIVAL-SYSTEM-PROMPT' },
  });
  await store.createWidget({
    name: 'support',
    type: 'chat',
    allowedOrigins: ['https://shop.example.com'],
    presentation: { title: 'Support', theme: 'auto' },
    behaviour: { model: 'gpt-4o-mini' },
  });
  expect((await server.admin('PUT', '/accounts/rival/key', { apiKey: sharedKey })).status).toBe(200);

  // The site that embeds the widget: another origin (another host name and port).
  host = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(hostPage);
  });
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
  hostOrigin = `http://localhost:${(host.address() as AddressInfo).port}`;

  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => host?.close(resolve));
  await server?.close();
});

describe('the admin page in a real browser', () => {
  it('signs in with the admin token; the sign-in page passes axe', async () => {
    await page.goto(`${server.url}/airlock/admin/`);
    await page.getByLabel('Admin token or account access token').waitFor();
    expect(await page.getByRole('button', { name: 'Sign out' }).isHidden()).toBe(true);
    expect(await page.getByRole('navigation').isHidden()).toBe(true);
    expect(await accessibilityViolations(page)).toEqual([]);
    await shoot(page, 'sign-in');
    await page.getByLabel('Admin token or account access token').fill('wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('This token is not valid here.').waitFor();
    await signIn(page, adminToken);
    expect(await page.locator('#principal').textContent()).toBe('Operator');
  });

  it('saves a key, validated upstream; afterwards no response the browser receives contains it', async () => {
    const keyInput = page.getByLabel('New OpenAI key');
    await keyInput.fill('sk-refused-by-upstream-0000');
    await page.getByRole('button', { name: 'Save key' }).click();
    await page.getByText('The AI service refused this key, so it was not saved.').waitFor();
    expect(await keyInput.inputValue()).toBe('');

    const received: Promise<string>[] = [];
    page.on('response', (response) => {
      received.push(
        (async () => {
          const headers = JSON.stringify(await response.allHeaders());
          const body = await response.text().catch(() => '');
          return `${response.url()}\n${headers}\n${body}`;
        })(),
      );
    });
    await keyInput.fill(canaryKey);
    await page.getByRole('button', { name: 'Save key' }).click();
    const details = page.getByTestId('key-details');
    await details.waitFor();
    expect(await details.textContent()).toContain(`sk-…${canaryKey.slice(-4)}`);
    expect(await page.getByTestId('key-in-use').textContent()).toBe('This account has its own key.');
    await page.getByText('can never be shown again').waitFor();
    expect(await accessibilityViolations(page)).toEqual([]);
    await shoot(page, 'api-key');
    // Walk every page once more, then search everything received.
    for (const hash of ['#/widgets', '#/usage', '#/keys']) {
      await page.goto(`${server.url}/airlock/admin/${hash}`);
      await page.reload(); // a fresh load: the HTML, script and styles again, not only the API
      await page.locator('main h1').waitFor();
      await page.waitForLoadState('networkidle');
    }
    const everything = await Promise.all(received);
    expect(everything.length).toBeGreaterThan(8);
    expect(everything.some((entry) => entry.includes('/admin/assets/admin.js'))).toBe(true);
    for (const entry of everything) expect(entry).not.toContain(canaryKey);
    expect(await page.content()).not.toContain(canaryKey);
    expect(server.logs.join('\n')).not.toContain(canaryKey);
    page.removeAllListeners('response');
  });

  it('replaces the key in one step, then refuses to revoke it while in use, listing its widgets, and revokes after confirmation', async () => {
    await page.getByRole('button', { name: 'Replace', exact: true }).click();
    await page.getByLabel('Replace with a new key').fill(sharedKey);
    await page.getByRole('button', { name: 'Save key' }).click();
    await expect.poll(() => page.getByTestId('key-details').textContent()).toContain(`sk-…${sharedKey.slice(-4)}`);

    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke a key in use?' });
    await dialog.waitFor();
    expect(await page.getByTestId('widgets-using-key').textContent()).toContain('support');
    expect(((await (await server.admin('GET', '/accounts/default/key')).json()) as { status: string }).status).toBe('active');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(((await (await server.admin('GET', '/accounts/default/key')).json()) as { status: string }).status).toBe('active');

    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    await dialog.getByRole('button', { name: 'Revoke anyway' }).click();
    await page.getByText('Key revoked').waitFor();
    expect(((await (await server.admin('GET', '/accounts/default/key')).json()) as { status: string }).status).toBe('revoked');
    await page.getByLabel('New OpenAI key').waitFor();
  });

  it('creates a widget whose live preview answers through the upstream, and whose copied embed code works on an allowed site', async () => {
    await page.goto(`${server.url}/airlock/admin/#/widgets`);
    await page.getByRole('link', { name: 'New widget' }).click();
    await page.getByLabel('Name').fill('helper');
    await page.getByLabel('Allowed origins').fill(hostOrigin);
    await page.getByLabel('Greeting').fill('Ask me anything.');
    await page.getByLabel('System prompt').fill('Be brief.');
    await page.getByRole('button', { name: 'Create widget' }).click();
    await page.getByRole('heading', { name: 'helper', level: 1 }).waitFor();
    const created = (await server.airlock.store.listWidgets()).find((widget) => widget.name === 'helper')!;
    expect(created).toMatchObject({ allowedOrigins: [hostOrigin], presentation: { greeting: 'Ask me anything.' }, behaviour: { systemPrompt: 'Be brief.' } });

    const preview = page.frameLocator('iframe.preview');
    await preview.locator('[data-airlock="input"]').fill('Hello from the preview');
    await preview.locator('[data-airlock="send"]').click();
    await expect.poll(() => preview.locator('[data-airlock="assistant-message"]').last().textContent(), { timeout: 10_000 }).toContain(DEFAULT_ANSWER_TEXT);
    const chat = server.upstream.requests.filter((request) => request.path.endsWith('/chat/completions'));
    expect(chat.at(-1)?.headers.authorization).toBe(`Bearer ${sharedKey}`);
    expect(await accessibilityViolations(page)).toEqual([]);
    await shoot(page, 'widget', 1240);

    // Edit: disable, then enable again, through the buttons.
    await page.getByRole('button', { name: 'Disable', exact: true }).click();
    await page.getByRole('button', { name: 'Enable', exact: true }).waitFor();
    expect((await server.airlock.store.getWidget(created.id))?.enabled).toBe(false);
    await page.getByRole('button', { name: 'Enable', exact: true }).click();
    await page.getByRole('button', { name: 'Disable', exact: true }).waitFor();

    await page.getByRole('button', { name: 'Copy the script tag' }).click();
    await page.getByText('Script tag copied.').waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toBe(`<script src="${server.url}/airlock/widget.js" data-widget-id="${created.id}" async></script>`);

    hostPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body><h1>Shop</h1>${copied}</body></html>`;
    const shop = await context.newPage();
    await shop.goto(`${hostOrigin}/`);
    await shop.locator('[data-airlock="launcher"]').click();
    await shop.locator('[data-airlock="input"]').fill('Hello from the shop');
    await shop.locator('[data-airlock="send"]').click();
    await expect.poll(() => shop.locator('[data-airlock="assistant-message"]').last().textContent(), { timeout: 10_000 }).toContain(DEFAULT_ANSWER_TEXT);
    await shop.close();
  });

  it('lists widgets and shows usage charts with the generation allowance; both pass axe', async () => {
    await page.goto(`${server.url}/airlock/admin/#/widgets`);
    await page.getByRole('link', { name: 'helper' }).waitFor();
    expect(await page.getByRole('link', { name: 'rival-secret-widget' }).count()).toBe(0);
    expect(await accessibilityViolations(page)).toEqual([]);
    await shoot(page, 'widgets');

    await page.goto(`${server.url}/airlock/admin/#/usage`);
    await page
      .getByTestId('allowance')
      .getByText(/Unlimited/)
      .waitFor();
    await page.getByLabel('Allowance (empty: unlimited)').fill('500');
    await page.getByRole('button', { name: 'Set allowance' }).click();
    await page
      .getByTestId('allowance')
      .getByText(/remaining/)
      .waitFor();
    expect(await (await server.admin('GET', '/accounts/default/generations')).json()).toMatchObject({ allowance: 500 });
    await expect.poll(() => page.locator('svg.chart').count()).toBe(5);
    expect(await accessibilityViolations(page)).toEqual([]);
    await shoot(page, 'usage');
  });

  it('edits the look with a live preview that changes as the owner types, checks the contrast, and saves it', async () => {
    const helper = (await server.airlock.store.listWidgets()).find((widget) => widget.name === 'helper')!;
    await page.goto(`${server.url}/airlock/admin/#/widgets/${helper.id}`);
    const preview = page.frameLocator('iframe.preview');
    const launcher = preview.locator('[data-airlock="launcher"]');
    await preview.locator('[data-airlock="input"]').waitFor();
    const background = (locator: typeof launcher) => locator.evaluate((element) => getComputedStyle(element).backgroundColor);
    expect(await background(preview.locator('[data-airlock="send"]'))).toBe('rgb(37, 87, 214)');

    await page.getByLabel('Brand colour', { exact: true }).fill('#ffd400');
    // Not saved yet, and the preview already shows it, with the text colour that reaches AA.
    await expect.poll(() => background(preview.locator('[data-airlock="send"]'))).toBe('rgb(255, 212, 0)');
    expect(await preview.locator('[data-airlock="send"]').evaluate((element) => getComputedStyle(element).color)).toBe('rgb(0, 0, 0)');
    await page
      .getByTestId('contrast')
      .getByText(/#000000 \(chosen for you\), contrast 1[0-9]\.\d\d:1 — passes WCAG AA/)
      .waitFor();
    expect((await server.airlock.store.getWidget(helper.id))?.presentation.style).toBeUndefined();

    await page.getByLabel('Text on the brand colour').fill('#ffffff');
    await page
      .getByTestId('contrast')
      .getByText(/fails WCAG AA \(4\.5:1 needed\); #000000 passes/)
      .waitFor();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText(/WCAG AA needs 4\.5:1\. Use #000000/).waitFor();
    await page.getByLabel('Text on the brand colour').fill('');

    await page.getByLabel('Position').selectOption('left');
    await page.getByLabel('Launcher label').fill('Chat with us');
    await page.getByLabel('Font', { exact: true }).fill('Georgia, serif');
    await page.getByLabel('Corner radius (px)').fill('20');
    await page.getByLabel('Greeting', { exact: true }).fill('Welcome to the shop!');
    await preview.locator('[data-greeting]').getByText('Welcome to the shop!').waitFor();
    await expect.poll(() => preview.locator('[data-airlock="panel"]').evaluate((element) => getComputedStyle(element).fontFamily)).toContain('Georgia');
    // The panel and launcher moved to the left of the preview.
    const frameLeft = (await page.locator('iframe.preview').boundingBox())!.x;
    await expect.poll(async () => (await preview.locator('[data-airlock="panel"]').boundingBox())!.x - frameLeft).toBeLessThan(40);
    expect(await accessibilityViolations(page)).toEqual([]);
    await shoot(page, 'style-editor', 1700);

    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Widget helper saved.').waitFor();
    const saved = (await server.airlock.store.getWidget(helper.id))!.presentation;
    expect(saved.style).toEqual({ brandColor: '#ffd400', position: 'left', launcherLabel: 'Chat with us', fontFamily: 'Georgia, serif', radius: 20 });
    expect(saved.greeting).toBe('Welcome to the shop!');
    // Saved, the reloaded preview shows it from the server; closed, the launcher carries its label.
    await preview.locator('[data-airlock="input"]').waitFor();
    await preview.locator('[part~="close"]').click();
    expect(await launcher.textContent()).toBe('Chat with us');
    expect(await background(launcher)).toBe('rgb(255, 212, 0)');
  });

  it('does not scroll sideways on a 390 px screen (widgets, usage, a widget)', async () => {
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    const helper = (await server.airlock.store.listWidgets()).find((widget) => widget.name === 'helper')!;
    for (const [hash, ready] of [
      ['#/widgets', () => phone.getByRole('link', { name: 'helper' }).waitFor()],
      ['#/usage', () => phone.locator('svg.chart').first().waitFor()],
      [`#/widgets/${helper.id}`, () => phone.getByRole('heading', { name: 'helper', level: 1 }).waitFor()],
      ['#/keys', () => phone.getByRole('heading', { name: 'OpenAI API key' }).waitFor()],
    ] as const) {
      await phone.goto(`${server.url}/airlock/admin/${hash}`);
      await ready();
      const width = await phone.evaluate(() => document.documentElement.scrollWidth);
      expect(width, hash).toBeLessThanOrEqual(390);
    }
    await phone.close();
  });

  it('refuses a change made without the CSRF token', async () => {
    const statuses = await page.evaluate(async () => {
      const body = JSON.stringify({ name: 'forged', allowedOrigins: [] });
      const forged = await fetch('/airlock/admin/widgets', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const { csrfToken } = (await (await fetch('/airlock/admin/session')).json()) as { csrfToken: string };
      const genuine = await fetch('/airlock/admin/widgets', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
        body: JSON.stringify({ name: 'genuine', allowedOrigins: [] }),
      });
      return [forged.status, genuine.status];
    });
    expect(statuses).toEqual([403, 201]);
    const names = (await server.airlock.store.listWidgets()).map((widget) => widget.name);
    expect(names).toContain('genuine');
    expect(names).not.toContain('forged');
  });

  it('shows an account owner only their own account, in the page and in the admin API', async () => {
    // The operator picks the account and creates its owner's access token on the page.
    await page.goto(`${server.url}/airlock/admin/#/keys`);
    await page.getByLabel('Account').selectOption('acme');
    const acmeSection = page.locator('section[data-account="acme"]');
    await acmeSection.getByRole('button', { name: 'Create access token' }).click();
    const created = { token: (await acmeSection.getByTestId('new-access-token').textContent())! };
    expect(created.token).toMatch(/^alat_/);
    const ownerContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    ownerContext.setDefaultTimeout(10_000);
    const owner = await ownerContext.newPage();
    try {
      await signIn(owner, created.token);
      expect(await owner.locator('#principal').textContent()).toBe('Account acme');
      expect(await owner.locator('#account-picker').isHidden()).toBe(true);
      await owner.goto(`${server.url}/airlock/admin/#/widgets`);
      await owner.getByRole('link', { name: 'acme-helper' }).waitFor();
      await shoot(owner, 'account-owner');
      expect(await owner.getByRole('link', { name: 'rival-secret-widget' }).count()).toBe(0);
      expect(await owner.getByRole('link', { name: 'support' }).count()).toBe(0);
      await owner.goto(`${server.url}/airlock/admin/#/widgets/${rivalWidget.id}`);
      await owner.getByText('This belongs to another account.').waitFor();
      expect(await owner.content()).not.toContain('RIVAL-SYSTEM-PROMPT');

      // The same rules straight against the admin API, with the session cookie and with the token as bearer.
      const { csrfToken } = await owner.evaluate(async () => (await fetch('/airlock/admin/session')).json() as Promise<{ csrfToken: string }>);
      const asOwner = (path: string, init: RequestInit = {}) =>
        owner.evaluate(
          async ([url, method, body, token]) => {
            const response = await fetch(url!, { method, body: body || undefined, headers: { 'content-type': 'application/json', 'x-csrf-token': token! } });
            return { status: response.status, text: await response.text() };
          },
          [`/airlock/admin${path}`, init.method ?? 'GET', (init.body as string) ?? '', csrfToken],
        );
      const bearer = (path: string) => fetch(`${server.url}/airlock/admin${path}`, { headers: { authorization: `Bearer ${created.token}` } });
      const list = await asOwner('/widgets');
      expect(list.status).toBe(200);
      expect((JSON.parse(list.text) as { widgets: WidgetRecord[] }).widgets.map((widget) => widget.id)).toEqual([acmeWidget.id]);
      expect(list.text).not.toContain('rival');
      const bearerList = (await (await bearer('/widgets')).json()) as { widgets: WidgetRecord[] };
      expect(bearerList.widgets.map((widget) => widget.id)).toEqual([acmeWidget.id]);
      for (const path of [
        `/widgets/${rivalWidget.id}`,
        `/widgets/${rivalWidget.id}/usage`,
        `/widgets/${rivalWidget.id}/embed`,
        '/accounts/rival',
        '/accounts/rival/key',
      ]) {
        expect((await asOwner(path)).status, path).toBe(403);
        expect((await bearer(path)).status, path).toBe(403);
      }
      for (const [path, method, body] of [
        [`/widgets/${rivalWidget.id}`, 'PATCH', '{"enabled":false}'],
        [`/widgets/${rivalWidget.id}/revoke-tokens`, 'POST', ''],
        ['/accounts/rival/key', 'PUT', JSON.stringify({ apiKey: canaryKey })],
        ['/accounts/rival/key?force=true', 'DELETE', ''],
      ] as const) {
        expect((await asOwner(path, { method, body })).status, `${method} ${path}`).toBe(403);
      }
      expect((await server.airlock.store.getWidget(rivalWidget.id))?.enabled).toBe(true);
      expect(((await (await server.admin('GET', '/accounts/rival/key')).json()) as { status: string }).status).toBe('active');
      // A widget an account owner creates is theirs, whatever account the body names.
      const made = await asOwner('/widgets', { method: 'POST', body: JSON.stringify({ name: 'owned', accountId: 'rival', allowedOrigins: [] }) });
      expect(made.status).toBe(201);
      expect((JSON.parse(made.text) as WidgetRecord).accountId).toBe('acme');
      // Their own account works.
      expect((await asOwner(`/widgets/${acmeWidget.id}`)).status).toBe(200);
      expect((await asOwner('/accounts/acme/generations')).status).toBe(200);
      expect(await accessibilityViolations(owner)).toEqual([]);
    } finally {
      await ownerContext.close();
    }
  });
});
