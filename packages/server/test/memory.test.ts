import { countTokens } from 'gpt-tokenizer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { behaviourProblems } from '../src/proxy/behaviour-check.js';
import type { MemoryStrategy } from '../src/stores/store.js';
import { sseEvents, startProxyHarness, streamedText, type ProxyHarness } from './proxy-helpers.js';

let harness: ProxyHarness;
beforeAll(async () => {
  harness = await startProxyHarness({ proxy: { limits: { visitorRequestsPerMinute: 1_000, tokenRequestsPerMinute: 1_000 } } });
});
afterAll(async () => {
  await harness.close();
});

type Turn = { role: 'user' | 'assistant'; content: string };
const conversation = (count: number, size = 0): Turn[] =>
  Array.from({ length: count }, (_, index) => ({
    role: index % 2 === 0 ? 'user' : 'assistant',
    content: `turn-${index} ${'word '.repeat(size)}`.trim(),
  }));

async function sentFor(memory: MemoryStrategy, messages: Turn[], model = 'gpt-4o-mini', maxOutputTokens?: number) {
  const widget = await harness.widget({ behaviour: { model, systemPrompt: 'SYSTEM', memory, ...(maxOutputTokens && { maxOutputTokens }) } });
  harness.upstream.next({ type: 'answer', text: 'ok' });
  const response = await harness.post('/v1/chat/completions', await harness.token(widget), { messages });
  expect(response.status).toBe(200);
  await response.text();
  return (harness.upstream.requests.at(-1)!.body as { messages: { role: string; content: string }[] }).messages;
}

