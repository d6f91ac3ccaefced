import { describe, expect, test } from 'vitest';
import {
  Bm25Index,
  bytesToVector,
  cosineSimilarity,
  nearestVectors,
  normalizeVector,
  reciprocalRankFusion,
  searchTerms,
  vectorToBytes,
} from '../../src/knowledge/rank.js';

describe('reciprocalRankFusion', () => {
  test('scores each id by the sum of 1 / (k + rank) over the rankings', () => {
    const fused = reciprocalRankFusion([
      ['a', 'b', 'c'],
      ['b', 'd'],
    ]);
    expect(fused.map((result) => result.id)).toEqual(['b', 'a', 'd', 'c']);
    expect(fused[0]).toEqual({ id: 'b', score: 1 / 62 + 1 / 61, ranks: [2, 1] });
    expect(fused[1]).toEqual({ id: 'a', score: 1 / 61, ranks: [1, undefined] });
    expect(fused.find((result) => result.id === 'c')!.score).toBeCloseTo(1 / 63, 12);
  });

  test('k, weights and limit are honoured; an id listed twice in one ranking counts once, at its first place', () => {
    const fused = reciprocalRankFusion([['a', 'a', 'b'], ['b']], { k: 0, weights: [1, 3], limit: 2 });
    expect(fused).toEqual([
      { id: 'b', score: 1 / 3 + 3 / 1, ranks: [3, 1] },
      { id: 'a', score: 1, ranks: [1, undefined] },
    ]);
  });

  test('ties go to the better best rank, then to the id seen first', () => {
    expect(
      reciprocalRankFusion([
        ['x', 'y'],
        ['y', 'x'],
      ]).map((result) => result.id),
    ).toEqual(['x', 'y']);
    expect(reciprocalRankFusion([['p'], ['q']]).map((result) => result.id)).toEqual(['p', 'q']);
    expect(reciprocalRankFusion([])).toEqual([]);
  });
});

describe('vectors', () => {
  test('cosine similarity', () => {
    expect(cosineSimilarity(new Float32Array([1, 0]), new Float32Array([1, 1]))).toBeCloseTo(Math.SQRT1_2, 6);
    expect(cosineSimilarity(new Float32Array([1, 2, 3]), new Float32Array([2, 4, 6]))).toBeCloseTo(1, 6);
    expect(cosineSimilarity(new Float32Array([1, 0]), new Float32Array([-1, 0]))).toBeCloseTo(-1, 6);
    expect(cosineSimilarity(new Float32Array([0, 0]), new Float32Array([1, 0]))).toBe(0);
    expect(() => cosineSimilarity(new Float32Array(2), new Float32Array(3))).toThrow(RangeError);
  });

  test('normalizeVector scales to length 1', () => {
    expect([...normalizeVector(new Float32Array([3, 4]))]).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect([...normalizeVector(new Float32Array([0, 0]))]).toEqual([0, 0]);
  });

  test('nearestVectors is an exact top-k by cosine, equal to sorting every score', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const candidates = Array.from({ length: 2_000 }, (_, id) => ({ id, vector: Float32Array.from({ length: 64 }, random) }));
    const query = Float32Array.from({ length: 64 }, random);
    const expected = candidates
      .map((candidate) => ({ id: candidate.id, score: cosineSimilarity(query, candidate.vector) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 20);
    const found = nearestVectors(query, candidates, 20);
    expect(found.map((hit) => hit.id)).toEqual(expected.map((hit) => hit.id));
    found.forEach((hit, index) => expect(hit.score).toBeCloseTo(expected[index]!.score, 5));
    expect(nearestVectors(query, [{ id: 'short', vector: new Float32Array(3) }], 5)).toEqual([]);
    expect(nearestVectors(query, candidates, 0)).toEqual([]);
  });

  test('vectors survive a round trip through bytes, also from an unaligned view', () => {
    const vector = new Float32Array([0.5, -1.25, 3e-8, 1024]);
    const bytes = vectorToBytes(vector);
    expect(bytes.length).toBe(16);
    expect([...bytesToVector(bytes)]).toEqual([...vector]);
    const shifted = new Uint8Array(17);
    shifted.set(bytes, 1);
    expect([...bytesToVector(shifted.subarray(1))]).toEqual([...vector]);
    expect(() => bytesToVector(new Uint8Array(5))).toThrow(RangeError);
  });
});

describe('BM25 over whole documents', () => {
  test('terms are lower-cased Unicode words without accents', () => {
    expect(searchTerms('Café PRICES, 2024! naïve—test')).toEqual(['cafe', 'prices', '2024', 'naive', 'test']);
  });

  test('ranks the document that shares the rarest terms first, and leaves out documents sharing none', () => {
    const index = new Bm25Index([
      { id: 'returns', text: 'Returns are free within thirty days; keep your receipt.' },
      { id: 'prices', text: 'The Pro plan costs twenty dollars. The Team plan costs fifty dollars.' },
      { id: 'hours', text: 'The shop opens at nine. The shop closes at five.' },
    ]);
    expect(index.size).toBe(3);
    const hits = index.search('How much does the Team plan cost?');
    expect(hits[0]!.id).toBe('prices');
    expect(hits.map((hit) => hit.id)).not.toContain('returns');
    expect(index.search('receipt')).toEqual([{ id: 'returns', score: expect.any(Number) }]);
    expect(index.search('nothing matches')).toEqual([]);
  });

  test('matches a hand-computed score', () => {
    // Two documents: "a a b" (3 terms) and "b" (1 term); average length 2; k1 = 1.2, b = 0.75.
    const index = new Bm25Index([
      { id: 1, text: 'a a b' },
      { id: 2, text: 'b' },
    ]);
    const idfA = Math.log(1 + (2 - 1 + 0.5) / (1 + 0.5));
    const norm = 1.2 * (1 - 0.75 + (0.75 * 3) / 2);
    expect(index.search('a')[0]!.score).toBeCloseTo((idfA * 2 * 2.2) / (2 + norm), 10);
  });
});
