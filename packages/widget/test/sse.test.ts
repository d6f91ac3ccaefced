import { describe, expect, it } from 'vitest';
import { SseParser, WidgetError, readChatStream } from '../src/index';
import { chunkEvent } from './support/http-server';

/** A body that delivers `bytes` in the given pieces, as a network would. */
function bodyOf(pieces: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(piece);
      controller.close();
    },
  });
}

function splitAt(bytes: Uint8Array, ...cuts: number[]): Uint8Array[] {
  const bounds = [0, ...cuts, bytes.length];
  return bounds.slice(1).map((end, index) => bytes.slice(bounds[index], end));
}

async function collect(body: ReadableStream<Uint8Array>): Promise<string[]> {
  const deltas: string[] = [];
  for await (const delta of readChatStream(body)) deltas.push(delta);
  return deltas;
}

const encoder = new TextEncoder();
const roleChunk = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] })}\n\n`;
const finishChunk = `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`;
// Multi-byte characters (2-byte é, 4-byte emoji) so some cuts fall inside a character.
const stream = roleChunk + chunkEvent('Hé') + ': heartbeat\n\n' + chunkEvent('llo 👋') + chunkEvent(' world') + finishChunk + 'data: [DONE]\n\n';

describe('readChatStream', () => {
  it('yields the same text wherever the bytes are split', async () => {
    const bytes = encoder.encode(stream);
    for (let cut = 1; cut < bytes.length; cut += 1) {
      const deltas = await collect(bodyOf(splitAt(bytes, cut)));
      expect(deltas.join(''), `split at byte ${cut}`).toBe('Héllo 👋 world');
    }
    const oneByteAtATime = Array.from(bytes, (byte) => Uint8Array.of(byte));
    expect(await collect(bodyOf(oneByteAtATime))).toEqual(['Hé', 'llo 👋', ' world']);
  });

  it('accepts CRLF and CR line endings, including a CRLF split between chunks', async () => {
    const crlf = encoder.encode(stream.replaceAll('\n', '\r\n'));
    const cr = encoder.encode(stream.replaceAll('\n', '\r'));
    for (const bytes of [crlf, cr]) {
      for (let cut = 1; cut < bytes.length; cut += 7) {
        expect((await collect(bodyOf(splitAt(bytes, cut)))).join('')).toBe('Héllo 👋 world');
      }
    }
  });

  it('stops at [DONE] and ignores anything after it', async () => {
    const body = bodyOf([encoder.encode(chunkEvent('a') + 'data: [DONE]\n\n' + chunkEvent('b'))]);
    expect(await collect(body)).toEqual(['a']);
  });

  it('throws the error event as a WidgetError after the text before it', async () => {
    const error = { error: { message: 'Slow down.', type: 'airlock_error', code: 'upstream_rate_limited' } };
    const body = bodyOf([encoder.encode(chunkEvent('partial') + `data: ${JSON.stringify(error)}\n\n`)]);
    const deltas: string[] = [];
    const failure = await (async () => {
      for await (const delta of readChatStream(body)) deltas.push(delta);
    })().catch((caught: unknown) => caught);
    expect(deltas).toEqual(['partial']);
    expect(WidgetError.isInstance(failure)).toBe(true);
    expect(failure).toMatchObject({ name: 'WidgetError', code: 'upstream_rate_limited', message: 'Slow down.' });
  });

  it('maps an unknown error code to internal', async () => {
    const body = bodyOf([encoder.encode(`data: {"error":{"message":"?","code":"made_up"}}\n\n`)]);
    await expect(collect(body)).rejects.toMatchObject({ code: 'internal' });
  });

  it('reports a stream cut off before [DONE]', async () => {
    await expect(collect(bodyOf([encoder.encode(chunkEvent('half'))]))).rejects.toMatchObject({
      code: 'upstream_unavailable',
    });
  });

  it('reports a chunk that is not JSON', async () => {
    await expect(collect(bodyOf([encoder.encode('data: {not json\n\n')]))).rejects.toMatchObject({ code: 'internal' });
  });
});

describe('SseParser', () => {
  it('joins multi-line data with newlines and dispatches on the blank line', () => {
    const parser = new SseParser();
    expect(parser.push('data: first\ndata:second\n')).toEqual([]);
    expect(parser.push('data:  third\n\n')).toEqual([{ event: 'message', data: 'first\nsecond\n third' }]);
  });

  it('ignores comments and keeps event and id fields', () => {
    const parser = new SseParser();
    const events = parser.push(': heartbeat\n\n:another\nevent: update\nid: 7\ndata: x\n\ndata: y\n\n');
    expect(events).toEqual([
      { event: 'update', data: 'x', id: '7' },
      { event: 'message', data: 'y', id: '7' },
    ]);
  });

  it('does not dispatch an event before its blank line, and counts a CRLF split across chunks once', () => {
    const parser = new SseParser();
    expect(parser.push('data: first\r')).toEqual([]);
    // Were this LF taken for a second (blank) line, "first" would be dispatched on its own.
    expect(parser.push('\ndata: second\r')).toEqual([]);
    expect(parser.push('\n\r\n')).toEqual([{ event: 'message', data: 'first\nsecond' }]);
  });
});
