/**
 * OpenAI's response bodies, built the way the real API shapes them, so that
 * code tested against this upstream meets the same JSON in production.
 */
import { randomBytes } from 'node:crypto';

import type { AnswerUsage, OpenAIErrorBody } from './behaviours.js';

/** Token usage as OpenAI reports it. */
export interface Usage extends AnswerUsage {
  total_tokens: number;
}

/** Fields every chunk of one streamed completion shares. */
export interface CompletionIdentity {
  id: string;
  created: number;
  model: string;
}

/** The model reported when a request names none. */
export const FALLBACK_MODEL = 'gpt-4o-mini';

/**
 * A 1×1 transparent PNG, the smallest valid image a client can decode.
 */
export const TINY_PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

/** Builds an id in OpenAI's style, e.g. `chatcmpl-…` or `req_…`. */
export function createId(prefix: string): string {
  return `${prefix}${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`;
}

/** Seconds since the epoch, as OpenAI's `created` fields are. */
export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Completes `usage` with its total. */
export function toUsage(usage: AnswerUsage): Usage {
  return {
    prompt_tokens: usage.prompt_tokens,
    completion_tokens: usage.completion_tokens,
    total_tokens: usage.prompt_tokens + usage.completion_tokens,
  };
}

/** `{ error: { message, type, param, code } }`, OpenAI's error envelope. */
export function errorEnvelope(error: OpenAIErrorBody): { error: Required<OpenAIErrorBody> } {
  return { error: { message: error.message, type: error.type, param: error.param ?? null, code: error.code } };
}

/** A non-streamed `chat.completion`. */
export function chatCompletion(identity: CompletionIdentity, content: string, usage: AnswerUsage | undefined): object {
  return {
    id: identity.id,
    object: 'chat.completion',
    created: identity.created,
    model: identity.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    ...(usage && { usage: toUsage(usage) }),
  };
}

/**
 * One `chat.completion.chunk`. With `include_usage`, OpenAI adds `usage: null`
 * to every chunk but the last, which alone carries the counts.
 */
export function chatCompletionChunk(
  identity: CompletionIdentity,
  choice: { delta: Record<string, string>; finish_reason: string | null } | undefined,
  includeUsage: boolean,
  usage?: AnswerUsage,
): object {
  return {
    id: identity.id,
    object: 'chat.completion.chunk',
    created: identity.created,
    model: identity.model,
    choices: choice ? [{ index: 0, delta: choice.delta, finish_reason: choice.finish_reason }] : [],
    ...(includeUsage ? { usage: usage ? toUsage(usage) : null } : {}),
  };
}

/** `GET /v1/models`'s list. */
export function modelList(models: readonly string[]): object {
  return {
    object: 'list',
    data: models.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'system' })),
  };
}

/**
 * Roughly counts the words a chat request sends, standing in for its prompt
 * tokens (real tokenisation is not worth a dependency in a test double).
 */
export function approximatePromptTokens(body: unknown): number {
  const messages = isRecord(body) && Array.isArray(body.messages) ? body.messages : [];
  let words = 0;
  for (const message of messages) {
    if (!isRecord(message)) continue;
    const parts: unknown[] = Array.isArray(message.content) ? message.content : [message.content];
    for (const part of parts) {
      const text = typeof part === 'string' ? part : isRecord(part) && typeof part.text === 'string' ? part.text : '';
      words += text.split(/\s+/).filter(Boolean).length;
    }
  }
  return words;
}

/** Narrows an unknown JSON value to an object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
