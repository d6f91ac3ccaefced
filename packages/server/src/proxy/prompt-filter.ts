import { AirlockError } from '../errors.js';
import { foldedReadings, foldText } from './fold-text.js';

export { foldText } from './fold-text.js';

/**
 * The most entries a widget's blocked list (`promptFilter.blocked`) may hold.
 * Matching time does not grow with the list; its size bounds the memory and
 * the one-off time to compile it (measured in docs/benchmarks.md).
 *
 * @example
 * ```ts
 * if (blocked.length > maxBlockedEntries) throw new Error(`At most ${maxBlockedEntries} entries.`);
 * ```
 */
export const maxBlockedEntries = 1_000;

/**
 * The most characters (UTF-16 code units, as `string.length` counts) one
 * blocked entry may have.
 *
 * @example
 * ```ts
 * blocked.every((entry) => entry.length <= maxBlockedEntryLength);
 * ```
 */
export const maxBlockedEntryLength = 200;

/**
 * The most bytes (UTF-8) all of a blocked list's entries may take together.
 *
 * @example
 * ```ts
 * blocked.reduce((total, entry) => total + Buffer.byteLength(entry), 0) <= maxBlockedBytes;
 * ```
 */
export const maxBlockedBytes = 32_768;

/**
 * Says what is wrong with a blocked list in one sentence, or `undefined` when
 * the filter can use it: a list of strings within {@link maxBlockedEntries},
 * {@link maxBlockedEntryLength} and {@link maxBlockedBytes}.
 *
 * @example
 * ```ts
 * blockedListProblem(['free money']); // undefined
 * blockedListProblem('free money'); // 'The blocked list must be a list of words or phrases.'
 * ```
 */
export function blockedListProblem(blocked: unknown): string | undefined {
  if (!Array.isArray(blocked) || !blocked.every((entry) => typeof entry === 'string')) return 'The blocked list must be a list of words or phrases.';
  if (blocked.length > maxBlockedEntries) return `The blocked list may hold at most ${maxBlockedEntries.toLocaleString('en')} entries.`;
  if (blocked.some((entry: string) => entry.length > maxBlockedEntryLength)) {
    return `Each blocked entry may have at most ${maxBlockedEntryLength} characters.`;
  }
  let bytes = 0;
  for (const entry of blocked as string[]) bytes += Buffer.byteLength(entry);
  if (bytes > maxBlockedBytes) return `The blocked list may take at most ${maxBlockedBytes.toLocaleString('en')} bytes (UTF-8) in all.`;
  return undefined;
}

// The automaton reads folded text as code points with two more symbols between
// them that carry the word boundaries: `wordStart` where a word may start (at
// the beginning, and after anything but a letter or digit) and `wordEnd` where
// one may end (before anything but a letter or digit, and at the end). An
// entry is compiled as wordStart, its characters with the markers its own
// characters imply between them, then wordEnd, so a plain substring match of
// the marked sequences is exactly a whole-word match, and a match needs no
// check afterwards.
const wordStart = 0x110000;
const wordEnd = 0x110001;
const whiteSpace = /\s+/gu;
// What the automaton needs to know of each character: 1 a letter or digit, 2 white space
// (the same set as `\s`, read as one space per run), 0 anything else.
const asciiKinds = new Uint8Array(128);
for (let code = 0; code < 128; code += 1) {
  const character = String.fromCharCode(code);
  asciiKinds[code] = /[A-Za-z0-9]/.test(character) ? 1 : /\s/.test(character) ? 2 : 0;
}
const wordAt = /[\p{L}\p{N}]/uy;
const spaceAt = /\s/uy;

function kindAt(text: string, index: number, code: number): number {
  if (code < 128) return asciiKinds[code]!;
  wordAt.lastIndex = index;
  if (wordAt.test(text)) return 1;
  spaceAt.lastIndex = index;
  return spaceAt.test(text) ? 2 : 0;
}

/** An entry as the automaton reads it: folded, trimmed, white space runs as one space, then marked. */
function entrySymbols(folded: string): number[] | undefined {
  const text = folded.trim().replace(whiteSpace, ' ');
  if (text.length === 0) return undefined;
  const symbols = [wordStart];
  let previousWord = true;
  for (let index = 0; index < text.length;) {
    const code = text.codePointAt(index)!;
    const word = kindAt(text, index, code) === 1;
    if (index > 0) {
      if (!word) symbols.push(wordEnd);
      if (!previousWord) symbols.push(wordStart);
    }
    symbols.push(code);
    previousWord = word;
    index += code > 0xffff ? 2 : 1;
  }
  symbols.push(wordEnd);
  return symbols;
}

/**
 * A compiled blocked list: one Aho–Corasick automaton over every entry, so
 * that checking a text takes time linear in the text, whatever the list's
 * size. Build one with {@link compilePromptFilter}.
 *
 * @example
 * ```ts
 * compilePromptFilter(['free money']).matches('Get FREE   money now'); // true
 * ```
 */
