import { hashedEmbedding, startUpstream } from '@airlock/testing';
import { describe, expect, test } from 'vitest';
import { createEmbeddings } from '../../src/knowledge/embeddings.js';
import { KnowledgeIndex, type IndexedPassage } from '../../src/knowledge/knowledge-index.js';
import { searchQueryFor } from '../../src/knowledge/search-query.js';

const texts: Record<string, [string[], string]> = {
  pricing: [['Pricing'], 'The Pro plan costs 20 dollars a month, billed yearly.'],
  refunds: [['Policies', 'Refunds'], 'Refunds are paid back to the card within 14 days of a return.'],
  shipping: [['Policies', 'Shipping'], 'Orders ship from Lisbon; delivery takes three working days.'],
  widget: [['Embedding'], 'Add the script tag to your page and the widget appears in the corner.'],
  keys: [['Security'], 'Your OpenAI key is sealed on the server and never sent to a browser.'],
};

function passages(withVectors: boolean): IndexedPassage[] {
  return Object.entries(texts).map(([id, [headingPath, body]]) => {
    const text = `${headingPath.join(' > ')}\n${body}`;
    return { id, text, location: { file: 'faq.md', headingPath }, ...(withVectors ? { vector: hashedEmbedding(text) } : {}) };
  });
}

describe('KnowledgeIndex', () => {
  test('hybrid search fuses keyword and vector rankings and says which retriever found each passage', () => {
    const index = new KnowledgeIndex(passages(true));
    const question = 'How many days until refunds are paid?';
    const { mode, hits } = index.search(question, { top: 3, queryVector: hashedEmbedding(question) });
    expect(mode).toBe('hybrid');
    expect(hits).toHaveLength(3);
    expect(hits[0]!.passage.id).toBe('refunds');
    expect(hits[0]!.retrievers).toEqual(['keyword', 'vector']);
    expect(hits[0]!.keyword!.rank).toBe(1);
    expect(hits[0]!.vector!.rank).toBe(1);
    // Both first: the fused score is 2 / (60 + 1).
    expect(hits[0]!.score).toBeCloseTo(2 / 61, 10);
    expect(hits[0]!.passage.location).toEqual({ file: 'faq.md', headingPath: ['Policies', 'Refunds'] });
    for (let position = 1; position < hits.length; position += 1) expect(hits[position]!.score).toBeLessThanOrEqual(hits[position - 1]!.score);
    // A passage only the vectors found is marked as such, with no keyword standing.
    const vectorOnly = hits.find((hit) => !hit.retrievers.includes('keyword'));
    if (vectorOnly) expect(vectorOnly.keyword).toBeUndefined();
  });

  test('a passage found by only one retriever still ranks, below one both found', () => {
    const index = new KnowledgeIndex(passages(true));
    // "Lisbon" is a keyword of shipping only; the vector of an unrelated sentence points at keys.
    const { hits } = index.search('Lisbon', { top: 5, queryVector: hashedEmbedding('OpenAI key sealed on the server') });
    const shipping = hits.find((hit) => hit.passage.id === 'shipping')!;
    const keys = hits.find((hit) => hit.passage.id === 'keys')!;
    expect(shipping.retrievers).toContain('keyword');
    expect(shipping.keyword!.rank).toBe(1);
    expect(keys.vector!.rank).toBe(1);
    expect(keys.retrievers).toEqual(['vector']);
  });

  test('is keyword-only without a query vector or when no passage has a vector', () => {
    const withVectors = new KnowledgeIndex(passages(true));
    const noQueryVector = withVectors.search('refunds card', { top: 5 });
    expect(noQueryVector.mode).toBe('keyword');
    expect(noQueryVector.hits.map((hit) => hit.passage.id)).toEqual(['refunds']);
    expect(noQueryVector.hits[0]!.retrievers).toEqual(['keyword']);
    expect(noQueryVector.hits[0]!.score).toBe(noQueryVector.hits[0]!.keyword!.score);

    const keywordsOnly = new KnowledgeIndex(passages(false));
    expect(keywordsOnly.vectorCount).toBe(0);
    const result = keywordsOnly.search('refunds card', { top: 5, queryVector: hashedEmbedding('refunds card') });
    expect(result.mode).toBe('keyword');
    expect(result.hits.map((hit) => hit.passage.id)).toEqual(['refunds']);
  });

  test('vector mode ranks by cosine alone; top bounds every mode; duplicate ids are refused', () => {
    const index = new KnowledgeIndex(passages(true));
    const vector = hashedEmbedding('script tag page widget');
    const { mode, hits } = index.search('zzz', { mode: 'vector', top: 2, queryVector: vector });
    expect(mode).toBe('vector');
    expect(hits.map((hit) => hit.passage.id)[0]).toBe('widget');
    expect(hits).toHaveLength(2);
    expect(hits[0]!.score).toBe(hits[0]!.vector!.score);
    expect(index.search('policies', { top: 1 }).hits).toHaveLength(1);
    expect(index.search('policies', { top: 0 }).hits).toEqual([]);
    expect(index.search('', { top: 5 }).hits).toEqual([]);
    expect(() => new KnowledgeIndex([...passages(false), passages(false)[0]!])).toThrow(/twice/);
  });

  test('works with vectors from the stand-in upstream through createEmbeddings', async () => {
    const upstream = await startUpstream();
    try {
      const base = passages(false);
      const embeddingsOptions = { apiKey: 'sk-test-1', baseURL: upstream.baseURL };
      const { vectors } = await createEmbeddings(
        base.map((passage) => passage.text),
        embeddingsOptions,
      );
      const index = new KnowledgeIndex(base.map((passage, position) => ({ ...passage, vector: vectors[position]! })));
      const question = 'is my openai key ever sent to the browser?';
      const [queryVector] = (await createEmbeddings([question], embeddingsOptions)).vectors;
      const { mode, hits } = index.search(question, { top: 5, queryVector });
      expect(mode).toBe('hybrid');
      expect(hits[0]!.passage.id).toBe('keys');
    } finally {
      await upstream.close();
    }
  });
});

