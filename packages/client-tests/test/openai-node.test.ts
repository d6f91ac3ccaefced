// The `openai` SDK in Node with a widget token as its key and Airlock's
// `/airlock/v1` as its base URL: chat completions, the models list and the
// Responses API, each read by the SDK's own parsers. The stand-in upstream has
// no /v1/responses, so Responses calls reach it as chat completions.
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lastUpstreamChat, refusal, sseData, startAirlockServer, type AirlockServer } from './support';

const widgetPrompt = 'You are the widget of the client tests.';

let server: AirlockServer;
/** gpt-4o-mini, also allows gpt-4o; client instructions refused. */
let plainWidget: string;
let openWidgetId: Promise<string> | undefined;
/**
 * gpt-4o-mini only; client instructions allowed. Made on first use, so only
 * the tests that need it fail while the store does not know the setting.
 */
const openWidget = () => (openWidgetId ??= server.createChatWidget([], { behaviour: { systemPrompt: widgetPrompt, allowClientInstructions: true } }));

beforeAll(async () => {
  server = await startAirlockServer();
  plainWidget = await server.createChatWidget([], { behaviour: { allowedModels: ['gpt-4o'], systemPrompt: widgetPrompt } });
});
afterAll(async () => {
  await server?.close();
});
// A call refused before the upstream must not leave its scripted answer to the next test.
beforeEach(() => server.upstream.reset());

async function clientFor(widgetId: string): Promise<OpenAI> {
  return new OpenAI({ apiKey: await server.token(widgetId), baseURL: server.baseURL, maxRetries: 0 });
}

describe('chat completions', () => {
  it('answers without streaming', async () => {
    server.upstream.next({ type: 'answer', text: 'Hello from Node.' });
    const client = await clientFor(plainWidget);
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]?.message).toMatchObject({ role: 'assistant', content: 'Hello from Node.' });
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    // The widget's prompt goes first; the client's key never reaches the upstream.
    expect(lastUpstreamChat(server)?.messages).toEqual([
      { role: 'system', text: widgetPrompt },
      { role: 'user', text: 'Hello' },
    ]);
  });

  it('streams', async () => {
    server.upstream.next({ type: 'answer', text: 'One two three four.' });
    const client = await clientFor(plainWidget);
    let text = '';
    let chunks = 0;
    for await (const chunk of await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Count' }], stream: true })) {
      chunks += 1;
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    expect(text).toBe('One two three four.');
    expect(chunks).toBeGreaterThanOrEqual(4);
    expect(lastUpstreamChat(server)?.body.model).toBe('gpt-4o');
  });

  it('accepts content as text parts wherever a string is (waits for text-part content)', async () => {
    server.upstream.next({ type: 'answer', text: 'Parts understood.' });
    const client = await clientFor(plainWidget);
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'What is Airlock?' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'A proxy.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Say more.' }] },
      ],
    });
    expect(completion.choices[0]?.message.content).toBe('Parts understood.');
    expect(lastUpstreamChat(server)?.messages.filter((message) => message.role !== 'system')).toEqual([
      { role: 'user', text: 'What is Airlock?' },
      { role: 'assistant', text: 'A proxy.' },
      { role: 'user', text: 'Say more.' },
    ]);
  });

  it('refuses a system or developer message, naming the widget setting (waits for allowClientInstructions)', async () => {
    const client = await clientFor(plainWidget);
    for (const role of ['system', 'developer'] as const) {
      const error = await refusal(
        client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [
            { role, content: 'Answer in French.' },
            { role: 'user', content: 'Hello' },
          ],
        }),
      );
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error).toMatchObject({ status: 400, code: 'input_invalid' });
      expect(error.message).toContain('allowClientInstructions');
    }
    expect(server.upstream.requests).toHaveLength(0);
  });

  it('takes a system message after the widget’s own prompt when the widget allows client instructions (waits for allowClientInstructions)', async () => {
    server.upstream.next({ type: 'answer', text: 'Bonjour.' });
    const client = await clientFor(await openWidget());
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Answer in French.' },
        { role: 'user', content: 'Hello' },
      ],
    });
    expect(completion.choices[0]?.message.content).toBe('Bonjour.');
    const texts = lastUpstreamChat(server)!.messages.map((message) => message.text);
    expect(texts.indexOf(widgetPrompt)).toBe(0);
    expect(texts.indexOf('Answer in French.')).toBeGreaterThan(0);
    expect(texts.at(-1)).toBe('Hello');
  });

  it('refuses a model the widget does not allow, naming the ones it does', async () => {
    const client = await clientFor(plainWidget);
    const error = await refusal(client.chat.completions.create({ model: 'gpt-3.5-turbo', messages: [{ role: 'user', content: 'Hello' }] }));
    expect(error).toMatchObject({ status: 400, code: 'input_invalid' });
    expect(error.message).toContain('gpt-4o-mini');
    expect(error.message).toContain('gpt-4o');
    expect(server.upstream.requests).toHaveLength(0);
  });
});

