import { AirlockError, toAirlockError } from '../errors.js';
import { readRequestBytes } from './request-parts.js';

/** Default largest request body: 64 KB. */
export const defaultMaxBodyBytes = 64 * 1024;

/**
 * A JSON response with `Cache-Control: no-store` (answers may carry tokens).
 *
 * @example
 * ```ts
 * return json({ ok: true });
 * ```
 */
export function json(body: unknown, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set('content-type', 'application/json; charset=utf-8');
  headers.set('cache-control', 'no-store');
  return new Response(JSON.stringify(body), { ...init, headers });
}

/** The response for any error: OpenAI's error shape with Airlock's code. */
export function errorResponse(error: unknown): Response {
  const airlockError = toAirlockError(error);
  return json(airlockError.toJSON(), { status: airlockError.status, headers: airlockError.headers });
}

/**
 * Reads a JSON object body, refusing bodies over `maxBytes` (413
 * `payload_too_large`) and malformed JSON (400 `input_invalid`). The size is
 * checked while reading, so a lying or absent `Content-Length` cannot make
 * the server buffer more than the limit. With `optional`, an empty body
 * reads as `{}`.
 *
 * @example
 * ```ts
 * const body = await readJsonObject(request, 64 * 1024);
 * ```
 */
export async function readJsonObject(request: Request, maxBytes = defaultMaxBodyBytes, options: { optional?: boolean } = {}): Promise<Record<string, unknown>> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readRequestBytes(request, maxBytes);
  if (!bytes) throw tooLarge(maxBytes);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (options.optional && text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new AirlockError('input_invalid', 'The request body is not valid JSON.', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AirlockError('input_invalid', 'The request body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

function tooLarge(maxBytes: number): AirlockError {
  return new AirlockError('payload_too_large', `The request body is larger than ${maxBytes} bytes.`);
}
