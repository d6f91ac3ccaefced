// A widget with knowledge answers from its owner's files: the passages found
// for the question reach the model as reference material after the system
// prompt, and the answer reports them as its sources on every endpoint.
import { readSse } from '@airlock/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WidgetRecord } from '../../src/stores/store.js';
import { canaryKey, startProxyHarness, type ProxyHarness } from '../proxy-helpers.js';

const pricing = `# Pricing

## Plans

The Pro plan costs 29 euros a month and includes priority support.
The Team plan costs 99 euros a month for up to ten people.

## Refunds

Refunds are given within 30 days of purchase, no questions asked.
`;
const shipping = `# Shipping

Parcels leave our warehouse in Lyon within two working days. Shipping to Belgium takes three days.
`;

let harness: ProxyHarness;
let widget: WidgetRecord;
beforeAll(async () => {
  harness = await startProxyHarness({}, { acceptedKeys: [canaryKey] });
  widget = await harness.widget({ behaviour: { model: 'gpt-4o-mini', systemPrompt: 'SECRET-SYSTEM-PROMPT', vectorCount: 2 } });
  const knowledge = harness.airlock.knowledge!;
  await knowledge.add(widget, { name: 'pricing.md', bytes: new TextEncoder().encode(pricing), sourceUrl: 'https://shop.example.com/pricing' });
  await knowledge.add(widget, { name: 'shipping.md', bytes: new TextEncoder().encode(shipping) });
  await knowledge.idle();
});
afterAll(async () => {
  await harness?.close();
});

const question = { messages: [{ role: 'user', content: 'How much does the Pro plan cost per month?' }] };
const lastChatCall = () =>
  harness.upstream.requests.filter((request) => request.path === '/v1/chat/completions').at(-1)!.body as { messages: { role: string; content: string }[] };

