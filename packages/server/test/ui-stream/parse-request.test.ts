// The bodies here have the shape the AI SDK's DefaultChatTransport (`ai` 7,
// `useChat`) POSTs: `{ ...body, id, messages, trigger, messageId }`, with
// UIMessages `{ id, role, parts }`. packages/client-tests sends the real one.
import { describe, expect, it } from 'vitest';
import { defaultChatInputLimits } from '../../src/proxy/chat-completions.js';
import { parseUIChatRequest } from '../../src/proxy/ui-stream/index.js';
import type { WidgetRecord } from '../../src/stores/store.js';

const widget = { behaviour: { model: 'gpt-4o-mini', allowedModels: ['gpt-4.1-mini'] } } as unknown as WidgetRecord;
const parse = (body: Record<string, unknown>, options = {}) => parseUIChatRequest(body, widget, defaultChatInputLimits, options);

const user = (text: string, id = 'u1') => ({ id, role: 'user', parts: [{ type: 'text', text }] });
const submit = (messages: unknown[], extra: Record<string, unknown> = {}) => ({ id: 'chat-1', messages, trigger: 'submit-message', ...extra });

function refusal(body: Record<string, unknown>, options = {}): string {
  try {
    parse(body, options);
  } catch (error) {
    expect((error as { code: string }).code).toBe('input_invalid');
    return (error as Error).message;
  }
  throw new Error('not refused');
}

