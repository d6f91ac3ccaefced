import { afterEach, describe, expect, test } from 'vitest';
import { chunkBlocks } from '../../src/knowledge/chunk.js';
import { extractBlocks } from '../../src/knowledge/extract-file.js';
import { KnowledgeExtractor, type KnowledgeExtractorOptions } from '../../src/knowledge/extractor.js';
import { KnowledgeFileError } from '../../src/knowledge/knowledge-error.js';
import type { KnowledgeFileInput } from '../../src/knowledge/types.js';
import { makeDocx, makePdf, wordParagraph, wordTable } from './files.js';

const extractors: KnowledgeExtractor[] = [];

afterEach(async () => {
  await Promise.all(extractors.splice(0).map((extractor) => extractor.close()));
});

function extractor(options: KnowledgeExtractorOptions = {}): KnowledgeExtractor {
  const created = new KnowledgeExtractor(options);
  extractors.push(created);
  return created;
}

const file = (name: string, content: string | Uint8Array): KnowledgeFileInput => ({
  name,
  bytes: typeof content === 'string' ? new TextEncoder().encode(content) : content,
});

// About 9 MB of CSV: reading and chunking it takes seconds of CPU.
function largeCsv(): KnowledgeFileInput {
  const rows = ['Product,Description,Price,Stock'];
  for (let index = 0; index < 90_000; index += 1) {
    rows.push(`Router model ${index},"Dual-band Wi-Fi 6 router with ${index % 8} antennas, mesh ready, two gigabit ports",${(index % 400) + 19},${index % 37}`);
  }
  return file('catalogue.csv', rows.join('\n'));
}

