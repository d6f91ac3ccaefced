import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WidgetRecord } from '../src/stores/store.js';
import { allowedOrigin, eventually, sseEvents, startProxyHarness, streamedText, type ProxyHarness } from './proxy-helpers.js';

// A client that reads slower than the upstream writes is not an upstream
// that went silent: its healthy stream must not be cut by the idle limit.
// Its own limit is the slow-client one, with what is buffered for it bounded.

const hello = { messages: [{ role: 'user', content: 'Hello there' }], stream: true };
// Far more than the relay buffers for a slow client (64 KiB here).
const longText = 'word '.repeat(200_000);

let harness: ProxyHarness;
let widget: WidgetRecord;

beforeAll(async () => {
  harness = await startProxyHarness({
    upstream: { idleTimeoutMs: 500, heartbeatIntervalMs: 100, clientBufferBytes: 64 * 1024, slowClientTimeoutMs: 2_000 },
  });
  widget = await harness.widget();
});

afterAll(async () => {
  await harness.close();
});

/** POSTs a streamed chat through node:http and hands back the response unread (paused). */
async function pausedStream(token: string): Promise<IncomingMessage> {
  const url = new URL(`${harness.url}/airlock/v1/chat/completions`);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', origin: allowedOrigin } },
      (response) => {
        response.pause();
        resolve(response);
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(hello));
  });
}

function readAll(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (text += chunk));
    response.on('end', () => resolve(text));
    response.on('error', reject);
    response.resume();
  });
}

/** A streamed chat read through the Web body (as runtimes other than Node read it), exactly as fast as the test pulls. */
async function webStream(token: string): Promise<ReadableStreamDefaultReader<Uint8Array>> {
  const response = await harness.airlock.fetch(
    new Request('http://localhost/airlock/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', origin: allowedOrigin },
      body: JSON.stringify(hello),
    }),
  );
  return response.body!.getReader();
}

describe('slow clients', () => {
  it('does not cut a stream whose reader pauses longer than the idle limit while the upstream keeps writing', async () => {
    const text = 'A complete answer for a slow reader, paced like a model.';
    harness.upstream.next({ type: 'answer', text, chunks: 10, delayMs: 30 });
    const reader = await webStream(await harness.token(widget));
    const parts: Uint8Array[] = [(await reader.read()).value!];
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) parts.push(chunk.value);
    const events = await sseEvents(new Response(new Blob(parts as BlobPart[]).stream()));
    expect(streamedText(events)).toEqual({ text });
    expect(events.at(-1)).toBe('[DONE]');
  });

  it('gives up on a reader that leaves its full buffer untaken past the slow-client limit, and stops the upstream', async () => {
    harness.upstream.next({ type: 'answer', text: longText, chunks: 500, delayMs: 1 });
    const started = Date.now();
    const reader = await webStream(await harness.token(widget));
    await reader.read();
    const closed = await harness.upstream.waitForClose({ timeoutMs: 6_000 });
    // Its own limit (2 s), not the far shorter idle limit.
    expect(closed.closedAt - started).toBeGreaterThanOrEqual(1_900);
    expect(closed.closedAt - started).toBeLessThan(5_000);
    await expect(
      (async () => {
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read());
      })(),
    ).rejects.toThrow();
  });

  it('delivers a long answer whole to a Node client that stops reading for longer than the idle limit', async () => {
    // Paced (the stand-in shares this process: unpaced, it would hold the event loop for the whole answer).
    harness.upstream.next({ type: 'answer', text: longText, chunks: 500, delayMs: 1 });
    const response = await pausedStream(await harness.token(widget));
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const raw = await readAll(response);
    harness.seen.push(raw);
    const events = await sseEvents(new Response(raw));
    const { text, error } = streamedText(events);
    expect({ length: text.length, error }).toEqual({ length: longText.length, error: undefined });
    expect(text).toBe(longText);
    expect(events.at(-1)).toBe('[DONE]');
  });

  it('keeps serving, with no socket left open', async () => {
    harness.upstream.next({ type: 'answer', text: 'Still here.' });
    expect(streamedText(await sseEvents(await harness.post('/v1/chat/completions', await harness.token(widget), hello))).text).toBe('Still here.');
    await eventually(async () => harness.upstream.openConnections === 0 && (await harness.serverConnections()) === 0, 10_000);
  }, 15_000);
});
