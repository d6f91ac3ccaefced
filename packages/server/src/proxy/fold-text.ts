import confusables from 'unhomoglyph/data.json' with { type: 'json' };

// Format characters (zero-width space and joiners, soft hyphen, word joiner,
// bidi controls, tag characters) and the other default-ignorable code points
// (Hangul fillers, variation selectors) draw nothing, so a visitor could hide
// them inside a word to split it.
const invisible = /[\p{Cf}\p{Default_Ignorable_Code_Point}]+/gu;
const marks = /\p{M}+/gu;
const markCharacter = /\p{M}/u;
const wordCharacter = /^[\p{L}\p{N}]$/u;
// Without the u flag, so that each half of a surrogate pair counts.
const nonAscii = /[\u0080-\uffff]/;

interface ConfusableTables {
  /** Lower-case letters of other scripts (and their look-alike symbols) to what they look like. */
  lower: Map<string, string>;
  lowerPattern: RegExp;
  /** Capitals whose own look-alike differs from their lower case's (Greek Η looks like H, its η like n). */
  capitals: Map<string, string>;
  capitalsPattern: RegExp;
  /** The same characters, to test for (a global pattern's `test` keeps state). */
  hasCapital: RegExp;
}

let tables: ConfusableTables | undefined;

/**
 * Unicode's confusables mapping (UTS #39 `confusables.txt`, through the
 * `unhomoglyph` package) turned into two tables for a case-insensitive word
 * filter. The raw mapping sends a character to a prototype that does not
 * respect case (Cyrillic `І` to `l`, Latin `m` to `rn`), so it is not applied
 * as it is: ASCII is never changed, and a character of another script becomes
 * the ASCII character of the same prototype, chosen by the character's case.
 * A letter or digit only ever becomes letters or digits and anything else only
 * non-letters, so folding never moves a word boundary.
 */
function confusableTables(): ConfusableTables {
  if (tables) return tables;
  const data = confusables as Record<string, string>;
  const stripMarks = (text: string) => text.normalize('NFD').replace(marks, '');
  const prototypeOf = (character: string) => stripMarks(data[character] ?? character);
  // The ASCII characters that share each prototype: "l" is the prototype of l, I, 1 and |.
  const asciiByPrototype = new Map<string, string[]>();
  for (let code = 0x20; code < 0x7f; code += 1) {
    const character = String.fromCharCode(code);
    const prototype = prototypeOf(character);
    asciiByPrototype.set(prototype, [...(asciiByPrototype.get(prototype) ?? []), character]);
  }
  const isUpper = (character: string) => character !== character.toLowerCase();
  const isLower = (character: string) => character !== character.toUpperCase();
  const isDigit = (character: string) => character >= '0' && character <= '9';
  // The ASCII look-alike of a character: of the ASCII characters with its prototype, the
  // letter of the same case first (Cyrillic І is an I, not an l), then any letter, then a digit.
  const asciiLookAlike = (character: string, upper: boolean): string | undefined => {
    if (data[character] === undefined) return undefined;
    const prototype = prototypeOf(character);
    const candidates = asciiByPrototype.get(prototype);
    if (!candidates) return /^[\u0020-\u007e]+$/.test(prototype) ? prototype : undefined;
    const ranked = [
      candidates.find((candidate) => (upper ? isUpper(candidate) : isLower(candidate))),
      candidates.find((candidate) => isUpper(candidate) || isLower(candidate)),
      candidates.find(isDigit),
      candidates[0],
    ];
    return ranked.find((candidate) => candidate !== undefined);
  };
  const keepsWordness = (character: string, folded: string) => {
    const word = wordCharacter.test(character);
    return folded.length > 0 && [...folded].every((part) => wordCharacter.test(part) === word);
  };
  // Only characters that can still be there when the tables are applied: after NFKC, with
  // marks stripped from the canonical decomposition, and (for the lower table) lower-cased.
  const survivesNormalising = (character: string) =>
    nonAscii.test(character) && character.normalize('NFKC') === character && character.normalize('NFD') === character && !markCharacter.test(character);

  const lower = new Map<string, string>();
  const candidates = new Set<string>();
  for (const key of Object.keys(data)) {
    candidates.add(key);
    candidates.add(key.toLowerCase());
  }
  for (const character of candidates) {
    if ([...character].length !== 1 || character.toLowerCase() !== character || !survivesNormalising(character)) continue;
    const upper = character.toUpperCase();
    const folded =
      asciiLookAlike(character, false) ??
      ([...upper].length === 1 && upper !== character ? asciiLookAlike(upper, true) : undefined) ??
      (data[character] === undefined ? undefined : prototypeOf(character));
    const result = folded?.toLowerCase();
    if (result !== undefined && result !== character && keepsWordness(character, result)) lower.set(character, result);
  }
  // Lower case is context-sensitive for one letter only: a Greek capital sigma becomes ς at
  // the end of a word and σ elsewhere. Folding ς as σ (as Unicode case folding does) keeps a
  // word's fold the same whatever surrounds it.
  lower.set('ς', lower.get('σ') ?? 'σ');
  // A prototype of another script may itself be in the table; settle every entry on its final form.
  for (const [character, folded] of lower) {
    lower.set(character, [...folded].map((part) => lower.get(part) ?? part).join(''));
  }

  const capitals = new Map<string, string>();
  for (const key of Object.keys(data)) {
    if ([...key].length !== 1 || !isUpper(key) || !survivesNormalising(key)) continue;
    const own = asciiLookAlike(key, true)?.toLowerCase();
    const lowerCase = key.toLowerCase();
    const viaLowerCase = lower.get(lowerCase) ?? lowerCase;
    if (own !== undefined && /^[a-z0-9]+$/.test(own) && own !== viaLowerCase && keepsWordness(key, own)) capitals.set(key, own);
  }
  const pattern = (map: Map<string, string>, flags: string) =>
    new RegExp(`[${[...map.keys()].map((character) => `\\u{${character.codePointAt(0)!.toString(16)}}`).join('')}]`, flags);
  tables = { lower, lowerPattern: pattern(lower, 'gu'), capitals, capitalsPattern: pattern(capitals, 'gu'), hasCapital: pattern(capitals, 'u') };
  return tables;
}

