import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxBlockedBytes, maxBlockedEntries } from '../src/proxy/prompt-filter.js';
import type { WidgetRecord } from '../src/stores/store.js';
import { startProxyHarness, type ProxyHarness } from './proxy-helpers.js';

let harness: ProxyHarness;
let chat: WidgetRecord;
let client: OpenAI;

beforeAll(async () => {
  harness = await startProxyHarness({
    proxy: { limits: { visitorRequestsPerMinute: 1_000, tokenRequestsPerMinute: 1_000 } },
  });
  chat = await harness.widget({ behaviour: { model: 'gpt-4o-mini', promptFilter: { blocked: ['forbidden fruit', 'hello', 'mоney'] } } });
  client = new OpenAI({ apiKey: await harness.token(chat), baseURL: `${harness.url}/airlock/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await harness.close();
});

describe('the prompt filter through a real server', () => {
  it('refuses a blocked word hidden with format characters or look-alike letters, without calling the upstream', async () => {
    const before = harness.upstream.requests.length;
    for (const content of [
      'I want the forbidden fr\u200buit', // zero-width space
      'I want the for\u00adbidden fruit', // soft hyphen
      'I want the forbidden\u2060 fruit\u{e0020}', // word joiner, a tag character
      'I want the fоrbidden fruit', // Cyrillic о
      'ΗELLO there', // Greek capital eta
      'show me the money', // the entry was written with a Cyrillic о; the text is plain
    ]) {
      await expect(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }), content).rejects.toMatchObject({
        status: 400,
        code: 'prompt_blocked',
      });
    }
    expect(harness.upstream.requests.length).toBe(before);
    harness.upstream.next({ type: 'answer', text: 'fine' });
    const allowed = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'a fruit that is not forbidden' }] });
    expect(allowed.choices[0]?.message.content).toBe('fine');
  });

  it('checks a 60 KB conversation against the largest list quickly, and keeps serving meanwhile', async () => {
    // Entries built to be costly for a backtracking matcher: long shared prefixes that the
    // conversation repeats almost, but never exactly.
    const blocked = Array.from({ length: maxBlockedEntries }, (_, index) => {
      const prefix = 'a '.repeat(5 + (index % 9));
      return prefix + index.toString(36).padStart(32 - prefix.length, 'z');
    });
    expect(blocked.join('').length).toBeLessThanOrEqual(maxBlockedBytes);
    const large = await harness.widget({ behaviour: { model: 'gpt-4o-mini', promptFilter: { blocked } } });
    const largeClient = new OpenAI({ apiKey: await harness.token(large), baseURL: `${harness.url}/airlock/v1`, maxRetries: 0 });
    const messages = Array.from({ length: 4 }, (_, index) => ({ role: 'user' as const, content: `${index} ${'a '.repeat(7_490)}` }));
    expect(JSON.stringify({ messages }).length).toBeGreaterThan(60_000);

    harness.upstream.next({ type: 'answer', text: 'warm' });
    await largeClient.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'compile the list first' }] });

    harness.upstream.next({ type: 'answer', text: 'checked' });
    harness.upstream.next({ type: 'answer', text: 'still serving' });
    const started = performance.now();
    const [answer, other] = await Promise.all([
      largeClient.chat.completions.create({ model: 'gpt-4o-mini', messages }),
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    ]);
    const elapsed = performance.now() - started;
    expect([answer.choices[0]?.message.content, other.choices[0]?.message.content].sort()).toEqual(['checked', 'still serving']);
    // The earlier matcher held the event loop for seconds on such a request. The bound is
    // generous so that a loaded machine does not fail it; the benchmark prints the real figure.
    expect(elapsed).toBeLessThan(1_500);

    await expect(
      largeClient.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `${'a '.repeat(7_000)} ${blocked[3]}` }] }),
    ).rejects.toMatchObject({ status: 400, code: 'prompt_blocked' });
  });
});
