import { readSse, startUpstream, streamedText, type Upstream, type UpstreamOptions } from '@airlock/testing';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../src/adapters/node.js';
import { createAirlock, type Airlock, type AirlockOptions } from '../src/airlock.js';
import { createLogger } from '../src/logging/logger.js';
import type { NewWidget, WidgetRecord } from '../src/stores/store.js';
import { allowedOrigin, canaryKey, errorCode } from './harness.js';

export { allowedOrigin, canaryKey, errorCode, streamedText };

/** A real Airlock on node:http (port 0) with SQLite in a temp dir and the stand-in upstream; exposes the node server to count its sockets. */
export interface ProxyHarness {
  airlock: Airlock;
  upstream: Upstream;
  server: Server;
  url: string;
  dataDir: string;
  logs: string[];
  /** Every response body text the tests read, to look for canaries at the end. */
  seen: string[];
  widget(input?: Partial<NewWidget>): Promise<WidgetRecord>;
  token(widget: WidgetRecord, userId?: string, limits?: { requests?: number; outputTokens?: number }): Promise<string>;
  post(path: string, token: string | undefined, body: unknown, init?: { signal?: AbortSignal; headers?: Record<string, string> }): Promise<Response>;
  /** Reads a response as text and remembers it for the canary check. */
  text(response: Response): Promise<string>;
  serverConnections(): Promise<number>;
  close(): Promise<void>;
}

export async function startProxyHarness(
  options: Partial<AirlockOptions> = {},
  upstreamOptions: UpstreamOptions = { acceptedKeys: [canaryKey] },
): Promise<ProxyHarness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-proxy-'));
  const upstream = await startUpstream(upstreamOptions);
  const logs: string[] = [];
  const seen: string[] = [];
  const airlock = createAirlock({
    dataDir,
    masterKeys: `t1:${randomBytes(32).toString('base64')}`,
    databaseUrl: `sqlite:${join(dataDir, 'airlock.db')}`,
    logger: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    adminToken: 'admin-secret-token',
    ...options,
    upstream: { apiKey: canaryKey, baseURL: upstream.baseURL, ...options.upstream },
  });
  await airlock.ready();
  const served = await serve(airlock.fetch, { port: 0 });
  let counter = 0;
  return {
    airlock,
    upstream,
    server: served.server,
    url: served.url,
    dataDir,
    logs,
    seen,
    widget(input = {}) {
      counter += 1;
      return airlock.store.createWidget({
        name: `widget-${counter}`,
        type: 'chat',
        allowedOrigins: [allowedOrigin],
        presentation: { title: 'Test', theme: 'auto' },
        behaviour: { model: 'gpt-4o-mini', systemPrompt: 'SECRET-SYSTEM-PROMPT' },
        ...input,
      });
    },
    async token(widget, userId = `user-${randomBytes(4).toString('hex')}`, limits) {
      return (await airlock.mintToken({ widgetId: widget.id, userId, ...(limits && { limits }) })).token;
    },
    post(path, token, body, init = {}) {
      return fetch(`${served.url}/airlock${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          origin: allowedOrigin,
          ...(token && { authorization: `Bearer ${token}` }),
          ...init.headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
        signal: init.signal,
      });
    },
    async text(response) {
      const text = await response.text();
      seen.push(text);
      return text;
    },
    serverConnections: () => new Promise((resolve, reject) => served.server.getConnections((error, count) => (error ? reject(error) : resolve(count)))),
    async close() {
      await served.close();
      await upstream.close();
      await airlock.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The `data:` payloads of an SSE body, `[DONE]` included. */
export async function sseEvents(response: Response): Promise<string[]> {
  const events: string[] = [];
  for await (const data of readSse(response)) events.push(data);
  return events;
}

/** Resolves when `check` returns true, polling; rejects after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
