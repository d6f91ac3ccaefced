// @vitest-environment node
// The headless conversation without a DOM: Node, a real local server speaking Airlock's wire format.
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenClient, createConversation, createConversationStorage, type ConversationSnapshot } from '../src/index';
import { chunkEvent, readJson, sendJson, startServer, type TestServer } from './support/http-server';

interface Recorded {
  idempotencyKey: string | undefined;
  body: { messages?: { role: string; content: string }[]; inputs?: unknown };
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A server that mints tokens for a widget of `type` and answers each proxied request with `reply`. */
async function startAirlock(reply: (response: ServerResponse, index: number) => unknown, type = 'chat') {
  const requests: Recorded[] = [];
  const visitors: unknown[] = [];
  const server = await startServer(async (request, response) => {
    if (request.url === '/airlock/token') {
      visitors.push(((await readJson(request)) as { visitorId?: unknown }).visitorId);
      sendJson(response, 200, { token: 'token-1', expiresAt: Date.now() + 600_000, expiresIn: 600, widget: { id: 'wgt_1', type, title: 'Help' } });
      return;
    }
    requests.push({ idempotencyKey: request.headers['idempotency-key'] as string | undefined, body: (await readJson(request)) as Recorded['body'] });
    response.writeHead(200, { 'Content-Type': 'text/event-stream' });
    await reply(response, requests.length - 1);
  });
  servers.push(server);
  const apiBase = `${server.url}/airlock`;
  return { apiBase, requests, visitors, tokens: () => new TokenClient({ widgetId: 'wgt_1', apiBase }) };
}

const done = (response: ServerResponse, ...parts: string[]) => response.end(parts.map(chunkEvent).join('') + 'data: [DONE]\n\n');
const failure = (code: string) => `data: ${JSON.stringify({ error: { message: 'no', type: 'airlock_error', code } })}\n\n`;
const lines = (snapshot: ConversationSnapshot) => snapshot.messages.map(({ role, content }) => `${role}: ${content}`);

describe('createConversation', () => {
  it('streams a reply into new, frozen snapshots, one per change, and sends the history with the next message', async () => {
    const airlock = await startAirlock((response, index) => done(response, 'Hel', `lo ${index + 1}`));
    const conversation = createConversation({ apiBase: airlock.apiBase, tokens: airlock.tokens() });
    const seen: ConversationSnapshot[] = [];
    const unsubscribe = conversation.subscribe((snapshot) => seen.push(snapshot));
    const before = conversation.snapshot;

    await conversation.send('Hi');
    expect(lines(conversation.snapshot)).toEqual(['user: Hi', 'assistant: Hello 1']);
    expect(conversation.snapshot.busy).toBe(false);
    expect(conversation.snapshot.messages[1]).not.toHaveProperty('streaming');
    // The reply grew through snapshots of its own; none changed afterwards, nor did the first.
    expect(seen.map((snapshot) => snapshot.messages.at(-1)?.content)).toEqual(['Hi', 'Hi', '', 'Hel', 'Hello 1', 'Hello 1']);
    expect(seen.filter((snapshot) => snapshot.messages.at(-1)?.streaming).map((snapshot) => snapshot.messages.at(-1)?.content)).toEqual(['', 'Hel', 'Hello 1']);
    expect(before.messages).toEqual([]);
    expect(Object.isFrozen(conversation.snapshot)).toBe(true);
    expect(() => ((conversation.snapshot as { busy: boolean }).busy = true)).toThrow(TypeError);

    unsubscribe();
    await conversation.send('Again');
    expect(seen).toHaveLength(6);
    expect(airlock.requests[1]?.body.messages).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello 1' },
      { role: 'user', content: 'Again' },
    ]);
    expect(airlock.requests[0]?.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(airlock.requests[1]?.idempotencyKey).not.toBe(airlock.requests[0]?.idempotencyKey);
  });

  it('runs turns one at a time, in order', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const airlock = await startAirlock(async (response, index) => {
      if (index === 0) await released;
      done(response, `answer ${index + 1}`);
    });
    const conversation = createConversation({ apiBase: airlock.apiBase, tokens: airlock.tokens() });
    const first = conversation.send('one');
    const second = conversation.send('two');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(airlock.requests).toHaveLength(1);
    release();
    await Promise.all([first, second]);
    expect(lines(conversation.snapshot)).toEqual(['user: one', 'assistant: answer 1', 'user: two', 'assistant: answer 2']);
  });

