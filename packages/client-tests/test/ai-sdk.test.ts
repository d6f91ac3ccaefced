// The AI SDK against Airlock with a widget token: the OpenAI provider
// (`@ai-sdk/openai`), whose default models call the Responses API and whose
// `.chat()` models call chat completions, and the UI message stream that
// `useChat` reads through `DefaultChatTransport`.
import { createOpenAI, type OpenAIProvider } from '@ai-sdk/openai';
import { APICallError, DefaultChatTransport, generateText, readUIMessageStream, streamText, type UIMessage } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lastUpstreamChat, refusal, startAirlockServer, type AirlockServer } from './support';

const widgetPrompt = 'You are the widget of the AI SDK tests.';

let server: AirlockServer;
/** gpt-4o-mini; client instructions refused. */
let plainWidget: string;
let openWidgetId: Promise<string> | undefined;
/** gpt-4o-mini; client instructions allowed. Made on first use, so only the tests that need it fail while the store does not know the setting. */
const openWidget = () => (openWidgetId ??= server.createChatWidget([], { behaviour: { systemPrompt: widgetPrompt, allowClientInstructions: true } }));

beforeAll(async () => {
  server = await startAirlockServer();
  plainWidget = await server.createChatWidget([], { behaviour: { systemPrompt: widgetPrompt } });
});
afterAll(async () => {
  await server?.close();
});
// A call refused before the upstream must not leave its scripted answer to the next test.
beforeEach(() => server.upstream.reset());

async function providerFor(widgetId: string): Promise<OpenAIProvider> {
  return createOpenAI({ apiKey: await server.token(widgetId), baseURL: server.baseURL });
}

/** The text `streamText` streamed and how it finished; throws the first error the stream reported. */
async function streamed(options: Parameters<typeof streamText>[0]): Promise<{ text: string; finishReason: string }> {
  const errors: unknown[] = [];
  const result = streamText({ ...options, maxRetries: 0, onError: ({ error }) => void errors.push(error) });
  let text = '';
  for await (const delta of result.textStream) text += delta;
  if (errors.length > 0) throw errors[0];
  return { text, finishReason: await result.finishReason };
}

describe('the chat model, openai.chat() (chat completions)', () => {
  it('generates text', async () => {
    server.upstream.next({ type: 'answer', text: 'Generated through chat.' });
    const openai = await providerFor(plainWidget);
    const result = await generateText({ model: openai.chat('gpt-4o-mini'), prompt: 'Hello', maxRetries: 0 });
    expect(result.text).toBe('Generated through chat.');
    expect(result.finishReason).toBe('stop');
    expect(lastUpstreamChat(server)?.messages).toEqual([
      { role: 'system', text: widgetPrompt },
      { role: 'user', text: 'Hello' },
    ]);
  });

  it('streams text', async () => {
    server.upstream.next({ type: 'answer', text: 'Streamed through chat, word by word.' });
    const openai = await providerFor(plainWidget);
    const result = await streamed({ model: openai.chat('gpt-4o-mini'), prompt: 'Hello' });
    expect(result.text).toBe('Streamed through chat, word by word.');
    expect(result.finishReason).toBe('stop');
  });

  it('refuses instructions unless the widget allows client instructions (waits for allowClientInstructions)', async () => {
    const refused = await refusal(
      generateText({ model: (await providerFor(plainWidget)).chat('gpt-4o-mini'), instructions: 'Answer in French.', prompt: 'Hello', maxRetries: 0 }),
    );
    expect(APICallError.isInstance(refused)).toBe(true);
    expect(refused).toMatchObject({ statusCode: 400 });
    expect(refused.message).toContain('allowClientInstructions');
    expect(server.upstream.requests).toHaveLength(0);

    server.upstream.next({ type: 'answer', text: 'Bonjour.' });
    const result = await generateText({
      model: (await providerFor(await openWidget())).chat('gpt-4o-mini'),
      instructions: 'Answer in French.',
      prompt: 'Hello',
      maxRetries: 0,
    });
    expect(result.text).toBe('Bonjour.');
    expect(lastUpstreamChat(server)?.messages.map((message) => message.text)).toEqual([widgetPrompt, 'Answer in French.', 'Hello']);
  });
});