async function refusal(promise: Promise<unknown>): Promise<KnowledgeFileError> {
  try {
    await promise;
  } catch (error) {
    if (KnowledgeFileError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('The file was read, but should have been refused.');
}

// The longest gap between ticks of a 5 ms timer on this thread while `work` runs.
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  try {
    await work();
    longest = Math.max(longest, performance.now() - last);
  } finally {
    clearInterval(timer);
  }
  return longest;
}

describe('KnowledgeExtractor', () => {
  test('reads a file into passages in a worker thread', async () => {
    const docx = makeDocx(
      wordParagraph('Leave', 'Heading1') +
        wordParagraph('Everyone gets 25 days.') +
        wordTable([
          ['Years', 'Days'],
          ['5', '30'],
        ]),
    );
    const processed = await extractor().process({ name: 'handbook.docx', contentType: 'application/octet-stream', bytes: docx });
    expect(processed).toMatchObject({ format: 'docx', warnings: [], characters: expect.any(Number) });
    expect(processed.passages).toEqual([
      {
        index: 0,
        text: 'Leave\nEveryone gets 25 days.\nYears: 5; Days: 30',
        tokens: expect.any(Number),
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
        location: { file: 'handbook.docx', headingPath: ['Leave'], rowStart: 1, rowEnd: 1 },
      },
    ]);
    expect(processed.tokens).toBe(processed.passages[0]!.tokens);
  });

  test('the main thread keeps running while a large file is read (and would not, were it read on the main thread)', async () => {
    const large = largeCsv();
    expect(large.bytes.length).toBeGreaterThan(8 * 1024 * 1024);
    const pool = extractor();
    // Started first: starting a worker is not what is measured.
    await pool.process(file('warm.txt', 'Warm up.'));
    let processed: Awaited<ReturnType<KnowledgeExtractor['process']>> | undefined;
    const inWorker = await longestStall(async () => {
      processed = await pool.process(large);
    });
    const inThread = await longestStall(async () => {
      const { blocks } = await extractBlocks(large);
      await chunkBlocks(blocks, { fileName: large.name });
    });
    // The control, after: read on this thread, the same file holds it up for most of a second or more.
    expect(inThread).toBeGreaterThan(500);

    expect(processed!.passages.length).toBeGreaterThan(1_000);
    expect(processed!.passages[0]!.text).toMatch(/^Product: Router model 0; Description: Dual-band/);
    console.log(`figures: in-thread stall ${inThread.toFixed(0)} ms, in-worker stall ${inWorker.toFixed(0)} ms`);
    expect(inWorker).toBeLessThan(inThread / 4);
    expect(inWorker).toBeLessThan(250);
  });

  test('a file past its time budget fails with timeout, and the next file is read by a fresh worker', async () => {
    const pool = extractor({ timeoutMs: 300 });
    const error = await refusal(pool.process(largeCsv()));
    expect([error.problem, error.code, error.status, error.message]).toEqual([
      'timeout',
      'payload_too_large',
      413,
      'This file took longer than 300 ms to read; split it into smaller files.',
    ]);
    const next = await pool.process(file('notes.txt', 'Still working.'));
    expect(next.passages.map((passage) => passage.text)).toEqual(['Still working.']);
  });

  test('a file that needs more memory than the worker may use fails with out_of_memory; the pool carries on', async () => {
    const pool = extractor({ maxMemoryMb: 96, limits: { maxCharacters: 100_000_000 } });
    // Five million numbers, each a "[i][j]: n" line once flattened: far more than 96 MB of strings.
    const values = Array.from({ length: 50_000 }, () => Array.from({ length: 100 }, (_, index) => index % 10));
    const error = await refusal(pool.process(file('huge.json', JSON.stringify(values))));
    expect([error.problem, error.code]).toEqual(['out_of_memory', 'payload_too_large']);
    expect(error.message).toBe('This file needs more memory to read than the server allows; split it into smaller files.');
    expect((await pool.process(file('small.md', '# Hi\n\nThere.'))).passages).toHaveLength(1);
  });

  test('refused files answer with the reason, a stable code and status, and the OpenAI error shape', async () => {
    const pool = extractor({ limits: { maxBytes: 1_000 } });
    const unsupported = await refusal(pool.process(file('report.doc', 'x')));
    expect([unsupported.problem, unsupported.status]).toEqual(['unsupported_type', 415]);
    expect(unsupported.toJSON()).toEqual({
      error: { message: 'This file type is not supported; upload .txt, .md, .html, .pdf, .docx, .csv or .json.', type: 'airlock_error', code: 'input_invalid' },
    });
    const large = await refusal(pool.process(file('big.txt', 'x'.repeat(2_000))));
    expect([large.problem, large.status, large.message]).toEqual(['too_large', 413, 'This file is larger than 0.001 MB, the limit per file.']);
    const scanned = await refusal(pool.process(file('fake.pdf', 'not a pdf')));
    expect([scanned.problem, scanned.status]).toEqual(['content_mismatch', 400]);
  });

  test('files beyond the queue are refused as overloaded, and queued files are read in turn', async () => {
    const pool = extractor({ workers: 1, maxQueued: 1 });
    const first = pool.process(file('a.txt', 'First.'));
    const second = pool.process(file('b.txt', 'Second.'));
    const third = await refusal(pool.process(file('c.txt', 'Third.')));
    expect([third.problem, third.code, third.status, third.headers]).toEqual(['overloaded', 'service_unavailable', 503, { 'retry-after': '5' }]);
    expect((await first).passages[0]!.text).toBe('First.');
    expect((await second).passages[0]!.text).toBe('Second.');
  });

  test('an aborted file stops with the signal’s reason; progress is reported up to 1', async () => {
    const pool = extractor();
    const controller = new AbortController();
    const reason = new Error('owner cancelled');
    const aborted = pool.process(largeCsv(), { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 50);
    await expect(aborted).rejects.toBe(reason);

    const fractions: number[] = [];
    const pages = Array.from({ length: 300 }, (_, index) => [{ text: `Page ${index + 1} tells how to reset the router.` }]);
    const processed = await pool.process(file('manual.pdf', makePdf(pages)), { onProgress: (fraction) => fractions.push(fraction) });
    expect(processed.pages).toBe(300);
    expect(fractions.at(-1)).toBe(1);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
  });

  test('a long-lived signal keeps no listener for a file once it is read', async () => {
    const pool = extractor();
    const controller = new AbortController();
    const { EventEmitter } = await import('node:events');
    for (let index = 0; index < 3; index += 1) await pool.process(file(`f${index}.txt`, 'Some text.'), { signal: controller.signal });
    await expect(pool.process(file('bad.json', '{'), { signal: controller.signal })).rejects.toThrow();
    expect(EventEmitter.getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  test('a Node Buffer (a view of a shared pool) is copied, not taken: the caller keeps it, and only its own bytes are read', async () => {
    const reader = extractor();
    // Small Buffers share one pooled ArrayBuffer with whatever else was allocated near them.
    const neighbour = Buffer.from('Neighbouring secret bytes that are not part of the file.');
    const bytes = Buffer.from('Returns are free within 30 days.');
    const first = await reader.process({ name: 'returns.txt', bytes });
    expect(first.passages.map((passage) => passage.text).join('\n')).toBe('Returns are free within 30 days.');
    expect(bytes.toString()).toBe('Returns are free within 30 days.');
    expect(neighbour.toString()).toContain('Neighbouring');
    const again = await reader.process({ name: 'returns.txt', bytes });
    expect(again.passages).toHaveLength(1);
  });

  test('a closed extractor refuses new files', async () => {
    const pool = extractor();
    await pool.close();
    expect((await refusal(pool.process(file('a.txt', 'x')))).problem).toBe('overloaded');
  });
});
