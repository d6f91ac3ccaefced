// The knowledge admin API through a real Airlock on node:http: multipart
// uploads read under a byte limit, ingestion polled to its end, the list,
// the retrieval test, removal, the refusals, and account isolation.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAirlock } from '../../src/airlock.js';
import type { KnowledgeFileRecord } from '../../src/stores/knowledge-store.js';
import { openStore } from '../../src/stores/open-store.js';
import type { WidgetRecord } from '../../src/stores/store.js';
import { signInByApi } from '../admin-page/setup.js';
import { canaryKey, eventually, startProxyHarness, type ProxyHarness } from '../proxy-helpers.js';

const pricing = `# Pricing

## Plans

The Pro plan costs 29 euros a month and includes priority support.
The Team plan costs 99 euros a month for up to ten people.

## Refunds

Refunds are given within 30 days of purchase, no questions asked.
`;
const prices = `Product,Price,Notes
Router X,49,Wi-Fi 6 with two bands
Switch Y,89,Sixteen gigabit ports
Cable Z,5,Two metres of copper
`;
const shipping = `# Shipping

Parcels leave our warehouse in Lyon within two working days. Shipping to Belgium takes three days.
`;

// Small, so that a body past the limit is quick to send.
const maxFileBytes = 64 * 1024;
const operator = { authorization: 'Bearer admin-secret-token' };

let harness: ProxyHarness;
let widget: WidgetRecord;
beforeAll(async () => {
  harness = await startProxyHarness({ knowledge: { limits: { maxFileBytes } } }, { acceptedKeys: [canaryKey] });
  widget = await harness.widget({ behaviour: { model: 'gpt-4o-mini', systemPrompt: 'SYSTEM', vectorCount: 3 } });
});
afterAll(async () => {
  await harness?.close();
});

const knowledgeUrl = (widgetId: string, suffix = '') => `${harness.url}/airlock/admin/widgets/${widgetId}/knowledge${suffix}`;

function form(files: { name: string; content: string | Uint8Array<ArrayBuffer>; type?: string }[], fields: Record<string, string> = {}): FormData {
  const body = new FormData();
  for (const file of files) body.append('file', new Blob([file.content], { type: file.type ?? '' }), file.name);
  for (const [name, value] of Object.entries(fields)) body.append(name, value);
  return body;
}

function upload(widgetId: string, body: FormData, headers: Record<string, string> = operator): Promise<Response> {
  return fetch(knowledgeUrl(widgetId), { method: 'POST', headers, body });
}

async function uploaded(
  widgetId: string,
  name: string,
  content: string,
  fields: Record<string, string> = {},
): Promise<{ file: KnowledgeFileRecord; duplicate: boolean }> {
  const response = await upload(widgetId, form([{ name, content }], fields));
  expect(response.status, await response.clone().text()).toBe(202);
  return (await response.json()) as { file: KnowledgeFileRecord; duplicate: boolean };
}

/** Polls the file as the admin page does, until it is ready or failed. */
async function settled(widgetId: string, fileId: string): Promise<KnowledgeFileRecord> {
  let file: KnowledgeFileRecord | undefined;
  await eventually(async () => {
    const response = await fetch(knowledgeUrl(widgetId, `/${fileId}`), { headers: operator });
    expect(response.status).toBe(200);
    file = ((await response.json()) as { file: KnowledgeFileRecord }).file;
    return file.status === 'ready' || file.status === 'failed';
  }, 20_000);
  return file!;
}

async function errorOf(response: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  return { status: response.status, code: body.error.code, message: body.error.message };
}

interface Hit {
  rank: number;
  score: number;
  passage: { id: string; fileId: string; file: string; location?: string; url?: string; text: string };
  keyword?: { rank: number; score: number };
  vector?: { rank: number; score: number };
}

