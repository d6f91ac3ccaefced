// The Responses output checked by the `openai` SDK's own parsers: the SSE
// built here is what its fetch returns, and `responses.create` and
// `responses.stream` must read it as they read OpenAI's.
import { startUpstream, type Upstream } from '@airlock/testing';
import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatStreamToResponses, responseFromChatCompletion, ResponsesStreamTranslator } from '../../src/proxy/responses/index.js';

let upstream: Upstream;
beforeAll(async () => {
  upstream = await startUpstream({ acceptedKeys: ['sk-test'] });
});
afterAll(() => upstream?.close());

/** A client whose every call is answered by `answer` (one body, streamed or JSON). */
function clientAnswering(answer: () => Response | Promise<Response>): OpenAI {
  return new OpenAI({ apiKey: 'widget-token', baseURL: 'http://airlock.invalid/airlock/v1', maxRetries: 0, fetch: async () => answer() });
}

const sse = (body: ReadableStream<Uint8Array> | string) => new Response(body, { headers: { 'content-type': 'text/event-stream' } });

/** The stand-in upstream's real chat stream, as the chat pipeline would relay it. */
async function chatStream(text: string): Promise<ReadableStream<Uint8Array>> {
  upstream.next({ type: 'answer', text });
  const response = await fetch(`${upstream.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } }),
  });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  return response.body!;
}

async function textOf(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

describe('the Responses event stream', () => {
  it('is iterated by responses.create({ stream: true }), in OpenAI\u2019s order, numbered, without [DONE]', async () => {
    const translated = (await chatStream('Hello there, visitor.')).pipeThrough(chatStreamToResponses({ model: 'gpt-4o-mini' }));
    const [forClient, forInspection] = translated.tee();
    const client = clientAnswering(() => sse(forClient));
    const events: ResponseStreamEvent[] = [];
    for await (const event of await client.responses.create({ model: 'gpt-4o-mini', input: 'Hi', stream: true })) events.push(event);
    const types = events.map((event) => event.type);
    const deltas = types.filter((type) => type === 'response.output_text.delta').length;
    expect(deltas).toBeGreaterThanOrEqual(3);
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array.from({ length: deltas }, () => 'response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
    const completed = events.at(-1) as Extract<ResponseStreamEvent, { type: 'response.completed' }>;
    expect(completed.response.status).toBe('completed');
    // Stream events carry `output` only; `output_text` is the SDK's addition to non-streamed answers.
    expect(completed.response.output).toMatchObject([
      { type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Hello there, visitor.' }] },
    ]);
    expect(completed.response.usage?.output_tokens).toBeGreaterThan(0);
    expect(completed.response.usage?.total_tokens).toBe(completed.response.usage!.input_tokens + completed.response.usage!.output_tokens);
    const created = events[0] as Extract<ResponseStreamEvent, { type: 'response.created' }>;
    expect(created.response).toMatchObject({ object: 'response', status: 'in_progress', output: [], id: completed.response.id, store: false });
    const raw = await textOf(forInspection);
    expect(raw).not.toContain('[DONE]');
    // Every event names its type on the event: line too, as OpenAI's do.
    for (const block of raw.trim().split('\n\n')) expect(block).toMatch(/^event: (response\.[a-z_.]+)\ndata: \{"type":"\1"/);
  });

  it('satisfies the SDK\u2019s stream helper, which checks each event against the items and parts before it', async () => {
    const client = clientAnswering(async () => sse((await chatStream('One two three.')).pipeThrough(chatStreamToResponses({ model: 'gpt-4o-mini' }))));
    const stream = client.responses.stream({ model: 'gpt-4o-mini', input: 'Hi' });
    let deltas = '';
    stream.on('response.output_text.delta', (event) => (deltas += event.delta));
    const final = await stream.finalResponse();
    expect(deltas).toBe('One two three.');
    expect(final.output).toMatchObject([{ type: 'message', content: [{ type: 'output_text', text: 'One two three.' }] }]);
  });

  it('ends with response.incomplete when the answer was cut at the output cap', async () => {
    const translator = new ResponsesStreamTranslator({ model: 'gpt-4o-mini' });
    const chunk = (content: string | undefined, finish: ChatCompletionChunk.Choice['finish_reason']): ChatCompletionChunk => ({
      id: 'c',
      object: 'chat.completion.chunk',
      created: 0,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: finish }],
    });
    const events = [...translator.start(), ...translator.chunk(chunk('Cut', null)), ...translator.chunk(chunk(undefined, 'length')), ...translator.finish()];
    const body = events.map((event) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`).join('');
    const seen: ResponseStreamEvent[] = [];
    for await (const event of await clientAnswering(() => sse(body)).responses.create({ model: 'gpt-4o-mini', input: 'Hi', stream: true })) seen.push(event);
    const last = seen.at(-1) as Extract<ResponseStreamEvent, { type: 'response.incomplete' }>;
    expect(last.type).toBe('response.incomplete');
    expect(last.response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(last.response.output[0]).toMatchObject({ type: 'message', status: 'incomplete' });
  });

  it('turns Airlock\u2019s error event into response.failed with its code, and stops there', async () => {
    const chat = [
      'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":"Half"},"finish_reason":null}]}',
      ': heartbeat',
      'data: {"error":{"message":"The model service took too long to answer.","type":"airlock_error","code":"upstream_timeout"}}',
      '',
      '',
    ].join('\n\n');
    const raw = await textOf(sse(chat).body!.pipeThrough(chatStreamToResponses({ model: 'gpt-4o-mini' })));
    expect(raw).toContain(': heartbeat\n\n');
    const seen: ResponseStreamEvent[] = [];
    for await (const event of await clientAnswering(() => sse(raw)).responses.create({ model: 'gpt-4o-mini', input: 'Hi', stream: true })) seen.push(event);
    expect(seen.map((event) => event.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.failed',
    ]);
    const failed = seen.at(-1) as Extract<ResponseStreamEvent, { type: 'response.failed' }>;
    expect(failed.response.error).toEqual({ code: 'upstream_timeout', message: 'The model service took too long to answer.' });
    expect(failed.response.status).toBe('failed');
  });

  it('reads chat events split anywhere across chunks', async () => {
    const whole = [
      'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":"Split "},"finish_reason":null}]}',
      'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":"ünïcode"},"finish_reason":"stop"}]}',
      'data: [DONE]',
      '',
    ].join('\r\n\r\n');
    const bytes = new TextEncoder().encode(whole);
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 7) controller.enqueue(bytes.slice(at, at + 7));
        controller.close();
      },
    });
    const raw = await textOf(source.pipeThrough(chatStreamToResponses({ model: 'm' })));
    const done = raw.split('\n\n').find((block) => block.startsWith('event: response.output_text.done'))!;
    expect(JSON.parse(done.split('\ndata: ')[1]!).text).toBe('Split ünïcode');
    expect(raw.trimEnd().split('\n\n').at(-1)).toMatch(/^event: response.completed/);
  });
});