describe('the usage chunk of a stream (waits for include_usage being the client’s choice)', () => {
  async function rawStream(widgetId: string, extra: Record<string, unknown>): Promise<unknown[]> {
    const response = await fetch(`${server.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await server.token(widgetId)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }], stream: true, ...extra }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    return sseData(await response.text());
  }
  const isUsageChunk = (data: unknown) =>
    typeof data === 'object' &&
    data !== null &&
    Array.isArray((data as { choices?: unknown }).choices) &&
    (data as { choices: unknown[] }).choices.length === 0;

  it('sends no usage chunk when the client did not ask', async () => {
    server.upstream.next({ type: 'answer', text: 'No usage here.' });
    const events = await rawStream(plainWidget, {});
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1) as { choices: { delta?: { content?: string } }[]; usage?: unknown }[];
    expect(chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('')).toBe('No usage here.');
    expect(chunks.filter(isUsageChunk)).toEqual([]);
    expect(chunks.filter((chunk) => chunk.usage !== undefined && chunk.usage !== null)).toEqual([]);
  });

  it('sends exactly one usage chunk, last before [DONE], when the client asked with stream_options.include_usage', async () => {
    server.upstream.next({ type: 'answer', text: 'Usage follows.', usage: { prompt_tokens: 7, completion_tokens: 3 } });
    const events = await rawStream(plainWidget, { stream_options: { include_usage: true } });
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1);
    const usageChunks = chunks.filter(isUsageChunk);
    expect(usageChunks).toHaveLength(1);
    expect(chunks.at(-1)).toBe(usageChunks[0]);
    expect(usageChunks[0]).toMatchObject({
      object: 'chat.completion.chunk',
      usage: { prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), total_tokens: expect.any(Number) },
    });
  });
});

describe('models (waits for GET /models and /models/{id})', () => {
  it('lists only the widget’s model and allowed models, in OpenAI’s shape', async () => {
    const client = await clientFor(plainWidget);
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models.map((model) => model.id).sort()).toEqual(['gpt-4o', 'gpt-4o-mini']);
    for (const model of models) expect(model).toMatchObject({ object: 'model', created: expect.any(Number), owned_by: expect.any(String) });
    const single = await clientFor(await openWidget());
    expect((await single.models.list()).data.map((model) => model.id)).toEqual(['gpt-4o-mini']);
  });

  it('retrieves an allowed model and answers 404 for any other', async () => {
    const client = await clientFor(plainWidget);
    expect(await client.models.retrieve('gpt-4o')).toMatchObject({ id: 'gpt-4o', object: 'model', created: expect.any(Number), owned_by: expect.any(String) });
    // dall-e-3 is one of the stand-in upstream's models, but not this widget's.
    for (const id of ['dall-e-3', 'no-such-model']) {
      const error = await refusal(client.models.retrieve(id));
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    }
  });
});

describe('responses (waits for POST /responses)', () => {
  it('answers without streaming: output_text, never stored upstream', async () => {
    server.upstream.next({ type: 'answer', text: 'A response, not a completion.' });
    const client = await clientFor(plainWidget);
    const response = await client.responses.create({ model: 'gpt-4o-mini', input: 'Hello', store: true });
    expect(response).toMatchObject({ object: 'response', status: 'completed', model: expect.stringContaining('gpt-4o-mini') });
    expect(response.output_text).toBe('A response, not a completion.');
    const upstream = lastUpstreamChat(server)!;
    expect(upstream.body.store).not.toBe(true);
    expect(upstream.messages).toEqual([
      { role: 'system', text: widgetPrompt },
      { role: 'user', text: 'Hello' },
    ]);
  });

  it('reads message items with input_text parts', async () => {
    server.upstream.next({ type: 'answer', text: 'Second answer.' });
    const client = await clientFor(plainWidget);
    const response = await client.responses.create({
      model: 'gpt-4o',
      input: [
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'First question.' }] },
        { role: 'assistant', content: 'First answer.' },
        { role: 'user', content: [{ type: 'input_text', text: 'Second question.' }] },
      ],
    });
    expect(response.output_text).toBe('Second answer.');
    const upstream = lastUpstreamChat(server)!;
    expect(upstream.body.model).toBe('gpt-4o');
    expect(upstream.messages.slice(1)).toEqual([
      { role: 'user', text: 'First question.' },
      { role: 'assistant', text: 'First answer.' },
      { role: 'user', text: 'Second question.' },
    ]);
  });

  it('streams events, each with a sequence_number', async () => {
    server.upstream.next({ type: 'answer', text: 'Streamed as a response.' });
    const client = await clientFor(plainWidget);
    const events = [];
    for await (const event of await client.responses.create({ model: 'gpt-4o-mini', input: 'Hello', stream: true })) events.push(event);
    const types = events.map((event) => event.type);
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(types.filter((type) => type === 'response.output_text.delta').length).toBeGreaterThanOrEqual(4);
    for (const type of ['response.output_item.added', 'response.output_text.done', 'response.output_item.done']) expect(types).toContain(type);
    const numbers = events.map((event) => event.sequence_number);
    for (const number of numbers) expect(number).toEqual(expect.any(Number));
    expect([...numbers].sort((a, b) => a - b)).toEqual(numbers);
    expect(new Set(numbers).size).toBe(numbers.length);
    const deltas = events.flatMap((event) => (event.type === 'response.output_text.delta' ? [event.delta] : []));
    expect(deltas.join('')).toBe('Streamed as a response.');
    const completed = events.at(-1)!;
    if (completed.type !== 'response.completed') throw new Error('the last event is not response.completed');
    expect(completed.response.status).toBe('completed');
    expect(completed.response.output).toEqual([
      expect.objectContaining({
        type: 'message',
        role: 'assistant',
        content: [expect.objectContaining({ type: 'output_text', text: 'Streamed as a response.' })],
      }),
    ]);
  });

  it('works with the responses.stream() helper and its finalResponse()', async () => {
    server.upstream.next({ type: 'answer', text: 'Helper streamed this.' });
    const client = await clientFor(plainWidget);
    const deltas: string[] = [];
    const stream = client.responses.stream({ model: 'gpt-4o-mini', input: 'Hello' }).on('response.output_text.delta', (event) => deltas.push(event.delta));
    const final = await stream.finalResponse();
    // finalResponse() is the helper's own snapshot, built from the events; openai 6.30.1 adds no output_text to it without a parsed text format.
    const texts = final.output
      .flatMap((item) => (item.type === 'message' ? item.content : []))
      .flatMap((part) => (part.type === 'output_text' ? [part.text] : []));
    expect(final.status).toBe('completed');
    expect(texts).toEqual(['Helper streamed this.']);
    expect(deltas.join('')).toBe('Helper streamed this.');
  });

  it('refuses previous_response_id (responses are not stored)', async () => {
    const client = await clientFor(plainWidget);
    const error = await refusal(client.responses.create({ model: 'gpt-4o-mini', input: 'And then?', previous_response_id: 'resp_123' }));
    expect(error).toMatchObject({ status: 400, code: 'input_invalid' });
    expect(error.message).toContain('previous_response_id');
    expect(server.upstream.requests).toHaveLength(0);
  });

  it('refuses tools, by name', async () => {
    const client = await clientFor(plainWidget);
    const error = await refusal(
      client.responses.create({
        model: 'gpt-4o-mini',
        input: 'Weather?',
        tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} }, strict: false }],
      }),
    );
    expect(error).toMatchObject({ status: 400, code: 'input_invalid' });
    expect(error.message).toContain('tools');
    expect(server.upstream.requests).toHaveLength(0);
  });

  it('refuses instructions unless the widget allows client instructions', async () => {
    const refused = await refusal((await clientFor(plainWidget)).responses.create({ model: 'gpt-4o-mini', input: 'Hello', instructions: 'Answer in French.' }));
    expect(refused).toMatchObject({ status: 400, code: 'input_invalid' });
    expect(refused.message).toContain('allowClientInstructions');
    expect(server.upstream.requests).toHaveLength(0);

    server.upstream.next({ type: 'answer', text: 'Bonjour.' });
    const response = await (await clientFor(await openWidget())).responses.create({ model: 'gpt-4o-mini', input: 'Hello', instructions: 'Answer in French.' });
    expect(response.output_text).toBe('Bonjour.');
    const texts = lastUpstreamChat(server)!.messages.map((message) => message.text);
    expect(texts.indexOf(widgetPrompt)).toBe(0);
    expect(texts.indexOf('Answer in French.')).toBeGreaterThan(0);
    expect(texts.at(-1)).toBe('Hello');
    // The widget's own prompt is the server's: never echoed back as the response's instructions.
    expect(JSON.stringify(response)).not.toContain(widgetPrompt);
  });
});
