// The Node adapter writes a Web body whose last chunk and end arrive together
// (a translated event stream ends that way) as one whole, well-framed
// response: on Node 24, ending a corked response sent its last chunk first.
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { serve } from '../src/adapters/node.js';

function rawGet(url: string): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const outgoing = request(url, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    outgoing.on('error', (error) => resolve({ status: 0, body: '', error: error.message }));
    outgoing.end();
  });
}

describe('the Node adapter and Web bodies', () => {
  it('sends a body whose chunk and end come in the same turn, then its end, and nothing after', async () => {
    const events = 'data: {"type":"response.completed"}\n\n';
    const server = await serve(
      async () =>
        new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              setTimeout(() => {
                controller.enqueue(new TextEncoder().encode(events));
                controller.close();
              }, 10);
            },
          }),
          { headers: { 'content-type': 'text/event-stream' } },
        ),
      { port: 0, host: '127.0.0.1' },
    );
    try {
      for (let round = 0; round < 3; round += 1) {
        expect(await rawGet(`${server.url.replace('localhost', '127.0.0.1')}/stream`)).toEqual({ status: 200, body: events });
      }
    } finally {
      await server.close();
    }
  });
});