describe('the non-streaming Responses object', () => {
  it('is parsed by responses.create(), output_text included', async () => {
    upstream.next({ type: 'answer', text: 'A whole answer.' });
    const completion = (await (
      await fetch(`${upstream.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-test', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }),
      })
    ).json()) as ChatCompletion;
    const object = responseFromChatCompletion(completion, { model: 'gpt-4o-mini' });
    const client = clientAnswering(() => Response.json(object));
    const response = await client.responses.create({ model: 'gpt-4o-mini', input: 'Hi' });
    expect(response.output_text).toBe('A whole answer.');
    expect(response).toMatchObject({ object: 'response', status: 'completed', model: 'gpt-4o-mini', store: false, instructions: null, error: null });
    expect(response.id).toMatch(/^resp_[0-9a-f]{48}$/);
    expect(response.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'completed', id: expect.stringMatching(/^msg_/) });
    expect(response.usage).toMatchObject({ input_tokens: completion.usage!.prompt_tokens, output_tokens: completion.usage!.completion_tokens });
  });

  it('is incomplete, with the reason, for an answer cut by a content filter', () => {
    const object = responseFromChatCompletion(
      {
        id: 'c',
        object: 'chat.completion',
        created: 0,
        model: 'm',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Part', refusal: null }, finish_reason: 'content_filter', logprobs: null }],
      },
      { model: 'm' },
    );
    expect(object.status).toBe('incomplete');
    expect(object.incomplete_details).toEqual({ reason: 'content_filter' });
    expect(object.usage).toBeNull();
  });
});
