// Knowledge: what reading files and retrieving passages cost, and how well
// retrieval finds the section that answers a question, each against a
// baseline measured in the same run. Not pass/fail: it prints figures.
//
// (a) Ingestion: MB per minute of the extractor and chunker (KnowledgeExtractor,
//     one worker thread, as the server runs it) over this repository's docs/
//     as Markdown, and as HTML, DOCX, PDF and CSV files generated from the same
//     text (the test suite's PDF and DOCX writers). Embeddings are excluded.
//     Baseline: counting the tokens of the extracted text alone (gpt-tokenizer,
//     o200k_base), the floor of any token-counted chunker.
// (b) Retrieval latency at 10,000 passages (sentences of docs/ recombined):
//     p50 and p99 of keyword (BM25), vector (exact cosine) and hybrid (both,
//     fused by reciprocal rank) search, top 5, the question's embedding made
//     beforehand (excluded, as the budget says). Vectors of 256 and of 1,536
//     dimensions. Budget: p50 under 20 ms. Baseline: one plain dot product
//     with every vector, no ranking (the floor of exact vector search).
// (c) Retrieval quality over docs/*.md (benchmarks.md left out): recall@5 and
//     MRR of keyword, vector and hybrid search on the labelled questions in
//     bench/knowledge-questions.json (each labelled with the file and ##
//     section that answers it), against a BM25 over whole documents in the
//     same run (compared by file; the passage retrievers also by section).
//
// Vectors come from the stand-in upstream's POST /v1/embeddings through
// createEmbeddings: hashed word and character n-grams, NOT a semantic model,
// so the vector and hybrid figures are a floor for what a real embedding
// model gives.
//
// The knowledge core is not part of @airlock/server's public entry points yet,
// so its sources are bundled here with esbuild (into the server package's
// node_modules/.cache, where their imports resolve as the server's do).
//
// Usage: node bench/knowledge.mjs [--quick]   (needs the packages built: @airlock/testing)
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startUpstream } from '@airlock/testing';

const quick = process.argv.includes('--quick');
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const server = join(root, 'packages/server');
const budgetMs = 20;
const passageCount = 10_000;

async function loadKnowledge() {
  const esbuild = createRequire(join(server, 'package.json'))('esbuild');
  // The path the server answers from: the SQLite store's FTS5 index and the retriever over its cached vectors.
  writeFileSync(
    join(server, 'bench-entry-stored.ts'),
    "export { SqliteStore } from './src/stores/sqlite-store.js';\nexport { SqliteKnowledgeStore } from './src/stores/knowledge-sqlite.js';\nexport { KnowledgeRetriever } from './src/knowledge/retrieval.js';\n",
  );
  // The extractor finds its worker at dist/knowledge/extract-worker.js beside its bundle.
  const outdir = join(server, 'node_modules/.cache/airlock-bench-knowledge/dist');
  await esbuild
    .build({
      entryPoints: {
        knowledge: join(server, 'src/knowledge/index.ts'),
        'knowledge/extract-worker': join(server, 'src/knowledge/extract-worker.ts'),
        'test-files': join(server, 'test/knowledge/files.ts'),
        stored: join(server, 'bench-entry-stored.ts'),
      },
      outdir,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outExtension: { '.js': '.js' },
      logLevel: 'silent',
    })
    .finally(() => rmSync(join(server, 'bench-entry-stored.ts'), { force: true }));
  const knowledge = await import(pathToFileURL(join(outdir, 'knowledge.js')).href);
  const stored = await import(pathToFileURL(join(outdir, 'stored.js')).href);
  const files = await import(pathToFileURL(join(outdir, 'test-files.js')).href);
  const { countTokens } = await import(pathToFileURL(createRequire(join(server, 'package.json')).resolve('gpt-tokenizer/encoding/o200k_base')).href);
  return { ...knowledge, ...files, ...stored, countTokens };
}

