/**
 * A real local HTTP server speaking OpenAI's wire format, scripted per test.
 * Only `node:http`: the point is to exercise real sockets, real SSE framing
 * and real disconnects, which an in-process mock of `fetch` cannot.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import { defaultUsage, identityOf, sendEmbeddings, sendImages, streamChat, withReferenceAnswer } from './answers.js';
import { type Behaviour, DEFAULT_ANSWER_TEXT, splitIntoChunks } from './behaviours.js';
import { DEFAULT_EMBEDDING_DIMENSIONS } from './embeddings.js';
import { bearerKey, flattenHeaders, maskKey, now, parseBody, pause, readBody, sendJson } from './http-io.js';
import { formatSseEvent } from './sse.js';
import type { ConnectionClosedEvent, RecordedRequest, Upstream, UpstreamOptions } from './upstream-types.js';
import { TINY_PNG_BASE64, chatCompletion, createId, errorEnvelope, isRecord, modelList } from './wire-format.js';

export type { ConnectionClosedEvent, RecordedRequest, Upstream, UpstreamOptions, WaitForCloseOptions } from './upstream-types.js';

type Route = 'models' | 'chat' | 'images' | 'embeddings';

interface ConnectionRecord {
  openedAt: number;
  closedAt?: number;
}

const DEFAULT_MODELS = ['gpt-4o-mini', 'gpt-4o', 'dall-e-3', 'gpt-image-1'];

const MISSING_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.";

/**
 * Starts a local OpenAI-compatible upstream: `GET /v1/models`,
 * `POST /v1/chat/completions` (JSON and SSE), `POST /v1/images/generations`,
 * `POST /v1/embeddings` (vectors of hashed word and character n-grams) and
 * `GET /files/image.png`. Anything else is a 404 in OpenAI's error shape.
 *
 * @example
 * ```ts
 * import OpenAI from 'openai';
 * import { faults, startUpstream } from '@airlock/testing';
 *
 * const upstream = await startUpstream();
 * const openai = new OpenAI({ apiKey: 'sk-test-1', baseURL: upstream.baseURL, maxRetries: 0 });
 *
 * upstream.next({ type: 'answer', text: 'Hi!' });
 * const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] });
 * completion.choices[0]?.message.content; // 'Hi!'
 *
 * upstream.next(faults.rateLimited(2)); // the next call fails with a 429
 * await upstream.close();
 * ```
 */
