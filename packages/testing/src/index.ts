/**
 * `@airlock/testing`: a local OpenAI-compatible upstream for Airlock's tests,
 * benchmarks and demo. Point the `openai` SDK (or Airlock's proxy) at
 * `upstream.baseURL` and script answers, streams and faults per request.
 *
 * Dev/test only: it speaks OpenAI's wire format but is not OpenAI.
 *
 * @packageDocumentation
 */
export { startUpstream, type ConnectionClosedEvent, type RecordedRequest, type Upstream, type UpstreamOptions, type WaitForCloseOptions } from './upstream.js';
export {
  DEFAULT_ANSWER_TEXT,
  splitIntoChunks,
  type AnswerBehaviour,
  type AnswerUsage,
  type Behaviour,
  type BehaviourMatch,
  type CutBehaviour,
  type DropBehaviour,
  type ErrorBehaviour,
  type ImageBehaviour,
  type OpenAIErrorBody,
  type RawBehaviour,
  type StallBehaviour,
  type StreamBehaviour,
  type StreamErrorBehaviour,
} from './behaviours.js';
export { faults } from './faults.js';
export { formatSseEvent, readSse, readStreamedText, streamedText } from './sse.js';
export { DEFAULT_EMBEDDING_DIMENSIONS, hashedEmbedding } from './embeddings.js';
