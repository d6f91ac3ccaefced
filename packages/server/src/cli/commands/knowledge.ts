import type { Airlock } from '../../airlock.js';
import type { KnowledgeService } from '../../knowledge/knowledge-service.js';
import type { KnowledgeFileRecord } from '../../stores/knowledge-store.js';
import type { WidgetRecord } from '../../stores/store.js';
import { act, CliCommand, printJson, progressLine, required, runCommand, UsageError, wholeNumberFlag, type Outcome } from '../shared.js';
import { knowledgeOptionsFromEnvironment } from './serve.js';

interface KnowledgeFlags {
  widget?: string;
  dev?: boolean;
  json?: boolean;
}

interface AddFlags extends KnowledgeFlags {
  url?: string;
  replaces?: string;
}

interface SearchFlags extends KnowledgeFlags {
  top?: string;
}

/** What `add` did with one path: the file it added (or already had), or why it refused it. */
interface AddOutcome {
  path: string;
  name: string;
  file?: KnowledgeFileRecord;
  duplicate?: boolean;
  error?: { code: string; message: string };
}

const logLevels = new Set(['debug', 'info', 'warn', 'error']);

function commonFlags(command: CliCommand): CliCommand {
  return command
    .option('--widget <widget>', 'the widget id, or its name (required)')
    .option('--dev', 'use the development master key in .airlock/ when AIRLOCK_MASTER_KEYS is not set');
}

/**
 * Runs `run` with the knowledge service of an Airlock built from the
 * environment as `airlock serve` builds it (database, master key, upstream),
 * so files are read and embedded exactly as the server would, with the
 * widget's own key or the shared one. Closed afterwards.
 */
async function withKnowledge(
  flags: KnowledgeFlags,
  run: (knowledge: KnowledgeService, widget: WidgetRecord, airlock: Airlock) => Promise<number>,
): Promise<number> {
  const idOrName = required(flags.widget, '--widget');
  if (!process.env.AIRLOCK_MASTER_KEYS && !flags.dev) {
    throw new UsageError('no master key: set AIRLOCK_MASTER_KEYS (for example "v1:<base64 of 32 random bytes>"), or pass --dev.');
  }
  const level = process.env.AIRLOCK_LOG_LEVEL;
  if (level !== undefined && level !== '' && !logLevels.has(level)) throw new UsageError('AIRLOCK_LOG_LEVEL must be debug, info, warn or error.');
  const [{ createAirlock }, { createLogger }, { AirlockError }] = await Promise.all([
    import('../../airlock.js'),
    import('../../logging/logger.js'),
    import('../../errors.js'),
  ]);
  // Errors only by default: what happened to each file is the command's output (a file without vectors says so there).
  const logger = createLogger({ level: (level || 'error') as 'debug' | 'info' | 'warn' | 'error' });
  const airlock = createAirlock({ dev: flags.dev ?? false, logger, knowledge: knowledgeOptionsFromEnvironment() });
  try {
    await airlock.ready();
    const knowledge = airlock.knowledge;
    if (!knowledge) throw new AirlockError('service_unavailable', 'widget knowledge is off for this store.');
    const widget = (await airlock.store.getWidget(idOrName)) ?? (await airlock.store.findWidgetByName(idOrName));
    if (!widget) throw new AirlockError('widget_not_found', `there is no widget "${idOrName}".`);
    return await run(knowledge, widget, airlock);
  } finally {
    await airlock.close();
  }
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

const count = (value: number) => value.toLocaleString('en-US');
const counted = (value: number, noun: string) => `${count(value)} ${noun}${value === 1 ? '' : 's'}`;

/** Columns padded to their widest cell, two spaces apart. */
function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
}

/** One line per file: name, status, passages or the reason it failed. */
function addLine(outcome: AddOutcome): string {
  const { file } = outcome;
  if (!file) return `${outcome.name}\tfailed\t${outcome.error!.message}`;
  const detail =
    file.status === 'ready'
      ? `${counted(file.passages, 'passage')}, ${counted(file.tokens, 'token')}${file.vectorsNote ? ` (${file.vectorsNote})` : ''}`
      : file.status === 'failed'
        ? (file.error ?? 'failed')
        : 'still being read by another process';
  return `${file.name}\t${file.status}\t${detail}\t${file.id}${outcome.duplicate ? ' (already uploaded)' : ''}`;
}

const settled = (file: KnowledgeFileRecord | undefined) => !file || file.status === 'ready' || file.status === 'failed';

