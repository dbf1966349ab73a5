/**
 * Values that weft's fast paths share instead of allocating: the already
 * resolved promise an operation returns when nobody had to wait, the frozen
 * end-of-iteration result, the thenable test used wherever a callback may
 * return a value or a promise, and the executor that makes a promise without
 * a closure.
 */

/** One already resolved promise, returned by every operation that completed at once. */
export const RESOLVED: Promise<void> = Promise.resolve();

/** The end of an iteration; frozen, so sharing it is safe. */
export const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true as const });

/** `DONE`, already resolved. */
export const DONE_PROMISE: Promise<IteratorReturnResult<undefined>> = Promise.resolve(DONE);

/** Whether `value` is a thenable (a promise or anything with a `then` method). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/** Does nothing; what `captured` holds when it holds no resolvers. */
export function noop(): void {}

/**
 * Where `capture` hands over the resolvers of the promise being made. Read
 * them right after `new Promise(capture)`, then call `forgetCaptured()`.
 */
export const captured: { resolve: (value: any) => void; reject: (reason: unknown) => void } = {
  resolve: noop,
  reject: noop,
};

/**
 * A promise executor for `new Promise(capture)`. It runs synchronously inside
 * the constructor, so one module-level function can hand the resolvers over
 * through `captured`: no closure (and no closure context) per promise.
 */
export function capture(resolve: (value: any) => void, reject: (reason: unknown) => void): void {
  captured.resolve = resolve;
  captured.reject = reject;
}

/** Lets `captured` go of the resolvers it holds, so that it keeps no promise alive. */
export function forgetCaptured(): void {
  captured.resolve = captured.reject = noop;
}
