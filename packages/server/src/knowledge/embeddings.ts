import OpenAI from 'openai';
import { AirlockError } from '../errors.js';
import { upstreamError, upstreamRefusalOf } from '../proxy/upstream-errors.js';

/**
 * Options of {@link createEmbeddings}.
 */
export interface EmbeddingsOptions {
  /** The key the call is made with (the widget's own or the shared one, resolved as for chat). */
  apiKey: string;
  /** Base URL of the OpenAI-compatible API. Default: `'https://api.openai.com/v1'`. */
  baseURL?: string;
  /** Embedding model. Default: `'text-embedding-3-small'`. */
  model?: string;
  /** Dimensions asked for (models that can shorten their vectors). Default: the model's own. */
  dimensions?: number;
  /** Most inputs per request. Default: `128`. */
  batchSize?: number;
  /** Most characters of input per request, so a batch stays under the upstream's per-request token limit. Default: `400_000`. */
  maxBatchCharacters?: number;
  /** Time allowed for each request, answer included, in ms. Default: `30_000` (the upstream's headers timeout). */
  timeoutMs?: number;
  /** `fetch` used for the calls. Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Stops the calls; the rejection is the signal's reason. Default: none. */
  signal?: AbortSignal;
}

/**
 * Vectors for the inputs, in their order, with what the calls cost.
 *
 * @example
 * ```ts
 * const { vectors, promptTokens } = await createEmbeddings(['Returns are free.'], { apiKey });
 * ```
 */
export interface EmbeddingsResult {
  vectors: Float32Array[];
  /** The model the upstream says it used. */
  model: string;
  /** Input tokens, as the upstream reported them or, where it did not, counted with gpt-tokenizer. */
  promptTokens: number;
  /** Whether every response reported its usage (otherwise part of `promptTokens` was counted here). */
  usageReported: boolean;
}

interface EmbeddingsBody {
  data?: unknown;
  model?: unknown;
  usage?: { prompt_tokens?: unknown } | null;
}

function malformed(detail: string): AirlockError {
  return new AirlockError('upstream_unavailable', 'The AI service sent embeddings Airlock could not read.', { cause: new Error(detail) });
}

function decodeBase64Vector(value: string): Float32Array {
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length % 4 !== 0) throw malformed('A base64 embedding is not a whole number of float32 values.');
  const vector = new Float32Array(bytes.length / 4);
  for (let index = 0; index < vector.length; index += 1) vector[index] = bytes.readFloatLE(index * 4);
  return vector;
}

function readVectors(body: EmbeddingsBody, count: number): Float32Array[] {
  if (!Array.isArray(body.data) || body.data.length !== count) throw malformed(`Expected ${count} embeddings.`);
  const vectors: (Float32Array | undefined)[] = new Array(count);
  body.data.forEach((item: unknown, position) => {
    const entry = item as { index?: unknown; embedding?: unknown } | null;
    const index = typeof entry?.index === 'number' ? entry.index : position;
    if (!Number.isInteger(index) || index < 0 || index >= count || vectors[index]) throw malformed('Embedding indexes do not match the inputs.');
    const embedding = entry?.embedding;
    let vector: Float32Array;
    if (typeof embedding === 'string') vector = decodeBase64Vector(embedding);
    else if (Array.isArray(embedding) && embedding.every((value) => typeof value === 'number')) vector = Float32Array.from(embedding as number[]);
    else throw malformed('An embedding is neither a list of numbers nor base64.');
    if (vector.length === 0 || !vector.every(Number.isFinite)) throw malformed('An embedding is empty or not finite.');
    vectors[index] = vector;
  });
  return vectors as Float32Array[];
}

function batches(inputs: readonly string[], size: number, characters: number): string[][] {
  const result: string[][] = [];
  let current: string[] = [];
  let length = 0;
  for (const input of inputs) {
    // OpenAI refuses empty inputs; a space embeds as "nothing".
    const text = input.length === 0 ? ' ' : input;
    if (current.length > 0 && (current.length >= size || length + text.length > characters)) {
      result.push(current);
      current = [];
      length = 0;
    }
    current.push(text);
    length += text.length;
  }
  if (current.length > 0) result.push(current);
  return result;
}

/**
 * The error for an upstream that answered that it has no embeddings (no
 * such endpoint, or not this model): retrieval then falls back to keywords,
 * and the file's status can say so.
 */