async function addFiles(knowledge: KnowledgeService, widget: WidgetRecord, paths: readonly string[], flags: AddFlags): Promise<number> {
  const [{ readFile, stat }, { basename }, { AirlockError }] = await Promise.all([import('node:fs/promises'), import('node:path'), import('../../errors.js')]);
  // Every path is checked before anything is added, so a typo adds nothing.
  for (const path of paths) {
    const found = await stat(path).catch(() => undefined);
    if (!found?.isFile()) throw new UsageError(`"${path}" is not a file that can be read.`);
  }
  const { maxFileBytes } = knowledge.limits;
  const outcomes: AddOutcome[] = [];
  for (const path of paths) {
    const name = basename(path);
    try {
      // Refused before reading: a file past the limit is not loaded whole for nothing.
      if ((await stat(path)).size > maxFileBytes) {
        throw new AirlockError(
          'payload_too_large',
          `This file is larger than ${(maxFileBytes / (1024 * 1024)).toLocaleString('en', { maximumFractionDigits: 1 })} MB, the limit per file.`,
        );
      }
      const added = await knowledge.add(widget, {
        name,
        bytes: await readFile(path),
        ...(flags.url !== undefined && { sourceUrl: flags.url }),
        ...(flags.replaces !== undefined && { replaces: flags.replaces }),
      });
      outcomes.push({ path, name, file: added.file, duplicate: added.duplicate });
    } catch (error) {
      if (!AirlockError.isInstance(error)) throw error;
      outcomes.push({ path, name, error: { code: error.code, message: error.message } });
    }
  }

  // Waits for this process's ingestions, showing each file's progress on a terminal.
  const progress = progressLine();
  let finished = false;
  const idle = knowledge.idle().finally(() => (finished = true));
  while (!finished) {
    await Promise.race([idle, new Promise((resolve) => setTimeout(resolve, 200))]);
    const current = await Promise.all(
      outcomes.map((outcome) => (outcome.file ? knowledge.store.getFile(widget.id, outcome.file.id) : Promise.resolve(undefined))),
    );
    const busy = current.filter((file): file is KnowledgeFileRecord => !settled(file));
    if (busy.length > 0)
      progress.update(busy.map((file) => `${file.name} ${file.status === 'queued' ? 'queued' : `${Math.round(file.progress * 100)}%`}`).join(' · '));
  }
  progress.done();
  for (const outcome of outcomes) {
    // A duplicate of a file another process is reading is left as it is.
    if (outcome.file) outcome.file = (await knowledge.store.getFile(widget.id, outcome.file.id)) ?? outcome.file;
  }

  if (flags.json) printJson(outcomes);
  else for (const outcome of outcomes) console.log(addLine(outcome));
  return outcomes.some((outcome) => !outcome.file || outcome.file.status === 'failed') ? 1 : 0;
}

async function listFiles(knowledge: KnowledgeService, widget: WidgetRecord, flags: KnowledgeFlags): Promise<number> {
  const { knowledgeListing } = await import('../../admin/knowledge-routes.js');
  const listing = await knowledgeListing(knowledge, widget.id);
  if (flags.json) {
    printJson(listing);
    return 0;
  }
  if (listing.files.length === 0) {
    console.log(`widget ${widget.id} has no knowledge files; add some with: airlock knowledge add --widget ${widget.id} PATH…`);
    return 0;
  }
  const rows = listing.files.map((file) => [
    file.id,
    file.name,
    file.format,
    size(file.bytes),
    file.status === 'processing' ? `processing ${Math.round(file.progress * 100)}%` : file.status,
    count(file.passages),
    count(file.tokens),
    `${file.createdAt.slice(0, 16).replace('T', ' ')} UTC`,
  ]);
  for (const line of table([['ID', 'NAME', 'TYPE', 'SIZE', 'STATUS', 'PASSAGES', 'TOKENS', 'ADDED'], ...rows])) console.log(line);
  for (const file of listing.files) {
    if (file.status === 'failed') console.log(`${file.id} failed: ${file.error}`);
    else if (file.vectorsNote) console.log(`${file.id}: ${file.vectorsNote}`);
  }
  const { totals, limits } = listing;
  console.log(
    `${counted(totals.files, 'file')}, ${size(totals.bytes)} of ${size(limits.maxWidgetBytes)}, ${counted(totals.passages, 'passage')}, ${counted(totals.tokens, 'token')}`,
  );
  return 0;
}

/** Whitespace folded, and at most `length` characters. */
function shorten(text: string, length: number): string {
  const folded = text.replace(/\s+/g, ' ').trim();
  return folded.length <= length ? folded : `${folded.slice(0, length - 1).trimEnd()}…`;
}

