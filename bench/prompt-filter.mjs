// Prompt filter: the time to check a 64 KB message against the largest blocked
// list a widget may have, for the earlier matcher (one regular expression with
// every entry an alternative between word-boundary look-arounds, which tries
// every entry at every position) and for the compiled automaton the server
// uses now, in the same run. Both times include folding the text.
//
// Two workloads: a list of ordinary words and phrases against prose that
// holds none of them, and a list built against a backtracking matcher (long
// shared prefixes that the message repeats almost, never exactly). The earlier
// matcher takes minutes on the second, so it is timed on the message's first
// 2 KB and scaled to 64 KB (its cost per position does not depend on the
// message's length) and the scaled figure is marked as such.
//
// Each figure is the median, over the checks, of the wall time of a check and
// of the CPU time this process spent on it (what holds the event loop; on a
// busy machine wall time also counts waiting for a core). Fails if the
// automaton's median CPU time on either workload is above 5 ms.
//
// Usage: node bench/prompt-filter.mjs [--quick]   (needs the server built)
import { performance } from 'node:perf_hooks';
import { compilePromptFilter, foldText, maxBlockedBytes, maxBlockedEntries } from '@airlock/server';

const quick = process.argv.includes('--quick');
const rounds = quick ? 5 : 25;
const budgetMs = 5;
const messageBytes = 65_536;

/** A small seeded generator, so that every run measures the same lists and messages. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'ze', 'bra', 'cho', 'dre', 'fli', 'gro', 'pla', 'stu'];
function word(next) {
  let text = '';
  const count = 2 + Math.floor(next() * 3);
  for (let index = 0; index < count; index += 1) text += syllables[Math.floor(next() * syllables.length)];
  return text;
}

/** Entries of one to three words, as many as allowed, within the byte limit. */
function ordinaryList() {
  const next = random(7);
  const list = new Set();
  let bytes = 0;
  while (list.size < maxBlockedEntries) {
    const entry = Array.from({ length: 1 + Math.floor(next() * 3) }, () => word(next)).join(' ');
    if (list.has(entry)) continue;
    if (bytes + Buffer.byteLength(entry) > maxBlockedBytes) break;
    list.add(entry);
    bytes += Buffer.byteLength(entry);
  }
  return [...list];
}

/** Prose of the same syllables, with some accents and punctuation, that holds no entry. */
function ordinaryMessage(filter) {
  const next = random(11);
  const parts = [];
  let length = 0;
  while (length < messageBytes) {
    let part = word(next);
    if (next() < 0.05) part = `${part.slice(0, -1)}é`;
    if (next() < 0.1) part += next() < 0.5 ? ',' : '.';
    // Leave out the words that would end the check at a match.
    if (filter.matches(part)) continue;
    parts.push(part);
    length += part.length + 1;
  }
  const message = parts.join(' ').slice(0, messageBytes);
  if (filter.matches(message)) throw new Error('the ordinary message holds a blocked entry');
  return message;
}

/** 32-byte entries of "a a a …" and a word, as many as allowed: 32,000 bytes. */
function adversarialList() {
  return Array.from({ length: maxBlockedEntries }, (_, index) => {
    const prefix = 'a '.repeat(5 + (index % 9));
    return prefix + index.toString(36).padStart(32 - prefix.length, 'z');
  });
}

const adversarialMessage = 'a '.repeat(messageBytes / 2);

// The earlier matcher, as the server had it: its fold and one regular expression.
const previousFold = (text) =>
  text
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .normalize('NFC');
function naiveMatcher(blocked) {
  const alternatives = blocked
    .map((entry) => previousFold(entry).trim())
    .filter((entry) => entry.length > 0)
    .map((entry) =>
      entry
        .split(/\s+/u)
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('\\s+'),
    );
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives.join('|')})(?![\\p{L}\\p{N}])`, 'u');
  return { matches: (text) => pattern.test(previousFold(text)) };
}

function median(values) {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Median wall and CPU time of a check, after a few checks to let the JIT settle. */
function time(filter, message, count, warmUps = 5) {
  for (let round = 0; round < warmUps; round += 1) filter.matches(message);
  const walls = [];
  const cpus = [];
  for (let round = 0; round < count; round += 1) {
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    filter.matches(message);
    walls.push(performance.now() - started);
    const cpu = process.cpuUsage(cpuBefore);
    cpus.push((cpu.user + cpu.system) / 1_000);
  }
  return { wall: median(walls), cpu: median(cpus) };
}

const ms = (value) => `${value.toFixed(value < 10 ? 2 : 0)} ms`;
let failed = false;

// The confusables table loads on the first fold of non-ASCII text; keep that out of the figures.
const tableStarted = performance.now();
foldText('а');
console.log(`confusables table, once per process: ${ms(performance.now() - tableStarted)}`);

for (const [name, list, makeMessage, naiveSample] of [
  ['ordinary words', ordinaryList(), ordinaryMessage, messageBytes],
  ['adversarial prefixes', adversarialList(), () => adversarialMessage, 2_048],
]) {
  const bytes = list.reduce((total, entry) => total + Buffer.byteLength(entry), 0);
  const compileStarted = performance.now();
  const automaton = compilePromptFilter(list);
  const compileMs = performance.now() - compileStarted;
  const message = makeMessage(automaton);
  const naive = naiveMatcher(list);
  const sample = message.slice(0, naiveSample);
  if (naive.matches(sample) || automaton.matches(message)) throw new Error(`${name}: the message should hold no entry`);
  const scale = message.length / sample.length;
  const naiveTime = time(naive, sample, 3, 1);
  const automatonTime = time(automaton, message, rounds);
  const figures = ({ wall, cpu }, factor = 1) => `${ms(wall * factor)} wall, ${ms(cpu * factor)} CPU`;
  console.log(`\n${name}: ${list.length} entries, ${bytes.toLocaleString('en')} bytes; message ${message.length.toLocaleString('en')} characters`);
  console.log(`  compile the automaton (once per list):  ${ms(compileMs)}`);
  console.log(
    `  earlier matcher (regular expression):   ${figures(naiveTime, scale)}${scale > 1 ? ` (timed on ${naiveSample.toLocaleString('en')} characters, scaled)` : ''}`,
  );
  console.log(
    `  automaton:                              ${figures(automatonTime)}, ${rounds} checks  (${((naiveTime.cpu * scale) / automatonTime.cpu).toFixed(0)}x less CPU)`,
  );
  if (automatonTime.cpu > budgetMs) {
    console.error(`  over budget: ${ms(automatonTime.cpu)} CPU > ${budgetMs} ms`);
    failed = true;
  }
}
process.exitCode = failed ? 1 : 0;
