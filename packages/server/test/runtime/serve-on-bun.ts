// Run by Bun (never by Node): the server's built core served with Bun.serve, no Node
// adapter in between. bun.test.ts starts it with one JSON argument (ServeOnBunInput) and
// reads one JSON line (ServeOnBunReady) from stdout; SIGTERM closes it.
//
// It imports the built dist/index.js, what npm users install, since that is what the claim
// is about (Bun could run the sources too, but they reach the other workspace packages
// through those packages' dist/ all the same).

import type * as Core from '../../src/index.js';

/** The part of Bun's API this script uses (the repository has no Bun types). */
declare const Bun: {
  version: string;
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: { requestIP(request: Request): { address: string } | null }): Promise<Response>;
  }): {
    port: number;
    stop(closeActiveConnections?: boolean): Promise<void>;
  };
};

export interface ServeOnBunInput {
  databaseUrl: string;
  masterKeys: string;
  upstreamApiKey: string;
  upstreamBaseURL: string;
  allowedOrigin: string;
  /** Public mints allowed per client address and minute. */
  mintsPerAddress: number;
}

export interface ServeOnBunReady {
  port: number;
  widgetId: string;
  bunVersion: string;
}

const input = JSON.parse(process.argv[2] ?? '{}') as ServeOnBunInput;
const core = (await import(new URL('../../dist/index.js', import.meta.url).href)) as typeof Core;

const airlock = core.createAirlock({
  databaseUrl: input.databaseUrl,
  masterKeys: input.masterKeys,
  upstream: { apiKey: input.upstreamApiKey, baseURL: input.upstreamBaseURL },
  // Warnings and errors go to stderr, which bun.test.ts shows when something fails.
  logger: core.createLogger({ level: 'warn' }),
  mintRateLimits: { perAddress: { limit: input.mintsPerAddress, windowSeconds: 60 } },
});
await airlock.ready();
const widget = await airlock.store.createWidget({
  name: 'runtime',
  type: 'chat',
  allowedOrigins: [input.allowedOrigin],
  presentation: { title: 'Runtime', theme: 'auto' },
  behaviour: { model: 'gpt-4o-mini' },
});

// Bun gives the client's address through the server, not the request: it becomes the
// request's `ip` (ServerRequest), as Airlock's Node adapters set it from the socket.
const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch: (request, bunServer) => airlock.fetch(Object.assign(request, { ip: bunServer.requestIP(request)?.address })),
});
const ready: ServeOnBunReady = { port: server.port, widgetId: widget.id, bunVersion: Bun.version };
console.log(JSON.stringify(ready));

process.once('SIGTERM', () => {
  void server
    .stop(true)
    .then(() => airlock.close())
    .then(() => process.exit(0));
});
