// The knowledge store's conformance tests, run against a real SQLite file and
// a real PostgreSQL server (started by @airlock/test-services, as the main
// stores' tests do).
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '@airlock/test-services';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KnowledgeIndex } from '../../src/knowledge/knowledge-index.js';
import { searchTerms } from '../../src/knowledge/rank.js';
import { PostgresKnowledgeStore } from '../../src/stores/knowledge-postgres.js';
import { SqliteKnowledgeStore } from '../../src/stores/knowledge-sqlite.js';
import type { KnowledgePassageInput, KnowledgeSnapshot, KnowledgeStore, NewKnowledgeFile } from '../../src/stores/knowledge-store.js';
import { PostgresStore } from '../../src/stores/postgres-store.js';
import { SqliteStore } from '../../src/stores/sqlite-store.js';
import type { NewWidget, Store } from '../../src/stores/store.js';

interface Fixture {
  store: Store;
  knowledge: KnowledgeStore;
  /** The same database through another connection, as a second server instance has it. */
  another(): Promise<KnowledgeStore>;
  /** Rows of a raw statement, for counting what the store left behind. */
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Keyword index entries of the table (FTS5 rows in SQLite, passages with a non-empty tsvector in PostgreSQL). */
  keywordEntries(): Promise<number>;
  /** Passages the keyword index lists under `word`. */
  indexedUnder(word: string): Promise<number>;
  /** The knowledge store's clock. */
  clock: { now: Date };
}

const sha = (content: string) => createHash('sha256').update(content).digest('hex');

const newWidget = (overrides: Partial<NewWidget> = {}): NewWidget => ({
  name: 'support',
  type: 'chat',
  allowedOrigins: ['https://shop.example.com'],
  presentation: { title: 'Support', theme: 'auto' },
  behaviour: { model: 'gpt-4o-mini' },
  ...overrides,
});

const fileInput = (widgetId: string, content: string, overrides: Partial<NewKnowledgeFile> = {}): NewKnowledgeFile => ({
  widgetId,
  name: 'faq.md',
  format: 'md',
  bytes: Buffer.byteLength(content),
  sha256: sha(content),
  ...overrides,
});

function passage(index: number, text: string, overrides: Partial<KnowledgePassageInput> = {}): KnowledgePassageInput {
  return {
    index,
    text,
    tokens: searchTerms(text).length,
    hash: sha(text),
    location: { file: 'faq.md', headingPath: [] },
    ...overrides,
  };
}

const texts = (snapshot: KnowledgeSnapshot) => snapshot.passages.map((stored) => stored.text);

