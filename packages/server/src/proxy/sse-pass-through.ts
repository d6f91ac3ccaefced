import { PipeableResponse } from '../http/server-runtime.js';
import { SseRelay, type PassThroughOptions } from './sse-relay.js';
import { webBody, type UpstreamBody } from './upstream-transport.js';

export { sseErrorEvent, SseUsageScanner, type ReportedUsage, type StreamMeter } from './sse-bytes.js';
export type { PassThroughOptions } from './sse-relay.js';

/**
 * Relays an upstream SSE answer to the client byte for byte (no
 * re-encoding), with a first-chunk timeout, an idle watchdog on the
 * upstream, a bounded buffer and a time limit for slow clients, and comment
 * heartbeats during long silences, while metering usage from the passing
 * bytes. The client always gets a complete answer (ending in `[DONE]`) or
 * an Airlock error event, written between events: a failure after the
 * first byte, an upstream error event, a body that is not an SSE answer,
 * or a stream that ends without a finish reason or `[DONE]`. Failures are
 * never retried. When the client goes away the upstream is aborted. The
 * response works everywhere through its Web `body`; it is also a
 * {@link PipeableResponse}, so the Node adapters move the upstream's
 * socket chunks straight to the client's socket (for their own requests,
 * `webBody: false` leaves the Web body out).
 *
 * @example
 * ```ts
 * return sseResponse(reply.body, { 'content-type': 'text/event-stream' }, { firstChunkTimeoutMs: 30_000, idleTimeoutMs: 60_000 });
 * ```
 */
export function sseResponse(upstream: UpstreamBody | Response, headers: ResponseInit['headers'], options: PassThroughOptions): Response {
  const source = upstream instanceof Response ? webBody(upstream.body) : upstream;
  const relay = new SseRelay(source, options);
  return new PipeableResponse(options.webBody === false ? null : relay.webStream(), { status: 200, headers }, relay);
}