describe('searchQueryFor', () => {
  test('a question that stands alone is searched alone', () => {
    const result = searchQueryFor([
      { role: 'system', content: 'You are the shop assistant.' },
      { role: 'user', content: 'Do you ship to Portugal?' },
      { role: 'assistant', content: 'Yes, we ship from Lisbon.' },
      { role: 'user', content: 'How long do refunds take to reach my credit card after a return?' },
    ]);
    expect(result).toEqual({ query: 'How long do refunds take to reach my credit card after a return?', followUp: false, messagesUsed: 1 });
  });

  test('a follow-up is searched with the visitor’s previous question and, when still short, the answer between', () => {
    const messages = [
      { role: 'user', content: 'Do you sell the Pro plan in Europe?' },
      { role: 'assistant', content: 'Yes, Pro is sold in the EU.' },
      { role: 'user', content: 'And how much is it?' },
    ];
    expect(searchQueryFor(messages)).toEqual({
      query: 'Do you sell the Pro plan in Europe?\nYes, Pro is sold in the EU.\nAnd how much is it?',
      followUp: true,
      messagesUsed: 3,
    });
    // Enough words from the earlier question alone: the answer is not needed.
    const detailed = [
      { role: 'user', content: 'Which countries in Europe can order the Pro plan with yearly billing?' },
      { role: 'assistant', content: 'All of the EU.' },
      { role: 'user', content: 'and how much is it?' },
    ];
    expect(searchQueryFor(detailed)).toEqual({
      query: 'Which countries in Europe can order the Pro plan with yearly billing?\nand how much is it?',
      followUp: true,
      messagesUsed: 2,
    });
  });

  test('the follow-up rule finds the right passage where the last message alone misses it', () => {
    const index = new KnowledgeIndex(passages(false));
    const messages = [
      { role: 'user', content: 'Tell me about the Pro plan' },
      { role: 'assistant', content: 'It has every feature.' },
      { role: 'user', content: 'and how much is it?' },
    ];
    expect(index.search('and how much is it?').hits.map((hit) => hit.passage.id)).not.toContain('pricing');
    expect(index.search(searchQueryFor(messages).query).hits[0]!.passage.id).toBe('pricing');
  });

  test('adds at most maxEarlierMessages, reads text parts, stays under maxCharacters keeping the question whole', () => {
    const messages = [
      { role: 'user', content: 'first topic alpha' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'second topic beta' },
          { type: 'image_url', image_url: { url: 'https://x' } },
        ],
      },
      { role: 'user', content: 'third topic gamma' },
      { role: 'user', content: 'and it?' },
    ];
    const limited = searchQueryFor(messages, { maxEarlierMessages: 2, answerCharacters: 0 });
    expect(limited.query).toBe('second topic beta\nthird topic gamma\nand it?');
    expect(limited.messagesUsed).toBe(3);

    const short = searchQueryFor(
      [
        { role: 'user', content: 'x'.repeat(50) },
        { role: 'user', content: 'and it?' },
      ],
      { maxCharacters: 20 },
    );
    expect(short.query).toBe(`${'x'.repeat(12)}\nand it?`);
    expect(short.query.length).toBeLessThanOrEqual(20);

    const long = 'word '.repeat(400);
    expect(searchQueryFor([{ role: 'user', content: long }], { maxCharacters: 100 }).query).toHaveLength(100);
    expect(searchQueryFor([{ role: 'system', content: 'only a system prompt' }])).toEqual({ query: '', followUp: false, messagesUsed: 0 });
  });
});
