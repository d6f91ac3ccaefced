// Allowed origins: wildcards over public suffixes (Public Suffix List) and
// impossible ports are refused on save, and match nothing if already stored.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOriginAllowed, isValidOriginPattern, originPatternProblem } from '../src/widgets/origins.js';
import { startHarness, type Harness } from './harness.js';

const adminToken = 'admin-token-for-origin-tests-0123456789';
let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ adminToken });
});
afterAll(async () => {
  await harness.close();
});

function createWidget(allowedOrigins: unknown): Promise<Response> {
  return fetch(`${harness.url}/airlock/admin/widgets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'origins', type: 'chat', allowedOrigins, behaviour: { model: 'gpt-4o-mini' } }),
  });
}

function mint(widgetId: string, origin: string): Promise<Response> {
  return fetch(`${harness.url}/airlock/token`, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json' },
    body: JSON.stringify({ widgetId }),
  });
}

describe('allowed origins on save', () => {
  it.each([
    ['https://*.com', 'public suffix "com"'],
    ['https://*.co.uk', 'public suffix "co.uk"'],
    ['https://*.github.io', 'public suffix "github.io"'],
    ['https://*.uk', 'public suffix "uk"'],
    ['http://*.vercel.app:8080', 'public suffix "vercel.app"'],
    ['https://example.com:0', 'port outside 1 to 65535'],
    ['https://example.com:65536', 'port outside 1 to 65535'],
    ['https://example.com:99999', 'port outside 1 to 65535'],
    ['https://*.example.com:0443', 'port outside 1 to 65535'],
    ['https://*.127.0.0.1', 'IP address'],
    ['https://a..example.com', 'must be an origin'],
    ['https://-a.example.com', 'must be an origin'],
  ])('refuses %s with 400 input_invalid naming the entry', async (entry, reason) => {
    const response = await createWidget(['https://fine.example.com', entry]);
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('input_invalid');
    expect(error.message).toContain('"allowedOrigins[1]"');
    expect(error.message).toContain(reason);
    // Only the list's suffix is repeated, never the entry as typed.
    expect(error.message).not.toContain(entry);
  });

  it.each([
    'https://*.example.com',
    'https://*.example.co.uk',
    'https://*.myshop.github.io',
    'http://*.localhost:3000',
    'https://example.com:65535',
    'https://example.com:1',
    'https://github.io',
    'http://[::1]:8787',
  ])('accepts %s', async (entry) => {
    const response = await createWidget([entry]);
    expect(response.status).toBe(201);
  });
});

describe('allowed origins at request time', () => {
  it('a public-suffix wildcard stored before the check matches nothing', async () => {
    // Written straight into the database, as an older server would have let it be saved (the store checks what it writes).
    const widget = await harness.airlock.store.createWidget({
      name: 'legacy',
      type: 'chat',
      allowedOrigins: ['https://*.shop.example.com'],
      presentation: { title: 'Legacy', theme: 'auto' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    const db = new Database(join(harness.dataDir, 'airlock.db'));
    db.prepare('UPDATE widgets SET allowed_origins = ? WHERE id = ?').run(
      JSON.stringify(['https://*.com', 'https://*.co.uk', 'https://*.shop.example.com']),
      widget.id,
    );
    db.close();
    expect((await mint(widget.id, 'https://evil.com')).status).toBe(403);
    expect((await mint(widget.id, 'https://evil.co.uk')).status).toBe(403);
    expect((await mint(widget.id, 'https://a.shop.example.com')).status).toBe(200);
  });

  it('the pure checks agree', () => {
    expect(isValidOriginPattern('https://*.co.uk')).toBe(false);
    expect(isValidOriginPattern('https://*.example.co.uk')).toBe(true);
    expect(originPatternProblem('https://*.example.com')).toBeUndefined();
    expect(isOriginAllowed('https://x.example.co.uk', ['https://*.example.co.uk'])).toBe(true);
    expect(isOriginAllowed('https://x.co.uk', ['https://*.co.uk'])).toBe(false);
    expect(isOriginAllowed('https://example.com:0', ['https://example.com:0'])).toBe(false);
    expect(isOriginAllowed('https://example.com', ['https://example.com:443'])).toBe(true);
  });
});