  it('keeps a failed turn’s partial reply and error, and retry replaces it under the same idempotency key', async () => {
    const airlock = await startAirlock((response, index) =>
      index === 0 ? response.end(chunkEvent('Half') + failure('upstream_timeout')) : done(response, 'Whole answer'),
    );
    const conversation = createConversation({ apiBase: airlock.apiBase, tokens: airlock.tokens() });
    await conversation.send('Hi');
    expect(conversation.snapshot.error).toMatchObject({ name: 'WidgetError', code: 'upstream_timeout' });
    expect(conversation.snapshot.canRetry).toBe(true);
    expect(lines(conversation.snapshot)).toEqual(['user: Hi', 'assistant: Half']);

    await conversation.retry();
    expect(lines(conversation.snapshot)).toEqual(['user: Hi', 'assistant: Whole answer']);
    expect(conversation.snapshot.error).toBeUndefined();
    expect(conversation.snapshot.canRetry).toBe(false);
    expect(airlock.requests.map((request) => request.idempotencyKey)).toEqual([airlock.requests[0]?.idempotencyKey, airlock.requests[0]?.idempotencyKey]);
    expect(airlock.requests[1]?.body.messages).toEqual([{ role: 'user', content: 'Hi' }]);
    // Nothing left to retry.
    await conversation.retry();
    expect(airlock.requests).toHaveLength(2);
  });

  it('offers no retry for an error a second try cannot fix', async () => {
    const airlock = await startAirlock((response) => response.end(failure('prompt_blocked')));
    const conversation = createConversation({ apiBase: airlock.apiBase, tokens: airlock.tokens() });
    await conversation.send('Something blocked');
    expect(conversation.snapshot.error?.code).toBe('prompt_blocked');
    expect(conversation.snapshot.canRetry).toBe(false);
    expect(lines(conversation.snapshot)).toEqual(['user: Something blocked']);
    await conversation.retry();
    expect(airlock.requests).toHaveLength(1);
  });

  it('stop keeps what arrived and marks the reply stopped', async () => {
    const airlock = await startAirlock((response) => response.write(chunkEvent('Partial')));
    const conversation = createConversation({ apiBase: airlock.apiBase, tokens: airlock.tokens() });
    const arrived = new Promise<void>((resolve) => conversation.subscribe((snapshot) => snapshot.messages.at(-1)?.content === 'Partial' && resolve()));
    const sent = conversation.send('Tell me a long story');
    await arrived;
    conversation.stop();
    await sent;
    expect(conversation.snapshot.messages.at(-1)).toMatchObject({ role: 'assistant', content: 'Partial', stopped: true });
    expect(conversation.snapshot.error).toBeUndefined();
  });

  it('persists through the storage layer, restores the messages and visitor id, and reset() wipes both', async () => {
    const airlock = await startAirlock((response) => done(response, 'Stored answer'));
    // Node has neither IndexedDB nor sessionStorage: this is the memory fallback.
    const storage = createConversationStorage('indexeddb', 'wgt_1');
    const first = createConversation({ apiBase: airlock.apiBase, tokens: airlock.tokens(), storage });
    await first.restored;
    expect(await storage.load()).toBeUndefined();
    await first.send('Remember me');
    const saved = await storage.load();
    expect(saved?.messages.map(({ role, content }) => [role, content])).toEqual([
      ['user', 'Remember me'],
      ['assistant', 'Stored answer'],
    ]);
    expect(saved?.visitorId).toBe(airlock.visitors[0]);

    const tokens = airlock.tokens();
    const second = createConversation({ apiBase: airlock.apiBase, tokens, storage });
    await second.restored;
    expect(lines(second.snapshot)).toEqual(['user: Remember me', 'assistant: Stored answer']);
    expect(tokens.visitorId).toBe(airlock.visitors[0]);
    second.reset();
    expect(second.snapshot.messages).toEqual([]);
    expect(await storage.load()).toBeUndefined();
  });

  it('drops turns queued before reset(), and after destroy() runs none and notifies nobody', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const airlock = await startAirlock(async (response) => {
      response.write(chunkEvent('First'));
      await released;
      done(response, ' words');
    });
    const conversation = createConversation({ apiBase: airlock.apiBase, tokens: airlock.tokens() });
    const first = conversation.send('one');
    const queued = conversation.send('two');
    await new Promise((resolve) => setTimeout(resolve, 50));
    conversation.reset();
    release();
    await Promise.all([first, queued]);
    expect(conversation.snapshot.messages).toEqual([]);
    expect(airlock.requests).toHaveLength(1);

    let notified = 0;
    conversation.subscribe(() => notified++);
    conversation.destroy();
    await conversation.send('anyone?');
    expect(airlock.requests).toHaveLength(1);
    expect(notified).toBe(0);
  });

  it('sends a completion widget’s inputs, its type taken from the token', async () => {
    const airlock = await startAirlock((response) => done(response, 'A great', ' lamp.'), 'completion');
    const conversation = createConversation({ apiBase: airlock.apiBase, tokens: airlock.tokens() });
    await conversation.send({ product: 'Desk lamp' });
    expect(airlock.requests[0]?.body.inputs).toEqual({ product: 'Desk lamp' });
    expect(lines(conversation.snapshot)).toEqual(['assistant: A great lamp.']);
    await conversation.send('Floor lamp');
    expect(airlock.requests[1]?.body.inputs).toEqual({ text: 'Floor lamp' });
    expect(conversation.snapshot.messages).toHaveLength(1);
  });
});