describe('memory strategies', () => {
  it('recent-context sends only the last N messages', async () => {
    const sent = await sentFor({ strategy: 'recent-context', messages: 3 }, conversation(7));
    expect(sent.map((message) => message.content)).toEqual(['SYSTEM', 'turn-4', 'turn-5', 'turn-6']);
  });

  it('limited-recall sends the first user message plus the last N', async () => {
    const sent = await sentFor({ strategy: 'limited-recall', messages: 2 }, conversation(7));
    expect(sent.map((message) => message.content)).toEqual(['SYSTEM', 'turn-0', 'turn-5', 'turn-6']);
    const short = await sentFor({ strategy: 'limited-recall', messages: 4 }, conversation(3));
    expect(short.map((message) => message.content)).toEqual(['SYSTEM', 'turn-0', 'turn-1', 'turn-2']);
  });

  it('standard sends the whole conversation while it fits', async () => {
    const sent = await sentFor({ strategy: 'standard' }, conversation(9));
    expect(sent).toHaveLength(10);
  });

  it('standard drops the oldest turns, counted in real tokens, once over the model\u2019s context budget', async () => {
    // gpt-4: 8,192 tokens; 4,096 reserved for the answer.
    const messages = conversation(7, 1_500);
    const sent = await sentFor({ strategy: 'standard' }, messages, 'gpt-4', 4_096);
    const budget = 8_192 - 4_096 - (countTokens('SYSTEM') + 4) - 3;
    let expected = 0;
    let total = 0;
    for (const message of [...messages].reverse()) {
      total += countTokens(message.content) + 4;
      if (total > budget) break;
      expected += 1;
    }
    expect(expected).toBeGreaterThan(0);
    expect(expected).toBeLessThan(7);
    const kept = sent.slice(1);
    // Whole turns only, newest kept, and the model sees the visitor speak first.
    expect(kept.at(-1)!.content).toBe(messages.at(-1)!.content);
    expect(kept.length === expected || kept.length === expected - 1).toBe(true);
    expect(kept[0]!.role).toBe('user');
  });

  it('standard refuses a single message larger than the whole budget', async () => {
    const widget = await harness.widget({ behaviour: { model: 'gpt-4' } });
    // 5,000 characters but about 15,000 tokens: a character count would let it through.
    const response = await harness.post('/v1/chat/completions', await harness.token(widget), {
      messages: [{ role: 'user', content: '\ua66e'.repeat(5_000) }],
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('input_invalid');
  });

  it('tokenized-summary folds older turns into a running summary made by the model, cached per conversation', async () => {
    const widget = await harness.widget({
      behaviour: { model: 'gpt-4o-mini', systemPrompt: 'SYSTEM', memory: { strategy: 'tokenized-summary', budgetTokens: 60, summaryMaxTokens: 50 } },
    });
    const token = await harness.token(widget);
    const send = async (messages: Turn[], answers: string[]) => {
      for (const text of answers) harness.upstream.next({ type: 'answer', text });
      const before = harness.upstream.requests.length;
      const response = await harness.post('/v1/chat/completions', token, { messages, stream: true });
      expect(streamedText(await sseEvents(response)).text).toBe(answers.at(-1));
      return harness.upstream.requests.slice(before).map((request) => request.body as { messages: Turn[]; max_completion_tokens?: number; stream?: boolean });
    };

    const first = conversation(9, 8);
    const calls = await send(first, ['SUMMARY-ONE', 'answer one']);
    expect(calls).toHaveLength(2);
    const [summaryCall, mainCall] = calls;
    expect(summaryCall!.stream).toBeFalsy();
    expect(summaryCall!.max_completion_tokens).toBe(50);
    expect(summaryCall!.messages[1]!.content).toContain('turn-0');
    expect(summaryCall!.messages[1]!.content).not.toContain('Summary so far');
    expect(mainCall!.messages[0]).toEqual({ role: 'system', content: 'SYSTEM' });
    // Delimited data in a user message: the summary carries visitor text, which gets no system authority.
    expect(mainCall!.messages[1]!.role).toBe('user');
    expect(mainCall!.messages[1]!.content).toContain('<conversation-summary>\nSUMMARY-ONE\n</conversation-summary>');
    const keptTurns = mainCall!.messages.slice(2);
    expect(keptTurns.at(-1)!.content).toBe(first.at(-1)!.content);
    expect(keptTurns.some((turn) => turn.content === first[0]!.content)).toBe(false);
    const keptTokens = keptTurns.reduce((sum, turn) => sum + countTokens(turn.content) + 4, 0);
    expect(keptTokens).toBeLessThanOrEqual(60);

    // The same conversation again: the summary comes from the cache, no extra call.
    const again = await send(first, ['answer again']);
    expect(again).toHaveLength(1);
    expect(again[0]!.messages[1]!.content).toContain('SUMMARY-ONE');

    // Two more turns: the new summary builds on the cached one.
    const longer = [...first, { role: 'assistant' as const, content: 'answer one' }, { role: 'user' as const, content: `turn-10 ${'word '.repeat(8)}`.trim() }];
    const grown = await send(longer, ['SUMMARY-TWO', 'answer two']);
    expect(grown).toHaveLength(2);
    expect(grown[0]!.messages[1]!.content).toContain('Summary so far:\nSUMMARY-ONE');
    expect(grown[0]!.messages[1]!.content).not.toContain('turn-0 ');
    expect(grown[1]!.messages[1]!.content).toContain('SUMMARY-TWO');

    // Another widget with the same words shares nothing.
    const otherWidget = await harness.widget({ behaviour: widget.behaviour });
    harness.upstream.next({ type: 'answer', text: 'SUMMARY-OTHER' });
    harness.upstream.next({ type: 'answer', text: 'other answer' });
    const before = harness.upstream.requests.length;
    const response = await harness.post('/v1/chat/completions', await harness.token(otherWidget), { messages: first });
    await response.text();
    expect(harness.upstream.requests.length - before).toBe(2);
  });
});

describe('behaviour checks', () => {
  it('lists the problems of a malformed behaviour, and none for a good one', () => {
    expect(behaviourProblems({ model: 'gpt-4o-mini', memory: { strategy: 'recent-context', messages: 8 } }, 'chat')).toEqual([]);
    const problems = behaviourProblems(
      { model: 'gpt-4o-mini', memory: { strategy: 'recent-context', messages: 0 }, promptFilter: { blocked: 'darn' } } as never,
      'completion',
    );
    expect(problems).toEqual([
      '"promptFilter.blocked" must be a list of at most 1,000 words or phrases.',
      '"memory.messages" must be a whole number from 1 to 1000.',
      'A completion widget needs a "promptTemplate".',
    ]);
  });
});
