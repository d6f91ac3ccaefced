import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, test } from 'vitest';
import { chunkBlocks, describeLocation } from '../../src/knowledge/chunk.js';
import { extractBlocks } from '../../src/knowledge/extract-file.js';
import type { TextBlock } from '../../src/knowledge/types.js';
import { makePdf } from './files.js';

const paragraph = (text: string, headingPath: string[] = [], page?: number): TextBlock => ({ kind: 'paragraph', text, headingPath, ...(page ? { page } : {}) });
const row = (text: string, rowNumber: number, table = 0, headingPath: string[] = []): TextBlock => ({ kind: 'row', text, row: rowNumber, table, headingPath });

// Distinct sentences of about 12 tokens each.
const sentence = (index: number) => `Sentence number ${index} explains feature ${index * 7} of the product.`;

describe('chunkBlocks', () => {
  test('passages stay near the target size, carry their token count, and overlap by whole sentences', async () => {
    const text = Array.from({ length: 120 }, (_, index) => sentence(index)).join(' ');
    const passages = await chunkBlocks([paragraph(text, ['Guide'])], { fileName: 'guide.md', targetTokens: 100, overlapTokens: 30 });
    expect(passages.length).toBeGreaterThan(10);
    for (const passage of passages) {
      expect(passage.tokens).toBe(countTokens(passage.text));
      expect(passage.tokens).toBeLessThanOrEqual(100 + 30 + 10);
      expect(passage.text.startsWith('Guide\n')).toBe(true);
      expect(passage.location).toEqual({ file: 'guide.md', headingPath: ['Guide'] });
    }
    // Each passage after the first starts with the last sentence(s) of the one before.
    for (let index = 1; index < passages.length; index += 1) {
      const previousLast = passages[index - 1]!.text.split(/(?<=\.) /).at(-1)!;
      expect(passages[index]!.text.split('\n')[1]!.startsWith(previousLast)).toBe(true);
    }
    // Nothing is lost: every sentence is in some passage.
    const all = passages.map((passage) => passage.text).join(' ');
    for (let index = 0; index < 120; index += 1) expect(all).toContain(sentence(index));
    expect(passages.map((passage) => passage.index)).toEqual(passages.map((_, index) => index));
  });

  test('a table row is never split, and a passage holds rows of one table only, with their range', async () => {
    const long = `Plan: Enterprise; Notes: ${'unlimited seats and priority support '.repeat(20)}`;
    const blocks = [row('Plan: Pro; Price: 20', 1), row(long, 2), row('Plan: Team; Price: 50', 3), row('City: Lyon', 1, 1), row('City: Oslo', 2, 1)];
    const passages = await chunkBlocks(blocks, { fileName: 'prices.csv', targetTokens: 60 });
    expect(passages.map((passage) => [passage.location.rowStart, passage.location.rowEnd])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [1, 2],
    ]);
    expect(passages[1]!.text).toBe(long);
    expect(passages[1]!.tokens).toBeGreaterThan(60);
    expect(passages[3]!.text).toBe('City: Lyon\nCity: Oslo');
  });

  test('sections start new passages; short ones are joined with the next, keeping both headings in the text', async () => {
    const body = Array.from({ length: 12 }, (_, index) => sentence(index)).join(' ');
    const blocks: TextBlock[] = [
      { kind: 'heading', text: 'Setup', level: 1, headingPath: [] },
      paragraph(body, ['Setup']),
      { kind: 'heading', text: 'Wi-Fi', level: 2, headingPath: ['Setup'] },
      paragraph('Short.', ['Setup', 'Wi-Fi']),
      { kind: 'heading', text: 'Cables', level: 2, headingPath: ['Setup'] },
      paragraph('Also short.', ['Setup', 'Cables']),
    ];
    const passages = await chunkBlocks(blocks, { fileName: 'setup.md', targetTokens: 400, minTokens: 100 });
    expect(passages.map((passage) => passage.location.headingPath)).toEqual([['Setup'], ['Setup', 'Wi-Fi']]);
    expect(passages[1]!.text).toBe('Setup > Wi-Fi\nShort.\nSetup > Cables\nAlso short.');
  });

  test('identical passages of a file are kept once', async () => {
    const footer = paragraph('© Acme. All rights reserved.');
    const blocks = [paragraph('First page text that is long enough to stand alone as a passage.'), footer, footer, footer];
    const passages = await chunkBlocks(blocks, { fileName: 'a.txt', targetTokens: 16, overlapTokens: 0 });
    expect(passages.map((passage) => passage.text)).toEqual([
      'First page text that is long enough to stand alone as a passage.',
      '© Acme. All rights reserved.',
    ]);
  });

  test('a sentence longer than a passage is cut, also in a script without spaces', async () => {
    const words = Array.from({ length: 400 }, (_, index) => `word${index}`).join(' ');
    const cjk = '東京の店舗は毎日午前九時から午後八時まで営業しています'.repeat(40);
    const passages = await chunkBlocks([paragraph(words), paragraph(cjk)], { fileName: 'long.txt', targetTokens: 50, overlapTokens: 0 });
    for (const passage of passages) expect(passage.tokens).toBeLessThanOrEqual(80);
    expect(
      passages
        .map((passage) => passage.text)
        .join(' ')
        .replace(/\s+/g, ' '),
    ).toContain('word0 word1');
    expect(passages.map((passage) => passage.text).join('')).toContain('東京');
  });

  test('PDF passages keep their page range', async () => {
    const pages = Array.from({ length: 4 }, (_, page) =>
      Array.from({ length: 8 }, (_, line) => ({ text: `Page ${page + 1} line ${line} about the router's lights.` })),
    );
    const { blocks } = await extractBlocks({ name: 'manual.pdf', bytes: makePdf(pages) });
    const passages = await chunkBlocks(blocks, { fileName: 'manual.pdf', targetTokens: 120, overlapTokens: 0 });
    expect(passages.length).toBeGreaterThan(1);
    for (const passage of passages) {
      const mentioned = [...passage.text.matchAll(/Page (\d)/g)].map((match) => Number(match[1]));
      expect(passage.location.pageStart).toBe(Math.min(...mentioned));
      expect(passage.location.pageEnd).toBe(Math.max(...mentioned));
    }
  });
});

test('describeLocation reads as a person would write it', () => {
  expect(describeLocation({ file: 'manual.pdf', headingPath: ['Setup', 'Wi-Fi'], pageStart: 4, pageEnd: 5 })).toBe('manual.pdf, pages 4–5, Setup > Wi-Fi');
  expect(describeLocation({ file: 'prices.csv', headingPath: [], rowStart: 3, rowEnd: 3 })).toBe('prices.csv, row 3');
  expect(describeLocation({ file: 'notes.txt', headingPath: [] })).toBe('notes.txt');
});
