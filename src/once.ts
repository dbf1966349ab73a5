/**
 * Package once runs a function once, after Go's `sync.Once`,
 * `sync.OnceFunc` and `sync.OnceValue`: lazy initialisation that every
 * caller, concurrent or later, sees completed.
 */
import { signalOf } from './internal/abort.js';
import { isThenable, noop } from './internal/promise.js';
import { checkFn } from './internal/validate.js';
import { waitFor } from './internal/waiter.js';

const IDLE = 0;
const RUNNING = 1;
const DONE = 2;

/**
 * Runs a function once, as Go's `sync.Once`: the first `do(fn)` calls `fn`;
 * calls made while it runs wait until it settles; later calls return at
 * once. `fn` may be asynchronous: a returned promise counts as running
 * until it settles.
 *
 * A `fn` that throws or rejects still counts as done, as a panicking `f`
 * does in Go, and is never called again. Go's `Do` returns nothing; here
 * the first caller's `do` rejects with `fn`'s error (that caller ran it,
 * as a panic surfaces in Go's first caller), and every other caller's `do`
 * resolves once `fn` has settled. Use `onceValue` when every caller needs
 * the outcome.
 *
 * `done` is true once `fn` has settled.
 *
 * @example Initialised once, however many callers
 * ```ts
 * import { Once } from 'weftjs';
 * const once = new Once();
 * let inits = 0;
 * const init = async () => {
 *   await new Promise((r) => setTimeout(r, 1));
 *   inits++;
 * };
 * await Promise.all([once.do(init), once.do(init), once.do(init)]);
 * await once.do(init);
 * inits; // => 1
 * once.done; // => true
 * ```
 * @example Only the first caller sees the error
 * ```ts
 * import { Once } from 'weftjs';
 * const once = new Once();
 * const fail = () => Promise.reject(new Error('no config'));
 * const [first, second] = await Promise.allSettled([once.do(fail), once.do(fail)]);
 * first.status; // => 'rejected'
 * second.status; // => 'fulfilled'
 * once.done; // => true
 * ```
 * @see onceValue
 * @see onceFunc
 */
export class Once {
  #state = IDLE;
  /** Resolves when the running `fn` settles; shared by the callers that wait for it. */
  #settled: Promise<void> | undefined = undefined;

