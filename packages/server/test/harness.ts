import { startUpstream, type Upstream, type UpstreamOptions } from '@airlock/testing';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../src/adapters/node.js';
import { createAirlock, type Airlock, type AirlockOptions } from '../src/airlock.js';
import { createLogger } from '../src/logging/logger.js';
import type { WidgetRecord } from '../src/stores/store.js';

/** A canary key: if it ever shows up where it must not, a test fails. */
export const canaryKey = `sk-canary-${randomBytes(12).toString('hex')}`;
export const allowedOrigin = 'https://shop.example.com';

export interface Harness {
  airlock: Airlock;
  upstream: Upstream;
  url: string;
  widget: WidgetRecord;
  logs: string[];
  dataDir: string;
  mint(origin?: string): Promise<string>;
  close(): Promise<void>;
}

/** A real Airlock on a real node:http server (port 0), SQLite in a temp dir, and the stand-in upstream. */
export async function startHarness(options: Partial<AirlockOptions> = {}, upstreamOptions: UpstreamOptions = { acceptedKeys: [canaryKey] }): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-test-'));
  const upstream = await startUpstream(upstreamOptions);
  const logs: string[] = [];
  const airlock = createAirlock({
    dataDir,
    masterKeys: `t1:${randomBytes(32).toString('base64')}`,
    databaseUrl: `sqlite:${join(dataDir, 'airlock.db')}`,
    logger: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    ...options,
    upstream: { apiKey: canaryKey, baseURL: upstream.baseURL, ...options.upstream },
  });
  await airlock.ready();
  const widget = await airlock.store.createWidget({
    name: 'support',
    type: 'chat',
    allowedOrigins: [allowedOrigin, 'https://*.example.org'],
    presentation: { title: 'Support', theme: 'auto', greeting: 'Hi!' },
    behaviour: { model: 'gpt-4o-mini', systemPrompt: 'You are SECRET-SYSTEM-PROMPT.' },
  });
  const server = await serve(airlock.fetch, { port: 0 });
  return {
    airlock,
    upstream,
    url: server.url,
    widget,
    logs,
    dataDir,
    async mint(origin = allowedOrigin) {
      const response = await fetch(`${server.url}/airlock/token`, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json' },
        body: JSON.stringify({ widgetId: widget.id }),
      });
      if (response.status !== 200) throw new Error(`mint failed: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { token: string }).token;
    },
    async close() {
      await server.close();
      await upstream.close();
      await airlock.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function chatRequest(url: string, token: string | undefined, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(`${url}/airlock/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      origin: allowedOrigin,
      ...(token && { authorization: `Bearer ${token}` }),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
}

/** The Airlock error code of an error response (`{ error: { code } }`). */
export async function errorCode(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}
