/**
 * Embeddings for the test upstream: hashed word and character n-grams, so
 * that texts sharing words (or parts of words) have close vectors and a
 * retrieval test measures something. Deterministic, dependency-free, and not
 * a semantic model: synonyms that share no letters are not close.
 */
import { isRecord } from './wire-format.js';

/** Dimensions of a stand-in vector when the request does not ask for others. */
export const DEFAULT_EMBEDDING_DIMENSIONS = 256;

/** Most inputs one request may carry, as OpenAI allows. */
const MAX_INPUTS = 2048;
/** Most dimensions a request may ask for (text-embedding-3-large's). */
const MAX_DIMENSIONS = 3072;

// Words too common to say what a text is about; left in, they would make
// every pair of English texts look alike, since a stateless embedding has no
// corpus statistics to discount them with.
const STOP_WORDS = new Set(
  (
    'a an and are as at be but by can do does for from has have how i if in into is it its me my no not of on or our ' +
    'so than that the their them then there these they this to up us was we were what when where which who why will ' +
    'with you your'
  ).split(' '),
);

/** FNV-1a, 32 bits: fast, stable across runs and platforms. */
function hash(text: string): number {
  let value = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    value ^= text.charCodeAt(index);
    value = Math.imul(value, 0x01000193);
  }
  return value >>> 0;
}

function add(vector: Float64Array, feature: string, weight: number): void {
  const value = hash(feature);
  // The sign from a bit the index does not use, so collisions cancel out
  // on average instead of piling up.
  vector[value % vector.length]! += value & 0x80000000 ? -weight : weight;
}

/**
 * The words of `text` that carry meaning: lower-cased, accents removed,
 * split on anything that is not a letter or digit, stop words dropped.
 */
function contentWords(text: string): string[] {
  const words = text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .match(/[\p{L}\p{N}]+/gu);
  return (words ?? []).filter((word) => !STOP_WORDS.has(word));
}

/**
 * The stand-in's embedding of `text`: word unigrams (weight 1), word bigrams
 * (0.5) and character trigrams of each word with its boundaries (0.3),
 * hashed into `dimensions` signed buckets and L2-normalised. A text with no
 * content words gets a fixed unit vector, since OpenAI never answers with a
 * zero vector.
 *
 * @param dimensions - Length of the vector. Default: {@link DEFAULT_EMBEDDING_DIMENSIONS}.
 * @example
 * ```ts
 * const vector = hashedEmbedding('Returns are free within 30 days.');
 * vector.length; // 256
 * ```
 */
export function hashedEmbedding(text: string, dimensions = DEFAULT_EMBEDDING_DIMENSIONS): Float32Array {
  const vector = new Float64Array(dimensions);
  const words = contentWords(text);
  for (const [index, word] of words.entries()) {
    add(vector, `w:${word}`, 1);
    if (index > 0) add(vector, `b:${words[index - 1]!} ${word}`, 0.5);
    const bounded = ` ${word} `;
    for (let start = 0; start + 3 <= bounded.length; start += 1) add(vector, `c:${bounded.slice(start, start + 3)}`, 0.3);
  }
  let norm = 0;
  for (const value of vector) norm += value * value;
  const result = new Float32Array(dimensions);
  if (norm === 0) {
    result[0] = 1;
    return result;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let index = 0; index < dimensions; index += 1) result[index] = vector[index]! * scale;
  return result;
}

/** What {@link parseEmbeddingsRequest} makes of a valid request. */
export interface EmbeddingsRequest {
  /** Texts to embed; token ids arrive as words `t<id>`. */
  inputs: string[];
  model: string;
  dimensions: number;
  encoding: 'float' | 'base64';
}

/** A request OpenAI would refuse, with the parameter at fault. */
export interface EmbeddingsRequestProblem {
  message: string;
  param: string | null;
}

function isTokenArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((item) => Number.isInteger(item) && (item as number) >= 0);
}

