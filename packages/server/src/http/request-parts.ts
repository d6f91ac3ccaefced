// How the core reads a request's body and disconnect signal: from the
// adapter's runtime parts when it kept them off the Request
// (server-runtime.ts: a Request with a body costs a Web stream, one with a
// signal listeners and a weak reference), else from the Request itself.
import type { ServerRequest } from './server-runtime.js';

/**
 * Whether the adapter that built `request` pipes a `PipeableResponse`'s body
 * and leaves its Web body unread (`runtime.pipesResponses`).
 *
 * @example
 * ```ts
 * const relay = sseResponse(body, headers, { webBody: !pipesResponses(request) });
 * ```
 */
export function pipesResponses(request: Request): boolean {
  return (request as ServerRequest).runtime?.pipesResponses === true;
}

/**
 * The signal that aborts when the client goes away: the adapter's, else the Request's own.
 *
 * @example
 * ```ts
 * clientSignal(request).addEventListener('abort', () => upstream.abort(), { once: true });
 * ```
 */
export function clientSignal(request: Request): AbortSignal {
  return (request as ServerRequest).runtime?.signal ?? request.signal;
}

/**
 * Reads a request's body, at most `maxBytes` of it, whether it was kept on
 * the side by an adapter (`runtime.body`) or streams in the Request. Returns `undefined`
 * when the limit is exceeded (the stream is cancelled there, so a lying or
 * absent `Content-Length` cannot make the server buffer more).
 *
 * @example
 * ```ts
 * const bytes = await readRequestBytes(request, 64 * 1024);
 * ```
 */
export async function readRequestBytes(request: Request, maxBytes: number): Promise<Uint8Array | undefined> {
  const kept = (request as ServerRequest).runtime?.body;
  if (kept) return kept.byteLength > maxBytes ? undefined : kept;
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const whole = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.byteLength;
  }
  return whole;
}
