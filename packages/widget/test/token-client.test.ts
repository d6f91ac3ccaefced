import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatClient, TokenClient, WidgetError, type WidgetToken } from '../src/index';
import { chunkEvent, readJson, sendJson, startServer, type TestServer } from './support/http-server';

const widget = { id: 'wgt_test', type: 'chat', title: 'Help', theme: 'auto' } as const;

/** A real Airlock-shaped server that counts what it was asked. */
async function startAirlock(options: {
  expiresAt?: () => number;
  /** Sent as the answer's `expiresIn` (seconds) when set. */
  expiresIn?: number;
  /** The token text; default `token-<n>`. */
  token?: (mint: number) => string;
  tokenDelay?: number;
  chat?: (token: string, response: ServerResponse) => void;
}) {
  const state = { mints: 0, tokenBodies: [] as unknown[], chatTokens: [] as string[] };
  const server = await startServer(async (request: IncomingMessage, response: ServerResponse) => {
    if (request.url === '/airlock/token') {
      state.tokenBodies.push(await readJson(request));
      state.mints += 1;
      const token = options.token?.(state.mints) ?? `token-${state.mints}`;
      if (options.tokenDelay) await new Promise((resolve) => setTimeout(resolve, options.tokenDelay));
      const expiresAt = options.expiresAt?.() ?? Date.now() + 600_000;
      sendJson(response, 200, { token, expiresAt, ...(options.expiresIn !== undefined && { expiresIn: options.expiresIn }), widget });
      return;
    }
    if (request.url === '/airlock/v1/chat/completions') {
      const token = (request.headers.authorization ?? '').replace(/^Bearer /, '');
      state.chatTokens.push(token);
      await readJson(request);
      options.chat?.(token, response);
      return;
    }
    sendJson(response, 404, { error: { message: 'Not found.', type: 'airlock_error', code: 'not_found' } });
  });
  servers.push(server);
  return { state, apiBase: `${server.url}/airlock` };
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

const expired = (response: ServerResponse): void =>
  sendJson(response, 401, { error: { message: 'This token has expired.', type: 'airlock_error', code: 'token_expired' } });
const streamHello = (response: ServerResponse): void => {
  response.writeHead(200, { 'Content-Type': 'text/event-stream' });
  response.end(chunkEvent('Hello') + 'data: [DONE]\n\n');
};

describe('TokenClient', () => {
  it('can be imported where there is no window or document (SSR)', () => {
    expect(typeof window).toBe('undefined');
    expect(typeof document).toBe('undefined');
  });

  it('mints with the widget id and a random visitor id, and exposes the public config', async () => {
    const airlock = await startAirlock({});
    const refreshed: WidgetToken[] = [];
    const tokens = new TokenClient({ widgetId: 'wgt_test', apiBase: airlock.apiBase, fetch, onTokenRefreshed: (token) => refreshed.push(token) });
    expect(await tokens.getToken()).toBe('token-1');
    expect(airlock.state.tokenBodies).toEqual([{ widgetId: 'wgt_test', visitorId: expect.stringMatching(/^[0-9a-f-]{36}$/) }]);
    expect(tokens.widget).toEqual(widget);
    expect(refreshed.map((token) => token.token)).toEqual(['token-1']);
  });

  it('makes one request for concurrent callers (single flight)', async () => {
    const airlock = await startAirlock({ tokenDelay: 50 });
    const tokens = new TokenClient({ widgetId: 'wgt_test', apiBase: airlock.apiBase, fetch });
    const results = await Promise.all([tokens.getToken(), tokens.getToken(), tokens.getToken()]);
    expect(results).toEqual(['token-1', 'token-1', 'token-1']);
    expect(airlock.state.mints).toBe(1);
  });

  it('reuses a token until shortly before it expires, then renews it once for concurrent callers', async () => {
    let clock = 1_000_000;
    const airlock = await startAirlock({ expiresIn: 100, tokenDelay: 20 });
    const tokens = new TokenClient({ widgetId: 'wgt_test', apiBase: airlock.apiBase, fetch, now: () => clock, renewalMargin: 30_000 });
    expect(await tokens.getToken()).toBe('token-1');
    clock += 69_999;
    expect(await tokens.getToken()).toBe('token-1');
    expect(airlock.state.mints).toBe(1);
    clock += 1;
    expect(await Promise.all([tokens.getToken(), tokens.getToken()])).toEqual(['token-2', 'token-2']);
    expect(airlock.state.mints).toBe(2);
  });

  for (const [name, skew] of [
    ['10 minutes fast', 10 * 60_000],
    ['10 minutes slow', -10 * 60_000],
  ] as const) {
    it(`schedules renewal from the lifetime the server states, on the monotonic clock, with the device clock ${name}`, async () => {
      let monotonic = 5_000;
      // The server's clock is the device's minus the skew: its expiresAt says nothing usable on this device.
      const airlock = await startAirlock({ expiresAt: () => Date.now() - skew + 600_000, expiresIn: 600 });
      const tokens = new TokenClient({ widgetId: 'wgt_test', apiBase: airlock.apiBase, fetch, now: () => monotonic });
      for (let message = 0; message < 30; message += 1) {
        expect(await tokens.getToken()).toBe('token-1');
        monotonic += 18_000;
      }
      // 30 × 18 s = 9 minutes in: still the first token.
      expect(airlock.state.mints).toBe(1);
      monotonic = 5_000 + 570_000;
      expect(await tokens.getToken()).toBe('token-2');
      expect(airlock.state.mints).toBe(2);
    });
  }

  it("without expiresIn, takes the lifetime from the token's own exp - iat", async () => {
    let monotonic = 0;
    // A JWT-shaped token issued by a server whose clock is 10 minutes behind the device's.
    const issuedAt = Math.floor(Date.now() / 1000) - 600;
    const jwt = (mint: number) => `e30.${Buffer.from(JSON.stringify({ iat: issuedAt, exp: issuedAt + 300, n: mint })).toString('base64url')}.sig`;
    const airlock = await startAirlock({ expiresAt: () => (issuedAt + 300) * 1000, token: jwt });
    const tokens = new TokenClient({ widgetId: 'wgt_test', apiBase: airlock.apiBase, fetch, now: () => monotonic });
    const first = await tokens.getToken();
    monotonic = 269_999;
    expect(await tokens.getToken()).toBe(first);
    monotonic = 270_000;
    expect(await tokens.getToken()).not.toBe(first);
    expect(airlock.state.mints).toBe(2);
  });

  it('reports sign_in_required when getToken resolves null (nobody signed in)', async () => {
    const tokens = new TokenClient({ widgetId: 'wgt_test', apiBase: 'http://127.0.0.1:9', fetch, getToken: async () => null });
    await expect(tokens.getToken()).rejects.toMatchObject({ name: 'WidgetError', code: 'sign_in_required' });
  });

  it('on token_expired renews once and retries the turn', async () => {
    const airlock = await startAirlock({
      chat: (token, response) => (token === 'token-1' ? expired(response) : streamHello(response)),
    });
    const tokens = new TokenClient({ widgetId: 'wgt_test', apiBase: airlock.apiBase, fetch });
    const chat = new ChatClient({ apiBase: airlock.apiBase, tokens, fetch });
    const deltas: string[] = [];
    for await (const delta of chat.stream([{ role: 'user', content: 'Hi' }])) deltas.push(delta);
    expect(deltas).toEqual(['Hello']);
    expect(airlock.state.chatTokens).toEqual(['token-1', 'token-2']);
    expect(airlock.state.mints).toBe(2);
  });

  it('gives up after one renewal when the new token is refused too', async () => {
    const airlock = await startAirlock({ chat: (_token, response) => expired(response) });
    const tokens = new TokenClient({ widgetId: 'wgt_test', apiBase: airlock.apiBase, fetch });
    const chat = new ChatClient({ apiBase: airlock.apiBase, tokens, fetch });
    const failure = await (async () => {
      for await (const _delta of chat.stream([{ role: 'user', content: 'Hi' }]));
    })().catch((error: unknown) => error);
    expect(WidgetError.isInstance(failure)).toBe(true);
    expect(failure).toMatchObject({ code: 'token_expired', status: 401 });
    expect(airlock.state.chatTokens).toEqual(['token-1', 'token-2']);
  });

  it('turns an error response into a WidgetError with code and status', async () => {
    const server = await startServer((_request, response) =>
      sendJson(response, 403, { error: { message: 'Origin not allowed.', type: 'airlock_error', code: 'origin_not_allowed' } }),
    );
    servers.push(server);
    const tokens = new TokenClient({ widgetId: 'wgt_test', apiBase: server.url, fetch });
    await expect(tokens.getToken()).rejects.toMatchObject({ name: 'WidgetError', code: 'origin_not_allowed', status: 403 });
  });

  it('reports an unreachable server as a WidgetError', async () => {
    const server = await startServer(() => {});
    await server.close();
    const tokens = new TokenClient({ widgetId: 'wgt_test', apiBase: server.url, fetch });
    await expect(tokens.getToken()).rejects.toMatchObject({ code: 'upstream_unavailable' });
  });

  it('uses getToken instead of minting for a private widget', async () => {
    const airlock = await startAirlock({ chat: (_token, response) => streamHello(response) });
    let calls = 0;
    const tokens = new TokenClient({
      widgetId: 'wgt_test',
      apiBase: airlock.apiBase,
      fetch,
      getToken: async () => ({ token: `private-${++calls}`, expiresAt: Date.now() + 600_000 }),
    });
    const chat = new ChatClient({ apiBase: airlock.apiBase, tokens, fetch });
    for await (const _delta of chat.stream([{ role: 'user', content: 'Hi' }]));
    expect(airlock.state.chatTokens).toEqual(['private-1']);
    expect(airlock.state.mints).toBe(0);
  });
});