/**
 * Reads an embeddings request the way OpenAI validates one: `model` is
 * required; `input` is a non-empty string, an array of up to 2048 non-empty
 * strings, an array of token ids, or an array of such arrays;
 * `encoding_format` is `float` (the default) or `base64`; `dimensions`, when
 * given, is a whole number from 1 to 3072.
 */
export function parseEmbeddingsRequest(body: Record<string, unknown>, defaultDimensions: number): EmbeddingsRequest | EmbeddingsRequestProblem {
  const { model, input, encoding_format: encoding, dimensions } = body;
  if (typeof model !== 'string' || model === '') return { message: 'you must provide a model parameter', param: null };
  if (input === undefined) return { message: "'input' is a required property", param: null };
  let inputs: string[];
  if (typeof input === 'string') {
    inputs = [input];
  } else if (isTokenArray(input)) {
    inputs = [input.map((token) => `t${token}`).join(' ')];
  } else if (Array.isArray(input) && input.length > 0 && input.every((item) => typeof item === 'string')) {
    inputs = input as string[];
  } else if (Array.isArray(input) && input.length > 0 && input.every(isTokenArray)) {
    inputs = input.map((tokens) => tokens.map((token) => `t${token}`).join(' '));
  } else {
    return { message: "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", param: null };
  }
  if (inputs.length > MAX_INPUTS) {
    return { message: `'$.input' is too long: it has ${inputs.length} items, the most is ${MAX_INPUTS}.`, param: 'input' };
  }
  if (inputs.some((text) => text === '')) {
    return { message: "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", param: null };
  }
  if (encoding !== undefined && encoding !== null && encoding !== 'float' && encoding !== 'base64') {
    return {
      message: `Invalid value for 'encoding_format': ${JSON.stringify(encoding)}. Supported values are: 'float' and 'base64'.`,
      param: 'encoding_format',
    };
  }
  if (
    dimensions !== undefined &&
    dimensions !== null &&
    !(Number.isInteger(dimensions) && (dimensions as number) >= 1 && (dimensions as number) <= MAX_DIMENSIONS)
  ) {
    return {
      message: `Invalid value for 'dimensions': ${JSON.stringify(dimensions)}. It must be a whole number from 1 to ${MAX_DIMENSIONS}.`,
      param: 'dimensions',
    };
  }
  return {
    inputs,
    model,
    dimensions: typeof dimensions === 'number' ? dimensions : defaultDimensions,
    encoding: encoding === 'base64' ? 'base64' : 'float',
  };
}

/** Float32 little-endian bytes in base64, as OpenAI's `encoding_format: 'base64'` sends them. */
function toBase64(vector: Float32Array): string {
  const bytes = Buffer.alloc(vector.length * 4);
  for (let index = 0; index < vector.length; index += 1) bytes.writeFloatLE(vector[index]!, index * 4);
  return bytes.toString('base64');
}

/**
 * Roughly counts tokens of the inputs (words and punctuation marks), standing
 * in for OpenAI's `usage.prompt_tokens`.
 */
function approximateTokens(inputs: readonly string[]): number {
  let tokens = 0;
  for (const text of inputs) tokens += text.match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu)?.length ?? 0;
  return tokens;
}

/** The `list` of embeddings OpenAI answers with. */
export function embeddingsResponse(request: EmbeddingsRequest): object {
  const tokens = approximateTokens(request.inputs);
  return {
    object: 'list',
    data: request.inputs.map((text, index) => {
      const vector = hashedEmbedding(text, request.dimensions);
      return { object: 'embedding', index, embedding: request.encoding === 'base64' ? toBase64(vector) : Array.from(vector) };
    }),
    model: request.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

/** Whether a parse result is a refusal. */
export function isEmbeddingsProblem(value: EmbeddingsRequest | EmbeddingsRequestProblem): value is EmbeddingsRequestProblem {
  return isRecord(value) && 'message' in value;
}
