import { describe, expect, it } from 'vitest';
import { AirlockError } from '../src/errors.js';
import { foldedReadings } from '../src/proxy/fold-text.js';
import {
  blockedListProblem,
  checkPromptFilter,
  compilePromptFilter,
  foldText,
  maxBlockedBytes,
  maxBlockedEntries,
  maxBlockedEntryLength,
} from '../src/proxy/prompt-filter.js';

// The filter as it was before the automaton: one regular expression, every entry an
// alternative between word-boundary look-arounds. It is the reference for what matches.
function referenceMatcher(blocked: readonly string[], fold: (text: string) => string): (readings: readonly string[]) => boolean {
  const alternatives = blocked
    .map((entry) => fold(entry).trim())
    .filter((entry) => entry.length > 0)
    .map((entry) =>
      entry
        .split(/\s+/u)
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('\\s+'),
    );
  if (alternatives.length === 0) return () => false;
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives.join('|')})(?![\\p{L}\\p{N}])`, 'u');
  return (readings) => readings.some((reading) => pattern.test(reading));
}

// The fold as it was: NFKC, lower case, diacritics removed.
const previousFold = (text: string) =>
  text
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .normalize('NFC');

// A small seeded generator, so that a failure can be replayed.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function pick<T>(next: () => number, items: readonly T[]): T {
  return items[Math.floor(next() * items.length)]!;
}

function randomText(next: () => number, alphabet: readonly string[], maxLength: number): string {
  let text = '';
  const length = Math.floor(next() * maxLength);
  for (let index = 0; index < length; index += 1) text += pick(next, alphabet);
  return text;
}

// Letters that touch and do not, white space of several kinds, punctuation at word edges,
// accents precomposed and combining, full-width and ligature forms, a digit, an ideograph,
// an emoji (a surrogate pair), and none of the characters the new fold adds.
const plainAlphabet = ['a', 'b', 'A', ' ', ' ', '  ', '\t', '\n', '\u00a0', '-', '.', '+', "'", '_', 'é', 'e\u0301', 'É', '1', 'ｂ', 'ﬁ', '中', '😀', 'ß'];
// The same with format characters and look-alikes of other scripts.
const wideAlphabet = [
  ...plainAlphabet,
  '\u200b',
  '\u00ad',
  '\u2060',
  '\u200d',
  '\u{e0061}',
  'а',
  'А',
  'ο',
  'Ο',
  'Β',
  'в',
  'Η',
  'н',
  'ρ',
  'σ',
  'Σ',
  'ς',
  'і',
  'І',
  'ø',
];

describe('prompt filter matching', () => {
  it('matches exactly what the earlier regular expression matched, on random lists and texts', () => {
    const next = random(1);
    for (let trial = 0; trial < 300; trial += 1) {
      const blocked = Array.from({ length: 1 + Math.floor(next() * 4) }, () => randomText(next, plainAlphabet, 6));
      const filter = compilePromptFilter(blocked);
      const reference = referenceMatcher(blocked, previousFold);
      for (let text = randomText(next, plainAlphabet, 30), count = 0; count < 10; count += 1, text = randomText(next, plainAlphabet, 30)) {
        expect(foldText(text), JSON.stringify(text)).toBe(previousFold(text));
        expect(filter.matches(text), JSON.stringify({ blocked, text })).toBe(reference([previousFold(text)]));
      }
    }
  });

  // (Each list compiles a regular expression for the reference, some milliseconds with \p{…} look-arounds.)
  it('matches what the regular expression matches on the folded readings, with format characters and look-alikes', () => {
    const next = random(2);
    let matched = 0;
    for (let trial = 0; trial < 300; trial += 1) {
      const blocked = Array.from({ length: 1 + Math.floor(next() * 4) }, () => randomText(next, wideAlphabet, 6));
      const filter = compilePromptFilter(blocked);
      const reference = referenceMatcher(blocked, foldText);
      for (let count = 0; count < 10; count += 1) {
        const text = randomText(next, wideAlphabet, 30);
        const expected = reference(foldedReadings(text));
        if (expected) matched += 1;
        expect(filter.matches(text), JSON.stringify({ blocked, text })).toBe(expected);
      }
    }
    // The trials exercise both answers.
    expect(matched).toBeGreaterThan(100);
    expect(matched).toBeLessThan(2_900);
  });

  it('folds a text as it folds its words, so an entry folded alone matches inside any text', () => {
    const next = random(3);
    for (let trial = 0; trial < 2_000; trial += 1) {
      const words = Array.from({ length: 1 + Math.floor(next() * 6) }, () => randomText(next, wideAlphabet, 8));
      expect(foldText(words.join(' ')), JSON.stringify(words)).toBe(words.map(foldText).join(' '));
    }
  });

  it('keeps whole words, phrases across white space, case, width and accents', () => {
    const filter = compilePromptFilter(['forbidden fruit', 'crème brûlée', 'darn', 'c++', '-x']);
    for (const text of [
      'I want the FORBIDDEN   fruit',
      'forbidden\nfruit!',
      'une CREME BRULEE svp',
      'ｆｏｒｂｉｄｄｅｎ ｆｒｕｉｔ',
      'darn.',
      'I like C++',
      'a -x b',
      '(darn)',
    ]) {
      expect(filter.matches(text), text).toBe(true);
    }
    for (const text of ['darning', 'undarn', 'darn1', 'forbiddenfruit', 'a-x', 'c++d', '']) {
      expect(filter.matches(text), text).toBe(false);
    }
  });

  it('sees through format characters hidden inside a word, in the text and in the list', () => {
    const filter = compilePromptFilter(['free money', 'sec\u200bret']);
    for (const text of [
      'fr\u200bee money', // zero-width space
      'free mo\u00adney', // soft hyphen
      'f\u2060r\u200de\u200ce money', // word joiner, zero-width joiner and non-joiner
      'free m\u{e0041}oney\u{e007f}', // tag characters
      '\ufefffree \u202emoney\u202c', // byte-order mark, bidi controls
      'free\u3164 money', // a Hangul filler, a default-ignorable letter
      'secret',
    ]) {
      expect(filter.matches(text), JSON.stringify(text)).toBe(true);
    }
    // Removing them joins letters; it does not make a longer word match a shorter entry.
    expect(compilePromptFilter(['darn']).matches('dar\u200bning')).toBe(false);
  });

  it('folds letters of other scripts that look like Latin ones, in the text and in the list', () => {
    const filter = compilePromptFilter(['free money', 'hello', 'invest']);
    for (const text of [
      'frее mоnеy', // Cyrillic е and о
      'free mοney', // Greek omicron
      'FREE MОNEY', // Cyrillic capital О
      'ΗELLO', // Greek capital eta, an H whose small letter looks like n
      'НЕLLO', // Cyrillic capitals Н and Е
      'нello', // Cyrillic small н
      'Іnvest', // Cyrillic capital І
      'іnvеѕt', // Cyrillic і, е, ѕ
      'ɑⅰ free money', // a Latin alpha elsewhere in the text does not matter
      'ｆｒｅｅ　ｍｏｎｅｙ',
    ]) {
      expect(filter.matches(text), text).toBe(true);
    }
    // An entry written with look-alikes matches the plain word too.
    expect(compilePromptFilter(['mоney']).matches('money')).toBe(true);
    // Cyrillic and Greek words still match themselves in any case.
    const words = compilePromptFilter(['мир', 'σος']);
    for (const text of ['мир', 'МИР', 'Мир', 'σος', 'ΣΟΣ']) expect(words.matches(text), text).toBe(true);
    // Latin letters and digits are never folded into each other: these are other words.
    expect(compilePromptFilter(['bum']).matches('burn')).toBe(false);
    expect(compilePromptFilter(['foo']).matches('f00')).toBe(false);
    expect(compilePromptFilter(['lol']).matches('IoI')).toBe(false);
  });

  it('does not match across readings: a Greek capital read as Latin does not join a word of the other reading', () => {
    // "ΗELLO" reads "nello" or "hello"; neither reading holds "nelp".
    expect(compilePromptFilter(['nelp']).matches('ΗELLO')).toBe(false);
    expect(compilePromptFilter(['nello']).matches('ΗELLO')).toBe(true);
  });
});

describe('prompt filter limits and cost', () => {
  // A list as long as allowed, of 32-byte entries (32,000 bytes in all, just under the byte
  // limit), built to be costly for a backtracking matcher: entries share long prefixes with
  // the text, which repeats them almost, but never exactly.
  function largestList(): string[] {
    return Array.from({ length: maxBlockedEntries }, (_, index) => {
      const prefix = 'a '.repeat(5 + (index % 9));
      return prefix + index.toString(36).padStart(32 - prefix.length, 'z');
    });
  }

  it('states its limits as constants and refuses lists beyond them, saying which limit', () => {
    expect([maxBlockedEntries, maxBlockedEntryLength, maxBlockedBytes]).toEqual([1_000, 200, 32_768]);
    expect(blockedListProblem(['free money'])).toBeUndefined();
    expect(blockedListProblem([])).toBeUndefined();
    expect(blockedListProblem('free money')).toBe('The blocked list must be a list of words or phrases.');
    expect(blockedListProblem(['ok', 3])).toBe('The blocked list must be a list of words or phrases.');
    expect(blockedListProblem(Array.from({ length: maxBlockedEntries + 1 }, (_, index) => `w${index}`))).toBe(
      'The blocked list may hold at most 1,000 entries.',
    );
    expect(blockedListProblem(['x'.repeat(maxBlockedEntryLength + 1)])).toBe('Each blocked entry may have at most 200 characters.');
    expect(blockedListProblem(['x'.repeat(maxBlockedEntryLength)])).toBeUndefined();
    // Bytes are UTF-8: 200 characters of "é" are 400 bytes.
    const accented = Array.from({ length: 82 }, () => 'é'.repeat(200));
    expect(blockedListProblem(accented)).toBe('The blocked list may take at most 32,768 bytes (UTF-8) in all.');
    expect(blockedListProblem(accented.slice(0, 81))).toBeUndefined();
    expect(() => compilePromptFilter(accented)).toThrow(RangeError);
  });

  it('fails closed on a stored list it cannot use, without saying what the list holds', () => {
    const tooLong = { blocked: Array.from({ length: maxBlockedEntries + 1 }, (_, index) => `w${index}`) };
    for (const filter of [tooLong, { blocked: 'darn' }, { blocked: ['darn', null] }] as never[]) {
      let thrown: unknown;
      try {
        checkPromptFilter(filter, ['hello']);
      } catch (error) {
        thrown = error;
      }
      expect(AirlockError.isInstance(thrown)).toBe(true);
      expect((thrown as AirlockError).code).toBe('internal');
      expect((thrown as AirlockError).message).not.toMatch(/w1|darn/);
    }
    expect(() => checkPromptFilter(undefined, ['hello'])).not.toThrow();
    expect(() => checkPromptFilter({ blocked: [] }, ['hello'])).not.toThrow();
  });

  it('checks 64 KB against the largest list well within a generous bound, and compiles it once', () => {
    const blocked = largestList();
    expect(blockedListProblem(blocked)).toBeUndefined();
    expect(blocked.length).toBe(maxBlockedEntries);
    const filter = { blocked: Object.freeze(blocked) as string[] };
    const text = 'a '.repeat(32_768);
    expect(text.length).toBe(65_536);
    const compiled = performance.now();
    checkPromptFilter(filter, ['warm up']);
    const compileMs = performance.now() - compiled;
    const started = performance.now();
    for (let round = 0; round < 5; round += 1) checkPromptFilter(filter, [text, `${text.slice(0, 60_000)}\u200b中文`]);
    const perRound = (performance.now() - started) / 5;
    // The earlier matcher took seconds here (every position tried every entry); the automaton a few ms.
    // The bounds are generous so that a loaded machine does not fail them.
    expect(compileMs).toBeLessThan(1_000);
    expect(perRound).toBeLessThan(250);
    expect(() => checkPromptFilter(filter, [`${text}${blocked[7]}`])).toThrow(expect.objectContaining({ code: 'prompt_blocked' }));
  });

  it('costs the same for a list of one entry and a list at the limits, within a wide factor', () => {
    // Not a timing test of the machine but of the algorithm: a matcher whose work grows with
    // the list is hundreds of times slower on the long list.
    const text = 'the quick brown fox jumps over the lazy dog '.repeat(1_490);
    const small = compilePromptFilter(['zebra']);
    const large = compilePromptFilter(largestList());
    const time = (filter: { matches(text: string): boolean }) => {
      filter.matches(text);
      const started = performance.now();
      for (let round = 0; round < 5; round += 1) filter.matches(text);
      return (performance.now() - started) / 5;
    };
    const smallMs = time(small);
    const largeMs = time(large);
    expect(largeMs).toBeLessThan(Math.max(smallMs, 1) * 20);
  });
});