function unavailable(cause: AirlockError, model: string): AirlockError {
  return new AirlockError('upstream_rejected', `The AI service does not offer embeddings with the model ${model}; only keyword search is used.`, {
    cause: cause.cause,
  });
}

/**
 * Whether an error from {@link createEmbeddings} says that the upstream does
 * not offer embeddings at all (404, 405 or 501, or the model is unknown),
 * as opposed to a failure worth retrying later.
 *
 * @example
 * ```ts
 * try { await createEmbeddings(texts, options); } catch (error) { if (isEmbeddingsUnavailable(error)) keywordOnly(); }
 * ```
 */
export function isEmbeddingsUnavailable(error: unknown): boolean {
  const refusal = upstreamRefusalOf(error);
  if (!refusal) return false;
  return refusal.status === 404 || refusal.status === 405 || refusal.status === 501 || refusal.code === 'model_not_found';
}

async function embedBatch(
  inputs: string[],
  options: EmbeddingsOptions,
  baseURL: string,
  model: string,
): Promise<{ vectors: Float32Array[]; model: string; tokens?: number }> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const fetcher = options.fetch ?? fetch;
  let response: Response;
  let text: string;
  try {
    response = await fetcher(`${baseURL.replace(/\/+$/, '')}/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ model, input: inputs, encoding_format: 'float', ...(options.dimensions ? { dimensions: options.dimensions } : {}) }),
      signal,
    });
    text = await response.text();
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    // Mapped as the SDK's own failures are, so the codes match chat's.
    if (timeout.aborted) throw upstreamError(new OpenAI.APIConnectionTimeoutError());
    throw upstreamError(new OpenAI.APIConnectionError({ cause: error instanceof Error ? error : undefined }));
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const mapped = upstreamError(
      OpenAI.APIError.generate(response.status, body as object | undefined, body ? undefined : text.slice(0, 200), response.headers),
    );
    throw isEmbeddingsUnavailable(mapped) ? unavailable(mapped, model) : mapped;
  }
  if (typeof body !== 'object' || body === null) throw malformed('The embeddings answer is not JSON.');
  const parsed = body as EmbeddingsBody;
  const tokens = parsed.usage?.prompt_tokens;
  return {
    vectors: readVectors(parsed, inputs.length),
    model: typeof parsed.model === 'string' ? parsed.model : model,
    ...(typeof tokens === 'number' && Number.isFinite(tokens) ? { tokens } : {}),
  };
}

/**
 * Embeds `inputs` through an OpenAI-compatible `POST /v1/embeddings`, in
 * batches (by count and by characters), one request at a time. Failures are
 * mapped to Airlock's stable codes as chat calls are (`upstream_key_invalid`,
 * `upstream_rate_limited`, `upstream_timeout`, …) and never carry the key or
 * the upstream's body in their message; an upstream without embeddings
 * fails in a way {@link isEmbeddingsUnavailable} recognises. All vectors of
 * one call have the same length, or the call fails.
 *
 * @example
 * ```ts
 * const { vectors } = await createEmbeddings(passages.map((passage) => passage.text), { apiKey, baseURL });
 * ```
 */
export async function createEmbeddings(inputs: readonly string[], options: EmbeddingsOptions): Promise<EmbeddingsResult> {
  const baseURL = options.baseURL ?? 'https://api.openai.com/v1';
  const model = options.model ?? 'text-embedding-3-small';
  const vectors: Float32Array[] = [];
  let promptTokens = 0;
  let usageReported = true;
  let reportedModel = model;
  for (const batch of batches(inputs, Math.max(1, options.batchSize ?? 128), options.maxBatchCharacters ?? 400_000)) {
    const answer = await embedBatch(batch, options, baseURL, model);
    reportedModel = answer.model;
    if (answer.tokens === undefined) {
      usageReported = false;
      const { countTokens } = await import('gpt-tokenizer/encoding/o200k_base');
      for (const input of batch) promptTokens += countTokens(input);
    } else {
      promptTokens += answer.tokens;
    }
    for (const vector of answer.vectors) {
      if (vectors.length > 0 && vector.length !== vectors[0]!.length) throw malformed('Embeddings of one call have different lengths.');
      vectors.push(vector);
    }
  }
  return { vectors, model: reportedModel, promptTokens, usageReported };
}
