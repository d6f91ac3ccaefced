// The relay leaves the upstream's usage out of what a client gets unless it
// asked (`clientUsage: false`), while still metering it.
import { describe, expect, it } from 'vitest';
import { sseResponse, type StreamMeter } from '../src/proxy/sse-pass-through.js';

const chunk = (choices: unknown[], usage?: unknown) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', choices, ...(usage !== undefined && { usage }) })}\n\n`;
const delta = (content: string, finishReason: string | null = null) => ({ index: 0, delta: { content }, finish_reason: finishReason });
const usage = { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 };

// The bytes arrive in reads of `size` bytes, so events and markers split across reads.
function body(text: string, size = text.length): Response {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new Response(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        controller.enqueue(bytes.slice(at, at + size));
        at += size;
      },
    }),
  );
}

async function relay(text: string, clientUsage: boolean, size?: number): Promise<{ text: string; meter: StreamMeter }> {
  let meter: StreamMeter | undefined;
  const response = sseResponse(body(text, size), {}, { firstChunkTimeoutMs: 5_000, idleTimeoutMs: 5_000, clientUsage, onEnd: (seen) => (meter = seen) });
  const relayed = await response.text();
  return { text: relayed, meter: meter! };
}

const stream = chunk([delta('Hi')], null) + chunk([delta(' there', 'stop')], null) + chunk([], usage) + 'data: [DONE]\n\n';

describe('the usage chunk reaches a client only when it asked', () => {
  it('leaves out a usage-only event, and still meters it, however the bytes are split', async () => {
    for (const size of [undefined, 1, 7, 40]) {
      const { text, meter } = await relay(stream, false, size);
      expect(text).toBe(chunk([delta('Hi')], null) + chunk([delta(' there', 'stop')], null) + 'data: [DONE]\n\n');
      expect(meter.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 2 });
    }
  });

  it('relays it byte for byte when the client asked', async () => {
    const { text, meter } = await relay(stream, true);
    expect(text).toBe(stream);
    expect(meter.usage).toMatchObject({ completion_tokens: 2 });
  });

  it('keeps the choice of an event that carries both, without the usage', async () => {
    const both = chunk([delta('Hi')], null) + chunk([delta('!', 'stop')], usage) + 'data: [DONE]\n\n';
    const { text, meter } = await relay(both, false);
    expect(text).toBe(
      chunk([delta('Hi')], null) +
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [delta('!', 'stop')] })}\n\n` +
        'data: [DONE]\n\n',
    );
    expect(meter.usage).toMatchObject({ prompt_tokens: 9 });
  });

  it('leaves content that only mentions usage alone', async () => {
    const mention = chunk([delta('the "usage":{ field', 'stop')], null) + 'data: [DONE]\n\n';
    expect((await relay(mention, false)).text).toBe(mention);
  });
});