function defineKnowledgeStoreConformance(kind: 'sqlite' | 'postgres', createFixture: () => Promise<Fixture & { dispose(): Promise<void> }>): void {
  describe(`KnowledgeStore: ${kind}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function fresh(): Promise<Fixture & { widgetId: string }> {
      const fixture = await createFixture();
      cleanups.push(() => fixture.dispose());
      const widget = await fixture.store.createWidget(newWidget());
      return { ...fixture, widgetId: widget.id };
    }

    // A ready file of `widgetId` with one passage per text.
    async function readyFile(knowledge: KnowledgeStore, widgetId: string, name: string, passageTexts: string[], sourceUrl?: string) {
      const { file } = await knowledge.addFile(fileInput(widgetId, passageTexts.join('\n'), { name, ...(sourceUrl ? { sourceUrl } : {}) }));
      return knowledge.replacePassages(
        file.id,
        passageTexts.map((text, index) => passage(index, text, { location: { file: name, headingPath: [] } })),
      );
    }

    it('adds files queued, and gets and lists them within their widget only', async () => {
      const { store, knowledge, widgetId, clock, another } = await fresh();
      const other = await store.createWidget(newWidget({ name: 'sales', accountId: 'acme' }));
      clock.now = new Date('2026-12-03T09:00:00.000Z');
      const { file, duplicate } = await knowledge.addFile(
        fileInput(widgetId, 'Returns are free.', { name: 'returns.md', sourceUrl: 'https://shop.example.com/returns' }),
      );
      expect(duplicate).toBe(false);
      expect(file).toEqual({
        id: expect.stringMatching(/^kf_/),
        widgetId,
        name: 'returns.md',
        format: 'md',
        bytes: 17,
        sha256: sha('Returns are free.'),
        sourceUrl: 'https://shop.example.com/returns',
        status: 'queued',
        progress: 0,
        passages: 0,
        tokens: 0,
        createdAt: '2026-12-03T09:00:00.000Z',
        updatedAt: '2026-12-03T09:00:00.000Z',
      });
      clock.now = new Date('2026-12-03T09:00:01.000Z');
      const { file: second } = await knowledge.addFile(fileInput(widgetId, 'Prices', { name: 'prices.csv', format: 'csv' }));
      await knowledge.addFile(fileInput(other.id, 'Sales only'));

      expect(await knowledge.getFile(widgetId, file.id)).toEqual(file);
      expect(await knowledge.getFile(other.id, file.id)).toBeUndefined();
      expect(await knowledge.getFile(widgetId, 'kf_missing')).toBeUndefined();
      expect((await knowledge.listFiles(widgetId)).map((listed) => listed.id)).toEqual([file.id, second.id]);
      expect(await knowledge.listFiles('wgt_nobody')).toEqual([]);
      // Another connection (another server instance) sees the same.
      expect(await (await another()).getFile(widgetId, file.id)).toEqual(file);
    });

    it('detects the same content by its hash within a widget, and takes a failed upload again', async () => {
      const { store, knowledge, widgetId, clock } = await fresh();
      const other = await store.createWidget(newWidget({ name: 'sales' }));
      const { file } = await knowledge.addFile(fileInput(widgetId, 'Returns are free.'));
      const again = await knowledge.addFile(fileInput(widgetId, 'Returns are free.', { name: 'copy of faq.md' }));
      expect(again).toEqual({ file, duplicate: true });
      // Upper-case hex is the same hash.
      expect((await knowledge.addFile(fileInput(widgetId, 'Returns are free.', { sha256: sha('Returns are free.').toUpperCase() }))).duplicate).toBe(true);
      expect(await knowledge.listFiles(widgetId)).toHaveLength(1);
      // Another widget's file with the same content is its own.
      const elsewhere = await knowledge.addFile(fileInput(other.id, 'Returns are free.'));
      expect(elsewhere.duplicate).toBe(false);
      expect(elsewhere.file.id).not.toBe(file.id);

      // A ready file is a duplicate too.
      await knowledge.replacePassages(file.id, [passage(0, 'Returns are free.')]);
      expect((await knowledge.addFile(fileInput(widgetId, 'Returns are free.'))).duplicate).toBe(true);

      // A failed one is not: the owner was told to upload it again.
      const { file: broken } = await knowledge.addFile(fileInput(widgetId, 'broken', { name: 'broken.pdf', format: 'pdf' }));
      await knowledge.updateFile(broken.id, { status: 'failed', error: 'This file could not be read.' });
      clock.now = new Date('2026-12-03T09:05:00.000Z');
      const retried = await knowledge.addFile(fileInput(widgetId, 'broken', { name: 'broken.pdf', format: 'pdf' }));
      expect(retried.duplicate).toBe(false);
      expect(retried.file).toMatchObject({ status: 'queued', name: 'broken.pdf' });
      expect(retried.file.error).toBeUndefined();
      expect(await knowledge.getFile(widgetId, broken.id)).toBeUndefined();
      expect((await knowledge.listFiles(widgetId)).map((listed) => listed.id)).toEqual([file.id, retried.file.id]);
    });

    it('refuses an unknown widget and malformed fields without echoing them', async () => {
      const { knowledge, widgetId } = await fresh();
      await expect(knowledge.addFile(fileInput('wgt_missing', 'x'))).rejects.toMatchObject({ code: 'widget_not_found' });
      const hostile = '<script>alert(1)</script>';
      const cases: Partial<NewKnowledgeFile>[] = [
        { name: '' },
        { name: 'x'.repeat(256) },
        { name: `a\u0000b` },
        { name: `line\nbreak.md` },
        { format: 'exe' as never },
        { bytes: -1 },
        { bytes: 1.5 },
        { sha256: hostile },
        { sha256: 'ab' },
        { sourceUrl: `javascript:${hostile}` },
        { sourceUrl: 'not a url' },
        { sourceUrl: `https://example.com/${'a'.repeat(2_048)}` },
      ];
      for (const overrides of cases) {
        const failure = await knowledge.addFile(fileInput(widgetId, 'x', overrides)).catch((error: unknown) => error);
        expect(failure, JSON.stringify(overrides).slice(0, 80)).toMatchObject({ code: 'input_invalid' });
        expect((failure as Error).message).not.toContain('<script>');
      }
      await expect(knowledge.addFile(fileInput(widgetId, 'x', { replaces: 'kf_missing' }))).rejects.toMatchObject({ code: 'not_found' });
      expect(await knowledge.listFiles(widgetId)).toEqual([]);
    });

    it('updates an unfinished file, and changes a ready one only through its passages', async () => {
      const { knowledge, widgetId, clock } = await fresh();
      clock.now = new Date('2026-12-03T09:00:00.000Z');
      const { file } = await knowledge.addFile(fileInput(widgetId, 'Returns are free.'));
      clock.now = new Date('2026-12-03T09:00:02.000Z');
      const processing = await knowledge.updateFile(file.id, { status: 'processing', progress: 0.25 });
      expect(processing).toMatchObject({ status: 'processing', progress: 0.25, updatedAt: '2026-12-03T09:00:02.000Z', createdAt: file.createdAt });
      expect(await knowledge.getFile(widgetId, file.id)).toEqual(processing);
      expect((await knowledge.updateFile(file.id, { progress: 7 })).progress).toBe(1);
      expect((await knowledge.updateFile(file.id, { progress: -1 })).progress).toBe(0);
      await expect(knowledge.updateFile(file.id, { progress: Number.NaN })).rejects.toMatchObject({ code: 'input_invalid' });
      await expect(knowledge.updateFile(file.id, { status: 'failed' })).rejects.toMatchObject({ code: 'input_invalid' });
      await expect(knowledge.updateFile(file.id, { status: 'ready' as never })).rejects.toMatchObject({ code: 'input_invalid' });
      await expect(knowledge.updateFile('kf_missing', { progress: 0.5 })).rejects.toMatchObject({ code: 'not_found' });

      const failed = await knowledge.updateFile(file.id, { status: 'failed', error: 'This file could not be read.' });
      expect(failed).toMatchObject({ status: 'failed', error: 'This file could not be read.' });
      // A failed file does not become ready (its owner was told to upload it again) until it is queued again.
      await expect(knowledge.replacePassages(file.id, [passage(0, 'Returns are free.')])).rejects.toMatchObject({ code: 'conflict' });
      const queued = await knowledge.updateFile(file.id, { status: 'queued' });
      expect(queued.error).toBeUndefined();

      const ready = await knowledge.replacePassages(file.id, [passage(0, 'Returns are free.')]);
      expect(ready.status).toBe('ready');
      await expect(knowledge.updateFile(file.id, { status: 'processing' })).rejects.toMatchObject({ code: 'conflict' });
      await expect(knowledge.updateFile(file.id, { progress: 0.5 })).rejects.toMatchObject({ code: 'conflict' });
      expect(await knowledge.getFile(widgetId, file.id)).toEqual(ready);
    });

    it('stores passages with their locations and Float32 vectors, and makes the file ready in the same step', async () => {
      const { knowledge, widgetId, clock } = await fresh();
      const { file } = await knowledge.addFile(
        fileInput(widgetId, 'manual', { name: 'manual.pdf', format: 'pdf', sourceUrl: 'https://docs.example.com/manual.pdf' }),
      );
      const before = await knowledge.knowledgeVersion(widgetId);
      // Values a float64 cannot round-trip through float32 unchanged: what is stored is the float32.
      const first = Float32Array.from([0.1, -0.2, 1 / 3, 1e-30, -0, 65504.5, Math.PI, Number.MIN_VALUE]);
      const second = Float32Array.from({ length: 8 }, (_, index) => Math.sin(index) * 1e6);
      clock.now = new Date('2026-12-03T09:30:00.000Z');
      const ready = await knowledge.replacePassages(
        file.id,
        [
          passage(0, 'Setup > Wi-Fi\nHold the button for 5 seconds.', {
            location: { file: 'manual.pdf', headingPath: ['Setup', 'Wi-Fi'], pageStart: 4, pageEnd: 5 },
            vector: first,
          }),
          passage(1, 'Plan: Pro; Price: 20', { tokens: 9, location: { file: 'manual.pdf', headingPath: [], rowStart: 3, rowEnd: 9 }, vector: second }),
          passage(2, 'Warranty\nTwo years.', { tokens: 4, location: { file: 'manual.pdf', headingPath: ['Warranty'], pageStart: 7, pageEnd: 7 } }),
        ],
        { embeddingModel: 'text-embedding-3-small' },
      );
      expect(ready).toMatchObject({
        status: 'ready',
        progress: 1,
        passages: 3,
        embeddingModel: 'text-embedding-3-small',
        updatedAt: '2026-12-03T09:30:00.000Z',
      });
      expect(ready.tokens).toBe(searchTerms('Setup > Wi-Fi\nHold the button for 5 seconds.').length + 9 + 4);
      expect(ready.vectorsNote).toBeUndefined();
      expect(await knowledge.getFile(widgetId, file.id)).toEqual(ready);

      const snapshot = await knowledge.snapshot(widgetId);
      expect(snapshot.version).toBeGreaterThan(before);
      expect(snapshot.version).toBe(await knowledge.knowledgeVersion(widgetId));
      expect(snapshot.passages.map(({ vector, ...rest }) => ({ ...rest, hasVector: vector !== undefined }))).toEqual([
        {
          id: expect.any(String),
          fileId: file.id,
          ordinal: 0,
          tokens: 9,
          text: 'Setup > Wi-Fi\nHold the button for 5 seconds.',
          sourceUrl: 'https://docs.example.com/manual.pdf',
          location: { file: 'manual.pdf', headingPath: ['Setup', 'Wi-Fi'], pageStart: 4, pageEnd: 5 },
          hasVector: true,
        },
        {
          id: expect.any(String),
          fileId: file.id,
          ordinal: 1,
          tokens: 9,
          text: 'Plan: Pro; Price: 20',
          sourceUrl: 'https://docs.example.com/manual.pdf',
          location: { file: 'manual.pdf', headingPath: [], rowStart: 3, rowEnd: 9 },
          hasVector: true,
        },
        {
          id: expect.any(String),
          fileId: file.id,
          ordinal: 2,
          tokens: 4,
          text: 'Warranty\nTwo years.',
          sourceUrl: 'https://docs.example.com/manual.pdf',
          location: { file: 'manual.pdf', headingPath: ['Warranty'], pageStart: 7, pageEnd: 7 },
          hasVector: false,
        },
      ]);
      const [one, two] = snapshot.passages;
      expect(one!.vector).toBeInstanceOf(Float32Array);
      expect(Array.from(one!.vector!)).toEqual(Array.from(first));
      expect(Object.is(one!.vector![4], -0)).toBe(true);
      expect(Array.from(two!.vector!)).toEqual(Array.from(second));
      expect(new Set(snapshot.passages.map((stored) => stored.id)).size).toBe(3);

      // A KnowledgeIndex is built from the snapshot as it is.
      const index = new KnowledgeIndex(snapshot.passages);
      expect(index.vectorCount).toBe(2);
      expect(index.search('how long is the warranty', { top: 1 }).hits[0]!.passage.id).toBe(snapshot.passages[2]!.id);
    });

    it('stores text with NUL and control characters, NUL left out', async () => {
      const { knowledge, widgetId } = await fresh();
      const { file } = await knowledge.addFile(fileInput(widgetId, 'binary-ish'));
      await knowledge.replacePassages(file.id, [
        passage(0, 'Serial\u0000 number\u0007 AB12\u001b[0m here.', { location: { file: 'faq.md', headingPath: ['Keys\u0000', '\u2028Line'] } }),
      ]);
      const [stored] = (await knowledge.snapshot(widgetId)).passages;
      expect(stored!.text).toBe('Serial number\u0007 AB12\u001b[0m here.');
      expect(stored!.location.headingPath).toEqual(['Keys\u0000', '\u2028Line']);
      expect((await knowledge.keywordSearch(widgetId, 'serial ab12', 5)).map((hit) => hit.id)).toEqual([stored!.id]);
    });

    it('records why a file has no vectors, and refuses malformed vectors', async () => {
      const { knowledge, widgetId } = await fresh();
      const { file } = await knowledge.addFile(fileInput(widgetId, 'faq'));
      const note = 'The AI service has no embeddings; this file is searched by its words only.';
      const ready = await knowledge.replacePassages(file.id, [passage(0, 'Returns are free.')], { vectorsNote: note });
      expect(ready).toMatchObject({ vectorsNote: note });
      expect(ready.embeddingModel).toBeUndefined();
      expect((await knowledge.snapshot(widgetId)).passages[0]!.vector).toBeUndefined();

      const bad: KnowledgePassageInput[][] = [
        [passage(0, 'a', { vector: Float32Array.from([1, Number.NaN]) })],
        [passage(0, 'a', { vector: Float32Array.from([1, Number.POSITIVE_INFINITY]) })],
        [passage(0, 'a', { vector: new Float32Array(0) })],
        [passage(0, 'a', { vector: Float32Array.from([1, 2]) }), passage(1, 'b', { vector: Float32Array.from([1, 2, 3]) })],
        [passage(0, 'a', { vector: [1, 2] as never })],
      ];
      for (const passages of bad) {
        await expect(knowledge.replacePassages(file.id, passages)).rejects.toMatchObject({ code: 'input_invalid' });
      }
      expect(texts(await knowledge.snapshot(widgetId))).toEqual(['Returns are free.']);
      await expect(knowledge.replacePassages('kf_missing', [passage(0, 'a')])).rejects.toMatchObject({ code: 'not_found' });
    });

    it("swaps a file's passages so that no reader sees old and new together", async () => {
      const { knowledge, widgetId, another } = await fresh();
      const reader = await another();
      const oldTexts = Array.from({ length: 200 }, (_, index) => `Old edition paragraph ${index} about alpha pricing.`);
      const newTexts = Array.from({ length: 300 }, (_, index) => `New edition paragraph ${index} about beta pricing.`);
      const { file } = await knowledge.addFile(fileInput(widgetId, 'manual v1'));
      await knowledge.replacePassages(
        file.id,
        oldTexts.map((text, index) => passage(index, text)),
      );
      const oldVersion = await knowledge.knowledgeVersion(widgetId);

      const replacing = knowledge.replacePassages(
        file.id,
        newTexts.map((text, index) => passage(index, text, { vector: Float32Array.from([index, 1]) })),
      );
      let done = false;
      void replacing.then(
        () => (done = true),
        () => (done = true),
      );
      const seen: string[] = [];
      while (!done) {
        const [snapshot, hits, status] = await Promise.all([
          reader.snapshot(widgetId),
          reader.keywordSearch(widgetId, 'edition pricing', 1_000),
          reader.getFile(widgetId, file.id),
        ]);
        const editions = new Set(texts(snapshot).map((text) => text.split(' ')[0]));
        expect(editions.size, 'one edition per read').toBe(1);
        expect(snapshot.passages).toHaveLength(editions.has('Old') ? 200 : 300);
        expect(snapshot.version === oldVersion).toBe(editions.has('Old'));
        expect([200, 300]).toContain(hits.length);
        expect(status?.status).toBe('ready');
        seen.push([...editions][0]!);
      }
      await replacing;
      const after = await knowledge.snapshot(widgetId);
      expect(texts(after)).toEqual(newTexts);
      expect(after.version).toBeGreaterThan(oldVersion);
      expect(await knowledge.keywordSearch(widgetId, 'alpha', 10)).toEqual([]);
      expect(await knowledge.keywordSearch(widgetId, 'beta', 1_000)).toHaveLength(300);
      expect(await knowledge.getFile(widgetId, file.id)).toMatchObject({ status: 'ready', passages: 300 });
      expect(seen.length).toBeGreaterThan(0);
    });

    it('leaves the old passages and status as they were when a replace fails half-way', async () => {
      const { knowledge, widgetId, keywordEntries } = await fresh();
      const { file } = await knowledge.addFile(fileInput(widgetId, 'manual v1'));
      const ready = await knowledge.replacePassages(file.id, [passage(0, 'Returns are free within 30 days.'), passage(1, 'Shipping takes three days.')]);
      const before = await knowledge.snapshot(widgetId);

      // The 650th passage throws when read, after the old passages were deleted and
      // (PostgreSQL inserting in batches of 500) after the first batch was written.
      const failing = Array.from({ length: 700 }, (_, index) => passage(index, `Replacement ${index} about refunds.`));
      Object.defineProperty(failing[650]!, 'text', {
        get() {
          throw new Error('the extractor went away');
        },
      });
      await expect(knowledge.replacePassages(file.id, failing)).rejects.toThrowError('the extractor went away');
      expect(await knowledge.snapshot(widgetId)).toEqual(before);
      expect(await knowledge.getFile(widgetId, file.id)).toEqual(ready);
      expect(await knowledge.keywordSearch(widgetId, 'replacement refunds', 10)).toEqual([]);
      expect((await knowledge.keywordSearch(widgetId, 'returns', 10)).map((hit) => hit.id)).toEqual([before.passages[0]!.id]);
      expect(await keywordEntries()).toBe(2);

      // A file not ready yet stays as it was too: processing, with no passages.
      const { file: second } = await knowledge.addFile(fileInput(widgetId, 'second'));
      await knowledge.updateFile(second.id, { status: 'processing', progress: 0.9 });
      await expect(knowledge.replacePassages(second.id, failing)).rejects.toThrowError('the extractor went away');
      expect(await knowledge.getFile(widgetId, second.id)).toMatchObject({ status: 'processing', progress: 0.9, passages: 0 });
      expect(await knowledge.snapshot(widgetId)).toEqual(before);
      expect(await keywordEntries()).toBe(2);
    });

    it('keeps the old version of a file searchable until its new version is ready, then removes it in the same step', async () => {
      const { store, knowledge, widgetId, rows } = await fresh();
      const v1 = await readyFile(knowledge, widgetId, 'prices.md', ['Pro costs 20 dollars.', 'Team costs 50 dollars.']);
      const { file: v2 } = await knowledge.addFile(fileInput(widgetId, 'prices v2', { name: 'prices.md', replaces: v1.id }));
      expect(v2.replaces).toBe(v1.id);
      await knowledge.updateFile(v2.id, { status: 'processing', progress: 0.5 });
      expect(texts(await knowledge.snapshot(widgetId))).toEqual(['Pro costs 20 dollars.', 'Team costs 50 dollars.']);

      const ready = await knowledge.replacePassages(v2.id, [passage(0, 'Pro costs 25 dollars.')]);
      expect(ready.replaces).toBeUndefined();
      expect(await knowledge.getFile(widgetId, v1.id)).toBeUndefined();
      expect((await knowledge.listFiles(widgetId)).map((file) => file.id)).toEqual([v2.id]);
      expect(texts(await knowledge.snapshot(widgetId))).toEqual(['Pro costs 25 dollars.']);
      expect(await knowledge.keywordSearch(widgetId, 'team', 10)).toEqual([]);
      expect(await rows(`SELECT id FROM knowledge_passages WHERE file_id = '${v1.id}'`)).toEqual([]);

      // A new version that fails leaves the current one alone.
      const { file: v3 } = await knowledge.addFile(fileInput(widgetId, 'prices v3', { name: 'prices.md', replaces: v2.id }));
      await knowledge.updateFile(v3.id, { status: 'failed', error: 'This file could not be read.' });
      expect(texts(await knowledge.snapshot(widgetId))).toEqual(['Pro costs 25 dollars.']);
      // Only a file of the same widget can be replaced.
      const other = await store.createWidget(newWidget({ name: 'sales' }));
      await expect(knowledge.addFile(fileInput(other.id, 'x', { replaces: v2.id }))).rejects.toMatchObject({ code: 'not_found' });
    });

    it('lets the old version be removed while its new version becomes ready, through two connections', async () => {
      const { knowledge, widgetId, another, rows } = await fresh();
      const other = await another();
      // Until the new version's row is locked by the replace (PostgreSQL; SQLite's transactions run one at a time).
      const lockedByReplace = async (fileId: string, replacing: Promise<unknown>) => {
        let settled = false;
        void replacing.finally(() => (settled = true)).catch(() => {});
        while (kind === 'postgres' && !settled) {
          const locked = await rows(`SELECT id FROM knowledge_files WHERE id = '${fileId}' FOR UPDATE NOWAIT`).then(
            () => false,
            (error: { code?: string }) => error.code === '55P03',
          );
          if (locked) return;
        }
      };
      for (let round = 0; round < 3; round += 1) {
        const old = await readyFile(knowledge, widgetId, `v${round}.md`, [`Edition ${round}, first.`, `Edition ${round}, second.`]);
        const { file: next } = await knowledge.addFile(fileInput(widgetId, `next ${round}`, { replaces: old.id }));
        const passages = Array.from({ length: 3_000 }, (_, index) => passage(index, `Next edition ${round}, passage ${index}.`));
        // Removing the old file locks it, then the new one (whose `replaces` becomes NULL); the replace
        // locks both too. In opposite orders they would wait for each other (a deadlock, one aborted).
        const replacing = knowledge.replacePassages(next.id, passages);
        await lockedByReplace(next.id, replacing);
        const [removed, ready] = await Promise.all([other.removeFile(widgetId, old.id), replacing]);
        expect(typeof removed).toBe('boolean');
        expect(ready).toMatchObject({ status: 'ready', passages: 3_000 });
        expect(await knowledge.getFile(widgetId, old.id)).toBeUndefined();
        expect((await knowledge.getFile(widgetId, next.id))?.replaces).toBeUndefined();
        await knowledge.removeFile(widgetId, next.id);
      }
      expect(await knowledge.snapshot(widgetId)).toMatchObject({ passages: [] });
    });

    it('removes a file with every passage, vector and keyword entry', async () => {
      const { knowledge, widgetId, rows, keywordEntries, indexedUnder } = await fresh();
      const kept = await readyFile(knowledge, widgetId, 'kept.md', ['Shipping takes three days.']);
      const { file } = await knowledge.addFile(fileInput(widgetId, 'secret manual'));
      await knowledge.replacePassages(file.id, [
        passage(0, 'The zanzibarcode unlocks the door.', { vector: Float32Array.from([1, 2]) }),
        passage(1, 'Ask for the zanzibarcode at the desk.', { vector: Float32Array.from([3, 4]) }),
      ]);
      expect(await indexedUnder('zanzibarcode')).toBe(2);
      expect(await keywordEntries()).toBe(3);
      const version = await knowledge.knowledgeVersion(widgetId);

      expect(await knowledge.removeFile(widgetId, file.id)).toBe(true);
      expect(await knowledge.removeFile(widgetId, file.id)).toBe(false);
      expect(await knowledge.getFile(widgetId, file.id)).toBeUndefined();
      expect(await rows(`SELECT id FROM knowledge_files WHERE id = '${file.id}'`)).toEqual([]);
      expect(await rows(`SELECT id FROM knowledge_passages WHERE file_id = '${file.id}'`)).toEqual([]);
      expect(await rows('SELECT count(*) AS n FROM knowledge_passages WHERE vector IS NOT NULL')).toEqual([{ n: 0 }]);
      expect(await rows('SELECT count(*) AS n FROM knowledge_passages')).toEqual([{ n: 1 }]);
      expect(await keywordEntries()).toBe(1);
      expect(await indexedUnder('zanzibarcode')).toBe(0);
      expect(await knowledge.keywordSearch(widgetId, 'zanzibarcode', 10)).toEqual([]);
      expect(await knowledge.knowledgeVersion(widgetId)).toBeGreaterThan(version);
      expect((await knowledge.listFiles(widgetId)).map((listed) => listed.id)).toEqual([kept.id]);

      // Another widget cannot remove it.
      const { file: other } = await knowledge.addFile(fileInput(widgetId, 'other'));
      expect(await knowledge.removeFile('wgt_other', other.id)).toBe(false);
      expect(await knowledge.getFile(widgetId, other.id)).toBeDefined();
    });

    it("deletes a widget's knowledge with the widget", async () => {
      const { store, knowledge, widgetId, rows, keywordEntries } = await fresh();
      const other = await store.createWidget(newWidget({ name: 'sales' }));
      await readyFile(knowledge, widgetId, 'faq.md', ['Returns are free.', 'Shipping takes three days.']);
      await knowledge.addFile(fileInput(widgetId, 'queued one'));
      await readyFile(knowledge, other.id, 'sales.md', ['Call the sales team.']);
      expect(await store.deleteWidget(widgetId)).toBe(true);
      expect(await knowledge.listFiles(widgetId)).toEqual([]);
      expect(await rows(`SELECT id FROM knowledge_files WHERE widget_id = '${widgetId}'`)).toEqual([]);
      expect(await rows(`SELECT id FROM knowledge_passages WHERE widget_id = '${widgetId}'`)).toEqual([]);
      expect(await rows(`SELECT widget_id FROM knowledge_versions WHERE widget_id = '${widgetId}'`)).toEqual([]);
      expect(await keywordEntries()).toBe(1);
      expect(texts(await knowledge.snapshot(other.id))).toEqual(['Call the sales team.']);
    });

    it("ranks the passage with the words first, within the widget's ready files only", async () => {
      const { store, knowledge, widgetId, rows } = await fresh();
      // Another account's widget.
      const other = await store.createWidget(newWidget({ name: 'sales', accountId: 'acme' }));
      await readyFile(knowledge, widgetId, 'faq.md', [
        'Shipping takes three working days from Lisbon.',
        'Refunds are paid back to the card within 14 days of a return.',
        'The Pro plan costs 20 dollars a month.',
      ]);
      // Another widget's passage that matches better must not appear.
      await readyFile(knowledge, other.id, 'sales.md', ['Refunds refunds refunds: paid back to the card within days.']);
      const search = await knowledge.keywordSearch(widgetId, 'When are refunds paid back to my card?', 10);
      const { passages } = await knowledge.snapshot(widgetId);
      expect(search[0]!.id).toBe(passages[1]!.id);
      expect(search.every((hit) => passages.some((stored) => stored.id === hit.id))).toBe(true);
      for (let position = 1; position < search.length; position += 1) expect(search[position]!.score).toBeLessThanOrEqual(search[position - 1]!.score);
      expect(search[0]!.score).toBeGreaterThan(0);
      expect(await knowledge.keywordSearch(widgetId, 'refunds', 1)).toHaveLength(1);
      expect(await knowledge.keywordSearch(widgetId, 'refunds', 0)).toEqual([]);
      expect(await knowledge.keywordSearch(widgetId, 'nothing matches zyxwv', 10)).toEqual([]);
      expect(await knowledge.keywordSearch('wgt_missing', 'refunds', 10)).toEqual([]);

      // A file that is not ready (here put back to processing behind the store's back) is not searched.
      const [file] = await knowledge.listFiles(widgetId);
      await rows(`UPDATE knowledge_files SET status = 'processing' WHERE id = '${file!.id}'`);
      expect(await knowledge.keywordSearch(widgetId, 'refunds', 10)).toEqual([]);
      expect((await knowledge.snapshot(widgetId)).passages).toEqual([]);
    });

    it('reads a hostile question as plain words', async () => {
      const { knowledge, widgetId } = await fresh();
      await readyFile(knowledge, widgetId, 'faq.md', [
        'Near the station, and or not: the shop is open.',
        'Prices are in euros.',
        "O'Brien's café sells coffee.",
      ]);
      const questions = [
        '"AND OR NEAR( *',
        'NEAR(a b, 2)',
        '*',
        '"',
        "'",
        '\\',
        '^',
        'NOT',
        'a:b c:d',
        '{shop} OR [prices]',
        "'); DROP TABLE knowledge_passages; --",
        'shop & !open | <->',
        "O'Brien's",
        'café AND -euros',
        '\u0000\u0001',
        '',
        '   ',
        '🙂🙂',
        'x'.repeat(10_000),
        Array.from({ length: 2_000 }, (_, index) => `word${index}`).join(' '),
      ];
      for (const question of questions) {
        const hits = await knowledge.keywordSearch(widgetId, question, 5);
        expect(Array.isArray(hits), question.slice(0, 40)).toBe(true);
      }
      // The words of such a question still find what they name.
      const { passages } = await knowledge.snapshot(widgetId);
      expect((await knowledge.keywordSearch(widgetId, '"AND OR NEAR( *', 5)).map((hit) => hit.id)).toEqual([passages[0]!.id]);
      expect((await knowledge.keywordSearch(widgetId, "O'Brien's", 5)).map((hit) => hit.id)).toEqual([passages[2]!.id]);
      expect(await knowledge.listFiles(widgetId)).toHaveLength(1);
    });

    it('matches words as searchTerms reads them: case and accents folded', async () => {
      const { knowledge, widgetId } = await fresh();
      await readyFile(knowledge, widgetId, 'menu.md', ['Le CAFÉ crème coûte 3 €.', 'Überweisung per Banküberweisung.', '東京タワー の 営業時間']);
      const { passages } = await knowledge.snapshot(widgetId);
      expect((await knowledge.keywordSearch(widgetId, 'cafe creme', 5)).map((hit) => hit.id)).toEqual([passages[0]!.id]);
      expect((await knowledge.keywordSearch(widgetId, 'Café', 5)).map((hit) => hit.id)).toEqual([passages[0]!.id]);
      expect((await knowledge.keywordSearch(widgetId, 'UBERWEISUNG', 5)).map((hit) => hit.id)).toEqual([passages[1]!.id]);
      expect((await knowledge.keywordSearch(widgetId, '東京タワー', 5)).map((hit) => hit.id)).toEqual([passages[2]!.id]);
    });

    it('totals what a widget and an account hold, failed files left out', async () => {
      const { store, knowledge, widgetId } = await fresh();
      const sibling = await store.createWidget(newWidget({ name: 'sibling' }));
      const stranger = await store.createWidget(newWidget({ name: 'stranger', accountId: 'acme' }));
      expect(await knowledge.totals(widgetId)).toEqual({ files: 0, bytes: 0, passages: 0, tokens: 0 });
      await knowledge.addFile(fileInput(widgetId, 'a', { bytes: 1_000 }));
      const ready = await knowledge.addFile(fileInput(widgetId, 'b', { bytes: 2_000 }));
      await knowledge.replacePassages(ready.file.id, [passage(0, 'one two three'), passage(1, 'four five')]);
      const failed = await knowledge.addFile(fileInput(widgetId, 'c', { bytes: 4_000 }));
      await knowledge.updateFile(failed.file.id, { status: 'failed', error: 'This file could not be read.' });
      await knowledge.addFile(fileInput(sibling.id, 'd', { bytes: 8_000 }));
      await knowledge.addFile(fileInput(stranger.id, 'e', { bytes: 16_000 }));
      expect(await knowledge.totals(widgetId)).toEqual({ files: 2, bytes: 3_000, passages: 2, tokens: 5 });
      expect(await knowledge.accountTotals('default')).toEqual({ files: 3, bytes: 11_000, passages: 2, tokens: 5 });
      expect(await knowledge.accountTotals('acme')).toEqual({ files: 1, bytes: 16_000, passages: 0, tokens: 0 });
      expect(await knowledge.accountTotals('nobody')).toEqual({ files: 0, bytes: 0, passages: 0, tokens: 0 });
    });

    it('changes the knowledge version with the searchable passages only', async () => {
      const { knowledge, widgetId, store } = await fresh();
      const other = await store.createWidget(newWidget({ name: 'sales' }));
      const start = await knowledge.knowledgeVersion(widgetId);
      const { file } = await knowledge.addFile(fileInput(widgetId, 'faq'));
      await knowledge.updateFile(file.id, { status: 'processing', progress: 0.5 });
      expect(await knowledge.knowledgeVersion(widgetId)).toBe(start);
      await knowledge.replacePassages(file.id, [passage(0, 'Returns are free.')]);
      const afterReady = await knowledge.knowledgeVersion(widgetId);
      expect(afterReady).not.toBe(start);
      const otherStart = await knowledge.knowledgeVersion(other.id);
      await readyFile(knowledge, other.id, 'sales.md', ['Call us.']);
      expect(await knowledge.knowledgeVersion(widgetId)).toBe(afterReady);
      expect(await knowledge.knowledgeVersion(other.id)).not.toBe(otherStart);
      await knowledge.replacePassages(file.id, [passage(0, 'Returns are free for 30 days.')]);
      const afterReplace = await knowledge.knowledgeVersion(widgetId);
      expect(afterReplace).not.toBe(afterReady);
      await knowledge.removeFile(widgetId, file.id);
      expect(await knowledge.knowledgeVersion(widgetId)).not.toBe(afterReplace);
    });

    it('fails the files a crash left unfinished, and takes them again', async () => {
      const { knowledge, widgetId, clock } = await fresh();
      clock.now = new Date('2026-12-03T08:00:00.000Z');
      const { file: queued } = await knowledge.addFile(fileInput(widgetId, 'queued', { name: 'queued.md' }));
      const { file: processing } = await knowledge.addFile(fileInput(widgetId, 'processing', { name: 'processing.md' }));
      await knowledge.updateFile(processing.id, { status: 'processing', progress: 0.3 });
      const { file: ready } = await knowledge.addFile(fileInput(widgetId, 'ready', { name: 'ready.md' }));
      const readyRecord = await knowledge.replacePassages(ready.id, [passage(0, 'Returns are free.')]);
      const { file: failed } = await knowledge.addFile(fileInput(widgetId, 'failed', { name: 'failed.md' }));
      const failedRecord = await knowledge.updateFile(failed.id, { status: 'failed', error: 'This file could not be read.' });
      clock.now = new Date('2026-12-03T08:20:00.000Z');
      const live = await knowledge.updateFile((await knowledge.addFile(fileInput(widgetId, 'live', { name: 'live.md' }))).file.id, {
        status: 'processing',
        progress: 0.8,
      });

      clock.now = new Date('2026-12-03T08:21:00.000Z');
      const released = await knowledge.releaseStale(new Date('2026-12-03T08:10:00.000Z'));
      expect(released.map((file) => file.id).sort()).toEqual([queued.id, processing.id].sort());
      for (const file of released) {
        expect(file).toMatchObject({ status: 'failed', error: 'Ingestion was interrupted; upload the file again.', updatedAt: '2026-12-03T08:21:00.000Z' });
        expect(await knowledge.getFile(widgetId, file.id)).toEqual(file);
      }
      expect(await knowledge.getFile(widgetId, ready.id)).toEqual(readyRecord);
      expect(await knowledge.getFile(widgetId, failed.id)).toEqual(failedRecord);
      expect(await knowledge.getFile(widgetId, live.id)).toEqual(live);
      expect(await knowledge.releaseStale(new Date('2026-12-03T08:10:00.000Z'))).toEqual([]);
      // The interrupted job, if it was only slow, cannot make its file ready any more.
      await expect(knowledge.replacePassages(processing.id, [passage(0, 'late')])).rejects.toMatchObject({ code: 'conflict' });
      // And the owner can upload the file again, as told.
      const again = await knowledge.addFile(fileInput(widgetId, 'processing', { name: 'processing.md' }));
      expect(again).toMatchObject({ duplicate: false, file: { status: 'queued' } });
    });

    it('adds the same new content from two connections at once as one file', async () => {
      const { knowledge, widgetId, another } = await fresh();
      const second = await another();
      const results = await Promise.all(Array.from({ length: 6 }, (_, index) => (index % 2 ? second : knowledge).addFile(fileInput(widgetId, 'same bytes'))));
      expect(new Set(results.map((result) => result.file.id)).size).toBe(1);
      expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
      expect(await knowledge.listFiles(widgetId)).toHaveLength(1);
    });
  });
}

