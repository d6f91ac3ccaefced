import { endianness } from 'node:os';

/**
 * An id with its score in one ranking or in a fused one.
 */
export interface ScoredId<T = string> {
  id: T;
  score: number;
}

/**
 * One result of {@link reciprocalRankFusion}: its fused score and where it
 * stood in each input ranking (from 1; `undefined` where it was absent).
 */
export interface FusedResult<T = string> extends ScoredId<T> {
  ranks: (number | undefined)[];
}

/**
 * Options of {@link reciprocalRankFusion}.
 */
export interface FusionOptions {
  /** The constant that damps the top ranks' lead (Cormack et al.). Default: `60`. */
  k?: number;
  /** A weight per ranking. Default: `1` for each. */
  weights?: readonly number[];
  /** Most results returned. Default: all. */
  limit?: number;
}

/**
 * Reciprocal rank fusion: each id scores the sum over the rankings of
 * `weight / (k + rank)`. Rankings are lists of ids, best first (a keyword
 * ranking and a vector ranking for hybrid retrieval); scores of different
 * scales are never compared, only positions. Ties go to the id with the
 * better best rank, then to the one seen first.
 *
 * @example
 * ```ts
 * reciprocalRankFusion([['a', 'b', 'c'], ['b', 'd']]).map((result) => result.id); // ['b', 'a', 'd', 'c']
 * ```
 */
export function reciprocalRankFusion<T>(rankings: readonly (readonly T[])[], options: FusionOptions = {}): FusedResult<T>[] {
  const k = options.k ?? 60;
  const fused = new Map<T, { result: FusedResult<T>; best: number; order: number }>();
  rankings.forEach((ranking, which) => {
    const weight = options.weights?.[which] ?? 1;
    const seen = new Set<T>();
    ranking.forEach((id, position) => {
      // An id listed twice in one ranking counts once, at its better rank.
      if (seen.has(id)) return;
      seen.add(id);
      const rank = position + 1;
      let entry = fused.get(id);
      if (!entry) {
        entry = { result: { id, score: 0, ranks: rankings.map(() => undefined) }, best: rank, order: fused.size };
        fused.set(id, entry);
      }
      entry.result.score += weight / (k + rank);
      entry.result.ranks[which] = rank;
      entry.best = Math.min(entry.best, rank);
    });
  });
  const sorted = [...fused.values()].sort((a, b) => b.result.score - a.result.score || a.best - b.best || a.order - b.order);
  return sorted.slice(0, options.limit ?? sorted.length).map((entry) => entry.result);
}

/**
 * Cosine similarity of two vectors of the same length, from -1 to 1; `0`
 * when either is all zeros.
 *
 * @example
 * ```ts
 * cosineSimilarity(new Float32Array([1, 0]), new Float32Array([1, 1])); // 0.7071…
 * ```
 */
export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`Vectors of different lengths (${a.length} and ${b.length}) cannot be compared.`);
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let index = 0; index < a.length; index += 1) {
    const x = a[index]!;
    const y = b[index]!;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB);
}

/**
 * A copy of `vector` scaled to length 1 (all zeros stays all zeros), so
 * that stored vectors can be compared by their dot product alone.
 *
 * @example
 * ```ts
 * normalizeVector(new Float32Array([3, 4])); // Float32Array [0.6, 0.8]
 * ```
 */
export function normalizeVector(vector: Float32Array): Float32Array {
  let norm = 0;
  for (const value of vector) norm += value * value;
  const scale = norm === 0 ? 0 : 1 / Math.sqrt(norm);
  return vector.map((value) => value * scale);
}

/**
 * Exact nearest-neighbour search by cosine similarity: the `limit` best
 * candidates, best first. Fine at knowledge-base sizes (10,000 vectors of
 * 1,536 dimensions take milliseconds); candidates of another length are skipped.
 *
 * @example
 * ```ts
 * nearestVectors(question, [{ id: 'psg_1', vector }, { id: 'psg_2', vector: other }], 5); // [{ id: 'psg_2', score: 0.91 }, …]
 * ```
 */
export function nearestVectors<T>(query: Float32Array, candidates: Iterable<{ id: T; vector: Float32Array }>, limit: number): ScoredId<T>[] {
  const best: ScoredId<T>[] = [];
  if (limit <= 0) return best;
  const unit = normalizeVector(query);
  for (const candidate of candidates) {
    const { vector } = candidate;
    if (vector.length !== unit.length) continue;
    let dot = 0;
    let norm = 0;
    for (let index = 0; index < vector.length; index += 1) {
      const value = vector[index]!;
      dot += value * unit[index]!;
      norm += value * value;
    }
    const score = norm === 0 ? 0 : dot / Math.sqrt(norm);
    if (best.length === limit && score <= best[limit - 1]!.score) continue;
    // Insertion into a short sorted list: cheaper than a heap for the small limits retrieval uses.
    let at = best.length === limit ? limit - 1 : best.length;
    while (at > 0 && best[at - 1]!.score < score) at -= 1;
    best.splice(at, 0, { id: candidate.id, score });
    if (best.length > limit) best.pop();
  }
  return best;
}

const littleEndian = endianness() === 'LE';

/**
 * A vector as bytes (float32, little-endian), for a BLOB or `bytea` column.
 *
 * @example
 * ```ts
 * vectorToBytes(new Float32Array([1, 2])).length; // 8
 * ```
 */
