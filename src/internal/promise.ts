/**
 * Promise plumbing that weft's fast paths share instead of allocating: the
 * already resolved promise an operation returns when nobody had to wait,
 * the frozen end-of-iteration result, the thenable test, `settle` (call a
 * user function and branch on its outcome, the one place that knows a user
 * function may return a value, return a thenable or throw), the one no-op
 * function, and the executor that makes a promise without a closure.
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

/** Does nothing: the one no-op function (an ignored rejection, an empty hook, what `captured` holds). */
export function noop(): void {}

/** Where `settle` reports an outcome: handlers made once per reusable object, not once per call. */
export interface Outcome<T> {
  readonly onValue: (value: T) => void;
  readonly onError: (reason: unknown) => void;
}

/**
 * Calls the user function `fn(a, b)` and reports how it ended to `to`: a
 * plain value or a synchronous throw at once (synchronously, before
 * `settle` returns), a thenable when it settles. A thenable is adopted as
 * `Promise.resolve` adopts it; one whose `then` getter throws counts as
 * failing with that error.
 */
export function settle<A, B, T>(fn: (a: A, b: B) => T | PromiseLike<T>, a: A, b: B, to: Outcome<T>): void {
  let v: T | PromiseLike<T>;
  try {
    v = fn(a, b);
  } catch (err) {
    to.onError(err);
    return;
  }
  if (v instanceof Promise) {
    v.then(to.onValue, to.onError);
    return;
  }
  if (v !== null && (typeof v === 'object' || typeof v === 'function')) {
    let then: unknown;
    try {
      then = (v as PromiseLike<T>).then;
    } catch (err) {
      to.onError(err);
      return;
    }
    if (typeof then === 'function') {
      Promise.resolve(v).then(to.onValue, to.onError);
      return;
    }
  }
  to.onValue(v as T);
}

// Promises whose resolvers weft keeps are made with an arrow executor
// written inline at the `new Promise` (`new Promise((resolve) => { this.#x =
// resolve; })`), never a shared executor function: optimized code inlines an
// inline executor and allocates neither it nor its context, while a shared
// one is a real call on every promise. Replacing a module-level `capture`
// executor this way cut the time of `for await` over a PubSub subscription
// by 12% (bench/pubsub.bench.ts).

/**
 * A call of `fn` that any code can request (`request()`) and that runs in
 * the async context (an `AsyncLocalStorage` store, a tracing span) of the
 * code that made the `ContextCall`, a microtask later: what a pool needs to
 * start a map's work from a foreign call (another job's completion, a
 * `resize`) without running it in that caller's context. Without a `node:`
 * import: a promise continuation runs in the context it was registered in,
 * so one is kept registered, and re-registered from inside the call (that
 * is, in the same context). Requests made before the call runs merge.
 */
export class ContextCall {
  readonly #fn: () => void;
  #resolve: (value: undefined) => void = noop;
  #armed = false;

  constructor(fn: () => void) {
    this.#fn = fn;
    this.#arm();
  }

  #arm(): void {
    const p = new Promise<undefined>((resolve) => {
      this.#resolve = resolve;
    });
    p.then(this.#run);
    this.#armed = true;
  }

  readonly #run = (): void => {
    this.#arm();
    this.#fn();
  };

  /** Asks for one call of `fn` (a no-op while one is already asked for). */
  request(): void {
    if (!this.#armed) return;
    this.#armed = false;
    this.#resolve(undefined);
  }
}
