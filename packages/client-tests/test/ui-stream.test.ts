// The AI SDK (`ai` 7) against Airlock's UI message stream module: its own
// DefaultChatTransport posts the body, its own parsers (parseJsonEventStream
// with uiMessageChunkSchema, readUIMessageStream, the Chat logic behind
// useChat) read what comes back. Until POST /v1/ui/chat exists, a stand-in
// route on a real HTTP server does what it will: parseUIChatRequest, a
// streamed chat completion from a real Airlock (with a widget token, to the
// stand-in upstream), chatStreamToUIMessageStream.
import { AirlockError, type WidgetRecord } from '@airlock/server';
import { serve } from '@airlock/server/node';
import {
  AbstractChat,
  DefaultChatTransport,
  parseJsonEventStream,
  readUIMessageStream,
  uiMessageChunkSchema,
  type ChatInit,
  type ChatState,
  type ChatStatus,
  type UIMessage,
} from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
// The module is not a public export of @airlock/server (nor is proxy/responses): read from its source.
import { defaultChatInputLimits } from '../../server/src/proxy/proxy-services.js';
import { chatStreamToUIMessageStream, parseUIChatRequest, uiMessageStreamHeaders, type UIStreamSource } from '../../server/src/proxy/ui-stream/index.js';
import { startAirlockServer, type AirlockServer } from './support';

const site = 'https://shop.example';
const sources: UIStreamSource[] = [
  { id: 'kb-1', url: 'https://shop.example/pricing', title: 'Pricing' },
  { id: 'kb-2', title: 'Handbook', mediaType: 'application/pdf', filename: 'handbook.pdf' },
];

let server: AirlockServer;
let route: { url: string; close(): Promise<void> };
let widget: WidgetRecord;
let token: string;
/** Every body the stand-in route received, as the transport sent it. */
const bodies: Record<string, unknown>[] = [];

