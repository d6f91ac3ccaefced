/**
 * A real local HTTP server speaking OpenAI's wire format, scripted per test.
 * Only `node:http`: the point is to exercise real sockets, real SSE framing
 * and real disconnects, which an in-process mock of `fetch` cannot.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { type AnswerUsage, type Behaviour, type ImageBehaviour, DEFAULT_ANSWER_TEXT, splitIntoChunks } from './behaviours.js';
import { DEFAULT_EMBEDDING_DIMENSIONS, embeddingsResponse, isEmbeddingsProblem, parseEmbeddingsRequest } from './embeddings.js';
import { formatSseEvent } from './sse.js';
import {
  FALLBACK_MODEL,
  TINY_PNG_BASE64,
  approximatePromptTokens,
  chatCompletion,
  chatCompletionChunk,
  createId,
  errorEnvelope,
  isRecord,
  modelList,
  unixSeconds,
  type CompletionIdentity,
} from './wire-format.js';

/**
 * Options for {@link startUpstream}.
 *
 * @example
 * ```ts
 * const upstream = await startUpstream({ acceptedKeys: ['sk-test-good'], models: ['gpt-4o-mini'] });
 * ```
 */
export interface UpstreamOptions {
  /** Port to listen on. Default: `0` (a free port chosen by the system). */
  port?: number;
  /** Interface to listen on. Default: `'127.0.0.1'`. */
  host?: string;
  /**
   * What to do when no queued behaviour applies. Default: answer
   * {@link DEFAULT_ANSWER_TEXT}, streamed one word per chunk when asked to stream.
   *
   * A default `answer` (this one, the built-in one or one set with
   * {@link Upstream.setDefault}; never one queued with {@link Upstream.next})
   * shows what Airlock retrieved when a system message of the request holds
   * Airlock's reference material: it then answers
   * `From your files (stand-in answer): <first reference's source>: <about 200 characters of its text>`.
   */
  defaultBehaviour?: Behaviour;
  /**
   * When set, a request whose `Authorization: Bearer` key is not in this list
   * gets 401 `invalid_api_key`, as OpenAI answers an unknown key.
   * Default: any key is accepted (a missing key is still refused).
   */
  acceptedKeys?: string[];
  /** Model ids listed by `GET /v1/models`. Default: `['gpt-4o-mini', 'gpt-4o', 'dall-e-3', 'gpt-image-1']`. */
  models?: string[];
  /**
   * Whether `POST /v1/embeddings` exists: `false` answers it 404 like an
   * unknown route, as many OpenAI-compatible servers without embeddings do.
   * Default: `true`.
   */
  embeddings?: boolean;
  /**
   * Length of the vectors `POST /v1/embeddings` returns when the request does
   * not ask for `dimensions`. Default: {@link DEFAULT_EMBEDDING_DIMENSIONS} (256).
   */
  embeddingDimensions?: number;
}

/**
 * A request as the upstream received it, recorded before it was acted on.
 *
 * @example
 * ```ts
 * expect(upstream.requests[0]?.headers.authorization).toBe('Bearer sk-test-one');
 * ```
 */
export interface RecordedRequest {
  method: string;
  /** The path without its query string, e.g. `'/v1/chat/completions'`. */
  path: string;
  /** Request headers, names lower-cased; repeated headers joined with `', '`. */
  headers: Record<string, string>;
  /** The parsed JSON body; the raw text when it is not JSON; `undefined` when empty. */
  body: unknown;
  /** When the body had been read, in ms since the epoch (sub-millisecond precision). */
  receivedAt: number;
  /** Which connection carried it; see {@link Upstream.waitForClose}. */
  connectionId: number;
}

/**
 * Reported when a client connection to the upstream closes.
 *
 * @example
 * ```ts
 * upstream.onConnectionClosed((event) => console.log(event.closedAt - event.openedAt));
 * ```
 */
export interface ConnectionClosedEvent {
  connectionId: number;
  /** In ms since the epoch (sub-millisecond precision), comparable with `Date.now()`. */
  openedAt: number;
  /** In ms since the epoch (sub-millisecond precision), comparable with `Date.now()`. */
  closedAt: number;
}