// Runs of text holding non-ASCII characters, joined across ASCII gaps of up to 32
// characters: ASCII needs only lower case, and normalising a few runs is much
// cheaper than normalising a whole message that has an accent here and there (one
// call per word would cost more for text in another script, hence the joining).
const nonAsciiRuns = /[\u0080-\uffff](?:[^\u0080-\uffff]{0,32}[\u0080-\uffff])*/g;

/**
 * Folds one text. Every step but lower case only concerns non-ASCII
 * characters, so those run on the runs that hold them: invisible characters
 * removed, NFKD (NFKC's decomposition, so compatibility forms become their
 * plain letters) with marks stripped, then (for the second reading) capitals
 * read as Latin ones, lower case, confusables folded, and NFC.
 */
function fold(text: string, readCapitals: boolean, found?: { capital: boolean }): string {
  if (!nonAscii.test(text)) return text.toLowerCase();
  const { lower, lowerPattern, capitals, capitalsPattern, hasCapital } = confusableTables();
  return text
    .replace(nonAsciiRuns, (run) => {
      let folded = run.replace(invisible, '').normalize('NFKD').replace(marks, '');
      if (found && hasCapital.test(folded)) found.capital = true;
      if (readCapitals) folded = folded.replace(capitalsPattern, (character) => capitals.get(character) ?? character);
      return folded
        .toLowerCase()
        .replace(lowerPattern, (character) => lower.get(character) ?? character)
        .normalize('NFC');
    })
    .toLowerCase();
}

/**
 * Folds text for matching: invisible format characters removed (zero-width
 * space, soft hyphen, word joiner, tag characters: Unicode's `Cf` and other
 * default-ignorable code points), Unicode NFKC (so full-width and ligature
 * forms match their plain letters), diacritics removed (so "café" matches
 * "cafe"), lower case, and letters of other scripts that look like Latin ones
 * folded to them (Cyrillic "а" and Greek "ο" to "a" and "o"), after
 * Unicode's confusables data.
 *
 * @example
 * ```ts
 * foldText('Ｃａｆé'); // 'cafe'
 * foldText('fr\u200bee mоney'); // 'free money' (a zero-width space, a Cyrillic о)
 * ```
 */
export function foldText(text: string): string {
  return fold(text, false);
}

/**
 * The ways one text may read once folded: {@link foldText}'s, and, when the
 * text has capitals of another script that look like a Latin capital but
 * whose lower case does not look like its lower case (Greek "Η" is an H, "η"
 * an n), a second one that reads them as those Latin capitals. A filter
 * matches entries against each.
 *
 * @example
 * ```ts
 * foldedReadings('ΗELLO'); // ['nello', 'hello']
 * ```
 */
export function foldedReadings(text: string): string[] {
  const found = { capital: false };
  const primary = fold(text, false, found);
  return found.capital ? [primary, fold(text, true)] : [primary];
}
