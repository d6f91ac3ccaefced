// KnowledgeRetriever: the store's keyword index answers a widget's first
// searches while the one in memory is built, a slice at a time (the event loop
// keeps turning), and both rank alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KnowledgeRetriever } from '../../src/knowledge/retrieval.js';
import { SqliteKnowledgeStore } from '../../src/stores/knowledge-sqlite.js';
import { SqliteStore } from '../../src/stores/sqlite-store.js';

const topics = ['refunds', 'shipping', 'warranty', 'invoices', 'passwords', 'routers', 'printers', 'batteries'];
let dir: string;
let store: SqliteStore;
let knowledge: SqliteKnowledgeStore;
let widgetId: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-retrieval-'));
  store = new SqliteStore({ path: join(dir, 'airlock.db') });
  await store.migrate();
  widgetId = (
    await store.createWidget({ name: 'w', type: 'chat', allowedOrigins: [], presentation: { title: 'W', theme: 'auto' }, behaviour: { model: 'gpt-4o-mini' } })
  ).id;
  knowledge = new SqliteKnowledgeStore(store.database);
  const { file } = await knowledge.addFile({ widgetId, name: 'help.md', format: 'md', bytes: 1, sha256: 'b'.repeat(64) });
  const passages = Array.from({ length: 3_000 }, (_, index) => {
    const topic = topics[index % topics.length]!;
    return {
      index,
      text: `Help ${index}\nThis page is about ${topic}, number ${index}, and how our ${topic} policy works.`,
      tokens: 20,
      hash: String(index),
      location: { file: 'help.md', headingPath: [`Help ${index}`] },
    };
  });
  passages.push({
    index: 3_000,
    text: 'Lost parcels\nA parcel lost in transit is refunded after fourteen days of waiting.',
    tokens: 14,
    hash: 'lost',
    location: { file: 'help.md', headingPath: ['Lost parcels'] },
  });
  await knowledge.replacePassages(file.id, passages);
});
afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('KnowledgeRetriever', () => {
  it('answers from the store first, builds its own keyword index without holding up the event loop, and ranks alike', async () => {
    const retriever = new KnowledgeRetriever(knowledge);
    const question = 'What happens to a lost parcel in transit?';
    const first = await retriever.search(widgetId, question, { top: 3 });
    expect(first[0]!.passage.text).toContain('Lost parcels');
    let turned = false;
    setImmediate(() => (turned = true));
    const building = retriever.ready().then(() => turned);
    expect(await building).toBe(true);
    const second = await retriever.search(widgetId, question, { top: 3 });
    expect(second[0]!.passage.id).toBe(first[0]!.passage.id);
    expect(second[0]!.keyword?.rank).toBe(1);
  });
});