function search(widgetId: string, body: unknown, headers: Record<string, string> = operator): Promise<Response> {
  return fetch(knowledgeUrl(widgetId, '/search'), {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('knowledge admin API', () => {
  let pricingFile: KnowledgeFileRecord;
  let pricesFile: KnowledgeFileRecord;

  it('takes a Markdown and a CSV upload (202), reads them to ready, and lists them with totals and limits', async () => {
    const first = await uploaded(widget.id, 'pricing.md', pricing, { sourceUrl: 'https://shop.example.com/pricing' });
    expect(first.duplicate).toBe(false);
    expect(first.file).toMatchObject({
      widgetId: widget.id,
      name: 'pricing.md',
      format: 'md',
      bytes: pricing.length,
      sourceUrl: 'https://shop.example.com/pricing',
    });
    expect(['queued', 'processing', 'ready']).toContain(first.file.status);
    // Empty optional fields (a form's blank inputs) are the same as none.
    const second = await uploaded(widget.id, 'prices.csv', prices, { sourceUrl: '', replaces: '' });
    expect(second.file.sourceUrl).toBeUndefined();

    pricingFile = await settled(widget.id, first.file.id);
    pricesFile = await settled(widget.id, second.file.id);
    expect(pricingFile).toMatchObject({ status: 'ready', progress: 1 });
    expect(pricingFile.passages).toBeGreaterThan(0);
    expect(pricesFile).toMatchObject({ status: 'ready', format: 'csv' });

    const listed = await fetch(knowledgeUrl(widget.id), { headers: operator });
    expect(listed.status).toBe(200);
    const body = (await listed.json()) as {
      files: KnowledgeFileRecord[];
      totals: { files: number; bytes: number; passages: number; tokens: number };
      limits: Record<string, number>;
    };
    expect(body.files.map((file) => [file.id, file.name, file.status])).toEqual([
      [pricingFile.id, 'pricing.md', 'ready'],
      [pricesFile.id, 'prices.csv', 'ready'],
    ]);
    expect(body.totals).toEqual({
      files: 2,
      bytes: pricing.length + prices.length,
      passages: pricingFile.passages + pricesFile.passages,
      tokens: pricingFile.tokens + pricesFile.tokens,
    });
    expect(body.limits).toEqual({ maxFileBytes, maxWidgetBytes: 100 * 1024 * 1024, maxAccountBytes: 500 * 1024 * 1024, maxWidgetFiles: 500 });
  });

  it('answers the same content again with the file it already has (duplicate: true)', async () => {
    const again = await uploaded(widget.id, 'pricing-copy.md', pricing);
    expect(again).toEqual({ duplicate: true, file: expect.objectContaining({ id: pricingFile.id, name: 'pricing.md' }) });
    const listed = (await (await fetch(knowledgeUrl(widget.id), { headers: operator })).json()) as { files: unknown[] };
    expect(listed.files).toHaveLength(2);
  });

  it('ranks the passage that answers a question first, with its file, location, link and each retriever\u2019s standing', async () => {
    const response = await search(widget.id, { question: 'How much does the Pro plan cost per month?' });
    expect(response.status).toBe(200);
    const { hits } = (await response.json()) as { hits: Hit[] };
    // The widget's vector count.
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.length).toBeLessThanOrEqual(3);
    expect(hits.map((hit) => hit.rank)).toEqual(hits.map((_, index) => index + 1));
    const [best] = hits;
    expect(best!.passage).toMatchObject({ fileId: pricingFile.id, file: 'pricing.md', url: 'https://shop.example.com/pricing' });
    expect(best!.passage.text).toContain('The Pro plan costs 29 euros');
    expect(best!.passage.location).toContain('Plans');
    // The same id as the answer's source for it.
    expect(best!.passage.id).toMatch(new RegExp(`^${pricingFile.id}:\\d+$`));
    expect(best!.keyword).toMatchObject({ rank: expect.any(Number), score: expect.any(Number) });
    expect(best!.vector).toMatchObject({ rank: expect.any(Number), score: expect.any(Number) });
    expect(best!.score).toBeGreaterThan(0);

    // Exactly what the widget is given for that question: its answer's sources, in the same order.
    const answer = await harness.post('/v1/chat/completions', await harness.token(widget), {
      messages: [{ role: 'user', content: 'How much does the Pro plan cost per month?' }],
    });
    const { airlock_sources: sources } = (await answer.json()) as { airlock_sources: { id: string; title: string }[] };
    expect(sources.map((source) => source.id)).toEqual(hits.map((hit) => hit.passage.id));

    const rows = (await (await search(widget.id, { question: 'What is the price of Switch Y?', top: 1 })).json()) as { hits: Hit[] };
    expect(rows.hits).toHaveLength(1);
    expect(rows.hits[0]!.passage).toMatchObject({ fileId: pricesFile.id, file: 'prices.csv' });
    expect(rows.hits[0]!.passage.text).toContain('Switch Y');
    expect(rows.hits[0]!.passage.location).toMatch(/^rows? /);
    expect(rows.hits[0]!.passage.url).toBeUndefined();
  });

  it('refuses a malformed search by name', async () => {
    for (const [body, words] of [
      [{}, '"question"'],
      [{ question: '' }, '"question"'],
      [{ question: 'x'.repeat(2_001) }, '2,000'],
      [{ question: 'refunds', top: 0 }, '"top"'],
      [{ question: 'refunds', top: 21 }, '"top"'],
      [{ question: 'refunds', top: 2.5 }, '"top"'],
      [{ question: 'refunds', extra: true }, '"extra"'],
    ] as const) {
      const refused = await errorOf(await search(widget.id, body));
      expect(refused, JSON.stringify(body)).toMatchObject({ status: 400, code: 'input_invalid' });
      expect(refused.message).toContain(words);
    }
  });

  it('refuses an unsupported type with 415 naming the supported ones, and a file past the limit with 413 naming it', async () => {
    const type = await errorOf(await upload(widget.id, form([{ name: 'tool.exe', content: 'MZ\u0000\u0001' }])));
    expect(type).toMatchObject({ status: 415, code: 'input_invalid' });
    expect(type.message).toContain('.csv');
    // Past the file limit but within the multipart allowance: the service's own refusal.
    const large = await errorOf(await upload(widget.id, form([{ name: 'big.txt', content: 'a'.repeat(maxFileBytes + 10) }])));
    expect(large).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(large.message).toContain('0.1 MB');
    // A request that is not multipart.
    const json = await fetch(knowledgeUrl(widget.id), { method: 'POST', headers: { ...operator, 'content-type': 'application/json' }, body: '{"file":"x"}' });
    expect(await errorOf(json)).toMatchObject({ status: 415, code: 'input_invalid' });
  });

  it('refuses a body past the limit with 413 before reading it all, and goes on serving', async () => {
    // Declared too large: refused from its Content-Length.
    const declared = await upload(widget.id, form([{ name: 'huge.txt', content: new Uint8Array(4 * 1024 * 1024).fill(97) }]));
    const refused = await errorOf(declared);
    expect(refused).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(refused.message).toContain('MB');

    // Streamed without a length, and never finished: the answer comes once the limit is passed.
    const boundary = 'airlock-test-boundary';
    const encoder = new TextEncoder();
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(
          encoder.encode(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="endless.txt"\r\ncontent-type: text/plain\r\n\r\n`),
        );
      },
      async pull(controller) {
        // Past the limit with room to spare, then silence: a server waiting for the end would wait forever.
        if (sent > 4 * maxFileBytes) return new Promise<void>(() => {});
        sent += 16 * 1024;
        controller.enqueue(new Uint8Array(16 * 1024).fill(98));
      },
    });
    const controller = new AbortController();
    const streamed = await fetch(knowledgeUrl(widget.id), {
      method: 'POST',
      headers: { ...operator, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: endless,
      duplex: 'half',
      signal: controller.signal,
    } as RequestInit);
    const streamedError = await errorOf(streamed);
    controller.abort();
    expect(streamedError).toMatchObject({ status: 413, code: 'payload_too_large' });

    const listed = (await (await fetch(knowledgeUrl(widget.id), { headers: operator })).json()) as { files: KnowledgeFileRecord[] };
    expect(listed.files.map((file) => file.name)).toEqual(['pricing.md', 'prices.csv']);
  });

  it('refuses a form without one file, with a bad source URL, or with unknown fields (400)', async () => {
    const cases: [FormData, string][] = [
      [form([], { sourceUrl: 'https://shop.example.com' }), '"file"'],
      [
        form([
          { name: 'a.md', content: '# A' },
          { name: 'b.md', content: '# B' },
        ]),
        'one file',
      ],
      [form([{ name: 'a.md', content: '# A' }], { sourceUrl: 'javascript:alert(1)' }), '"sourceUrl"'],
      [form([{ name: 'a.md', content: '# A' }], { sourceUrl: `https://shop.example.com/${'a'.repeat(2_048)}` }), '2,048'],
      [form([{ name: 'a.md', content: '# A' }], { sourceUrl: 'not a url' }), '"sourceUrl"'],
      [form([{ name: 'a.md', content: '# A' }], { colour: 'blue' }), '"colour"'],
    ];
    const text = new FormData();
    text.append('file', 'just text, not a file');
    cases.push([text, '"file"']);
    for (const [body, words] of cases) {
      const refused = await errorOf(await upload(widget.id, body));
      expect(refused, words).toMatchObject({ status: 400, code: 'input_invalid' });
      expect(refused.message).toContain(words);
    }
    const garbled = await fetch(knowledgeUrl(widget.id), {
      method: 'POST',
      headers: { ...operator, 'content-type': 'multipart/form-data; boundary=nothing-like-it' },
      body: 'this is not multipart at all',
    });
    expect(await errorOf(garbled)).toMatchObject({ status: 400, code: 'input_invalid' });
    const replaces = await errorOf(await upload(widget.id, form([{ name: 'a.md', content: '# A new file' }], { replaces: 'kf_nothing' })));
    expect(replaces).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('replaces a file with a new version named in "replaces"', async () => {
    const newer = pricing.replace('29 euros', '35 euros');
    const added = await uploaded(widget.id, 'pricing.md', newer, { replaces: pricingFile.id, sourceUrl: 'https://shop.example.com/pricing' });
    expect(added.file.replaces).toBe(pricingFile.id);
    expect(await settled(widget.id, added.file.id)).toMatchObject({ status: 'ready' });
    expect((await fetch(knowledgeUrl(widget.id, `/${pricingFile.id}`), { headers: operator })).status).toBe(404);
    const { hits } = (await (await search(widget.id, { question: 'Pro plan price per month' })).json()) as { hits: Hit[] };
    expect(hits[0]!.passage.text).toContain('35 euros');
    pricingFile = added.file;
  });

  it('removes a file (204) with its passages, and answers 404 for one it does not have', async () => {
    const removed = await fetch(knowledgeUrl(widget.id, `/${pricesFile.id}`), { method: 'DELETE', headers: operator });
    expect(removed.status).toBe(204);
    expect(await errorOf(await fetch(knowledgeUrl(widget.id, `/${pricesFile.id}`), { method: 'DELETE', headers: operator }))).toMatchObject({
      status: 404,
      code: 'not_found',
    });
    expect(await errorOf(await fetch(knowledgeUrl(widget.id, `/${pricesFile.id}`), { headers: operator }))).toMatchObject({ status: 404, code: 'not_found' });
    const { hits } = (await (await search(widget.id, { question: 'What is the price of Switch Y?' })).json()) as { hits: Hit[] };
    expect(hits.map((hit) => hit.passage.file)).not.toContain('prices.csv');
    const listed = (await (await fetch(knowledgeUrl(widget.id), { headers: operator })).json()) as { files: KnowledgeFileRecord[] };
    expect(listed.files.map((file) => file.id)).toEqual([pricingFile.id]);
  });

  it('takes an upload from an admin page session only with its CSRF token and from its own origin', async () => {
    const session = await signInByApi(harness.url, 'admin-secret-token');
    const content = '# Opening hours\n\nOpen Monday to Friday, nine to five.\n';
    const withSession = (headers: Record<string, string>) => upload(widget.id, form([{ name: 'hours.md', content }]), { cookie: session.cookie, ...headers });
    expect(await errorOf(await withSession({ origin: harness.url }))).toMatchObject({ status: 403, code: 'forbidden' });
    expect((await withSession({ origin: 'https://evil.example', 'x-csrf-token': session.csrfToken })).status).toBe(403);
    const accepted = await withSession({ origin: harness.url, 'x-csrf-token': session.csrfToken });
    expect(accepted.status).toBe(202);
    const { file } = (await accepted.json()) as { file: KnowledgeFileRecord };
    expect(await settled(widget.id, file.id)).toMatchObject({ status: 'ready' });
    // Reads need no CSRF token.
    expect((await fetch(knowledgeUrl(widget.id), { headers: { cookie: session.cookie } })).status).toBe(200);
    expect((await fetch(knowledgeUrl(widget.id, `/${file.id}`), { method: 'DELETE', headers: { cookie: session.cookie, origin: harness.url } })).status).toBe(
      403,
    );
    expect((await fetch(knowledgeUrl(widget.id, `/${file.id}`), { method: 'DELETE', headers: { ...operator } })).status).toBe(204);
  });

  it('answers 404 widget_not_found for a widget that does not exist, and 401 without credentials', async () => {
    expect(await errorOf(await fetch(knowledgeUrl('wgt_nothing'), { headers: operator }))).toMatchObject({ status: 404, code: 'widget_not_found' });
    expect(await errorOf(await upload('wgt_nothing', form([{ name: 'a.md', content: '# A' }])))).toMatchObject({ status: 404, code: 'widget_not_found' });
    expect(await errorOf(await search('wgt_nothing', { question: 'refunds' }))).toMatchObject({ status: 404, code: 'widget_not_found' });
    expect((await fetch(knowledgeUrl(widget.id))).status).toBe(401);
    expect((await upload(widget.id, form([{ name: 'a.md', content: '# A' }]), {})).status).toBe(401);
  });

  it('lets an account owner see, upload to and search only their own widgets\u2019 files', async () => {
    await harness.airlock.store.createAccount({ id: 'acme', name: 'Acme' });
    await harness.airlock.store.createAccount({ id: 'rival', name: 'Rival' });
    const acme = await harness.widget({ accountId: 'acme' });
    const rival = await harness.widget({ accountId: 'rival' });
    const rivalFile = await uploaded(rival.id, 'shipping.md', shipping);
    await settled(rival.id, rivalFile.file.id);
    const created = await fetch(`${harness.url}/airlock/admin/accounts/acme/access-tokens`, {
      method: 'POST',
      headers: { ...operator, 'content-type': 'application/json' },
      body: JSON.stringify({ label: 'owner' }),
    });
    expect(created.status).toBe(201);
    const owner = { authorization: `Bearer ${((await created.json()) as { token: string }).token}` };

    const own = await upload(acme.id, form([{ name: 'shipping.md', content: shipping }]), owner);
    expect(own.status).toBe(202);
    const ownFile = ((await own.json()) as { file: KnowledgeFileRecord }).file;
    expect((await fetch(knowledgeUrl(acme.id), { headers: owner })).status).toBe(200);
    await eventually(async () => {
      const file = ((await (await fetch(knowledgeUrl(acme.id, `/${ownFile.id}`), { headers: owner })).json()) as { file: KnowledgeFileRecord }).file;
      return file.status === 'ready';
    }, 20_000);
    const ownHits = (await (await search(acme.id, { question: 'shipping to Belgium' }, owner)).json()) as { hits: Hit[] };
    expect(ownHits.hits[0]!.passage.fileId).toBe(ownFile.id);

    // Another account's widget, as every admin route answers it: 403, and nothing of it is shown.
    const attempts = [
      fetch(knowledgeUrl(rival.id), { headers: owner }),
      fetch(knowledgeUrl(rival.id, `/${rivalFile.file.id}`), { headers: owner }),
      upload(rival.id, form([{ name: 'intruder.md', content: '# Intruder' }]), owner),
      search(rival.id, { question: 'shipping to Belgium' }, owner),
      fetch(knowledgeUrl(rival.id, `/${rivalFile.file.id}`), { method: 'DELETE', headers: owner }),
    ];
    for (const response of await Promise.all(attempts)) {
      const text = await response.text();
      expect(response.status, text).toBe(403);
      expect(JSON.parse(text)).toMatchObject({ error: { code: 'forbidden' } });
      expect(text).not.toContain('Lyon');
      expect(text).not.toContain(rivalFile.file.id);
    }
    // Another widget's file id under one's own widget is no file at all.
    expect((await fetch(knowledgeUrl(acme.id, `/${rivalFile.file.id}`), { headers: owner })).status).toBe(404);
    expect((await fetch(knowledgeUrl(acme.id, `/${rivalFile.file.id}`), { method: 'DELETE', headers: owner })).status).toBe(404);
    const rivalFiles = await harness.airlock.knowledge!.list(rival.id);
    expect(rivalFiles.map((file) => file.name)).toEqual(['shipping.md']);
  });

  it('deletes a widget\u2019s files, passages and keyword entries with the widget', async () => {
    const doomed = await harness.widget();
    const added = await uploaded(doomed.id, 'pricing.md', pricing);
    await settled(doomed.id, added.file.id);
    const knowledge = harness.airlock.knowledge!;
    expect((await knowledge.search(doomed, 'Pro plan cost', 5)).length).toBeGreaterThan(0);
    const deleted = await fetch(`${harness.url}/airlock/admin/widgets/${doomed.id}`, { method: 'DELETE', headers: operator });
    expect(deleted.status).toBe(204);
    expect(await knowledge.list(doomed.id)).toEqual([]);
    expect(await knowledge.store.totals(doomed.id)).toEqual({ files: 0, bytes: 0, passages: 0, tokens: 0 });
    expect(await knowledge.store.keywordSearch(doomed.id, 'Pro plan cost', 10)).toEqual([]);
    expect((await knowledge.store.snapshot(doomed.id)).passages).toEqual([]);
    expect((await fetch(knowledgeUrl(doomed.id), { headers: operator })).status).toBe(404);
  });
});

describe('knowledge admin API without knowledge', () => {
  it('answers 503 service_unavailable on a custom store without a knowledge store', async () => {
    // A store that is not one of the built-in classes: knowledge is off.
    const inner = openStore(`sqlite:${join(harness.dataDir, 'custom.db')}`);
    const custom = new Proxy(inner, {
      getPrototypeOf: () => Object.prototype,
      get(target, property) {
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const airlock = createAirlock({ store: custom, masterKeys: `t1:${Buffer.alloc(32, 7).toString('base64')}`, adminToken: 'admin-secret-token' });
    try {
      expect(airlock.knowledge).toBeUndefined();
      const response = await airlock.fetch(new Request(`http://localhost/airlock/admin/widgets/${widget.id}/knowledge`, { headers: operator }));
      const refused = await errorOf(response);
      expect(refused).toMatchObject({ status: 503, code: 'service_unavailable' });
      expect(refused.message).toContain('knowledge');
      expect(response.headers.get('retry-after')).toBeNull();
      // Credentials are still checked first.
      expect((await airlock.fetch(new Request(`http://localhost/airlock/admin/widgets/${widget.id}/knowledge`))).status).toBe(401);
    } finally {
      await airlock.close();
    }
  });
});
