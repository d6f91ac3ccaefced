// Quick check without the framework: the example's own route modules, from
// source, called the way Next.js calls them (the method's export with a Web
// Request), behind a real node:http server on port 0, with the stand-in
// upstream. nextjs-server.test.ts runs them under `next start`; this one needs
// no build of the server package, so it catches source changes at once.
import { readStreamedText } from '@airlock/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serve } from '@airlock/server/node';

type RouteModule = Record<string, ((request: Request, context: unknown) => Promise<Response>) | unknown>;

const dataDir = mkdtempSync(join(tmpdir(), 'airlock-next-example-'));
let server: Awaited<ReturnType<typeof serve>>;
let widgetId: string;

beforeAll(async () => {
  process.env.AIRLOCK_DATA_DIR = dataDir;
  process.env.OPENAI_API_KEY = '';
  const airlockRoute = (await import('../app/airlock/[...path]/route.js')) as RouteModule;
  const tokenRoute = (await import('../app/api/airlock-token/route.js')) as RouteModule;
  const { exampleWidget, getAirlock } = await import('../lib/airlock.js');
  // Next.js dispatches by path to a route module, then by method to its export.
  server = await serve(
    async (request) => {
      const path = new URL(request.url).pathname;
      const module = path.startsWith('/airlock/') ? airlockRoute : path === '/api/airlock-token' ? tokenRoute : undefined;
      const handler = module?.[request.method] as ((request: Request, context: unknown) => Promise<Response>) | undefined;
      if (!handler) return new Response('Not found', { status: module ? 405 : 404 });
      return handler(request, { params: Promise.resolve({}) });
    },
    { port: 0 },
  );
  widgetId = (await exampleWidget(server.url)).id;
  afterAll(async () => {
    await server.close();
    await (await getAirlock()).close();
    rmSync(dataDir, { recursive: true, force: true });
  });
});

async function streamedText(response: Response): Promise<string> {
  expect(response.status).toBe(200);
  const { text, error } = await readStreamedText(response);
  expect(error).toBeUndefined();
  return text;
}

function chat(token: string): Promise<Response> {
  return fetch(`${server.url}/airlock/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', origin: server.url },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Hello' }], stream: true }),
  });
}

it('answers the CORS preflight and mints a public token for the page origin, then streams', async () => {
  const preflight = await fetch(`${server.url}/airlock/token`, {
    method: 'OPTIONS',
    headers: { origin: server.url, 'access-control-request-method': 'POST' },
  });
  expect(preflight.status).toBe(204);
  const minted = await fetch(`${server.url}/airlock/token`, {
    method: 'POST',
    headers: { origin: server.url, 'content-type': 'application/json' },
    body: JSON.stringify({ widgetId }),
  });
  expect(minted.status).toBe(200);
  expect(minted.headers.get('access-control-allow-origin')).toBe(server.url);
  const { token } = (await minted.json()) as { token: string };
  expect(await streamedText(await chat(token))).toBe('Hello from the local stand-in upstream (not OpenAI).');
});

it('mints a backend token only for a signed-in user', async () => {
  const refused = await fetch(`${server.url}/api/airlock-token`, { method: 'POST' });
  expect(refused.status).toBe(401);
  const minted = await fetch(`${server.url}/api/airlock-token`, { method: 'POST', headers: { cookie: 'user=ada', origin: server.url } });
  expect(minted.status).toBe(200);
  const { token } = (await minted.json()) as { token: string };
  expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())).toMatchObject({ sub: 'user:ada', limits: { requests: 50 } });
  expect(await streamedText(await chat(token))).toContain('stand-in');
});