/** A small seeded generator, so that every run measures the same passages. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function markdownFiles(folder) {
  const found = [];
  for (const name of readdirSync(folder).sort()) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) found.push(...markdownFiles(path));
    else if (name.endsWith('.md')) found.push(path);
  }
  return found;
}

const escapeHtml = (text) => text.replace(/[&<>"]/g, (character) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot' }[character]};`);
const latin1 = (text) => text.normalize('NFKD').replace(/[^\x20-\x7e]/g, '');

/** The same documents as HTML, DOCX and PDF, written from their extracted blocks. */
function otherFormats(documents, kit) {
  const html = [];
  const docx = [];
  const pdf = [];
  for (const { name, blocks } of documents) {
    const base = name.replace(/\.md$/, '').replaceAll('/', '-');
    const body = blocks
      .map((block) =>
        block.kind === 'heading'
          ? `<h${block.level}>${escapeHtml(block.text)}</h${block.level}>`
          : block.kind === 'code'
            ? `<pre>${escapeHtml(block.text)}</pre>`
            : `<p>${escapeHtml(block.text)}</p>`,
      )
      .join('\n');
    html.push({ name: `${base}.html`, bytes: Buffer.from(`<!doctype html><html><head><title>${base}</title></head><body><main>${body}</main></body></html>`) });
    docx.push({
      name: `${base}.docx`,
      // The test writer puts text in as it is: escaped here. It defines heading styles 1 to 3.
      bytes: kit.makeDocx(
        blocks.map((block) => kit.wordParagraph(escapeHtml(block.text), block.kind === 'heading' ? `Heading${Math.min(block.level, 3)}` : undefined)).join(''),
      ),
    });
    // Pages of 45 lines of at most 90 characters, headings in larger type.
    const lines = [];
    for (const block of blocks) {
      const size = block.kind === 'heading' ? 20 - 2 * Math.min(block.level, 4) : 10;
      let rest = latin1(block.text).replace(/\s+/g, ' ').trim();
      while (rest) {
        let cut = rest.length <= 90 ? rest.length : rest.lastIndexOf(' ', 90);
        if (cut <= 0) cut = 90;
        lines.push({ text: rest.slice(0, cut), size });
        rest = rest.slice(cut).trim();
      }
      lines.push({ text: '', size: 4 });
    }
    const pages = [];
    for (let start = 0; start < lines.length; start += 45) pages.push(lines.slice(start, start + 45).filter((line) => line.text));
    pdf.push({ name: `${base}.pdf`, bytes: kit.makePdf(pages.filter((page) => page.length > 0)) });
  }
  // One catalogue of 20,000 rows, its descriptions taken from the docs' sentences.
  const sentences = documents.flatMap(({ blocks }) => blocks.filter((block) => block.kind === 'paragraph').map((block) => block.text));
  const next = random(11);
  const rows = ['sku,product,category,price,description'];
  for (let row = 1; row <= 20_000; row += 1) {
    const description = sentences[Math.floor(next() * sentences.length)].replaceAll('"', '""');
    rows.push(`SKU-${row},Product ${row},Category ${row % 37},${(next() * 500).toFixed(2)},"${description}"`);
  }
  return { html, docx, pdf, csv: [{ name: 'catalogue.csv', bytes: Buffer.from(rows.join('\n')) }] };
}

const megabytesPerMinute = (bytes, ms) => ((bytes / 1e6) * 60_000) / ms;

async function ingestion(kit, markdown) {
  console.log('(a) Ingestion: extractor and chunker, one worker thread, embeddings excluded');
  const extractor = new kit.KnowledgeExtractor({ workers: 1 });
  // Blocks for writing the other formats, read in this process.
  const documents = [];
  for (const file of markdown) documents.push({ name: file.name, blocks: (await kit.extractBlocks(file)).blocks });
  const formats = { md: markdown, ...otherFormats(documents, kit) };
  // One file first, so that starting the worker and loading pdfjs are not counted.
  await extractor.process(formats.pdf[0]);
  await extractor.process(formats.docx[0]);
  const rows = [];
  for (const [format, files] of Object.entries(formats)) {
    const bytes = files.reduce((sum, file) => sum + file.bytes.length, 0);
    const started = performance.now();
    let passages = 0;
    let characters = 0;
    const texts = [];
    for (const file of files) {
      const result = await extractor.process(file);
      passages += result.passages.length;
      characters += result.characters;
      for (const passage of result.passages) texts.push(passage.text);
    }
    const ms = performance.now() - started;
    const tokenStart = performance.now();
    for (const text of texts) kit.countTokens(text);
    const tokenMs = performance.now() - tokenStart;
    rows.push({ format, files: files.length, bytes, passages, characters, ms, tokenMs });
  }
  await extractor.close();
  console.log('| format | files | MB | passages | MB/min | baseline: tokenizing the passages alone, MB/min of input | share of time in tokenizing |');
  console.log('|---|---|---|---|---|---|---|');
  for (const row of rows) {
    console.log(
      `| ${row.format} | ${row.files} | ${(row.bytes / 1e6).toFixed(2)} | ${row.passages} | ${megabytesPerMinute(row.bytes, row.ms).toFixed(0)} | ${megabytesPerMinute(row.bytes, row.tokenMs).toFixed(0)} | ${((row.tokenMs / row.ms) * 100).toFixed(0)}% |`,
    );
  }
  console.log('');
}