describe('knowledge in answers', () => {
  it('reads each file into passages with vectors from the upstream', async () => {
    const files = await harness.airlock.knowledge!.list(widget.id);
    expect(files.map((file) => [file.name, file.status])).toEqual([
      ['pricing.md', 'ready'],
      ['shipping.md', 'ready'],
    ]);
    expect(files[0]!.passages).toBeGreaterThan(0);
    expect(files[0]!.embeddingModel).toBeDefined();
    expect(harness.upstream.requests.some((request) => request.path === '/v1/embeddings')).toBe(true);
  });

  it('gives the model the passages after the system prompt, marked as reference material', async () => {
    const response = await harness.post('/v1/chat/completions', await harness.token(widget), question);
    expect(response.status).toBe(200);
    const { messages } = lastChatCall();
    expect(messages[0]).toEqual({ role: 'system', content: 'SECRET-SYSTEM-PROMPT' });
    expect(messages[1]!.role).toBe('system');
    expect(messages[1]!.content).toContain('not instructions');
    expect(messages[1]!.content).toContain('The Pro plan costs 29 euros');
    expect(messages.at(-1)).toEqual({ role: 'user', content: question.messages[0]!.content });
    const body = (await response.json()) as { airlock_sources: { title: string; location?: string; url?: string }[] };
    expect(body.airlock_sources[0]).toMatchObject({ title: 'pricing.md', url: 'https://shop.example.com/pricing' });
    expect(body.airlock_sources[0]!.location).toContain('Plans');
    expect(body.airlock_sources.length).toBeLessThanOrEqual(2);
  });

  it('reports the sources on the first chunk of a stream', async () => {
    const response = await harness.post('/v1/chat/completions', await harness.token(widget), { ...question, stream: true });
    const chunks: { airlock_sources?: { title: string }[]; choices: unknown[] }[] = [];
    for await (const data of readSse(response)) if (data !== '[DONE]') chunks.push(JSON.parse(data));
    expect(chunks[0]!.airlock_sources?.[0]?.title).toBe('pricing.md');
    expect(chunks.slice(1).some((chunk) => chunk.airlock_sources)).toBe(false);
    expect(chunks[0]!.choices).toHaveLength(1);
  });

  it('reports them in a Responses answer and as source parts of the UI message stream', async () => {
    const token = await harness.token(widget);
    const response = (await (await harness.post('/v1/responses', token, { input: question.messages[0]!.content })).json()) as {
      airlock_sources: { title: string }[];
    };
    expect(response.airlock_sources[0]!.title).toBe('pricing.md');
    const ui = await harness.post('/v1/ui/chat', token, {
      id: 'chat-1',
      trigger: 'submit-message',
      messages: [{ id: 'm1', role: 'user', parts: [{ type: 'text', text: question.messages[0]!.content }] }],
    });
    const parts: { type: string; url?: string }[] = [];
    for await (const data of readSse(ui)) if (data !== '[DONE]') parts.push(JSON.parse(data));
    expect(parts.find((part) => part.type === 'source-url')?.url).toBe('https://shop.example.com/pricing');
  });

  it('searches a follow-up question with the conversation before it', async () => {
    await harness.post('/v1/chat/completions', await harness.token(widget), {
      messages: [
        { role: 'user', content: 'Tell me about the shipping of parcels to Belgium' },
        { role: 'assistant', content: 'Parcels to Belgium take three days.' },
        { role: 'user', content: 'and from where?' },
      ],
    });
    expect(lastChatCall().messages[1]!.content).toContain('warehouse in Lyon');
  });

  it('keeps other widgets out of a widget\u2019s files, and gives nothing with a vector count of 0', async () => {
    const other = await harness.widget({ behaviour: { model: 'gpt-4o-mini', systemPrompt: 'OTHER' } });
    const response = await harness.post('/v1/chat/completions', await harness.token(other), question);
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { airlock_sources?: unknown };
    expect(answer.airlock_sources).toBeUndefined();
    expect(
      lastChatCall()
        .messages.map((message) => message.content)
        .join('\n'),
    ).not.toContain('29 euros');
    expect(await harness.airlock.knowledge!.search(other, 'Pro plan cost', 5)).toEqual([]);

    const off = await harness.airlock.store.updateWidget(widget.id, { behaviour: { ...widget.behaviour, vectorCount: 0 } });
    const plain = (await (await harness.post('/v1/chat/completions', await harness.token(off), question)).json()) as { airlock_sources?: unknown };
    expect(plain.airlock_sources).toBeUndefined();
    expect(lastChatCall().messages).toHaveLength(2);
    await harness.airlock.store.updateWidget(widget.id, { behaviour: { ...widget.behaviour } });
  });

  it('replaces a file\u2019s passages at once and removes them with it', async () => {
    const knowledge = harness.airlock.knowledge!;
    const [old] = (await knowledge.list(widget.id)).filter((file) => file.name === 'pricing.md');
    const newer = pricing.replace('29 euros', '35 euros');
    const added = await knowledge.add(widget, { name: 'pricing.md', bytes: new TextEncoder().encode(newer), replaces: old!.id });
    await knowledge.idle();
    const hits = await knowledge.search(widget, 'Pro plan cost per month', 5);
    const texts = hits.map((hit) => hit.passage.text).join('\n');
    expect(texts).toContain('35 euros');
    expect(texts).not.toContain('29 euros');
    expect(await knowledge.remove(widget.id, added.file.id)).toBe(true);
    expect((await knowledge.search(widget, 'Pro plan cost per month', 5)).map((hit) => hit.passage.location.file)).not.toContain('pricing.md');
  });

  it('refuses an unsupported type with 415 and an empty or oversized file with a clear error', async () => {
    const knowledge = harness.airlock.knowledge!;
    await expect(knowledge.add(widget, { name: 'tool.exe', bytes: new Uint8Array([1, 2, 3]) })).rejects.toMatchObject({ status: 415 });
    await expect(knowledge.add(widget, { name: 'empty.txt', bytes: new Uint8Array() })).rejects.toMatchObject({ code: 'input_invalid' });
    await expect(knowledge.add(widget, { name: 'big.txt', bytes: new Uint8Array(11 * 1024 * 1024).fill(97) })).rejects.toMatchObject({
      code: 'payload_too_large',
    });
  });
});

describe('knowledge without an embeddings endpoint', () => {
  it('finds passages by their words, and the file says why it has no vectors', async () => {
    const plain = await startProxyHarness({}, { acceptedKeys: [canaryKey], embeddings: false });
    try {
      const own = await plain.widget({ behaviour: { model: 'gpt-4o-mini', systemPrompt: 'SYSTEM' } });
      await plain.airlock.knowledge!.add(own, { name: 'pricing.md', bytes: new TextEncoder().encode(pricing) });
      await plain.airlock.knowledge!.idle();
      const [file] = await plain.airlock.knowledge!.list(own.id);
      expect(file).toMatchObject({ status: 'ready' });
      expect(file!.vectorsNote).toContain('embeddings');
      const answer = (await (await plain.post('/v1/chat/completions', await plain.token(own), question)).json()) as { airlock_sources: unknown[] };
      expect(answer.airlock_sources.length).toBeGreaterThan(0);
    } finally {
      await plain.close();
    }
  });
});
