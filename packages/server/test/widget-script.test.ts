// widget.js as a visitor's browser downloads it: compressed, cached, and within the budget.
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pickEncoding } from '../src/assets/widget-script.js';
import { startHarness, type Harness } from './harness.js';

// What a visitor downloads is what the budget counts (the bundle's own gzip budget is 20 KB).
const wireBudget = 20 * 1024;
const bundle = readFileSync(createRequire(import.meta.url).resolve('@airlock/widget/script-tag'));

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({});
});
afterAll(async () => {
  await harness.close();
});

/** A raw HTTP GET: the bytes as they crossed the wire, not decoded by fetch. */
function get(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${harness.url}${path}`, { headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end();
  });
}

describe('widget.js on the wire', () => {
  it('is sent brotli or gzip by Accept-Encoding, each within the budget, and decodes to the bundle', async () => {
    const brotli = await get('/airlock/widget.js', { 'accept-encoding': 'gzip, deflate, br, zstd' });
    expect(brotli.status).toBe(200);
    expect(brotli.headers['content-encoding']).toBe('br');
    expect(brotli.headers.vary).toContain('Accept-Encoding');
    expect(Number(brotli.headers['content-length'])).toBe(brotli.body.length);
    expect(brotliDecompressSync(brotli.body).equals(bundle)).toBe(true);

    const gzipped = await get('/airlock/widget.js', { 'accept-encoding': 'gzip' });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzipped.body).equals(bundle)).toBe(true);

    const plain = await get('/airlock/widget.js');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(bundle)).toBe(true);

    console.log(`widget.js on the wire: ${brotli.body.length} bytes brotli, ${gzipped.body.length} gzip, ${plain.body.length} plain`);
    expect(gzipped.body.length).toBeLessThanOrEqual(wireBudget);
    expect(brotli.body.length).toBeLessThan(gzipped.body.length);
    // Each encoding is its own representation, with its own strong ETag.
    expect(new Set([brotli.headers.etag, gzipped.headers.etag, plain.headers.etag]).size).toBe(3);
  });

  it('answers a matching If-None-Match with 304 and no body', async () => {
    const first = await get('/airlock/widget.js', { 'accept-encoding': 'br' });
    const again = await get('/airlock/widget.js', { 'accept-encoding': 'br', 'if-none-match': String(first.headers.etag) });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    // Another encoding's ETag does not match this one.
    const other = await get('/airlock/widget.js', { 'accept-encoding': 'gzip', 'if-none-match': String(first.headers.etag) });
    expect(other.status).toBe(200);
  });

  it('caches the plain URL briefly and the versioned URL the iframe page uses for a year', async () => {
    const plain = await get('/airlock/widget.js');
    expect(plain.headers['cache-control']).toBe('public, max-age=300');
    const embed = await fetch(`${harness.url}/airlock/embed/${harness.widget.id}`, { headers: { referer: 'https://shop.example.com/page' } });
    const src = /<script src="([^"]+)"/.exec(await embed.text())?.[1];
    expect(src).toMatch(/^\.\.\/widget\.js\?v=[\w-]{12}$/);
    const versioned = await get(`/airlock/${src!.slice(3)}`, { 'accept-encoding': 'br' });
    expect(versioned.status).toBe(200);
    expect(versioned.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    // A stale version (a page cached before an upgrade) gets today's bundle, but not for a year.
    const stale = await get('/airlock/widget.js?v=000000000000');
    expect(stale.headers['cache-control']).toBe('public, max-age=300');
  });

  it("picks the encoding by the header's preferences, q=0 included", () => {
    expect(pickEncoding('gzip, deflate, br')).toBe('br');
    expect(pickEncoding('br;q=0, gzip')).toBe('gzip');
    expect(pickEncoding('gzip;q=0')).toBe('identity');
    expect(pickEncoding('*')).toBe('br');
    expect(pickEncoding('identity')).toBe('identity');
    expect(pickEncoding(null)).toBe('identity');
  });
});