  /** True once the first `fn` has settled (returned, resolved, threw or rejected). */
  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Calls `fn` if no `do` has called a function yet; otherwise waits until
   * that first function has settled (resolving at once if it has). `fn` is
   * called synchronously, before `do` returns.
   *
   * **Cancellation**: when `opts.signal` aborts, this call stops waiting
   * and rejects with `signal.reason`, leaving nothing behind; the first
   * `fn` runs on, and the `Once` is done when it settles. An
   * already-aborted signal rejects a call that would wait; the call that
   * runs `fn` is not refused (it does not wait to start).
   *
   * Rejects with the first `fn`'s error, for the caller that ran it only.
   * @throws TypeError at once if `fn` is not a function or `opts.signal` not an AbortSignal.
   * @example A synchronous function runs at once
   * ```ts
   * import { Once } from 'weftjs';
   * const once = new Once();
   * let n = 0;
   * void once.do(() => { n++; });
   * void once.do(() => { n++; });
   * n; // => 1
   * ```
   * @see Once
   */
  do(fn: () => unknown, opts?: { signal?: AbortSignal }): Promise<void> {
    checkFn(fn, 'Once.do', 'fn');
    const signal = signalOf(opts, 'Once.do');
    if (this.#state === DONE) return Promise.resolve();
    if (this.#state === RUNNING) {
      // (`#settled` is unset only for a call from inside a synchronous `fn`.)
      if (this.#settled === undefined) return Promise.resolve();
      if (signal?.aborted) return Promise.reject(signal.reason);
      return waitFor(this.#settled, signal, 'Once.do');
    }
    this.#state = RUNNING;
    let result: unknown;
    try {
      result = fn();
    } catch (err) {
      this.#state = DONE;
      return Promise.reject(err);
    }
    if (!isThenable(result)) {
      this.#state = DONE;
      return Promise.resolve();
    }
    const run = Promise.resolve(result).then(
      () => {
        this.#state = DONE;
      },
      (err) => {
        this.#state = DONE;
        throw err;
      },
    );
    // Waiters see the settling, never the error.
    this.#settled = run.then(noop, noop);
    return waitFor(run, signal, 'Once.do');
  }
}

/**
 * Returns a function that calls `fn` on its first call only, as Go's
 * `sync.OnceFunc` (with a result): every call returns the first call's
 * result (the same promise, if `fn` returns one) and, if the first call
 * threw, throws the same error. Later calls' arguments are ignored.
 *
 * @throws TypeError at once if `fn` is not a function.
 * @example Set up once
 * ```ts
 * import { onceFunc } from 'weftjs';
 * let calls = 0;
 * const setup = onceFunc((name: string) => {
 *   calls++;
 *   return `ready: ${name}`;
 * });
 * setup('a'); // => 'ready: a'
 * setup('b'); // => 'ready: a'
 * calls; // => 1
 * ```
 * @example The first error is thrown again
 * ```ts
 * import { onceFunc } from 'weftjs';
 * const boom = onceFunc(() => { throw new Error('once'); });
 * const errors: unknown[] = [];
 * for (let i = 0; i < 2; i++) {
 *   try { boom(); } catch (err) { errors.push(err); }
 * }
 * errors[0] === errors[1]; // => true
 * ```
 * @see onceValue
 * @see Once
 */
export function onceFunc<A extends unknown[], R>(fn: (...a: A) => R): (...a: A) => R {
  checkFn(fn, 'onceFunc', 'fn');
  let state = IDLE;
  let value: R;
  let error: unknown;
  let f: ((...a: A) => R) | undefined = fn;
  return (...args: A): R => {
    if (state === IDLE) {
      const g = f!;
      f = undefined; // let `fn` be collected
      state = RUNNING; // a reentrant call sees RUNNING and gets undefined, as Go would deadlock
      try {
        value = g(...args);
        state = DONE;
      } catch (err) {
        error = err;
        state = -1;
      }
    }
    if (state === -1) throw error;
    return value;
  };
}

/**
 * Returns a function that calls `fn` on its first call only and caches its
 * outcome, as Go's `sync.OnceValue`: every call returns a promise of the
 * first call's value, or a promise rejected with its error (a synchronous
 * throw included); calls made while `fn` runs share it.
 *
 * @throws TypeError at once if `fn` is not a function.
 * @example A lazily loaded value
 * ```ts
 * import { onceValue } from 'weftjs';
 * let loads = 0;
 * const config = onceValue(async () => {
 *   loads++;
 *   return { port: 8080 };
 * });
 * const [a, b] = await Promise.all([config(), config()]);
 * a; // => { port: 8080 }
 * a === b; // => true
 * loads; // => 1
 * ```
 * @example The error is cached too
 * ```ts
 * import { onceValue } from 'weftjs';
 * let tries = 0;
 * const conn = onceValue((): number => {
 *   tries++;
 *   throw new Error('refused');
 * });
 * await conn().catch((err: Error) => err.message); // => 'refused'
 * await conn().catch((err: Error) => err.message); // => 'refused'
 * tries; // => 1
 * ```
 * @see onceFunc
 * @see SyncMap.loadOrCompute
 */
export function onceValue<T>(fn: () => T | Promise<T>): () => Promise<T> {
  checkFn(fn, 'onceValue', 'fn');
  let f: (() => T | Promise<T>) | undefined = fn;
  let cached: Promise<T> | undefined;
  return (): Promise<T> => {
    if (cached === undefined) {
      const g = f!;
      f = undefined;
      try {
        cached = Promise.resolve(g());
      } catch (err) {
        cached = Promise.reject(err);
      }
    }
    return cached;
  };
}
