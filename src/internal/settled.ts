/**
 * Values that weft's fast paths share instead of allocating: the already
 * resolved promise an operation returns when nobody had to wait, the frozen
 * end-of-iteration result, and the thenable test used wherever a callback may
 * return a value or a promise.
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