export function vectorToBytes(vector: Float32Array): Uint8Array {
  if (littleEndian) return new Uint8Array(vector.buffer.slice(vector.byteOffset, vector.byteOffset + vector.byteLength));
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  vector.forEach((value, index) => view.setFloat32(index * 4, value, true));
  return bytes;
}

/**
 * A vector back from {@link vectorToBytes}'s bytes (copied, so a driver's
 * unaligned or reused buffer is never aliased).
 *
 * @example
 * ```ts
 * bytesToVector(vectorToBytes(new Float32Array([1, 2]))); // Float32Array [1, 2]
 * ```
 */
export function bytesToVector(bytes: Uint8Array): Float32Array {
  if (bytes.length % 4 !== 0) throw new RangeError('A stored vector must be a whole number of float32 values.');
  if (littleEndian) return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: bytes.length / 4 }, (_, index) => view.getFloat32(index * 4, true));
}

/**
 * The words of a text for keyword search: Unicode letters and digits,
 * lower-cased, accents removed (as SQLite FTS5's `unicode61` tokenizer does).
 *
 * @example
 * ```ts
 * searchTerms('Café prices, 2024!'); // ['cafe', 'prices', '2024']
 * ```
 */
export function searchTerms(text: string): string[] {
  return (
    text
      .normalize('NFKD')
      .replace(/\p{M}+/gu, '')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

/**
 * Options of {@link Bm25Index}.
 */
export interface Bm25Options {
  /** Term-frequency saturation. Default: `1.2`. */
  k1?: number;
  /** Length normalisation, from 0 (none) to 1 (full). Default: `0.75`. */
  b?: number;
}

/**
 * A plain in-memory BM25 (Robertson–Spärck Jones, Lucene's idf) over whole
 * documents, tokenized by {@link searchTerms} with no stemming or stop
 * words: the baseline retrieval is measured against.
 *
 * @example
 * ```ts
 * const index = new Bm25Index([{ id: 'faq', text: 'Returns are free.' }, { id: 'prices', text: 'Pro costs $20.' }]);
 * index.search('how much does pro cost', 1); // [{ id: 'prices', score: 1.1… }]
 * ```
 */
export class Bm25Index<T = string> {
  readonly #k1: number;
  readonly #b: number;
  readonly #ids: T[] = [];
  readonly #lengths: number[] = [];
  readonly #postings = new Map<string, { document: number; count: number }[]>();
  #total = 0;
  #averageLength = 0;
  #norms = new Float64Array(0);

  constructor(documents: Iterable<{ id: T; text: string }>, options: Bm25Options = {}) {
    this.#k1 = options.k1 ?? 1.2;
    this.#b = options.b ?? 0.75;
    for (const document of documents) this.#add(document);
    this.#finish();
  }

  /**
   * The same index, built a slice of `sliceSize` documents at a time with a
   * turn of the event loop between slices, so that indexing many passages
   * never holds up the server for long.
   */
  static async build<T>(documents: readonly { id: T; text: string }[], options: Bm25Options = {}, sliceSize = 250): Promise<Bm25Index<T>> {
    const index = new Bm25Index<T>([], options);
    for (let start = 0; start < documents.length; start += sliceSize) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      for (const document of documents.slice(start, start + sliceSize)) index.#add(document);
    }
    index.#finish();
    return index;
  }

  #add({ id, text }: { id: T; text: string }): void {
    const document = this.#ids.length;
    const terms = searchTerms(text);
    this.#ids.push(id);
    this.#lengths.push(terms.length);
    this.#total += terms.length;
    const counts = new Map<string, number>();
    for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
    for (const [term, count] of counts) {
      let list = this.#postings.get(term);
      if (!list) this.#postings.set(term, (list = []));
      list.push({ document, count });
    }
  }

  #finish(): void {
    this.#averageLength = this.#ids.length === 0 ? 0 : this.#total / this.#ids.length;
    // Each document's length normalisation, once, rather than once per posting per search.
    this.#norms = Float64Array.from(this.#lengths, (length) => this.#k1 * (1 - this.#b + (this.#b * length) / (this.#averageLength || 1)));
  }

  /** Documents indexed. */
  get size(): number {
    return this.#ids.length;
  }

  /** The `limit` best documents for `query`, best first; documents sharing no term with it are left out. */
  search(query: string, limit = 10): ScoredId<T>[] {
    const documents = this.#ids.length;
    // Scores in an array indexed by document (a Map costs more than the scoring at 10,000 passages).
    const scores = new Float64Array(documents);
    const touched: number[] = [];
    for (const term of new Set(searchTerms(query))) {
      const list = this.#postings.get(term);
      if (!list) continue;
      const idf = Math.log(1 + (documents - list.length + 0.5) / (list.length + 0.5));
      const weight = idf * (this.#k1 + 1);
      for (const { document, count } of list) {
        if (scores[document] === 0) touched.push(document);
        scores[document]! += (weight * count) / (count + this.#norms[document]!);
      }
    }
    // Only the best `limit` are kept sorted; ties go to the earlier document.
    const best: number[] = [];
    for (const document of touched) {
      const score = scores[document]!;
      if (best.length === limit && (score < scores[best[limit - 1]!]! || (score === scores[best[limit - 1]!]! && document > best[limit - 1]!))) continue;
      let at = best.length;
      while (at > 0 && (scores[best[at - 1]!]! < score || (scores[best[at - 1]!]! === score && best[at - 1]! > document))) at -= 1;
      best.splice(at, 0, document);
      if (best.length > limit) best.pop();
    }
    return best.map((document) => ({ id: this.#ids[document]!, score: scores[document]! }));
  }
}