export interface PromptFilter {
  /** Whether the text, folded as {@link foldText} does, contains an entry as whole words. */
  matches(text: string): boolean;
  /** About how much memory the automaton holds, in bytes, for bounding what compiled lists are kept. */
  readonly bytes: number;
}

// Children of state `s` are `symbols`/`targets` from `firstChild[s]` to
// `firstChild[s + 1]`, sorted by symbol; states are numbered breadth first.
// The states with the most children also get a row of 128 targets for ASCII
// symbols (`asciiRow[s]`, or -1), so that a common step needs no search.
interface Automaton {
  firstChild: Int32Array;
  symbols: Int32Array;
  targets: Int32Array;
  failure: Int32Array;
  accepting: Uint8Array;
  asciiRow: Int32Array;
  asciiTargets: Int32Array;
}

const asciiRowsKept = 256;

function childOf(automaton: Automaton, state: number, symbol: number): number {
  if (symbol < 128) {
    const row = automaton.asciiRow[state]!;
    if (row >= 0) return automaton.asciiTargets[row * 128 + symbol]!;
  }
  const { symbols, targets } = automaton;
  let low = automaton.firstChild[state]!;
  let high = automaton.firstChild[state + 1]! - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const found = symbols[middle]!;
    if (found === symbol) return targets[middle]!;
    if (found < symbol) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}

// Each symbol moves one state deeper at most and each failure link one
// shallower, so a text of n symbols costs at most 2n steps.
function step(automaton: Automaton, state: number, symbol: number): number {
  for (;;) {
    const next = childOf(automaton, state, symbol);
    if (next >= 0) return next;
    if (state === 0) return 0;
    state = automaton.failure[state]!;
  }
}

function scan(automaton: Automaton, text: string): boolean {
  const accepting = automaton.accepting;
  let state = 0;
  // The kind of the character before; none at the start, where a word may start.
  let previous = -1;
  for (let index = 0; index < text.length;) {
    let code = text.charCodeAt(index);
    let kind: number;
    if (code < 128) {
      kind = asciiKinds[code]!;
      index += 1;
    } else {
      code = text.codePointAt(index)!;
      kind = kindAt(text, index, code);
      index += code > 0xffff ? 2 : 1;
    }
    if (kind === 1) {
      // The root's only child is wordStart: inside a word, the root stays where it is.
      if (previous === 1) {
        if (state !== 0) state = step(automaton, state, code);
        continue;
      }
    } else {
      if (kind === 2) {
        if (previous === 2) continue;
        code = 0x20;
      }
      state = step(automaton, state, wordEnd);
      if (accepting[state]) return true;
    }
    if (previous !== 1) state = step(automaton, state, wordStart);
    state = step(automaton, state, code);
    previous = kind;
  }
  return accepting[step(automaton, state, wordEnd)] === 1;
}

/**
 * Compiles a blocked list into one automaton matching any entry as whole
 * words (letters or digits may not touch it on either side); spaces in a
 * phrase match any run of white space; text and entries are folded by
 * {@link foldText} first. Throws a `RangeError` for a list that
 * {@link blockedListProblem} refuses.
 *
 * @example
 * ```ts
 * const filter = compilePromptFilter(['free money', 'crème brûlée']);
 * filter.matches('une CREME BRULEE'); // true
 * filter.matches('moneybags'); // false
 * ```
 */
