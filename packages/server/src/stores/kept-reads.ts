// Most answers kept, by count and by their size (a widget's behaviour may
// carry a long prompt and many blocked phrases); past either, the kept
// answers are dropped.
const defaultMost = 1_000;
const defaultMostChars = 8_000_000;

/** Options of {@link keepWhileUnchanged}. */
export interface KeptReadsOptions {
  /** Most answers kept. Default: `1_000`. */
  most?: number;
  /** Most characters of answers kept, as `read` counts them. Default: `8_000_000`. */
  mostChars?: number;
}

// Kept answers are shared between callers, so none of them can change one.
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const property of Object.values(value)) deepFreeze(property);
  }
  return value;
}

/**
 * Wraps a synchronous read by id so that its answers are kept, frozen, while
 * the database is unchanged: `unchanged()`, asked before every read, tells
 * whether anything was written since it was last asked, and any write drops
 * every kept answer. A read between that check and a later write is so kept
 * no longer than that write. `read` gives an answer with its size, in
 * characters; absent answers are not kept.
 *
 * @example
 * ```ts
 * const getWidgetForCall = keepWhileUnchanged(readWithSize, () => counter.unchanged());
 * ```
 */
export function keepWhileUnchanged<T>(
  read: (id: string) => { value: T; chars: number } | undefined,
  unchanged: () => boolean,
  options: KeptReadsOptions = {},
): (id: string) => T | undefined {
  const most = options.most ?? defaultMost;
  const mostChars = options.mostChars ?? defaultMostChars;
  const kept = new Map<string, T>();
  let keptChars = 0;
  const forget = () => {
    kept.clear();
    keptChars = 0;
  };
  return (id) => {
    if (!unchanged()) forget();
    const found = kept.get(id);
    if (found) return found;
    const answer = read(id);
    if (!answer) return undefined;
    if (kept.size >= most || keptChars + answer.chars > mostChars) forget();
    kept.set(id, deepFreeze(answer.value));
    keptChars += answer.chars;
    return answer.value;
  };
}
