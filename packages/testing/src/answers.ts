// How the test upstream answers a request it has a behaviour for: a chat
// completion streamed chunk by chunk or as one JSON answer, images,
// embeddings, and the stand-in answer that quotes the retrieved passages.
import type { ServerResponse } from 'node:http';

import type { AnswerUsage, Behaviour, ImageBehaviour } from './behaviours.js';
import { embeddingsResponse, isEmbeddingsProblem, parseEmbeddingsRequest } from './embeddings.js';
import { pause, sendJson, write } from './http-io.js';
import { formatSseEvent } from './sse.js';
import {
  FALLBACK_MODEL,
  TINY_PNG_BASE64,
  approximatePromptTokens,
  chatCompletionChunk,
  createId,
  errorEnvelope,
  isRecord,
  unixSeconds,
  type CompletionIdentity,
} from './wire-format.js';

export async function streamChat(
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

export function sendImages(response: ServerResponse, body: Record<string, unknown>, behaviour: ImageBehaviour, origin: string): void {
  const count = typeof body.n === 'number' && body.n > 0 ? Math.floor(body.n) : 1;
  const b64 = behaviour.b64 ?? body.response_format === 'b64_json';
  const data = behaviour.urls
    ? behaviour.urls.map((url) => ({ url }))
    : Array.from({ length: count }, () => (b64 ? { b64_json: TINY_PNG_BASE64 } : { url: `${origin}/files/image.png` }));
  sendJson(response, 200, { created: unixSeconds(), data });
}

export function sendEmbeddings(response: ServerResponse, body: Record<string, unknown>, dimensions: number): void {
  const parsed = parseEmbeddingsRequest(body, dimensions);
  if (isEmbeddingsProblem(parsed)) {
    sendJson(response, 400, errorEnvelope({ message: parsed.message, type: 'invalid_request_error', code: null, param: parsed.param }));
    return;
  }
  sendJson(response, 200, embeddingsResponse(parsed));
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
export function withReferenceAnswer(behaviour: Behaviour, body: Record<string, unknown>): Behaviour {
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

export function identityOf(body: Record<string, unknown>): CompletionIdentity {
  return {
    id: createId('chatcmpl-'),
    created: unixSeconds(),
    model: typeof body.model === 'string' ? body.model : FALLBACK_MODEL,
  };
}

export function defaultUsage(body: Record<string, unknown>, pieces: readonly string[]): AnswerUsage {
  return { prompt_tokens: approximatePromptTokens(body), completion_tokens: pieces.length };
}