describe('parseUIChatRequest', () => {
  it('reads the transport\u2019s body into the chat handler\u2019s turns, with the widget model', () => {
    expect(parse(submit([user('Hello')]))).toEqual({
      turns: [{ role: 'user', content: 'Hello' }],
      model: 'gpt-4o-mini',
      clientInstructions: [],
      chatId: 'chat-1',
      trigger: 'submit-message',
      messageId: undefined,
    });
    expect(parse(submit([user('Hi')], { model: 'gpt-4.1-mini', messageId: 'u1' }))).toMatchObject({ model: 'gpt-4.1-mini', messageId: 'u1' });
  });

  it('reads earlier answers, skipping the SDK\u2019s own bookkeeping parts (steps, reasoning, sources)', () => {
    const assistant = {
      id: 'a1',
      role: 'assistant',
      metadata: { anything: true },
      parts: [
        { type: 'step-start' },
        { type: 'reasoning', text: 'Thinking\u2026', state: 'done' },
        { type: 'source-url', sourceId: 's1', url: 'https://example.com/a', title: 'A' },
        { type: 'source-document', sourceId: 's2', mediaType: 'text/plain', title: 'B' },
        { type: 'text', text: 'An answer', state: 'done' },
        { type: 'text', text: 'in two parts', state: 'done' },
      ],
    };
    const parsed = parse(
      submit([
        {
          id: 'u1',
          role: 'user',
          parts: [
            { type: 'text', text: 'First' },
            { type: 'text', text: 'question' },
          ],
        },
        assistant,
        user('Second', 'u2'),
      ]),
    );
    expect(parsed.turns).toEqual([
      { role: 'user', content: 'First\nquestion' },
      { role: 'assistant', content: 'An answer\nin two parts' },
      { role: 'user', content: 'Second' },
    ]);
  });

  it('leaves out an earlier answer that has no text (one that failed before its first word)', () => {
    const failed = { id: 'a1', role: 'assistant', parts: [{ type: 'step-start' }] };
    expect(parse(submit([user('Hi'), failed, user('Again', 'u2')])).turns).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'user', content: 'Again' },
    ]);
  });

  it('reads a regeneration: the transport sends the messages up to the visitor\u2019s turn and the answer\u2019s id', () => {
    expect(parse(submit([user('Hi')], { trigger: 'regenerate-message', messageId: 'a1' }))).toMatchObject({
      trigger: 'regenerate-message',
      messageId: 'a1',
      turns: [{ role: 'user', content: 'Hi' }],
    });
  });

  it('refuses files, tools and data parts by name', () => {
    const withPart = (part: unknown, role = 'user') =>
      submit([{ id: 'm', role, parts: [{ type: 'text', text: 'Look' }, part] }, ...(role === 'user' ? [] : [user('Hi')])]);
    expect(refusal(withPart({ type: 'file', mediaType: 'image/png', url: 'data:image/png;base64,AA' }))).toBe(
      'messages[0].parts[1]: "file" parts (attachments) are not supported by this widget; send text parts.',
    );
    expect(refusal(withPart({ type: 'tool-weather', toolCallId: 't', state: 'output-available', input: {}, output: {} }, 'assistant'))).toBe(
      'messages[0].parts[1]: "tool-weather" parts (tool calls) are not supported by this widget: it allows no tools.',
    );
    expect(refusal(withPart({ type: 'dynamic-tool', toolName: 'x', toolCallId: 't', state: 'input-available', input: {} }, 'assistant'))).toMatch(
      /"dynamic-tool" parts \(tool calls\)/,
    );
    expect(refusal(withPart({ type: 'data-weather', data: { city: 'Oslo' } }))).toBe(
      'messages[0].parts[1]: "data-weather" parts (custom data) are not supported by this widget.',
    );
    expect(refusal(withPart({ type: 'steering-message', id: 's', parts: [] }, 'assistant'))).toMatch(/"steering-message" parts are not supported/);
    // What is bookkeeping on an answer is not something a visitor sends.
    expect(refusal(withPart({ type: 'source-url', sourceId: 's', url: 'https://x' }))).toMatch(
      /messages\[0\]\.parts\[1\]: "source-url" parts are not supported in a "user" message/,
    );
    expect(refusal(withPart({ text: 'no type' }))).toMatch(/messages\[0\]\.parts\[1\] must be a part with a "type"/);
    expect(refusal(withPart({ type: 'text', text: 42 }))).toMatch(/messages\[0\]\.parts\[1\] needs a string "text"/);
    // A hostile type name is cut short in the message.
    expect(refusal(withPart({ type: 'x'.repeat(500) }))).toBe(
      `messages[0].parts[1]: "${'x'.repeat(64)}" parts are not supported by this widget; send text parts.`,
    );
  });

  it('refuses system messages unless the widget allows client instructions, naming the setting', () => {
    const system = { id: 's', role: 'system', parts: [{ type: 'text', text: 'Be a pirate' }] };
    expect(refusal(submit([system, user('Hi')]))).toBe(
      'This widget does not accept instructions from the client (a "system" message); its system prompt is set on the server. The widget setting "allowClientInstructions" allows them.',
    );
    expect(refusal(submit([system, user('Hi')]), { instructionsSetting: 'behaviour.clientInstructions' })).toMatch(/"behaviour.clientInstructions"/);
    const allowed = parse(submit([system, user('Hi')]), { allowClientInstructions: true });
    expect(allowed.clientInstructions).toEqual(['Be a pirate']);
    expect(allowed.turns).toEqual([{ role: 'user', content: 'Hi' }]);
    expect(
      refusal(submit([{ ...system, parts: [{ type: 'file', mediaType: 'text/plain', url: 'data:,x' }] }, user('Hi')]), { allowClientInstructions: true }),
    ).toMatch(/"file" parts/);
  });

  it('refuses fields it does not know by name, and ignores an absent or null one', () => {
    expect(refusal(submit([user('Hi')], { temperature: 2 }))).toBe('"temperature" is not supported by this endpoint.');
    expect(refusal(submit([user('Hi')], { sessionId: 'abc' }))).toBe('"sessionId" is not supported by this endpoint.');
    expect(parse(submit([user('Hi')], { sessionId: null })).turns).toHaveLength(1);
  });

  it('refuses a model the widget does not allow, bad shapes, and input past the limits', () => {
    expect(refusal(submit([user('Hi')], { model: 'gpt-5' }))).toMatch(/does not allow that model/);
    expect(refusal({ id: 'c', trigger: 'submit-message' })).toBe('"messages" must be a non-empty array of UI messages.');
    expect(refusal(submit([]))).toBe('"messages" must be a non-empty array of UI messages.');
    expect(refusal(submit([user('Hi')], { trigger: 'resume-stream' }))).toBe('"trigger" must be "submit-message" or "regenerate-message".');
    expect(refusal(submit([user('Hi')], { id: 5 }))).toBe('"id" must be a string.');
    expect(refusal(submit([user('Hi')], { messageId: ['x'] }))).toBe('"messageId" must be a string.');
    expect(refusal(submit([user('Hi'), { id: 'a', role: 'assistant', parts: [{ type: 'text', text: 'Hello' }] }]))).toBe(
      'The last message must be the visitor\u2019s ("role": "user").',
    );
    expect(refusal(submit([{ id: 't', role: 'tool', parts: [] }]))).toBe('messages[0]: "role" must be "user" or "assistant".');
    expect(refusal(submit(['Hi']))).toBe('messages[0] must be a UI message ({ id, role, parts }).');
    // The shape of AI SDK 4 and of chat completions: no parts.
    expect(refusal(submit([{ role: 'user', content: 'Hi' }]))).toBe('messages[0] needs "parts", an array of message parts (the AI SDK 5+ UIMessage shape).');
    expect(refusal(submit([{ id: 'u', role: 'user', parts: [] }]))).toBe('messages[0]: a "user" message needs a text part.');
    expect(refusal(submit([user('x'.repeat(defaultChatInputLimits.maxMessageChars + 1))]))).toBe(
      `A message may be at most ${defaultChatInputLimits.maxMessageChars} characters long.`,
    );
    expect(refusal(submit(Array.from({ length: defaultChatInputLimits.maxMessages + 1 }, () => user('Hi'))))).toBe(
      `At most ${defaultChatInputLimits.maxMessages} messages may be sent at once.`,
    );
    // Several short parts are one message: their joined length counts.
    const half = 'x'.repeat(defaultChatInputLimits.maxMessageChars / 2);
    expect(
      refusal(
        submit([
          {
            id: 'u',
            role: 'user',
            parts: [
              { type: 'text', text: half },
              { type: 'text', text: half },
            ],
          },
        ]),
      ),
    ).toMatch(/at most/);
  });
});
