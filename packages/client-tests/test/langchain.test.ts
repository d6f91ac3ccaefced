// LangChain's ChatOpenAI (`@langchain/openai`, on its own copy of the openai
// SDK) against Airlock with a widget token: chat completions by default,
// the Responses API with `useResponsesApi`.
import { HumanMessage, SystemMessage } from '@langchain/core/messages';
import { ChatOpenAI, type ChatOpenAIFields } from '@langchain/openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lastUpstreamChat, refusal, startAirlockServer, type AirlockServer } from './support';

const widgetPrompt = 'You are the widget of the LangChain tests.';

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

async function chatModel(widgetId: string, fields: ChatOpenAIFields = { model: 'gpt-4o-mini' }): Promise<ChatOpenAI> {
  return new ChatOpenAI({ apiKey: await server.token(widgetId), configuration: { baseURL: server.baseURL }, maxRetries: 0, ...fields });
}

describe('ChatOpenAI on chat completions', () => {
  it('invokes', async () => {
    server.upstream.next({ type: 'answer', text: 'Hello from LangChain.' });
    const model = await chatModel(plainWidget);
    const message = await model.invoke('Hello');
    expect(message.text).toBe('Hello from LangChain.');
    expect(lastUpstreamChat(server)?.messages).toEqual([
      { role: 'system', text: widgetPrompt },
      { role: 'user', text: 'Hello' },
    ]);
  });

  it('streams', async () => {
    server.upstream.next({ type: 'answer', text: 'Streamed by LangChain, word by word.' });
    const model = await chatModel(plainWidget);
    let text = '';
    let chunks = 0;
    for await (const chunk of await model.stream('Hello')) {
      chunks += 1;
      text += chunk.text;
    }
    expect(text).toBe('Streamed by LangChain, word by word.');
    expect(chunks).toBeGreaterThanOrEqual(6);
  });

  it('is refused a SystemMessage, naming the setting, unless the widget allows client instructions (waits for allowClientInstructions)', async () => {
    const messages = [new SystemMessage('Answer in French.'), new HumanMessage('Hello')];
    const refused = await refusal((await chatModel(plainWidget)).invoke(messages));
    expect(refused).toMatchObject({ status: 400 });
    expect(refused.message).toContain('allowClientInstructions');
    expect(server.upstream.requests).toHaveLength(0);

    server.upstream.next({ type: 'answer', text: 'Bonjour.' });
    const message = await (await chatModel(await openWidget())).invoke(messages);
    expect(message.text).toBe('Bonjour.');
    expect(lastUpstreamChat(server)?.messages.map((turn) => turn.text)).toEqual([widgetPrompt, 'Answer in French.', 'Hello']);
  });

  it('is refused its default model, with a message naming the widget’s', async () => {
    const model = await chatModel(plainWidget, {});
    const refused = await refusal(model.invoke('Hello'));
    expect(refused).toMatchObject({ status: 400 });
    expect(refused.message).toContain('gpt-4o-mini');
    // LangChain's default is not the widget's model: it was asked for, and refused before the upstream.
    expect(model.model).not.toBe('gpt-4o-mini');
    expect(server.upstream.requests).toHaveLength(0);
  });
});

describe('ChatOpenAI on the Responses API (waits for POST /responses)', () => {
  it('invokes with useResponsesApi', async () => {
    server.upstream.next({ type: 'answer', text: 'Hello from LangChain, through responses.' });
    const model = await chatModel(plainWidget, { model: 'gpt-4o-mini', useResponsesApi: true });
    const message = await model.invoke('Hello');
    expect(message.text).toBe('Hello from LangChain, through responses.');
    expect(lastUpstreamChat(server)?.messages).toEqual([
      { role: 'system', text: widgetPrompt },
      { role: 'user', text: 'Hello' },
    ]);
  });
});
