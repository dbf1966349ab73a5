/**
 * Helpers shared by the test files (not part of weft).
 */

/** A pending result that the test settles by hand. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One macrotask turn: every promise callback queued so far has run. */
export function flush(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** The naturals 0, 1, 2, ... without end; `onClose` runs when the consumer closes the generator. */
export function* endless(onClose: () => void = () => {}): Generator<number> {
  try {
    for (let i = 0; ; i++) yield i;
  } finally {
    onClose();
  }
}
