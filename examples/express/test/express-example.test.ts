// Smoke test: the example starts on port 0 with the stand-in upstream, and a
// visitor's page and a signed-in user both get tokens and streamed answers.
import { readStreamedText } from '@airlock/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startExample } from '../src/server.js';

let example: Awaited<ReturnType<typeof startExample>>;
const dataDir = mkdtempSync(join(tmpdir(), 'airlock-express-example-'));
beforeAll(async () => {
  example = await startExample({ port: 0, dataDir });
});
afterAll(async () => {
  await example.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function streamedText(response: Response): Promise<string> {
  expect(response.status).toBe(200);
  const { text, error } = await readStreamedText(response);
  expect(error).toBeUndefined();
  return text;
}

function chat(token: string): Promise<Response> {
  return fetch(`${example.url}/airlock/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', origin: example.url },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Hello' }], stream: true }),
  });
}

it('serves the page with the script tag', async () => {
  const page = await (await fetch(example.url)).text();
  expect(page).toContain(`data-widget-id="${example.widgetId}"`);
  expect((await fetch(`${example.url}/airlock/widget.js`)).status).toBe(200);
});

it('mints a public token for the page origin and streams an answer', async () => {
  expect(example.standIn).toBe(true);
  const minted = await fetch(`${example.url}/airlock/token`, {
    method: 'POST',
    headers: { origin: example.url, 'content-type': 'application/json' },
    body: JSON.stringify({ widgetId: example.widgetId }),
  });
  expect(minted.status).toBe(200);
  const { token } = (await minted.json()) as { token: string };
  expect(await streamedText(await chat(token))).toBe('Hello from the local stand-in upstream (not OpenAI).');
});

it('mints a backend token for a signed-in user only', async () => {
  expect((await fetch(`${example.url}/api/airlock-token`, { method: 'POST' })).status).toBe(401);
  const login = await fetch(`${example.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'ada' }),
  });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const minted = await fetch(`${example.url}/api/airlock-token`, { method: 'POST', headers: { cookie, origin: example.url } });
  expect(minted.status).toBe(200);
  const { token } = (await minted.json()) as { token: string };
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string; limits: unknown };
  expect(claims).toMatchObject({ sub: 'user:ada', limits: { requests: 50 } });
  expect(await streamedText(await chat(token))).toContain('stand-in');
});
