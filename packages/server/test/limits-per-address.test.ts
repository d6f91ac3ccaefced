// One client address cannot starve a widget: its proxied requests are
// limited per address per widget, and an IPv6 /64 counts as one address,
// for mint limits and request limits alike.
import { isIPv4, isIPv6 } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressKey } from '../src/http/client-address.js';
import { allowedOrigin, errorCode, startProxyHarness, type ProxyHarness } from './proxy-helpers.js';

const hello = { messages: [{ role: 'user', content: 'hi' }] };
let harness: ProxyHarness;
let defaults: ProxyHarness;
beforeAll(async () => {
  [harness, defaults] = await Promise.all([
    startProxyHarness({
      // The test's own header stands in for the address a trusted proxy reports.
      clientAddress: (request) => request.headers.get('x-test-address') ?? undefined,
      proxy: { limits: { widgetRequestsPerMinute: 100, addressRequestsPerMinute: 10 } },
    }),
    startProxyHarness(),
  ]);
  harness.upstream.setDefault({ type: 'answer', text: 'ok' });
  defaults.upstream.setDefault({ type: 'answer', text: 'ok' });
});
afterAll(async () => {
  await Promise.all([harness?.close(), defaults?.close()]);
});

async function mint(url: string, widgetId: string, address: string, visitorId: string): Promise<Response> {
  return fetch(`${url}/airlock/token`, {
    method: 'POST',
    // A script: any Origin it likes, no browser.
    headers: { origin: allowedOrigin, 'content-type': 'application/json', 'x-test-address': address },
    body: JSON.stringify({ widgetId, visitorId }),
  });
}

