import { createAirlock, silentLogger, type Airlock } from '@airlock/server';
import { serve } from '@airlock/server/node';
import { startUpstream, type Upstream } from '@airlock/testing';
import { build } from 'esbuild';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const canaryKey = `sk-canary-${randomBytes(12).toString('hex')}`;

/** A real Airlock (SQLite in a temp dir) on a real node:http server, in front of the stand-in upstream behind a canary key. */
export interface AirlockServer {
  airlock: Airlock;
  upstream: Upstream;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Every request that reached the server, in order: method, path and the preflight's requested headers. */
  seen: { method: string; path: string; requestedHeaders: string | null; origin: string | null }[];
  createChatWidget(allowedOrigins: string[]): Promise<string>;
  close(): Promise<void>;
}

export async function startAirlockServer(): Promise<AirlockServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-client-tests-'));
  const upstream = await startUpstream({ acceptedKeys: [canaryKey] });
  const airlock = createAirlock({
    dataDir,
    databaseUrl: `sqlite:${join(dataDir, 'airlock.db')}`,
    masterKeys: `k1:${randomBytes(32).toString('base64')}`,
    upstream: { apiKey: canaryKey, baseURL: upstream.baseURL },
    logger: silentLogger,
  });
  await airlock.ready();
  const seen: AirlockServer['seen'] = [];
  const server = await serve(
    (request) => {
      seen.push({
        method: request.method,
        path: new URL(request.url).pathname,
        requestedHeaders: request.headers.get('access-control-request-headers'),
        origin: request.headers.get('origin'),
      });
      return airlock.fetch(request);
    },
    { port: 0, host: '127.0.0.1' },
  );
  return {
    airlock,
    upstream,
    url: server.url.replace('localhost', '127.0.0.1'),
    seen,
    async createChatWidget(allowedOrigins) {
      const widget = await airlock.store.createWidget({
        name: `widget-${randomBytes(4).toString('hex')}`,
        type: 'chat',
        allowedOrigins,
        presentation: { title: 'Client tests', theme: 'light' },
        behaviour: { model: 'gpt-4o-mini' },
      });
      return widget.id;
    },
    async close() {
      await server.close();
      await airlock.close();
      await upstream.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A plain page server on its own port (so its own origin): `/` is `html`, `/openai.js` the `openai` SDK bundled for browsers. */
export async function startPageServer(html: string): Promise<{ origin: string; close(): Promise<void> }> {
  const sdk = await bundleOpenAiSdk();
  const server = await serve(
    async (request) => {
      const { pathname } = new URL(request.url);
      if (pathname === '/') return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } });
      if (pathname === '/openai.js') return new Response(sdk, { headers: { 'content-type': 'text/javascript; charset=utf-8' } });
      return new Response('not found', { status: 404 });
    },
    { port: 0, host: '127.0.0.1' },
  );
  // Pages are opened as localhost, a different origin from Airlock's 127.0.0.1 even on the same port.
  return { origin: server.url.replace('127.0.0.1', 'localhost'), close: () => server.close() };
}

let bundled: Promise<string> | undefined;

/** The real `openai` package, bundled for a browser page as the global `OpenAI`. */
export function bundleOpenAiSdk(): Promise<string> {
  bundled ??= build({
    stdin: { contents: "export { default } from 'openai';", resolveDir: import.meta.dirname, loader: 'js' },
    bundle: true,
    format: 'iife',
    globalName: 'OpenAIModule',
    platform: 'browser',
    target: 'es2022',
    write: false,
    footer: { js: 'window.OpenAI = OpenAIModule.default;' },
  }).then((result) => result.outputFiles[0]!.text);
  return bundled;
}
