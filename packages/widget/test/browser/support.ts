import { createAirlock, silentLogger, type Airlock } from '@airlock/server';
import { serve } from '@airlock/server/node';
import { startUpstream, type Upstream } from '@airlock/testing';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const bundlePath = join(import.meta.dirname, '../../dist/airlock.global.js');
export const canaryKey = `sk-canary-${randomBytes(12).toString('hex')}`;

/** A test page: its HTML and extra response headers (a CSP, say). */
export interface TestPage {
  html: string;
  headers?: Record<string, string>;
}

export interface Site {
  airlock: Airlock;
  upstream: Upstream;
  /** `http://127.0.0.1:<port>`: the pages and Airlock share it, so `'self'` covers `/airlock/*`. */
  url: string;
  /** The same server under another origin (`http://localhost:<port>`), for a host page framing the iframe page. */
  otherOrigin: string;
  /** Moves the server's clock (token minting and verification) without touching the browser's. */
  shiftClock(milliseconds: number): void;
  /** Serves `page` at `{url}/pages/<name>`. */
  addPage(name: string, page: TestPage): string;
  createChatWidget(presentation?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/**
 * A real Airlock (SQLite in a temp dir, the stand-in upstream behind a canary
 * key, the built widget bundle) on a real node:http server that also serves
 * the test pages.
 */
export async function startSite(): Promise<Site> {
  if (!existsSync(bundlePath)) throw new Error('Build the widget first: npx -y pnpm@12 --filter @airlock/widget build');
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-widget-browser-'));
  const upstream = await startUpstream({ acceptedKeys: [canaryKey] });
  let offset = 0;
  const airlock = createAirlock({
    dataDir,
    databaseUrl: `sqlite:${join(dataDir, 'airlock.db')}`,
    masterKeys: `k1:${randomBytes(32).toString('base64')}`,
    upstream: { apiKey: canaryKey, baseURL: upstream.baseURL },
    widgetScriptPath: bundlePath,
    // Every page of every test mints from 127.0.0.1: the per-address default (30 a minute) would refuse some.
    mintRateLimits: { perAddress: { limit: 10_000, windowSeconds: 60 } },
    logger: silentLogger,
    now: () => new Date(Date.now() + offset),
  });
  await airlock.ready();
  const pages = new Map<string, TestPage>();
  const server = await serve(
    async (request) => {
      const url = new URL(request.url);
      if (url.pathname.startsWith('/airlock/')) return airlock.fetch(request);
      if (url.pathname === '/favicon.ico') return new Response(null, { status: 204 });
      const page = pages.get(url.pathname);
      if (!page) return new Response('not found', { status: 404 });
      return new Response(page.html, { headers: { 'content-type': 'text/html; charset=utf-8', ...page.headers } });
    },
    { port: 0, host: '127.0.0.1' },
  );
  const url = server.url.replace('localhost', '127.0.0.1');
  const otherOrigin = url.replace('127.0.0.1', 'localhost');
  return {
    airlock,
    upstream,
    url,
    otherOrigin,
    shiftClock(milliseconds) {
      offset += milliseconds;
    },
    addPage(name, page) {
      pages.set(`/pages/${name}`, page);
      return `${url}/pages/${name}`;
    },
    async createChatWidget(presentation = {}) {
      const widget = await airlock.store.createWidget({
        name: `widget-${randomBytes(4).toString('hex')}`,
        type: 'chat',
        allowedOrigins: [url, otherOrigin],
        presentation: { title: 'Support', theme: 'light', greeting: 'Hi! Ask me anything.', ...presentation },
        behaviour: { model: 'gpt-4o-mini' },
      });
      return widget.id;
    },
    async close() {
      await server.close();
      await upstream.close();
      await airlock.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A page embedding widgets with script tags (no inline script or style, so any CSP fits). */
export function scriptTagPage(tags: Record<string, string>[], body = ''): string {
  const scripts = tags
    .map((attributes) => {
      const list = Object.entries(attributes)
        .map(([name, value]) => ` ${name}="${value}"`)
        .join('');
      return `<script src="/airlock/widget.js"${list} async></script>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Test page</title></head>
<body>
<main><h1>A customer page</h1><p>Some content.</p>${body}</main>
${scripts}
</body>
</html>`;
}
