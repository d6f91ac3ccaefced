import { startUpstream, type Upstream } from '@airlock/testing';
import { launchBrowser } from '@airlock/test-services/browser';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const mainScript = fileURLToPath(new URL('../src/main.js', import.meta.url));
const docsDir = fileURLToPath(new URL('../../../docs/', import.meta.url));

/** Starts the demo exactly as `pnpm demo` does (built packages), on a free port. */
async function startDemo(environment: Record<string, string>): Promise<{ url: string; dataDir: string; output: () => string; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-demo-'));
  const child: ChildProcess = spawn(process.execPath, [mainScript], {
    env: { ...process.env, OPENAI_API_KEY: '', OPENAI_BASE_URL: '', PORT: '0', INIT_CWD: dataDir, ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo did not start:\n${output}`)), 20_000);
    const check = () => {
      const match = /Airlock demo running at (http:\/\/localhost:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`demo exited with ${code}:\n${output}`)));
  });
  return {
    url,
    dataDir,
    output: () => output,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Types into the widget (its shadow root is open, which Playwright pierces) and waits for the finished answer. */
async function ask(page: Page, message: string): Promise<{ final: string; partials: string[] }> {
  const answers = page.locator('[data-airlock="assistant-message"]:not([data-greeting]):not([data-streaming])');
  const before = await answers.count();
  const input = page.locator('[data-airlock="input"]');
  await input.fill(message);
  await recordStreamingText(page);
  await input.press('Enter');
  const answer = answers.nth(before);
  await answer.waitFor({ timeout: 15_000 });
  // The answer's own text: its sources (the demo's widget answers from docs/) are a list under it.
  const final = await answer.evaluate((element) => {
    const copy = element.cloneNode(true) as HTMLElement;
    for (const sources of copy.querySelectorAll('[part~="sources"]')) sources.remove();
    return copy.textContent ?? '';
  });
  const partials = await page.evaluate(() => (window as unknown as { airlockPartials: string[] }).airlockPartials);
  return { final, partials };
}

/**
 * Records every text the answer shows while it is still streaming (the widget marks it
 * data-streaming). A MutationObserver sees each DOM change as it happens, so a stream that
 * finishes between two polls of a busy machine is still seen mid-way.
 */
async function recordStreamingText(page: Page): Promise<void> {
  await page.evaluate(() => {
    const root = document.querySelector('[data-airlock="widget"]')!.shadowRoot!;
    const partials: string[] = [];
    (window as unknown as { airlockPartials: string[] }).airlockPartials = partials;
    new MutationObserver(() => {
      const text = root.querySelector('[data-streaming]')?.textContent;
      if (text && partials.at(-1) !== text) partials.push(text);
    }).observe(root, { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

describe('the demo, against an OpenAI-compatible upstream with a canary key', () => {
  const canary = `sk-canary-${randomBytes(16).toString('hex')}`;
  let upstream: Upstream;
  let demo: Awaited<ReturnType<typeof startDemo>>;

  beforeAll(async () => {
    upstream = await startUpstream({ acceptedKeys: [canary] });
    // Pauses long enough that even a starved browser renders the beginning on its own.
    upstream.setDefault({ type: 'stream', chunks: ['Streaming ', 'works ', 'end to end.'], delayMs: 600 });
    demo = await startDemo({ OPENAI_API_KEY: canary, OPENAI_BASE_URL: upstream.baseURL });
  });
  afterAll(async () => {
    await demo?.stop();
    await upstream?.close();
  });

  it('answers a typed message with streamed text, and the key reaches no response the page received', async () => {
    const page = await browser.newPage();
    const received: string[] = [];
    const pending: Promise<void>[] = [];
    page.on('response', (response) => {
      pending.push(
        (async () => {
          received.push(JSON.stringify(await response.allHeaders()));
          received.push(await response.text().catch(() => ''));
        })(),
      );
    });
    await page.goto(demo.url);
    const { final, partials } = await ask(page, 'Hello, widget!');
    expect(final).toBe('Streaming works end to end.');
    // Seen mid-stream: a non-empty beginning of the answer, not all of it.
    const partial = partials.find((text) => text.length > 0 && text.length < final.length);
    expect(partial, `texts seen while streaming: ${JSON.stringify(partials)}`).toBeDefined();
    expect(final.startsWith(partial!)).toBe(true);
    await Promise.all(pending);

    const chat = upstream.requests.find((request) => request.path === '/v1/chat/completions');
    expect(chat?.headers.authorization).toBe(`Bearer ${canary}`);
    expect(JSON.stringify(chat?.body)).toContain('Hello, widget!');
    expect(received.length).toBeGreaterThan(4);
    for (const item of received) expect(item).not.toContain(canary);
    expect(demo.output()).not.toContain(canary);
    await page.close();
  });
});

describe('the demo with no key configured', () => {
  let demo: Awaited<ReturnType<typeof startDemo>>;
  beforeAll(async () => {
    demo = await startDemo({});
  });
  afterAll(async () => {
    await demo?.stop();
  });

  it('says the answers come from the local stand-in, on the page and in its output, and still answers', async () => {
    expect(demo.output()).toContain('local stand-in');
    const page = await browser.newPage();
    await page.goto(demo.url);
    await expect(page.locator('[data-demo="stand-in-notice"]').textContent()).resolves.toContain('local stand-in');
    // Before its knowledge is read, the demo's own stand-in text; after, the stand-in quotes the passage it was given.
    expect((await ask(page, 'Who answers?')).final).toMatch(/stand-in upstream, not from OpenAI|\(stand-in answer\)/);
    await page.close();
  });

  it('adds the project\u2019s docs/*.md (not the API reference) to its widget\u2019s knowledge, and answers a question about them with sources', async () => {
    const guides = readdirSync(docsDir).filter((name) => name.endsWith('.md'));
    expect(demo.output()).toContain(`Adding ${guides.length} file(s) from docs/ to the demo widget's knowledge`);
    await expect
      .poll(() => /Knowledge ready: added (\d+) file\(s\) from docs\/; (\d+) of (\d+) ready/.exec(demo.output())?.slice(1), { timeout: 60_000 })
      .toEqual([guides.length, guides.length, guides.length].map(String));

    const page = await browser.newPage();
    await page.goto(demo.url);
    // What the widget asks, straight from the page: a token for the demo widget, then a chat completion with it.
    const widgetId = await page.locator('script[data-widget-id][data-target]').getAttribute('data-widget-id');
    const answer = await page.evaluate(async (id) => {
      const { token } = (await (
        await fetch('/airlock/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ widgetId: id }) })
      ).json()) as { token: string };
      const response = await fetch('/airlock/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'How do I rotate the OpenAI API key?' }] }),
      });
      return (await response.json()) as { choices: { message: { content: string } }[]; airlock_sources?: { title: string; location?: string }[] };
    }, widgetId);
    const sources = answer.airlock_sources ?? [];
    expect(sources.length).toBeGreaterThan(0);
    expect(sources.length).toBeLessThanOrEqual(5);
    for (const source of sources) expect(guides).toContain(source.title);
    expect(sources.map((source) => source.title)).toContain('managing-api-keys.md');
    // The stand-in makes the retrieved passage visible: the first source, quoted.
    const text = answer.choices[0]!.message.content;
    expect(text.startsWith(`From your files (stand-in answer): ${sources[0]!.title}`)).toBe(true);
    // And the visitor sees the same in the widget.
    expect((await ask(page, 'How do I rotate the OpenAI API key?')).final).toContain('From your files (stand-in answer): ');
    await page.close();
  });
});

describe('the demo beside a real server', () => {
  it('keeps its data in .airlock/demo, so `airlock serve` keeps .airlock/ for its own master key; prints its admin page and how to sign in', async () => {
    const demo = await startDemo({});
    try {
      expect(existsSync(join(demo.dataDir, '.airlock/demo/airlock.db'))).toBe(true);
      expect(existsSync(join(demo.dataDir, '.airlock/airlock.db'))).toBe(false);
      expect(demo.output()).toMatch(/Admin page: http:\/\/localhost:\d+\/airlock\/admin\/ — sign in with the admin token in \.airlock\/demo\/admin-token\./);
      const token = readFileSync(join(demo.dataDir, '.airlock/demo/admin-token'), 'utf8').trim();
      // The token is in the file, not in the output.
      expect(demo.output()).not.toContain(token);
      const signIn = await fetch(`${demo.url}/airlock/admin/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: demo.url },
        body: JSON.stringify({ token }),
      });
      expect(signIn.status).toBe(201);
    } finally {
      await demo.stop();
    }
  });
});
