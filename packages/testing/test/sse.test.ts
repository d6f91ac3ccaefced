import { describe, expect, it } from 'vitest';

import { formatSseEvent, readSse, splitIntoChunks } from '../src/index.js';

function responseFrom(parts: string[], onCancel?: () => void): Response {
  const encoder = new TextEncoder();
  let index = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const part = parts[index++];
      if (part === undefined) controller.close();
      else controller.enqueue(encoder.encode(part));
    },
    cancel() {
      onCancel?.();
    },
  });
  return new Response(body);
}

async function collect(response: Response): Promise<string[]> {
  const events: string[] = [];
  for await (const data of readSse(response)) events.push(data);
  return events;
}

describe('readSse', () => {
  it('yields data payloads split across reads, skipping comments and other fields', async () => {
    const response = responseFrom([': keep-alive\n\nevent: x\ndata: {"a"', ':1}\n\nda', 'ta: [DONE]\n\n']);
    expect(await collect(response)).toEqual(['{"a":1}', '[DONE]']);
  });

  it('handles CRLF line endings split between reads, multi-line data and a missing final blank line', async () => {
    const response = responseFrom(['data: one\r', '\ndata: two\r\n\r\n', 'data:three']);
    expect(await collect(response)).toEqual(['one\ntwo', 'three']);
  });

  it('round-trips formatSseEvent', async () => {
    const response = responseFrom([formatSseEvent({ n: 1 }), formatSseEvent('[DONE]')]);
    expect(await collect(response)).toEqual(['{"n":1}', '[DONE]']);
  });

  it('cancels the body when the consumer stops early', async () => {
    let cancelled = false;
    const response = responseFrom(['data: 1\n\n', 'data: 2\n\n', 'data: 3\n\n'], () => {
      cancelled = true;
    });
    for await (const data of readSse(response)) {
      expect(data).toBe('1');
      break;
    }
    expect(cancelled).toBe(true);
  });
});

describe('splitIntoChunks', () => {
  it('splits by words, keeping whitespace with the word before it', () => {
    expect(splitIntoChunks('Hello  big\nworld ')).toEqual(['Hello  ', 'big\n', 'world ']);
    expect(splitIntoChunks('')).toEqual([]);
  });

  it('splits into a given number of pieces that join back to the text', () => {
    expect(splitIntoChunks('abcdefg', 3)).toEqual(['ab', 'cd', 'efg']);
    expect(splitIntoChunks('ab', 5)).toEqual(['a', 'b']);
    expect(splitIntoChunks('abc', 0)).toEqual(['abc']);
  });
});
