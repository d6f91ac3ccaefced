// The extraction worker's entry: runs in a worker thread started by
// KnowledgeExtractor, never on a server's main thread. It only reads files
// it is sent and answers with their passages or the reason they failed.
import { parentPort } from 'node:worker_threads';
import { chunkBlocks } from './chunk.js';
import { extractBlocks } from './extract-file.js';
import type { ExtractionJob, SliceRequest, WorkerAnswer } from './worker-protocol.js';
import { ExtractionProblem } from './types.js';

const port = parentPort;
if (!port) throw new Error('extract-worker runs only as a worker thread.');

// Progress is sent at most this often, so a 2,000-page PDF is not 2,000 messages.
const progressIntervalMs = 100;
const passagesPerMessage = 256;

// The main thread asks for each next slice of passages when it has taken
// the last, so that it gets to its timers and sockets between slices.
let nextSlice: (() => void) | undefined;

port.on('message', (message: ExtractionJob | SliceRequest) => {
  if ('more' in message) {
    const send = nextSlice;
    nextSlice = undefined;
    send?.();
    return;
  }
  void run(message);
});

function sliceTaken(): Promise<void> {
  return new Promise((resolve) => {
    nextSlice = resolve;
  });
}

// Every file is chunked, so the tokenizer (tens of MB of tables) is loaded
// before the worker says it is ready: its loading never counts against a
// file's time budget.
await chunkBlocks([], { fileName: '' });
port.postMessage({ id: 0, type: 'ready' } satisfies WorkerAnswer);

async function run(job: ExtractionJob): Promise<void> {
  let lastProgress = 0;
  const progress = (fraction: number) => {
    const now = performance.now();
    if (now - lastProgress < progressIntervalMs) return;
    lastProgress = now;
    port!.postMessage({ id: job.id, type: 'progress', fraction } satisfies WorkerAnswer);
  };
  try {
    const file = { name: job.name, ...(job.contentType === undefined ? {} : { contentType: job.contentType }), bytes: new Uint8Array(job.bytes) };
    const extracted = await extractBlocks(file, job.limits, (fraction) => progress(fraction * 0.8));
    progress(0.8);
    const passages = await chunkBlocks(extracted.blocks, { ...job.chunk, fileName: job.name });
    // Sent in slices, one at a time: the main thread decodes each message
    // in one go, and ten thousand passages at once would hold it up for
    // hundreds of ms.
    for (let start = 0; start < passages.length; start += passagesPerMessage) {
      const taken = sliceTaken();
      port!.postMessage({ id: job.id, type: 'passages', passages: passages.slice(start, start + passagesPerMessage) } satisfies WorkerAnswer);
      await taken;
    }
    port!.postMessage({
      id: job.id,
      type: 'done',
      file: {
        format: extracted.format,
        passages: [],
        characters: extracted.characters,
        tokens: passages.reduce((total, passage) => total + passage.tokens, 0),
        warnings: extracted.warnings,
        ...(extracted.pages === undefined ? {} : { pages: extracted.pages }),
      },
    } satisfies WorkerAnswer);
  } catch (error) {
    if (ExtractionProblem.isInstance(error)) {
      port!.postMessage({ id: job.id, type: 'failed', problem: error.problem, message: error.message } satisfies WorkerAnswer);
      return;
    }
    // A fault of the extractor itself (a library bug, a stack overflow):
    // the main thread logs the detail, the owner sees a generic reason. Its
    // message is left out: library messages can quote the file's text.
    const frames =
      error instanceof Error
        ? (error.stack ?? '')
            .split('\n')
            .slice(1, 4)
            .map((line) => line.trim())
        : [];
    const detail = [error instanceof Error ? error.name : typeof error, ...frames].join(' ');
    port!.postMessage({ id: job.id, type: 'failed', detail } satisfies WorkerAnswer);
  }
}