describe('the default model, openai() (the Responses API; waits for POST /responses)', () => {
  it('generates text', async () => {
    server.upstream.next({ type: 'answer', text: 'Generated through responses.' });
    const openai = await providerFor(plainWidget);
    const result = await generateText({ model: openai('gpt-4o-mini'), prompt: 'Hello', maxRetries: 0 });
    expect(result.text).toBe('Generated through responses.');
    expect(result.finishReason).toBe('stop');
    expect(server.upstream.requests.at(-1)?.path).toBe('/v1/chat/completions');
    expect(lastUpstreamChat(server)?.messages).toEqual([
      { role: 'system', text: widgetPrompt },
      { role: 'user', text: 'Hello' },
    ]);
  });

  it('streams text', async () => {
    server.upstream.next({ type: 'answer', text: 'Streamed through responses, word by word.' });
    const openai = await providerFor(plainWidget);
    const result = await streamed({ model: openai('gpt-4o-mini'), prompt: 'Hello' });
    expect(result.text).toBe('Streamed through responses, word by word.');
    expect(result.finishReason).toBe('stop');
  });

  it('refuses instructions unless the widget allows client instructions', async () => {
    const refused = await refusal(
      generateText({ model: (await providerFor(plainWidget))('gpt-4o-mini'), instructions: 'Answer in French.', prompt: 'Hello', maxRetries: 0 }),
    );
    expect(APICallError.isInstance(refused)).toBe(true);
    expect(refused).toMatchObject({ statusCode: 400 });
    expect(refused.message).toContain('allowClientInstructions');
    expect(server.upstream.requests).toHaveLength(0);

    server.upstream.next({ type: 'answer', text: 'Bonjour.' });
    const result = await generateText({
      model: (await providerFor(await openWidget()))('gpt-4o-mini'),
      instructions: 'Answer in French.',
      prompt: 'Hello',
      maxRetries: 0,
    });
    expect(result.text).toBe('Bonjour.');
    expect(lastUpstreamChat(server)?.messages.map((message) => message.text)).toEqual([widgetPrompt, 'Answer in French.', 'Hello']);
  });
});

describe('the UI message stream, through DefaultChatTransport (waits for POST /ui/chat)', () => {
  function userMessage(id: string, text: string): UIMessage {
    return { id, role: 'user', parts: [{ type: 'text', text }] };
  }

  async function lastMessageOf(messages: UIMessage[]): Promise<UIMessage | undefined> {
    const transport = new DefaultChatTransport<UIMessage>({
      api: `${server.baseURL}/ui/chat`,
      headers: { authorization: `Bearer ${await server.token(plainWidget)}` },
    });
    const stream = await transport.sendMessages({ trigger: 'submit-message', chatId: 'chat-1', messageId: undefined, messages, abortSignal: undefined });
    let last: UIMessage | undefined;
    for await (const message of readUIMessageStream<UIMessage>({ stream, terminateOnError: true })) last = message;
    return last;
  }
  const textOf = (message: UIMessage | undefined) => message?.parts.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('');

  it('streams the stand-in’s answer as the assistant message', async () => {
    server.upstream.next({ type: 'answer', text: 'Hello from the UI stream.' });
    const message = await lastMessageOf([userMessage('m1', 'Hello')]);
    expect(message?.role).toBe('assistant');
    expect(textOf(message)).toBe('Hello from the UI stream.');
    expect(lastUpstreamChat(server)?.messages).toEqual([
      { role: 'system', text: widgetPrompt },
      { role: 'user', text: 'Hello' },
    ]);
  });

  it('sends the earlier turns of the conversation', async () => {
    server.upstream.next({ type: 'answer', text: 'The second answer.' });
    const message = await lastMessageOf([
      userMessage('m1', 'First question.'),
      { id: 'm2', role: 'assistant', parts: [{ type: 'text', text: 'First answer.' }] },
      userMessage('m3', 'Second question.'),
    ]);
    expect(textOf(message)).toBe('The second answer.');
    expect(lastUpstreamChat(server)?.messages.slice(1)).toEqual([
      { role: 'user', text: 'First question.' },
      { role: 'assistant', text: 'First answer.' },
      { role: 'user', text: 'Second question.' },
    ]);
  });
});
