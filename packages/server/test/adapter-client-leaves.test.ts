import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { toNodeListener } from '../src/adapters/node.js';
import { clientSignal } from '../src/http/request-parts.js';
import { createAirlock } from '../src/airlock.js';

// A client that leaves before the response's headers were sent must abort
// the request's signal, so whatever the handler still has to do (an
// upstream call it has not started yet, say) is not done for nobody.

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

function listen(target: Server): Promise<number> {
  return new Promise((resolve) => target.listen(0, '127.0.0.1', () => resolve((target.address() as AddressInfo).port)));
}

// Sends one POST, leaves once the handler has started, and resolves with
// whether the handler's signal was aborted when it looked, later.
async function leaveEarly(handlerFor: (started: () => void, seen: (aborted: boolean) => void) => (request: Request) => Promise<Response>, body: string) {
  let started!: () => void;
  const began = new Promise<void>((resolve) => (started = resolve));
  let seen!: (aborted: boolean) => void;
  const result = new Promise<boolean>((resolve) => (seen = resolve));
  server = createServer(toNodeListener(handlerFor(started, seen)));
  const port = await listen(server);
  const client = httpRequest({ port, host: '127.0.0.1', method: 'POST', path: '/airlock/x', headers: { 'content-type': 'application/json' } });
  client.on('error', () => {});
  client.end(body);
  await began;
  client.destroy();
  return result;
}

describe('the Node adapter, when the client leaves before the headers', () => {
  for (const [name, size] of [
    ['a small body', 20],
    ['a body larger than the pre-read', 300 * 1024],
  ] as const) {
    it(`aborts the signal of a handler that looks after the client left (${name})`, async () => {
      const aborted = await leaveEarly(
        (started, seen) => async (request) => {
          await request.arrayBuffer();
          started();
          // Busy elsewhere (a summary call, say) while the client goes; the signal is looked at afterwards.
          await new Promise((resolve) => setTimeout(resolve, 300));
          seen(request.signal.aborted);
          return new Response('too late');
        },
        JSON.stringify({ pad: 'x'.repeat(size) }),
      );
      expect(aborted).toBe(true);
    });
  }

  it('aborts the client signal airlock.fetch reads (request parts)', async () => {
    const airlock = createAirlock({
      dev: true,
      dataDir: '/tmp/rt/leave-' + process.pid,
      databaseUrl: 'sqlite::memory:',
      logger: { debug() {}, info() {}, warn() {}, error() {} } as never,
    });
    const reads = airlock.fetch as unknown as object;
    const aborted = await leaveEarly(
      (started, seen) =>
        Object.assign(
          async (request: Request) => {
            started();
            await new Promise((resolve) => setTimeout(resolve, 300));
            seen(clientSignal(request).aborted);
            return new Response('too late');
          },
          Object.fromEntries(Object.getOwnPropertySymbols(reads).map((symbol) => [symbol, (reads as Record<symbol, unknown>)[symbol]])),
        ),
      '{"hello":"world"}',
    );
    await airlock.close();
    expect(aborted).toBe(true);
  });
});