function percentile(values, fraction) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

async function latency(kit, sentences, questions, embed) {
  console.log(`(b) Retrieval latency at ${passageCount.toLocaleString('en')} passages, top 5, question embeddings made beforehand`);
  const next = random(5);
  const texts = [];
  for (let index = 0; index < passageCount; index += 1) {
    const parts = [];
    let length = 0;
    // About 1,600 characters (some 400 tokens), a passage's size.
    while (length < 1_600) {
      const sentence = sentences[Math.floor(next() * sentences.length)];
      parts.push(sentence);
      length += sentence.length + 1;
    }
    texts.push(`Section ${index % 97}\n${parts.join(' ')}`);
  }
  const rounds = quick ? 3 : 10;
  console.log('| dimensions | mode | p50 ms | p99 ms | budget (p50) | baseline: one dot product per vector, p50 ms |');
  console.log('|---|---|---|---|---|---|');
  for (const dimensions of [256, 1536]) {
    const vectors = await embed(texts, dimensions);
    const questionVectors = await embed(questions, dimensions);
    const buildStart = performance.now();
    const index = new kit.KnowledgeIndex(
      texts.map((text, position) => ({ id: `p${position}`, text, location: { file: 'bench.md', headingPath: [] }, vector: vectors[position] })),
    );
    const buildMs = performance.now() - buildStart;
    const floor = [];
    for (let round = 0; round < rounds; round += 1) {
      for (const query of questionVectors) {
        const started = performance.now();
        let best = -Infinity;
        for (const vector of vectors) {
          let dot = 0;
          for (let position = 0; position < vector.length; position += 1) dot += vector[position] * query[position];
          if (dot > best) best = dot;
        }
        floor.push(performance.now() - started);
      }
    }
    for (const mode of ['keyword', 'vector', 'hybrid']) {
      // A warm-up pass, so that the figures are of optimised code.
      for (const [position, question] of questions.entries()) index.search(question, { top: 5, mode, queryVector: questionVectors[position] });
      const times = [];
      for (let round = 0; round < rounds; round += 1) {
        for (const [position, question] of questions.entries()) {
          const started = performance.now();
          index.search(question, { top: 5, mode, queryVector: questionVectors[position] });
          times.push(performance.now() - started);
        }
      }
      const p50 = percentile(times, 0.5);
      console.log(
        `| ${dimensions} | ${mode} | ${p50.toFixed(2)} | ${percentile(times, 0.99).toFixed(2)} | ${p50 < budgetMs ? 'within' : 'OVER'} ${budgetMs} ms | ${percentile(floor, 0.5).toFixed(2)} |`,
      );
    }
    console.log(`| ${dimensions} | (building the index) | ${buildMs.toFixed(0)} ms once | | | |`);
    await storedLatency(kit, texts, vectors, questions, questionVectors, dimensions, rounds, percentile(floor, 0.5));
  }
  console.log('');
}

