import type { PassageLocation } from './chunk.js';
import { Bm25Index, nearestVectors, reciprocalRankFusion, type Bm25Options } from './rank.js';

/**
 * One passage as the index holds it: an id the store gave it, its text (the
 * heading path on the first line, as `chunkBlocks` writes it), where it
 * came from, and its embedding when the upstream gave one.
 */
export interface IndexedPassage {
  id: string;
  text: string;
  location: PassageLocation;
  /** The passage's embedding. Default: none (the passage is found by keywords only). */
  vector?: Float32Array;
}

/**
 * Which ranking found a result.
 */
export type Retriever = 'keyword' | 'vector';

/**
 * How a search ranked: both retrievers fused, or one alone.
 */
export type RetrievalMode = 'hybrid' | 'keyword' | 'vector';

/**
 * Where a result stood in one retriever's ranking (from 1), with that
 * retriever's own score: BM25 for keywords, cosine similarity for vectors.
 */
export interface RetrieverStanding {
  rank: number;
  score: number;
}

/**
 * One passage found by {@link KnowledgeIndex.search}.
 *
 * @example
 * ```ts
 * const { passage, score, retrievers } = result; // retrievers: ['keyword', 'vector']
 * ```
 */
export interface KnowledgeSearchHit {
  passage: IndexedPassage;
  /**
   * The score it was ranked by: the fused reciprocal-rank score in hybrid
   * mode (at most 2/61 with k = 60), BM25 in keyword mode, cosine similarity
   * in vector mode. Comparable only within one search.
   */
  score: number;
  /** The retrievers whose candidates included it, keyword first. */
  retrievers: Retriever[];
  keyword?: RetrieverStanding;
  vector?: RetrieverStanding;
}

/**
 * A search's results, best first, with the mode it ran in.
 *
 * @example
 * ```ts
 * const { mode, hits } = index.search('how much is pro', { queryVector });
 * ```
 */
export interface KnowledgeSearchResult {
  /** `keyword` when there was no query vector or no passage has a vector; `vector` only when asked for. */
  mode: RetrievalMode;
  hits: KnowledgeSearchHit[];
}

/**
 * Options of {@link KnowledgeIndex}.
 */
export interface KnowledgeIndexOptions {
  /** How many results each retriever contributes before fusion. Default: `50`. */
  candidates?: number;
  /** Reciprocal rank fusion's k. Default: `60`. */
  fusionK?: number;
  /** Weights of the keyword and the vector rankings in the fusion. Default: `[1, 1]`. */
  weights?: readonly [number, number];
  /** BM25 parameters. Default: k1 `1.2`, b `0.75`. */
  bm25?: Bm25Options;
}

/**
 * Options of one {@link KnowledgeIndex.search}.
 *
 * @example
 * ```ts
 * index.search(question, { top: 5, queryVector });
 * ```
 */
export interface KnowledgeSearchOptions {
  /** Most passages returned (the widget's vector count). Default: `5`. */
  top?: number;
  /** The question's embedding, of the same model as the passages'. Default: none (keyword search). */
  queryVector?: Float32Array;
  /** `keyword` or `vector` ranks with one retriever alone (the benchmark compares them). Default: `hybrid`. */
  mode?: RetrievalMode;
}

/**
 * Hybrid retrieval over one widget's passages, in memory: a BM25 keyword
 * ranking and an exact cosine ranking over the passages' vectors, each cut to
 * `candidates`, fused by reciprocal rank (positions only, so BM25's and
 * cosine's different scales never meet). Without a query vector, or when no
 * passage has one (an upstream without embeddings), it ranks by keywords
 * alone. In keyword mode only passages that share a word with the query are
 * returned; in vector mode every passage with a vector is a candidate.
 *
 * The index is built once from a snapshot of the passages: a file added or
 * replaced means a new index, so a search never sees half a file.
 *
 * @example
 * ```ts
 * const index = new KnowledgeIndex(passages);
 * const { vectors } = await createEmbeddings([question], embeddingsOptions);
 * const { hits } = index.search(question, { top: 5, queryVector: vectors[0] });
 * ```
 */
export class KnowledgeIndex {
  readonly #passages = new Map<string, IndexedPassage>();
  readonly #keywords: Bm25Index<string>;
  readonly #vectors: { id: string; vector: Float32Array }[] = [];
  readonly #candidates: number;
  readonly #fusionK: number;
  readonly #weights: readonly [number, number];

  constructor(passages: Iterable<IndexedPassage>, options: KnowledgeIndexOptions = {}) {
    for (const passage of passages) {
      if (this.#passages.has(passage.id)) throw new RangeError(`Passage ${passage.id} is in the index twice.`);
      this.#passages.set(passage.id, passage);
      if (passage.vector && passage.vector.length > 0) this.#vectors.push({ id: passage.id, vector: passage.vector });
    }
    this.#keywords = new Bm25Index(
      [...this.#passages.values()].map(({ id, text }) => ({ id, text })),
      options.bm25,
    );
    this.#candidates = Math.max(1, options.candidates ?? 50);
    this.#fusionK = options.fusionK ?? 60;
    this.#weights = options.weights ?? [1, 1];
  }

  /** Passages indexed. */
  get size(): number {
    return this.#passages.size;
  }

  /** Passages that have a vector. */
  get vectorCount(): number {
    return this.#vectors.length;
  }

  /** The `top` passages for `query`, best first; see {@link KnowledgeSearchOptions}. */
  search(query: string, options: KnowledgeSearchOptions = {}): KnowledgeSearchResult {
    const top = Math.max(0, Math.floor(options.top ?? 5));
    const vectorsUsable = options.queryVector !== undefined && options.queryVector.length > 0 && this.#vectors.length > 0;
    let mode: RetrievalMode = options.mode ?? 'hybrid';
    if (!vectorsUsable) mode = 'keyword';
    if (top === 0) return { mode, hits: [] };

    const depth = Math.max(top, this.#candidates);
    const keyword = mode === 'vector' ? [] : this.#keywords.search(query, mode === 'keyword' ? top : depth);
    const vector = mode === 'keyword' ? [] : nearestVectors(options.queryVector!, this.#vectors, mode === 'vector' ? top : depth);
    const keywordStanding = new Map(keyword.map((hit, index) => [hit.id, { rank: index + 1, score: hit.score }]));
    const vectorStanding = new Map(vector.map((hit, index) => [hit.id, { rank: index + 1, score: hit.score }]));

    let ranked: { id: string; score: number }[];
    if (mode === 'keyword') ranked = keyword;
    else if (mode === 'vector') ranked = vector;
    else {
      ranked = reciprocalRankFusion([keyword.map((hit) => hit.id), vector.map((hit) => hit.id)], { k: this.#fusionK, weights: this.#weights, limit: top });
    }
    const hits = ranked.slice(0, top).map(({ id, score }): KnowledgeSearchHit => {
      const keywordHit = keywordStanding.get(id);
      const vectorHit = vectorStanding.get(id);
      const retrievers: Retriever[] = [];
      if (keywordHit) retrievers.push('keyword');
      if (vectorHit) retrievers.push('vector');
      return {
        passage: this.#passages.get(id)!,
        score,
        retrievers,
        ...(keywordHit ? { keyword: keywordHit } : {}),
        ...(vectorHit ? { vector: vectorHit } : {}),
      };
    });
    return { mode, hits };
  }
}