beforeAll(async () => {
  server = await startAirlockServer();
  widget = (await server.airlock.store.getWidget(await server.createChatWidget([site])))!;
  token = (await server.airlock.mintToken({ widgetId: widget.id, userId: 'visitor-1' })).token;
  route = await serve(
    async (request) => {
      const body = (await request.json()) as Record<string, unknown>;
      bodies.push(body);
      try {
        const { turns, model } = parseUIChatRequest(body, widget, defaultChatInputLimits);
        const chat = await fetch(`${server.url}/airlock/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, origin: site, 'content-type': 'application/json' },
          body: JSON.stringify({ model, messages: turns, stream: true }),
        });
        if (!chat.ok) return new Response(chat.body, { status: chat.status, headers: { 'content-type': 'application/json' } });
        return new Response(chat.body!.pipeThrough(chatStreamToUIMessageStream({ sources })), { headers: uiMessageStreamHeaders });
      } catch (error) {
        if (!AirlockError.isInstance(error)) throw error;
        return Response.json(error.toJSON(), { status: error.status });
      }
    },
    { port: 0, host: '127.0.0.1' },
  );
});
afterAll(async () => {
  await route?.close();
  await server?.close();
});
beforeEach(() => {
  bodies.length = 0;
});

const api = () => `${route.url}/v1/ui/chat`;
const userMessage = (text: string, id = 'u1'): UIMessage => ({ id, role: 'user', parts: [{ type: 'text', text }] });

/** The chat state a framework binding keeps (useChat's, without React). */
class MemoryChatState implements ChatState<UIMessage> {
  status: ChatStatus = 'ready';
  error: Error | undefined = undefined;
  messages: UIMessage[] = [];
  pushMessage = (message: UIMessage) => {
    this.messages = [...this.messages, message];
  };
  popMessage = () => {
    this.messages = this.messages.slice(0, -1);
  };
  replaceMessage = (index: number, message: UIMessage) => {
    this.messages = this.messages.map((existing, at) => (at === index ? message : existing));
  };
  snapshot = <T>(thing: T): T => structuredClone(thing);
}

class Chat extends AbstractChat<UIMessage> {
  constructor(init: Omit<ChatInit<UIMessage>, 'messages'>) {
    super({ ...init, state: new MemoryChatState() });
  }
}

/** What the upstream was sent last, without the widget's system prompt. */
function lastUpstreamTurns(): { role: string; content: string }[] {
  const body = server.upstream.requests.at(-1)!.body as { messages: { role: string; content: string }[] };
  return body.messages.filter((message) => message.role !== 'system');
}

describe('the AI SDK reading Airlock\u2019s UI message stream', () => {
  it('validates every chunk with its own schema, under the protocol\u2019s headers', async () => {
    server.upstream.next({ type: 'answer', text: 'Plans start at 10 euros a month.' });
    const response = await fetch(api(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'c', messages: [userMessage('Price?')], trigger: 'submit-message' }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const parsed = [];
    for await (const result of parseJsonEventStream({ stream: response.body!, schema: uiMessageChunkSchema })) parsed.push(result);
    expect(parsed.filter((result) => !result.success)).toEqual([]);
    const types = parsed.map((result) => (result.success ? result.value.type : 'invalid'));
    expect(types.slice(0, 5)).toEqual(['start', 'start-step', 'source-url', 'source-document', 'text-start']);
    expect(types.slice(-3)).toEqual(['text-end', 'finish-step', 'finish']);
  });

  it('builds the answer with readUIMessageStream from the transport\u2019s stream: the whole text and the sources', async () => {
    server.upstream.next({ type: 'answer', text: 'Plans start at 10 euros a month.' });
    const transport = new DefaultChatTransport<UIMessage>({ api: api() });
    const stream = await transport.sendMessages({
      chatId: 'chat-1',
      messages: [userMessage('What does it cost?')],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: undefined,
    });
    let last: UIMessage | undefined;
    let snapshots = 0;
    for await (const message of readUIMessageStream<UIMessage>({ stream, terminateOnError: true })) {
      last = message;
      snapshots += 1;
    }
    expect(snapshots).toBeGreaterThan(3);
    expect(last).toEqual({
      id: expect.stringMatching(/^msg-/),
      role: 'assistant',
      parts: [
        { type: 'step-start' },
        { type: 'source-url', sourceId: 'kb-1', url: 'https://shop.example/pricing', title: 'Pricing' },
        { type: 'source-document', sourceId: 'kb-2', mediaType: 'application/pdf', title: 'Handbook', filename: 'handbook.pdf' },
        { type: 'text', text: 'Plans start at 10 euros a month.', state: 'done' },
      ],
    });
    // The transport's own body, read by the parser.
    expect(bodies).toEqual([{ id: 'chat-1', messages: [userMessage('What does it cost?')], trigger: 'submit-message' }]);
    expect(lastUpstreamTurns()).toEqual([{ role: 'user', content: 'What does it cost?' }]);
  });

  it('holds a conversation through the Chat behind useChat: its answers go back as turns, and regeneration works', async () => {
    const chat = new Chat({ id: 'chat-2', transport: new DefaultChatTransport({ api: api() }) });
    server.upstream.next({ type: 'answer', text: 'Hello, how can I help?' });
    await chat.sendMessage({ text: 'Hi' });
    expect(chat.status).toBe('ready');
    expect(chat.messages.map((message) => message.role)).toEqual(['user', 'assistant']);
    expect(chat.messages[1]!.parts.at(-1)).toEqual({ type: 'text', text: 'Hello, how can I help?', state: 'done' });

    server.upstream.next({ type: 'answer', text: 'It costs 10 euros.' });
    await chat.sendMessage({ text: 'What does it cost?' });
    // The SDK sent its own record of the first answer (steps, sources, text): only the text went upstream.
    expect((bodies.at(-1)!.messages as UIMessage[])[1]!.parts.map((part) => part.type)).toEqual(['step-start', 'source-url', 'source-document', 'text']);
    expect(lastUpstreamTurns()).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello, how can I help?' },
      { role: 'user', content: 'What does it cost?' },
    ]);

    server.upstream.next({ type: 'answer', text: 'Ten euros a month.' });
    const regenerated = chat.messages[3]!.id;
    await chat.regenerate();
    expect(bodies.at(-1)).toMatchObject({ trigger: 'regenerate-message' });
    expect(lastUpstreamTurns()).toHaveLength(3);
    expect(chat.messages).toHaveLength(4);
    expect(chat.messages[3]!.id).not.toBe(regenerated);
    expect(chat.messages[3]!.parts.at(-1)).toMatchObject({ type: 'text', text: 'Ten euros a month.' });
  });

  it('shows Airlock\u2019s message when the answer fails or is cut off, and never reports it finished', async () => {
    for (const [behaviour, message] of [
      [
        { type: 'stream-error', afterChunks: 2, text: 'One two three', error: { message: 'Key sk-live-123 broke', type: 'server_error', code: null } },
        'The AI service is unavailable right now.',
      ],
      [{ type: 'cut', afterChunks: 2, text: 'One two three' }, 'The answer was cut off before it finished.'],
    ] as const) {
      let finished: { isError: boolean; finishReason?: string } | undefined;
      const chat = new Chat({ transport: new DefaultChatTransport({ api: api() }), onFinish: (event) => (finished = event) });
      server.upstream.next(behaviour);
      await chat.sendMessage({ text: 'Count' });
      expect(chat.status).toBe('error');
      expect(chat.error?.message).toBe(message);
      expect(finished).toMatchObject({ isError: true });
      expect(finished?.finishReason).toBeUndefined();
      // The text so far stays on the answer.
      expect(chat.messages[1]!.parts.at(-1)).toMatchObject({ type: 'text', text: 'One two ' });
      expect(JSON.stringify(chat.messages)).not.toContain('sk-live');
    }
  });

  it('gets the refusal of a file attachment as the transport\u2019s error, with the upstream never called', async () => {
    const calls = server.upstream.requests.length;
    const chat = new Chat({ transport: new DefaultChatTransport({ api: api() }) });
    await chat.sendMessage({ text: 'Look', files: [{ type: 'file', mediaType: 'image/png', url: 'data:image/png;base64,iVBORw0KGgo=' }] });
    expect(chat.status).toBe('error');
    expect(JSON.parse(chat.error!.message)).toEqual({
      error: {
        code: 'input_invalid',
        type: 'airlock_error',
        message: 'messages[0].parts[0]: "file" parts (attachments) are not supported by this widget; send text parts.',
      },
    });
    expect(server.upstream.requests.length).toBe(calls);
  });
});
