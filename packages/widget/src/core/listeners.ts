/**
 * Calls each listener with `value`. One faulty listener must not break the
 * conversation or starve the others, so its error is logged, not thrown.
 */
export function callEach<T>(listeners: Iterable<(value: T) => void>, value: T): void {
  for (const listener of listeners) {
    try {
      listener(value);
    } catch (error) {
      console.error(error);
    }
  }
}