async function searchFiles(knowledge: KnowledgeService, widget: WidgetRecord, question: string, top: number | undefined, flags: SearchFlags): Promise<number> {
  const { knowledgeSearchHitJson } = await import('../../admin/knowledge-routes.js');
  const hits = (await knowledge.search(widget, question, top ?? widget.behaviour.vectorCount ?? 5)).map(knowledgeSearchHitJson);
  if (flags.json) {
    printJson({ hits });
    return 0;
  }
  if (hits.length === 0) {
    console.log('no passage found (the widget has no ready files, or none shares a word with the question)');
    return 0;
  }
  for (const hit of hits) {
    const standing = [hit.keyword && `keyword #${hit.keyword.rank}`, hit.vector && `vector #${hit.vector.rank}`].filter(Boolean).join(', ');
    const where = [hit.passage.file, hit.passage.location].filter(Boolean).join(', ');
    console.log(`${hit.rank}. ${hit.score.toFixed(4)}  ${where}${standing ? `  (${standing})` : ''}${hit.passage.url ? `  ${hit.passage.url}` : ''}`);
    console.log(`   ${shorten(hit.passage.text, 200)}`);
  }
  return 0;
}

/**
 * `airlock knowledge add|list|remove|search --widget ID`: a widget's
 * knowledge files, read and embedded in this process as the server would.
 *
 * @example
 * ```ts
 * program.addCommand(knowledgeCommand(outcome));
 * ```
 */
export function knowledgeCommand(outcome: Outcome): CliCommand {
  const knowledge = new CliCommand('knowledge').description("add, list, remove and search a widget's knowledge files");

  commonFlags(knowledge.command('add'))
    .description('add files to a widget\u2019s knowledge, and wait until each is ready or failed (exit 1 if any failed)')
    .argument('<path...>', 'the files: .txt, .md, .html, .pdf, .docx, .csv or .json')
    .option('--url <url>', 'the http(s) source URL their citations link to')
    .option('--replaces <file-id>', 'a file of the widget this one is a new version of (one path only)')
    .option('--json', 'print what happened to each path as JSON')
    .action(
      act(outcome, (paths: string[], flags: AddFlags) => {
        if (flags.replaces !== undefined && paths.length > 1) throw new UsageError('--replaces takes one path.');
        if (flags.url !== undefined && !/^https?:\/\/\S+$/i.test(flags.url))
          throw new UsageError('--url must be an http: or https: URL, such as https://example.com/prices.');
        return withKnowledge(flags, (service, widget) => addFiles(service, widget, paths, flags));
      }),
    );

  commonFlags(knowledge.command('list'))
    .description('list a widget\u2019s knowledge files: id, name, type, size, status, passages, tokens, added')
    .option('--json', 'print the files, totals and limits as JSON')
    .action(act(outcome, (flags: KnowledgeFlags) => withKnowledge(flags, (service, widget) => listFiles(service, widget, flags))));

  commonFlags(knowledge.command('remove'))
    .description('remove a file from a widget\u2019s knowledge, with all its passages')
    .argument('<file-id>', 'the file id (airlock knowledge list shows it)')
    .action(
      act(outcome, (fileId: string, flags: KnowledgeFlags) =>
        withKnowledge(flags, async (service, widget) => {
          if (!(await service.remove(widget.id, fileId))) {
            const { AirlockError } = await import('../../errors.js');
            throw new AirlockError('not_found', `widget ${widget.id} has no file "${fileId}".`);
          }
          console.log(`removed ${fileId}`);
          return 0;
        }),
      ),
    );

  commonFlags(knowledge.command('search'))
    .description('the retrieval test: the passages the widget would be given for a question, ranked, with scores')
    .argument('<question>', 'the question, as a visitor would ask it')
    .option('--top <k>', 'how many passages, 1 to 20 (default: the widget\u2019s vectorCount, else 5)')
    .option('--json', 'print the ranked passages as JSON, as the admin API answers them')
    .action(
      act(outcome, async (question: string, flags: SearchFlags) => {
        const top = wholeNumberFlag(flags.top, '--top', 1);
        if (top !== undefined && top > 20) throw new UsageError('--top must be a whole number from 1 to 20.');
        if (question.trim() === '' || question.length > 2_000) throw new UsageError('the question must have 1 to 2,000 characters.');
        return withKnowledge(flags, (service, widget) => searchFiles(service, widget, question, top, flags));
      }),
    );

  return knowledge;
}

/**
 * Runs `airlock knowledge …` in this process (`args` without `knowledge`); answers the exit code.
 *
 * @example
 * ```ts
 * await runKnowledge(['list', '--widget', 'wgt_1', '--json']);
 * ```
 */
export function runKnowledge(args: string[]): Promise<number> {
  return runCommand(knowledgeCommand, args);
}