// The same search as the server runs it: the keyword candidates from SQLite's
// FTS5 index (confined to the widget in the query), fused with exact cosine
// over the vectors the retriever keeps, on a temp SQLite file.
async function storedLatency(kit, texts, vectors, questions, questionVectors, dimensions, rounds, floorMs) {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-knowledge-'));
  const store = new kit.SqliteStore({ path: join(dir, 'airlock.db') });
  try {
    await store.migrate();
    const widget = await store.createWidget({
      name: 'bench',
      type: 'chat',
      allowedOrigins: [],
      presentation: { title: 'Bench', theme: 'auto' },
      behaviour: { model: 'gpt-4o-mini' },
    });
    const knowledge = new kit.SqliteKnowledgeStore(store.database);
    const { file } = await knowledge.addFile({ widgetId: widget.id, name: 'bench.md', format: 'md', bytes: 1, sha256: 'a'.repeat(64) });
    await knowledge.replacePassages(
      file.id,
      texts.map((text, index) => ({ index, text, tokens: 400, hash: String(index), location: { file: 'bench.md', headingPath: [] }, vector: vectors[index] })),
    );
    const retriever = new kit.KnowledgeRetriever(knowledge);
    const search = (position) => retriever.search(widget.id, questions[position], { top: 5, embed: async () => questionVectors[position] });
    // The first search reads the passages and starts the keyword index in memory; timed once it is built.
    const firstStarted = performance.now();
    await search(0);
    const firstMs = performance.now() - firstStarted;
    await retriever.ready();
    const readyMs = performance.now() - firstStarted;
    for (const [position] of questions.entries()) await search(position);
    const times = [];
    for (let round = 0; round < rounds; round += 1) {
      for (const [position] of questions.entries()) {
        const started = performance.now();
        await search(position);
        times.push(performance.now() - started);
      }
    }
    const p50 = percentile(times, 0.5);
    console.log(
      `| ${dimensions} | hybrid as served (KnowledgeRetriever: BM25 and vectors kept in memory) | ${p50.toFixed(2)} | ${percentile(times, 0.99).toFixed(2)} | ${p50 < budgetMs ? 'within' : 'OVER'} ${budgetMs} ms | ${floorMs.toFixed(2)} |`,
    );
    console.log(
      `| ${dimensions} | (as served: first search, reading the passages, FTS5 keywords) | ${firstMs.toFixed(0)} ms once; its keyword index ready, built in slices, after ${readyMs.toFixed(0)} ms | | | |`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const plain = (text) => text.replaceAll('`', '').trim().toLowerCase();

async function quality(kit, questions, embed) {
  console.log('(c) Retrieval quality over docs/*.md (benchmarks.md left out), questions in bench/knowledge-questions.json');
  const files = markdownFiles(join(root, 'docs'))
    .filter((path) => dirname(path) === join(root, 'docs') && !path.endsWith('benchmarks.md'))
    .map((path) => ({ name: relative(join(root, 'docs'), path), bytes: readFileSync(path) }));
  const extractor = new kit.KnowledgeExtractor({ workers: 1 });
  const passages = [];
  for (const file of files) {
    const result = await extractor.process(file);
    for (const passage of result.passages) passages.push({ id: `${file.name}#${passage.index}`, text: passage.text, location: passage.location });
  }
  await extractor.close();
  const vectors = await embed(
    passages.map((passage) => passage.text),
    256,
  );
  const index = new kit.KnowledgeIndex(passages.map((passage, position) => ({ ...passage, vector: vectors[position] })));
  const documents = new kit.Bm25Index(files.map((file) => ({ id: file.name, text: file.bytes.toString('utf8') })));
  const questionVectors = await embed(
    questions.map((item) => item.question),
    256,
  );

  const sectionHit = (passage, answers) =>
    answers.some((answer) => answer.file === passage.location.file && passage.location.headingPath.some((heading) => plain(heading) === plain(answer.section)));
  const metrics = () => ({ found: 0, reciprocal: 0 });
  const score = (entry, rank) => {
    if (rank === undefined) return;
    if (rank <= 5) entry.found += 1;
    entry.reciprocal += 1 / rank;
  };
  const results = {
    keyword: { section: metrics(), file: metrics() },
    vector: { section: metrics(), file: metrics() },
    hybrid: { section: metrics(), file: metrics() },
    served: { section: metrics(), file: metrics() },
  };
  const baseline = metrics();
  const served = await servedSearch(kit, passages, vectors);
  for (const [position, item] of questions.entries()) {
    const files = new Set(item.answers.map((answer) => answer.file));
    for (const mode of ['keyword', 'vector', 'hybrid']) {
      // MRR counts the first right answer within the top 10.
      const { hits } = index.search(item.question, { top: 10, mode, queryVector: questionVectors[position] });
      const sectionRank = hits.findIndex((hit) => sectionHit(hit.passage, item.answers));
      score(results[mode].section, sectionRank === -1 ? undefined : sectionRank + 1);
      const rankedFiles = [...new Set(hits.map((hit) => hit.passage.location.file))];
      const fileRank = rankedFiles.findIndex((file) => files.has(file));
      score(results[mode].file, fileRank === -1 ? undefined : fileRank + 1);
    }
    {
      const hits = await served.search(item.question, questionVectors[position]);
      const sectionRank = hits.findIndex((hit) => sectionHit(hit.passage, item.answers));
      score(results.served.section, sectionRank === -1 ? undefined : sectionRank + 1);
      const rankedFiles = [...new Set(hits.map((hit) => hit.passage.location.file))];
      const fileRank = rankedFiles.findIndex((file) => files.has(file));
      score(results.served.file, fileRank === -1 ? undefined : fileRank + 1);
    }
    const ranked = documents.search(item.question, 10).map((hit) => hit.id);
    const rank = ranked.findIndex((file) => files.has(file));
    score(baseline, rank === -1 ? undefined : rank + 1);
  }
  const count = questions.length;
  const figure = (entry) => `${((entry.found / count) * 100).toFixed(0)}% | ${(entry.reciprocal / count).toFixed(2)}`;
  console.log(
    `${files.length} files, ${passages.length} passages, ${count} questions. Vectors: the stand-in's hashed n-grams (256 dimensions), not a semantic model.`,
  );
  console.log('| retrieval | section recall@5 | section MRR | file recall@5 | file MRR |');
  console.log('|---|---|---|---|---|');
  console.log(`| baseline: BM25 over whole documents | — | — | ${figure(baseline)} |`);
  for (const mode of ['keyword', 'vector', 'hybrid']) console.log(`| ${mode} passages | ${figure(results[mode].section)} | ${figure(results[mode].file)} |`);
  console.log(`| hybrid as served (KnowledgeRetriever, filler words left out) | ${figure(results.served.section)} | ${figure(results.served.file)} |`);
  await served.close();
  console.log('');
}

// The passages in a temp SQLite knowledge store, searched as the server does (KnowledgeRetriever).
async function servedSearch(kit, passages, vectors) {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-knowledge-'));
  const store = new kit.SqliteStore({ path: join(dir, 'airlock.db') });
  await store.migrate();
  const widget = await store.createWidget({
    name: 'bench',
    type: 'chat',
    allowedOrigins: [],
    presentation: { title: 'Bench', theme: 'auto' },
    behaviour: { model: 'gpt-4o-mini' },
  });
  const knowledge = new kit.SqliteKnowledgeStore(store.database);
  const byFile = new Map();
  passages.forEach((passage, position) => {
    const list = byFile.get(passage.location.file) ?? [];
    list.push({ index: list.length, text: passage.text, tokens: 400, hash: passage.id, location: passage.location, vector: vectors[position] });
    byFile.set(passage.location.file, list);
  });
  for (const [name, list] of byFile) {
    const { file } = await knowledge.addFile({ widgetId: widget.id, name, format: 'md', bytes: 1, sha256: createHash('sha256').update(name).digest('hex') });
    await knowledge.replacePassages(file.id, list);
  }
  const retriever = new kit.KnowledgeRetriever(knowledge);
  await retriever.search(widget.id, 'warm up', { top: 1 });
  await retriever.ready();
  return {
    search: (question, vector) => retriever.search(widget.id, question, { top: 10, embed: async () => vector }),
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main() {
  const kit = await loadKnowledge();
  const { questions } = JSON.parse(readFileSync(join(here, 'knowledge-questions.json'), 'utf8'));
  // A stand-in per call: this process's long synchronous stretches outlast the
  // server's keep-alive, and a reused socket it closed meanwhile would reset.
  const embed = async (texts, dimensions) => {
    const upstream = await startUpstream();
    try {
      return (await kit.createEmbeddings(texts, { apiKey: 'sk-bench-knowledge', baseURL: upstream.baseURL, dimensions, batchSize: 256 })).vectors;
    } finally {
      await upstream.close();
    }
  };
  {
    const markdown = markdownFiles(join(root, 'docs')).map((path) => ({ name: relative(join(root, 'docs'), path), bytes: readFileSync(path) }));
    await ingestion(kit, quick ? markdown.slice(0, 8) : markdown);
    const sentences = [];
    for (const file of markdown) {
      for (const block of (await kit.extractBlocks(file)).blocks) {
        if (block.kind === 'paragraph' || block.kind === 'list-item') sentences.push(block.text);
      }
    }
    await latency(
      kit,
      sentences,
      questions.map((item) => item.question),
      embed,
    );
    await quality(kit, questions, embed);
  }
}

await main();