/**
 * Options for {@link Upstream.waitForClose}.
 *
 * @example
 * ```ts
 * await upstream.waitForClose({ connectionId: upstream.requests[0]!.connectionId, timeoutMs: 1_000 });
 * ```
 */
export interface WaitForCloseOptions {
  /** The connection to wait for. Default: the one that carried the latest recorded request, or else the next to close. */
  connectionId?: number;
  /** Reject when the connection is still open after this long, in ms. Default: 5000. */
  timeoutMs?: number;
}

/**
 * A running test upstream. See {@link startUpstream}.
 *
 * @example
 * ```ts
 * const upstream: Upstream = await startUpstream();
 * const openai = new OpenAI({ apiKey: 'sk-test-1', baseURL: upstream.baseURL });
 * ```
 */
export interface Upstream {
  /** `'http://127.0.0.1:PORT'`. */
  readonly url: string;
  /** `'http://127.0.0.1:PORT/v1'`, what OpenAI clients take as `baseURL`. */
  readonly baseURL: string;
  readonly port: number;
  /** Every request received since start (or the last {@link Upstream.reset}), oldest first. */
  readonly requests: readonly RecordedRequest[];
  /** Client sockets open right now. */
  readonly openConnections: number;
  /** Queues `behaviour` for the next request it applies to (first in, first out). */
  next(behaviour: Behaviour): void;
  /** Replaces the behaviour used when nothing queued applies. */
  setDefault(behaviour: Behaviour): void;
  /** Clears the queue and the recorded requests, and restores the starting default. */
  reset(): void;
  /** Calls `listener` whenever a connection closes; returns a function that unsubscribes. */
  onConnectionClosed(listener: (event: ConnectionClosedEvent) => void): () => void;
  /**
   * Resolves when a connection closes (immediately if it already has), so a
   * test can measure how fast an aborted request released the upstream.
   */
  waitForClose(options?: WaitForCloseOptions): Promise<ConnectionClosedEvent>;
  /** Stops listening and destroys every open socket, stalled ones included. */
  close(): Promise<void>;
}

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
        sendImages(response, payload, behaviour);
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
        else if (route === 'images') sendImages(response, payload, { type: 'image' });
        else if (route === 'embeddings') sendEmbeddings(response, payload);
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

  async function streamChat(
    response: ServerResponse,
    signal: AbortSignal,
    body: Record<string, unknown>,
    pieces: readonly string[],
    pacing: {
      delayMs?: number;
      firstChunkDelayMs?: number;
      usage?: AnswerUsage | undefined;
      reportUsage?: boolean;
      complete?: boolean;
      midEvent?: boolean;
    },
  ): Promise<void> {
    const identity = identityOf(body);
    const includeUsage = pacing.reportUsage !== false && isRecord(body.stream_options) && body.stream_options.include_usage === true;
    if (!(await pause(pacing.firstChunkDelayMs ?? 0, signal))) return;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    let written = write(response, chatCompletionChunk(identity, { delta: { role: 'assistant', content: '' }, finish_reason: null }, includeUsage));
    for (const [index, piece] of pieces.entries()) {
      if (index > 0 && !(await pause(pacing.delayMs ?? 0, signal))) return;
      written = write(response, chatCompletionChunk(identity, { delta: { content: piece }, finish_reason: null }, includeUsage));
    }
    if (!pacing.complete) {
      if (pacing.midEvent) {
        const next = formatSseEvent(chatCompletionChunk(identity, { delta: { content: 'unfinished' }, finish_reason: null }, includeUsage));
        written = new Promise((resolve) => response.write(next.slice(0, Math.floor(next.length / 2)), () => resolve()));
      }
      // Callers about to drop the socket need these bytes on the wire first.
      await written;
      return;
    }
    // end() follows, which flushes them: nothing waits for these writes.
    void write(response, chatCompletionChunk(identity, { delta: {}, finish_reason: 'stop' }, includeUsage));
    if (includeUsage) {
      void write(response, chatCompletionChunk(identity, undefined, true, pacing.usage ?? defaultUsage(body, pieces)));
    }
    response.end(formatSseEvent('[DONE]'));
  }

  function sendImages(response: ServerResponse, body: Record<string, unknown>, behaviour: ImageBehaviour): void {
    const count = typeof body.n === 'number' && body.n > 0 ? Math.floor(body.n) : 1;
    const b64 = behaviour.b64 ?? body.response_format === 'b64_json';
    const data = behaviour.urls
      ? behaviour.urls.map((url) => ({ url }))
      : Array.from({ length: count }, () => (b64 ? { b64_json: TINY_PNG_BASE64 } : { url: `${origin}/files/image.png` }));
    sendJson(response, 200, { created: unixSeconds(), data });
  }

  function sendEmbeddings(response: ServerResponse, body: Record<string, unknown>): void {
    const parsed = parseEmbeddingsRequest(body, embeddingDimensions);
    if (isEmbeddingsProblem(parsed)) {
      sendJson(response, 400, errorEnvelope({ message: parsed.message, type: 'invalid_request_error', code: null, param: parsed.param }));
      return;
    }
    sendJson(response, 200, embeddingsResponse(parsed));
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

// How Airlock's knowledge step opens the system message that hands passages to the model.
const REFERENCE_MARKER = 'Reference material from the site owner\u2019s own files follows.';
const QUOTED_CHARACTERS = 200;

/**
 * A default answer that shows the retrieved passages, so a demo or a test
 * without a real model still sees what the model was given: the first
 * reference of Airlock's reference message, quoted. Anything else is
 * answered as configured.
 */
function withReferenceAnswer(behaviour: Behaviour, body: Record<string, unknown>): Behaviour {
  if (behaviour.type !== 'answer') return behaviour;
  const reference = firstReference(body);
  if (!reference) return behaviour;
  return { ...behaviour, text: `From your files (stand-in answer): ${reference.source}: ${excerpt(reference.text)}` };
}

/** The first `<reference n="…" source="…">` block of a system message that starts with the marker. */
function firstReference(body: Record<string, unknown>): { source: string; text: string } | undefined {
  if (!Array.isArray(body.messages)) return undefined;
  for (const message of body.messages as unknown[]) {
    if (!isRecord(message) || (message.role !== 'system' && message.role !== 'developer')) continue;
    const content = messageText(message.content);
    if (!content.startsWith(REFERENCE_MARKER)) continue;
    const match = /<reference n="\d+" source="([^"]*)">\n?([\s\S]*?)\n?<\/reference>/.exec(content);
    if (match) return { source: match[1]!, text: match[2]! };
  }
  return undefined;
}