export async function startUpstream(options: UpstreamOptions = {}): Promise<Upstream> {
  const host = options.host ?? '127.0.0.1';
  const startingDefault: Behaviour = options.defaultBehaviour ?? { type: 'answer', text: DEFAULT_ANSWER_TEXT };
  const models = options.models ?? DEFAULT_MODELS;
  const acceptedKeys = options.acceptedKeys ? new Set(options.acceptedKeys) : undefined;
  const embeddingDimensions = options.embeddingDimensions ?? DEFAULT_EMBEDDING_DIMENSIONS;

  let defaultBehaviour = startingDefault;
  const queue: Behaviour[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Map<Socket, number>();
  const connections = new Map<number, ConnectionRecord>();
  const closeListeners = new Set<(event: ConnectionClosedEvent) => void>();
  let nextConnectionId = 1;
  let origin = '';

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      // A bug here must not hang the client: fail loudly on the wire instead.
      if (response.headersSent) response.destroy();
      else sendJson(response, 500, errorEnvelope({ message: 'Test upstream failed.', type: 'server_error', code: null }));
    });
  });

  server.on('connection', (socket) => {
    const connectionId = nextConnectionId++;
    const record: ConnectionRecord = { openedAt: now() };
    sockets.set(socket, connectionId);
    connections.set(connectionId, record);
    socket.on('close', () => {
      sockets.delete(socket);
      record.closedAt = now();
      const event = { connectionId, openedAt: record.openedAt, closedAt: record.closedAt };
      for (const listener of [...closeListeners]) listener(event);
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const rawBody = await readBody(request);
    const path = new URL(request.url ?? '/', 'http://upstream').pathname;
    const method = request.method ?? 'GET';
    const body = parseBody(rawBody);
    requests.push({
      method,
      path,
      headers: flattenHeaders(request.headers),
      body,
      receivedAt: now(),
      connectionId: sockets.get(request.socket) ?? 0,
    });
    response.setHeader('x-request-id', createId('req_'));

    // Image URLs must load without a key, as OpenAI's signed image URLs do.
    if (method === 'GET' && path === '/files/image.png') {
      const png = Buffer.from(TINY_PNG_BASE64, 'base64');
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      response.end(png);
      return;
    }

    const key = bearerKey(request.headers.authorization);
    if (key === undefined) {
      sendJson(response, 401, errorEnvelope({ message: MISSING_KEY_MESSAGE, type: 'invalid_request_error', code: null }));
      return;
    }
    if (acceptedKeys && !acceptedKeys.has(key)) {
      const message = `Incorrect API key provided: ${maskKey(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`;
      sendJson(response, 401, errorEnvelope({ message, type: 'invalid_request_error', code: 'invalid_api_key' }));
      return;
    }

    const route = routeOf(method, path, options.embeddings !== false);
    if (route === undefined) {
      const message = `Invalid URL (${method} ${path})`;
      sendJson(response, 404, errorEnvelope({ message, type: 'invalid_request_error', code: null }));
      return;
    }
    if (route !== 'models' && !isRecord(body)) {
      const message =
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)";
      sendJson(response, 400, errorEnvelope({ message, type: 'invalid_request_error', code: null }));
      return;
    }

    const payload = isRecord(body) ? body : {};
    const behaviour = takeBehaviour(route, path, payload);
    const streaming = route === 'chat' && payload.stream === true;
    // The response's 'close' fires on completion and on a client disconnect;
    // either way, pending pauses must stop so no timer outlives the request.
    const closed = new AbortController();
    response.on('close', () => closed.abort());

    switch (behaviour?.type) {
      case 'error':
        sendJson(response, behaviour.status, errorEnvelope(behaviour.error), behaviour.headers);
        return;
      case 'drop':
      case 'stall': {
        if (streaming && behaviour.afterChunks !== undefined) {
          const pieces = splitIntoChunks(behaviour.text ?? DEFAULT_ANSWER_TEXT).slice(0, behaviour.afterChunks);
          await streamChat(response, closed.signal, payload, pieces, { midEvent: behaviour.midEvent === true });
        }
        // Stalling is doing nothing: the socket stays open until the client or close() ends it.
        if (behaviour.type === 'drop') {
          if (behaviour.reset) request.socket.resetAndDestroy();
          else request.socket.destroy();
        }
        return;
      }
      case 'raw':
        response.writeHead(behaviour.status ?? 200, { 'content-type': behaviour.contentType ?? 'text/event-stream; charset=utf-8' });
        response.end(behaviour.body);
        return;
      case 'cut':
      case 'stream-error': {
        if (!streaming) {
          if (behaviour.type === 'stream-error') sendJson(response, 500, errorEnvelope(behaviour.error));
          else sendJson(response, 200, chatCompletion(identityOf(payload), DEFAULT_ANSWER_TEXT, defaultUsage(payload, [DEFAULT_ANSWER_TEXT])));
          return;
        }
        const pieces = splitIntoChunks(behaviour.text ?? DEFAULT_ANSWER_TEXT).slice(0, behaviour.afterChunks ?? 0);
        await streamChat(response, closed.signal, payload, pieces, { midEvent: behaviour.type === 'cut' && behaviour.midEvent === true });
        if (behaviour.type === 'stream-error') response.end(formatSseEvent(errorEnvelope(behaviour.error)));
        else response.end();
        return;
      }
      case 'image':
        sendImages(response, payload, behaviour, origin);
        return;
      case 'answer':
      case 'stream': {
        const pieces = behaviour.type === 'answer' ? splitIntoChunks(behaviour.text, behaviour.chunks) : behaviour.chunks;
        const pacing = {
          delayMs: behaviour.delayMs ?? 0,
          firstChunkDelayMs: behaviour.type === 'stream' ? (behaviour.firstChunkDelayMs ?? 0) : 0,
          usage: behaviour.type === 'answer' ? behaviour.usage : undefined,
          reportUsage: behaviour.reportUsage ?? true,
          complete: true,
        };
        if (streaming) {
          await streamChat(response, closed.signal, payload, pieces, pacing);
          return;
        }
        // A JSON answer takes as long as its stream would have.
        const wait = pacing.firstChunkDelayMs + pacing.delayMs * Math.max(0, pieces.length - 1);
        if (!(await pause(wait, closed.signal))) return;
        const usage = pacing.reportUsage ? (pacing.usage ?? defaultUsage(payload, pieces)) : undefined;
        sendJson(response, 200, chatCompletion(identityOf(payload), pieces.join(''), usage));
        return;
      }
      case undefined:
        if (route === 'models') sendJson(response, 200, modelList(models));
        else if (route === 'images') sendImages(response, payload, { type: 'image' }, origin);
        else if (route === 'embeddings') sendEmbeddings(response, payload, embeddingDimensions);
        return;
    }
  }

  /**
   * The first queued behaviour that applies to this request, else the default
   * when it applies; `undefined` means the route's plain success answer.
   */
  function takeBehaviour(route: Route, path: string, payload: Record<string, unknown>): Behaviour | undefined {
    const index = queue.findIndex((behaviour) => appliesTo(behaviour, route, path));
    if (index !== -1) return queue.splice(index, 1)[0];
    if (appliesTo(defaultBehaviour, route, path)) return withReferenceAnswer(defaultBehaviour, payload);
    return route === 'chat' ? withReferenceAnswer({ type: 'answer', text: DEFAULT_ANSWER_TEXT }, payload) : undefined;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;

  const upstream: Upstream = {
    url: origin,
    baseURL: `${origin}/v1`,
    port,
    requests,
    get openConnections() {
      return sockets.size;
    },
    next(behaviour) {
      queue.push(behaviour);
    },
    setDefault(behaviour) {
      defaultBehaviour = behaviour;
    },
    reset() {
      queue.length = 0;
      // Emptied in place so a test holding `upstream.requests` sees the reset.
      requests.length = 0;
      defaultBehaviour = startingDefault;
      for (const [connectionId, record] of connections) {
        if (record.closedAt !== undefined) connections.delete(connectionId);
      }
    },
    onConnectionClosed(listener) {
      closeListeners.add(listener);
      return () => closeListeners.delete(listener);
    },
    waitForClose(waitOptions = {}) {
      const timeoutMs = waitOptions.timeoutMs ?? 5_000;
      const target = waitOptions.connectionId ?? requests.at(-1)?.connectionId;
      const record = target === undefined ? undefined : connections.get(target);
      if (target !== undefined && record?.closedAt !== undefined) {
        return Promise.resolve({ connectionId: target, openedAt: record.openedAt, closedAt: record.closedAt });
      }
      return new Promise((resolve, reject) => {
        const unsubscribe = upstream.onConnectionClosed((event) => {
          if (target !== undefined && event.connectionId !== target) return;
          clearTimeout(timer);
          unsubscribe();
          resolve(event);
        });
        const timer = setTimeout(() => {
          unsubscribe();
          reject(new Error(`Connection ${target ?? '(any)'} was still open after ${timeoutMs} ms.`));
        }, timeoutMs);
      });
    },
    close() {
      closing ??= (async () => {
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        // server.close() alone waits for keep-alive and stalled sockets forever,
        // and a destroyed socket reports 'close' a tick later: wait for each so
        // openConnections is 0 once close() resolves.
        const socketsClosed = [...sockets.keys()].map(
          (socket) =>
            new Promise<void>((resolve) => {
              socket.once('close', () => resolve());
              socket.destroy();
            }),
        );
        await Promise.all([serverClosed, ...socketsClosed]);
      })();
      return closing;
    },
  };
  return upstream;
}

function routeOf(method: string, path: string, embeddings: boolean): Route | undefined {
  if (method === 'GET' && path === '/v1/models') return 'models';
  if (method === 'POST' && path === '/v1/embeddings' && embeddings) return 'embeddings';
  if (method === 'POST' && path === '/v1/chat/completions') return 'chat';
  if (method === 'POST' && path === '/v1/images/generations') return 'images';
  return undefined;
}

function appliesTo(behaviour: Behaviour, route: Route, path: string): boolean {
  if (behaviour.match?.path !== undefined && behaviour.match.path !== path) return false;
  switch (behaviour.type) {
    case 'answer':
    case 'stream':
      return route === 'chat';
    case 'image':
      return route === 'images';
    case 'cut':
    case 'stream-error':
      return route === 'chat';
    case 'error':
    case 'stall':
    case 'drop':
    case 'raw':
      return true;
  }
}