const root = mkdtempSync(join(tmpdir(), 'airlock-knowledge-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let files = 0;

defineKnowledgeStoreConformance('sqlite', async () => {
  const path = join(root, `knowledge-${++files}.db`);
  const clock = { now: new Date('2026-12-03T09:00:00.000Z') };
  const store = new SqliteStore({ path });
  await store.migrate();
  const opened: SqliteStore[] = [store];
  const rows = async <T>(sql: string) => {
    const statement = store.database.prepare(sql);
    return (statement.reader ? statement.all() : (statement.run(), [])) as T[];
  };
  return {
    store,
    knowledge: new SqliteKnowledgeStore(store.database, { now: () => clock.now }),
    async another() {
      const other = new SqliteStore({ path });
      opened.push(other);
      return new SqliteKnowledgeStore(other.database, { now: () => clock.now });
    },
    rows,
    async keywordEntries() {
      return (await rows<{ n: number }>('SELECT count(*) AS n FROM knowledge_passages_fts'))[0]!.n;
    },
    async indexedUnder(word) {
      store.database.exec("CREATE VIRTUAL TABLE IF NOT EXISTS temp.knowledge_vocabulary USING fts5vocab(main, 'knowledge_passages_fts', 'row')");
      const [row] = await rows<{ doc: number }>(`SELECT doc FROM temp.knowledge_vocabulary WHERE term = '${word}'`);
      const matched = (await rows<{ n: number }>(`SELECT count(*) AS n FROM knowledge_passages_fts WHERE knowledge_passages_fts MATCH '"${word}"'`))[0]!.n;
      expect(row?.doc ?? 0).toBe(matched);
      return matched;
    },
    clock,
    async dispose() {
      for (const each of opened) await each.close();
    },
  };
});

describe('SqliteKnowledgeStore', () => {
  it('runs the FTS5 search once, not once per passage of the widget', async () => {
    // A planner starting from the widget's passages would run the MATCH once per
    // passage (seconds here); searching FTS5 first takes milliseconds.
    const store = new SqliteStore({ path: join(root, `timing-${++files}.db`) });
    try {
      await store.migrate();
      const knowledge = new SqliteKnowledgeStore(store.database);
      const words = 'the a of to and in is for on with price plan pro team returns'.split(' ');
      const widgetIds: string[] = [];
      for (let widget = 0; widget < 2; widget += 1) {
        const { id } = await store.createWidget(newWidget({ name: `w${widget}` }));
        widgetIds.push(id);
        const { file } = await knowledge.addFile(fileInput(id, `content ${widget}`));
        const texts = Array.from({ length: 3_000 }, (_, index) => Array.from({ length: 40 }, (__, word) => words[(index + word * 7) % words.length]).join(' '));
        await knowledge.replacePassages(
          file.id,
          texts.map((text, index) => passage(index, text)),
        );
      }
      const started = performance.now();
      const hits = await knowledge.keywordSearch(widgetIds[0]!, 'what is the price of the pro plan', 50);
      const elapsed = performance.now() - started;
      expect(hits).toHaveLength(50);
      expect(elapsed).toBeLessThan(1_000);
    } finally {
      await store.close();
    }
  });

  it('refuses a connection without foreign keys, on which removals would leave passages behind', () => {
    const database = new Database(':memory:');
    try {
      // better-sqlite3 turns them on by default; a connection may have turned them off.
      database.pragma('foreign_keys = OFF');
      expect(() => new SqliteKnowledgeStore(database)).toThrowError(/foreign_keys = ON/);
      database.pragma('foreign_keys = ON');
      expect(new SqliteKnowledgeStore(database).kind).toBe('sqlite');
    } finally {
      database.close();
    }
  });
});

let postgres: PostgresServer | undefined;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(async () => {
  await postgres?.stop();
});

defineKnowledgeStoreConformance('postgres', async () => {
  const url = await postgres!.createDatabase();
  const clock = { now: new Date('2026-12-03T09:00:00.000Z') };
  const store = new PostgresStore({ connectionString: url });
  await store.migrate();
  const opened: PostgresStore[] = [store];
  // count(*) is a bigint, which pg reads as a string: counts are compared as numbers.
  const rows = async <T>(sql: string) =>
    (await store.pool.query(sql)).rows.map((row: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(row).map(([key, value]) => [key, key === 'n' ? Number(value) : value])),
    ) as T[];
  return {
    store,
    knowledge: new PostgresKnowledgeStore(store.pool, { now: () => clock.now }),
    async another() {
      const other = new PostgresStore({ connectionString: url });
      opened.push(other);
      return new PostgresKnowledgeStore(other.pool, { now: () => clock.now });
    },
    rows,
    async keywordEntries() {
      return (await rows<{ n: number }>("SELECT count(*) AS n FROM knowledge_passages WHERE search <> ''::tsvector"))[0]!.n;
    },
    async indexedUnder(word) {
      return (await rows<{ n: number }>(`SELECT count(*) AS n FROM knowledge_passages WHERE search @@ to_tsquery('simple', '''${word}''')`))[0]!.n;
    },
    clock,
    async dispose() {
      for (const each of opened) await each.close();
      const client = new pg.Client({ connectionString: postgres!.url() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
      await client.end();
    },
  };
});
