// An answer's sources (`airlock_sources`, the passages of the widget's files
// the model was given) are read by real clients: the `openai` SDK streamed and
// not, its Responses API, and LangChain, none of which trips over the field.
import { ChatOpenAI } from '@langchain/openai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlockServer, type AirlockServer } from './support';

interface Source {
  id: string;
  title: string;
  location?: string;
  url?: string;
}

const faq = `# Returns

## Refund window

Refunds are accepted within 45 days of delivery when the item is unused.
`;

let server: AirlockServer;
let widgetId: string;
beforeAll(async () => {
  server = await startAirlockServer();
  widgetId = await server.createChatWidget([], { behaviour: { systemPrompt: 'Answer from the files.' } });
  const widget = (await server.airlock.store.getWidget(widgetId))!;
  await server.airlock.knowledge!.add(widget, { name: 'returns.md', bytes: new TextEncoder().encode(faq), sourceUrl: 'https://shop.example.com/returns' });
  await server.airlock.knowledge!.idle();
});
afterAll(async () => {
  await server?.close();
});

const question = 'How many days do I have to ask for a refund?';
const expected = { title: 'returns.md', url: 'https://shop.example.com/returns' };

describe('sources with real clients', () => {
  it('the openai SDK reads them from a completion and from the first chunk of a stream', async () => {
    const client = new OpenAI({ apiKey: await server.token(widgetId), baseURL: server.baseURL, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] });
    const sources = (completion as unknown as { airlock_sources: Source[] }).airlock_sources;
    expect(sources[0]).toMatchObject(expected);
    expect(sources[0]!.location).toContain('Refund window');

    let first: Source[] | undefined;
    let text = '';
    for await (const chunk of await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }], stream: true })) {
      first ??= (chunk as unknown as { airlock_sources?: Source[] }).airlock_sources;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(first?.[0]).toMatchObject(expected);
    expect(text.length).toBeGreaterThan(0);
  });

  it('the openai SDK reads them from a Responses answer', async () => {
    const client = new OpenAI({ apiKey: await server.token(widgetId), baseURL: server.baseURL, maxRetries: 0 });
    const response = await client.responses.create({ model: 'gpt-4o-mini', input: question });
    expect((response as unknown as { airlock_sources: Source[] }).airlock_sources[0]).toMatchObject(expected);
    expect(response.output_text.length).toBeGreaterThan(0);
  });

  it('LangChain answers as usual, the field passed over', async () => {
    const model = new ChatOpenAI({ apiKey: await server.token(widgetId), configuration: { baseURL: server.baseURL }, model: 'gpt-4o-mini', maxRetries: 0 });
    const answer = await model.invoke(question);
    expect(String(answer.content).length).toBeGreaterThan(0);
    let streamed = '';
    for await (const chunk of await model.stream(question)) streamed += String(chunk.content);
    expect(streamed.length).toBeGreaterThan(0);
  });
});