export function compilePromptFilter(blocked: readonly string[]): PromptFilter {
  const problem = blockedListProblem(blocked);
  if (problem) throw new RangeError(problem);
  const entries: number[][] = [];
  for (const entry of blocked) {
    const symbols = entrySymbols(foldText(entry));
    if (symbols) entries.push(symbols);
  }
  entries.sort(compareSymbols);
  // The trie from the sorted entries: each entry shares its predecessor's path as far as
  // they agree. States are numbered as created, each with one parent and one symbol, and
  // a state's children are created in the order of their symbols.
  let total = 1;
  for (const entry of entries) total += entry.length;
  const parent = new Int32Array(total);
  const symbolTo = new Int32Array(total);
  const ends = new Uint8Array(total);
  const path = new Int32Array(maxBlockedEntryLength * 3 + 2);
  let count = 1;
  let previous: number[] = [];
  for (const entry of entries) {
    let shared = 0;
    while (shared < entry.length && shared < previous.length && entry[shared] === previous[shared]) shared += 1;
    for (let depth = shared; depth < entry.length; depth += 1) {
      parent[count] = depth === 0 ? 0 : path[depth - 1]!;
      symbolTo[count] = entry[depth]!;
      path[depth] = count;
      count += 1;
    }
    ends[path[entry.length - 1]!] = 1;
    previous = entry;
  }
  // Children laid out by parent (a counting sort keeps each parent's in symbol order).
  const firstChild = new Int32Array(count + 1);
  for (let state = 1; state < count; state += 1) firstChild[parent[state]! + 1]! += 1;
  for (let state = 0; state < count; state += 1) firstChild[state + 1]! += firstChild[state]!;
  const symbols = new Int32Array(count - 1);
  const targets = new Int32Array(count - 1);
  const filled = firstChild.slice(0, count);
  for (let state = 1; state < count; state += 1) {
    const slot = filled[parent[state]!]!++;
    symbols[slot] = symbolTo[state]!;
    targets[slot] = state;
  }
  const asciiRow = new Int32Array(count).fill(-1);
  const branching: number[] = [];
  for (let state = 0; state < count; state += 1) if (firstChild[state + 1]! - firstChild[state]! >= 4) branching.push(state);
  branching.sort((left, right) => firstChild[right + 1]! - firstChild[right]! - (firstChild[left + 1]! - firstChild[left]!));
  branching.length = Math.min(branching.length, asciiRowsKept);
  const asciiTargets = new Int32Array(branching.length * 128).fill(-1);
  for (const [row, state] of branching.entries()) {
    asciiRow[state] = row;
    for (let index = firstChild[state]!; index < firstChild[state + 1]!; index += 1) {
      if (symbols[index]! < 128) asciiTargets[row * 128 + symbols[index]!] = targets[index]!;
    }
  }
  const failure = new Int32Array(count);
  const accepting = new Uint8Array(count);
  const automaton: Automaton = { firstChild, symbols, targets, failure, accepting, asciiRow, asciiTargets };
  // Failure links breadth first (a state's longest proper suffix that is also a state is
  // shallower, so it is settled first); a state accepts if it ends an entry or its link accepts.
  const queue = new Int32Array(count);
  let tail = 1;
  for (let head = 0; head < tail; head += 1) {
    const state = queue[head]!;
    accepting[state] = ends[state]! | accepting[failure[state]!]!;
    for (let index = firstChild[state]!; index < firstChild[state + 1]!; index += 1) {
      const target = targets[index]!;
      queue[tail] = target;
      tail += 1;
      failure[target] = state === 0 ? 0 : step(automaton, failure[state]!, symbols[index]!);
    }
  }
  accepting[0] = 0;
  return {
    bytes: count * 21 + asciiTargets.length * 4,
    matches: (text) => foldedReadings(text).some((reading) => scan(automaton, reading)),
  };
}

function compareSymbols(left: readonly number[], right: readonly number[]): number {
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index += 1) if (left[index] !== right[index]) return left[index]! - right[index]!;
  return left.length - right.length;
}

// Compiled lists, kept by the list itself when it cannot change (the SQLite
// store shares frozen widget records between requests) and otherwise by its
// contents, in least-recently-used order, bounded by the memory they and their
// keys hold in all: a few dozen lists at the limits, or thousands of small ones.
const byList = new WeakMap<readonly string[], PromptFilter>();
const byContents = new Map<string, PromptFilter>();
const keptBytesBound = 64 * 1024 * 1024;
let keptBytes = 0;
const keptSize = (key: string, filter: PromptFilter) => key.length * 2 + filter.bytes;

function cachedFilter(blocked: readonly string[]): PromptFilter {
  const frozen = Object.isFrozen(blocked);
  const kept = frozen ? byList.get(blocked) : undefined;
  if (kept) return kept;
  const key = JSON.stringify(blocked);
  let filter = byContents.get(key);
  if (filter) {
    byContents.delete(key);
  } else {
    filter = compilePromptFilter(blocked);
    keptBytes += keptSize(key, filter);
    for (const [oldest, old] of byContents) {
      if (keptBytes <= keptBytesBound) break;
      byContents.delete(oldest);
      keptBytes -= keptSize(oldest, old);
    }
  }
  byContents.set(key, filter);
  if (frozen) byList.set(blocked, filter);
  return filter;
}

/**
 * Throws `prompt_blocked` when any text contains a blocked word or phrase.
 * The message does not say which entry matched (it would reveal the list).
 * A stored list the filter cannot use (beyond the limits, or not a list of
 * words) fails closed: the request is refused, since letting it through
 * would let through what the owner meant to block.
 *
 * @example
 * ```ts
 * checkPromptFilter(widget.behaviour.promptFilter, messages.map((message) => message.content));
 * ```
 */
export function checkPromptFilter(filter: { blocked: string[] } | undefined, texts: readonly string[]): void {
  if (filter === undefined || filter === null) return;
  const blocked: unknown = (filter as { blocked?: unknown }).blocked;
  if (Array.isArray(blocked) && blocked.length === 0) return;
  if (!byList.has(blocked as string[]) && blockedListProblem(blocked) !== undefined) {
    throw new AirlockError('internal', "This assistant's word filter is set up wrongly, so it cannot take messages until its owner fixes it.");
  }
  const compiled = cachedFilter(blocked as string[]);
  for (const text of texts) {
    if (compiled.matches(text)) {
      throw new AirlockError('prompt_blocked', 'This message contains words this assistant does not accept.');
    }
  }
}