function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part) => (isRecord(part) && typeof part.text === 'string' ? part.text : '')).join('');
}

/** About the first 200 characters of a passage, on one line, cut at a word and marked as cut. */
function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= QUOTED_CHARACTERS) return flat;
  const cut = flat.slice(0, QUOTED_CHARACTERS);
  const lastSpace = cut.lastIndexOf(' ');
  return `${(lastSpace > QUOTED_CHARACTERS / 2 ? cut.slice(0, lastSpace) : cut).trimEnd()}…`;
}

function identityOf(body: Record<string, unknown>): CompletionIdentity {
  return {
    id: createId('chatcmpl-'),
    created: unixSeconds(),
    model: typeof body.model === 'string' ? body.model : FALLBACK_MODEL,
  };
}

function defaultUsage(body: Record<string, unknown>, pieces: readonly string[]): AnswerUsage {
  return { prompt_tokens: approximatePromptTokens(body), completion_tokens: pieces.length };
}

/** Writes one SSE event; resolves once it has been handed to the socket. */
function write(response: ServerResponse, data: unknown): Promise<void> {
  return new Promise((resolve) => {
    response.write(formatSseEvent(data), () => resolve());
  });
}

/** Waits `ms`; resolves `false` instead when the client went away meanwhile. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

function bearerKey(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

/** Masks a key the way OpenAI's error messages do, keeping only its ends. */
function maskKey(key: string): string {
  return key.length <= 8 ? '*'.repeat(key.length) : `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}`;
}

function now(): number {
  return performance.timeOrigin + performance.now();
}
