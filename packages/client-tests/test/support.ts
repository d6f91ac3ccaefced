import { createAirlock, silentLogger, type Airlock, type WidgetBehaviour } from '@airlock/server';
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
  /** A chat widget on `gpt-4o-mini`; `options.behaviour` is merged over that. */
  createChatWidget(allowedOrigins: string[], options?: ChatWidgetOptions): Promise<string>;
  /** `<url>/airlock/v1`, what OpenAI-compatible clients take as their base URL. */
  baseURL: string;
  /** A fresh widget token (subject `user-1` unless given). */
  token(widgetId: string, userId?: string): Promise<string>;
  close(): Promise<void>;
}

/** The widget settings a test varies; `allowClientInstructions` is typed here until the store's type has it. */
export interface ChatWidgetOptions {
  behaviour?: Partial<WidgetBehaviour> & { allowClientInstructions?: boolean };
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
  const url = server.url.replace('localhost', '127.0.0.1');
  return {
    airlock,
    upstream,
    url,
    baseURL: `${url}/airlock/v1`,
    seen,
    async token(widgetId, userId = 'user-1') {
      return (await airlock.mintToken({ widgetId, userId })).token;
    },
    async createChatWidget(allowedOrigins, options = {}) {
      const widget = await airlock.store.createWidget({
        name: `widget-${randomBytes(4).toString('hex')}`,
        type: 'chat',
        allowedOrigins,
        presentation: { title: 'Client tests', theme: 'light' },
        behaviour: { model: 'gpt-4o-mini', ...options.behaviour } as WidgetBehaviour,
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

/** A message as the upstream received it, its content reduced to text (a string, or text parts joined). */
export interface UpstreamMessage {
  role: string;
  text: string;
}

/** The messages of the latest chat completion the stand-in upstream received, or `undefined` when none reached it. */
export function lastUpstreamChat(server: AirlockServer): { body: Record<string, unknown>; messages: UpstreamMessage[] } | undefined {
  const request = server.upstream.requests.findLast((recorded) => recorded.path === '/v1/chat/completions');
  if (!request) return undefined;
  const body = request.body as Record<string, unknown>;
  const messages = (body.messages as { role: string; content: unknown }[]).map(({ role, content }) => ({
    role,
    text: typeof content === 'string' ? content : (content as { text?: string }[]).map((part) => part.text ?? '').join(''),
  }));
  return { body, messages };
}

/** The JSON `data:` payloads of an SSE body, in order; `[DONE]` stays a string. */
export function sseData(body: string): unknown[] {
  return body
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5).trim())
    .map((data) => (data === '[DONE]' ? data : (JSON.parse(data) as unknown)));
}

/** The rejection of `promise`, so a test can look at it; fails when it resolves. */
export async function refusal(
  promise: Promise<unknown>,
): Promise<Error & { status?: number; code?: string | null; statusCode?: number; responseBody?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a refusal, the call succeeded');
}