function chat(url: string, token: string, address: string): Promise<Response> {
  return fetch(`${url}/airlock/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, origin: allowedOrigin, 'content-type': 'application/json', 'x-test-address': address },
    body: JSON.stringify(hello),
  });
}

describe('one address against a public widget', () => {
  it('takes at most its own share, and real visitors still get answers', async () => {
    const widget = await harness.widget();
    // 30 mints (the per-address mint limit) of 20 requests each: 600, six times the widget's limit.
    const tokens: string[] = [];
    for (let index = 0; index < 30; index++) {
      const response = await mint(harness.url, widget.id, '198.51.100.66', `bot-${index}`);
      expect(response.status).toBe(200);
      tokens.push(((await response.json()) as { token: string }).token);
    }
    let admitted = 0;
    const refusals = new Set<string>();
    for (const token of tokens) {
      for (let request = 0; request < 20; request++) {
        const response = await chat(harness.url, token, '198.51.100.66');
        const text = await response.text();
        if (response.status === 200) admitted += 1;
        else {
          expect(response.status).toBe(429);
          expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
          refusals.add((JSON.parse(text) as { error: { message: string } }).error.message);
        }
      }
    }
    expect(admitted).toBe(10);
    // Refused as one client going too fast, not as a busy widget.
    expect([...refusals]).toEqual(['Too many requests; slow down.']);

    // Visitors from other addresses are served.
    for (let visitor = 0; visitor < 5; visitor++) {
      const address = `203.0.113.${visitor + 1}`;
      const token = ((await (await mint(harness.url, widget.id, address, `real-${visitor}`)).json()) as { token: string }).token;
      const response = await chat(harness.url, token, address);
      expect(response.status).toBe(200);
      await response.text();
    }
  });

  it('counts each widget apart: one address busy on one widget may still use another', async () => {
    const [busy, other] = await Promise.all([harness.widget(), harness.widget()]);
    const token = ((await (await mint(harness.url, busy.id, '198.51.100.70', 'a')).json()) as { token: string }).token;
    for (let request = 0; request < 10; request++) expect((await chat(harness.url, token, '198.51.100.70')).status).toBe(200);
    expect((await chat(harness.url, token, '198.51.100.70')).status).toBe(429);
    const elsewhere = ((await (await mint(harness.url, other.id, '198.51.100.70', 'a')).json()) as { token: string }).token;
    expect((await chat(harness.url, elsewhere, '198.51.100.70')).status).toBe(200);
  });

  it('treats an IPv6 /64 as one address, for mints and for requests', async () => {
    const widget = await harness.widget();
    const inNetwork = (host: number) => `2001:db8:5:5:${host.toString(16)}::1`;
    const tokens: string[] = [];
    const mintStatuses: number[] = [];
    for (let host = 1; host <= 35; host++) {
      const response = await mint(harness.url, widget.id, inNetwork(host), `v6-${host}`);
      mintStatuses.push(response.status);
      if (response.status === 200) tokens.push(((await response.json()) as { token: string }).token);
      else expect(await errorCode(response)).toBe('rate_limited');
    }
    // 30 mints a minute per address, the /64 being one address.
    expect(tokens.length).toBe(30);
    let admitted = 0;
    for (const [index, token] of tokens.entries()) {
      const response = await chat(harness.url, token, inNetwork(100 + index));
      if (response.status === 200) admitted += 1;
      await response.text();
    }
    expect(admitted).toBe(10);
    // The next /64 is someone else.
    const neighbour = ((await (await mint(harness.url, widget.id, '2001:db8:5:6::1', 'n')).json()) as { token: string }).token;
    expect((await chat(harness.url, neighbour, '2001:db8:5:6::1')).status).toBe(200);
  });
});

describe('the default per-address limit', () => {
  it('is 60 requests a minute per widget from the socket address, for backend tokens too', async () => {
    const widget = await defaults.widget();
    const statuses: number[] = [];
    for (let user = 0; user < 4; user++) {
      // Each user stays under their own 20; together they pass the address's 60.
      const token = await defaults.token(widget, `user-${user}`);
      for (let request = 0; request < 16; request++) {
        const response = await defaults.post('/v1/chat/completions', token, hello);
        statuses.push(response.status);
        await response.text();
      }
    }
    expect(statuses.filter((status) => status === 200).length).toBe(60);
    expect(statuses.slice(60).every((status) => status === 429)).toBe(true);
  });
});

describe('addressKey', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['::ffff:cb00:7109', '203.0.113.9'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::ffff', '2001:db8:1:2::/64'],
    ['[2001:db8:1:2::1]', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4::/64'],
    ['2001:db8:1:2::/64', '2001:db8:1:2::/64'],
    ['edge-client-7', 'edge-client-7'],
  ])('%s is counted as %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
    expect(addressKey(key)).toBe(key);
  });

  it('groups every address node:net calls IPv6 by its /64, and nothing else', () => {
    // Real shapes and generated near-misses (some 1,500 of them valid):
    // an address is grouped exactly when node:net calls it IPv6.
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const samples = [
      '::',
      '::1',
      '1::',
      '1:2:3:4:5:6:7::',
      '::2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8:9',
      ':::',
      '1::2::3',
      '::1.2.3.4',
      '::ffff:1.2.3.04',
      'a:b::1.2.3.4',
      '12345::',
      '1:2:3:4:5:6:1.2.3.4',
      '1:2:3:4:5:6:7:1.2.3.4',
    ];
    // Near-misses: 1 to 9 groups of 0 to 5 hex digits, sometimes a `::`, sometimes an IPv4 tail.
    const pick = (choices: string) => choices[Math.floor(random() * choices.length)]!;
    for (let index = 0; index < 20_000; index++) {
      const groups: string[] = [];
      for (let count = 1 + Math.floor(random() * 9); count > 0; count--) {
        let group = '';
        for (let digits = Math.floor(random() * 6); digits > 0; digits--) group += pick('0123456789abcdef');
        groups.push(group);
      }
      if (random() < 0.5) groups.splice(Math.floor(random() * groups.length), 0, '');
      if (random() < 0.2) groups.push([0, 0, 0, 0].map(() => String(Math.floor(random() * 300))).join('.'));
      samples.push(groups.join(':'));
    }
    for (const sample of samples) {
      const key = addressKey(sample);
      if (isIPv6(sample)) expect(key.endsWith('::/64') || isIPv4(key), sample).toBe(true);
      else if (!isIPv4(sample)) expect(key, sample).toBe(sample);
    }
  });

  it('bounds what a custom clientAddress returns', () => {
    const key = addressKey('x'.repeat(5_000));
    expect(key).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(addressKey(key)).toBe(key);
  });
});
