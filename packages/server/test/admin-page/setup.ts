import { startUpstream, type Upstream } from '@airlock/testing';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../../src/adapters/node.js';
import { createAirlock, type Airlock, type AirlockOptions } from '../../src/airlock.js';
import { createLogger } from '../../src/logging/logger.js';

/** Keys that must never reach a response, a log line or the page. */
export const sharedKey = `sk-shared-${randomBytes(12).toString('hex')}`;
export const canaryKey = `sk-canary-${randomBytes(12).toString('hex')}`;
export const adminToken = `admin-${randomBytes(16).toString('hex')}`;

export interface AdminServer {
  airlock: Airlock;
  upstream: Upstream;
  /** `http://127.0.0.1:PORT` */
  url: string;
  logs: string[];
  dataDir: string;
  masterKeys: string;
  /** Calls the admin API with the operator's bearer token. */
  admin(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/** A real Airlock (SQLite in a temp dir, admin token, master keys) on a real port, with the stand-in upstream. */
export async function startAdminServer(options: Partial<AirlockOptions> = {}): Promise<AdminServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-admin-'));
  const upstream = await startUpstream({ acceptedKeys: [sharedKey, canaryKey] });
  const logs: string[] = [];
  const masterKeys = `t1:${randomBytes(32).toString('base64')}`;
  const airlock = createAirlock({
    dataDir,
    masterKeys,
    databaseUrl: `sqlite:${join(dataDir, 'airlock.db')}`,
    adminToken,
    logger: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    upstream: { apiKey: sharedKey, baseURL: upstream.baseURL },
    ...options,
  });
  await airlock.ready();
  const server = await serve(airlock.fetch, { port: 0, host: '127.0.0.1' });
  return {
    airlock,
    upstream,
    url: server.url,
    logs,
    dataDir,
    masterKeys,
    admin: (method, path, body, headers = {}) =>
      fetch(`${server.url}/airlock/admin${path}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    async close() {
      await server.close();
      await upstream.close();
      await airlock.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Signs in through the API as the page does; returns the cookie and CSRF token. */
export async function signInByApi(url: string, token: string): Promise<{ cookie: string; csrfToken: string; setCookie: string }> {
  const response = await fetch(`${url}/airlock/admin/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: url },
    body: JSON.stringify({ token }),
  });
  if (response.status !== 201) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`);
  const setCookie = response.headers.get('set-cookie') ?? '';
  const { csrfToken } = (await response.json()) as { csrfToken: string };
  return { cookie: setCookie.split(';')[0]!, csrfToken, setCookie };
}
