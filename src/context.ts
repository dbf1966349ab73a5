/**
 * Package context provides Go's `context` on the platform's `AbortSignal`:
 * a `Scope` is a cancellable child of an optional parent signal, with an
 * optional deadline (`withCancel`, `withTimeout`, `withDeadline`), plus
 * `afterFunc` and an abortable `sleep`.
 *
 * Go's `Context` becomes `AbortSignal` (every weft operation that waits takes
 * `{ signal }`), `ctx.Err()` becomes `signal.reason`, and `defer cancel()`
 * becomes `using scope = withCancel(parent)`. A child aborts when its parent
 * does, with the parent's reason; ending a child removes everything it added
 * to its parent, so a long-lived parent can have any number of short-lived
 * children.
 */
import { type Clock, systemClock } from './clock.js';
import { checkRequiredSignal, checkSignal, listen, signalOf, unlisten } from './internal/abort.js';
import { WeftError } from './internal/errors.js';
import { isThenable, RESOLVED } from './internal/promise.js';
import { checkClock, startTimer, stopTimer } from './internal/timer.js';
import { checkFn, checkMs, checkOpts, rangeError, show, typeError } from './internal/validate.js';
import { Waiter } from './internal/waiter.js';

/**
 * The reason a `Scope`'s signal carries after `cancel()` without an argument
 * (Go's `context.Canceled`). Match it on `code`, not `instanceof`.
 *
 * @example
 * ```ts
 * import { withCancel } from 'weftjs';
 * const scope = withCancel();
 * scope.cancel();
 * scope.signal.reason.code; // => 'ERR_CANCELED'
 * scope.signal.reason.message; // => 'context canceled'
 * ```
 * @see withCancel
 */
export class CanceledError extends WeftError {
  readonly code = 'ERR_CANCELED' as const;

  constructor(message = 'context canceled', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The reason a `Scope`'s signal carries when its timeout or deadline passes
 * (Go's `context.DeadlineExceeded`). Match it on `code`, not `instanceof`.
 *
 * @example
 * ```ts
 * import { withTimeout } from 'weftjs';
 * const scope = withTimeout(undefined, 0);
 * scope.signal.aborted; // => true
 * scope.signal.reason.code; // => 'ERR_DEADLINE_EXCEEDED'
 * ```
 * @see withTimeout
 * @see withDeadline
 */
export class DeadlineExceededError extends WeftError {
  readonly code = 'ERR_DEADLINE_EXCEEDED' as const;

  constructor(message = 'context deadline exceeded', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A cancellable child of a parent signal: what `withCancel`, `withTimeout`
 * and `withDeadline` return (Go's derived `Context` together with its
 * `CancelFunc`). Pass `signal` to the operations the scope should bound;
 * call `cancel()`, or let `using` dispose of it, when the work is done.
 *
 * **The `using` trap.** `using` cancels the scope when the block is left,
 * and a `return` leaves it at once: `using s = withTimeout(parent, 250);
 * return fetch(url, { signal: s.signal });` cancels the request before it
 * settles. Inside a `using` block, write `return await ...`; or, where the
 * work is one call that returns a promise, use `scope.run(fn)` (or
 * `withTimeout(parent, ms, fn)`), which cancels when the work settles and
 * cannot fall into it.
 */
export interface Scope {
  /** Aborts when `cancel()` is called, the parent aborts, or the deadline passes, whichever comes first. */
  readonly signal: AbortSignal;
  /**
   * Aborts `signal` with `reason` (default: a new `CanceledError`) unless it
   * has aborted already, and removes the scope's listener from its parent
   * and its timer. Later calls do nothing.
   */
  cancel(reason?: unknown): void;
  /**
   * Runs `fn(signal)` and cancels the scope once its result settles (at
   * once for a plain value or a throw); resolves or rejects as `fn` does.
   * The form of `defer cancel()` for a function that returns a promise.
   */
  run<T>(fn: (signal: AbortSignal) => T | PromiseLike<T>): Promise<Awaited<T>>;
  /** Same as `cancel()`, for `using`. */
  [Symbol.dispose](): void;
}

/** Options of `withTimeout` and `withDeadline`. */
export interface ScopeOptions {
  /** Source of time for the deadline (default `systemClock`). */
  clock?: Clock;
}

/** Options of `sleep`. */
export interface SleepOptions {
  /** Aborting it rejects the sleep with `signal.reason`. */
  signal?: AbortSignal;
  /** Source of time (default `systemClock`). */
  clock?: Clock;
}

// The scope is its own abort listener on the parent (no closure per scope),
// attached through the parent's hub: a parent with thousands of children has
// one real listener, and a child leaves it in O(1) whatever the order (Go
// keeps a parent's children in a map for the same reason). Its timer
// callback is the one closure a timed scope allocates.
class CancelScope implements Scope, EventListenerObject {
  readonly signal: AbortSignal;
  readonly #ac = new AbortController();
  readonly #parent: AbortSignal | undefined;
  #clock: Clock | undefined = undefined;
  #timer: unknown = undefined;
  #deadline = 0;
  #op = '';

  constructor(parent: AbortSignal | undefined, op: string) {
    this.signal = this.#ac.signal;
    if (parent !== undefined) {
      if (parent.aborted) {
        this.#ac.abort(parent.reason);
        this.#parent = undefined;
        return;
      }
      listen(parent, this, op);
    }
    this.#parent = parent;
  }

  /** Arms the deadline, at `deadline` on `clock` (now or past: expires at once). */
  arm(clock: Clock, deadline: number, op: string): void {
    if (this.signal.aborted) return;
    this.#clock = clock;
    this.#deadline = deadline;
    this.#op = op;
    this.#schedule();
  }

  cancel(reason?: unknown): void {
    if (this.signal.aborted) return;
    this.#end(reason === undefined ? new CanceledError() : reason);
  }

  run<T>(fn: (signal: AbortSignal) => T | PromiseLike<T>): Promise<Awaited<T>> {
    checkFn(fn, 'Scope.run', 'fn');
    let result: T | PromiseLike<T>;
    try {
      result = fn(this.signal);
    } catch (err) {
      this.cancel();
      return Promise.reject(err);
    }
    if (!isThenable(result)) {
      this.cancel();
      return Promise.resolve(result as Awaited<T>);
    }
    return (Promise.resolve(result) as Promise<Awaited<T>>).finally(this.#cancelOnce);
  }

  readonly #cancelOnce = (): void => this.cancel();

  [Symbol.dispose](): void {
    this.cancel();
  }

  // The parent aborted: follow it with its reason.
  handleEvent(): void {
    if (this.signal.aborted) return;
    this.#end(this.#parent!.reason);
  }

  // The timer may fire early by the clock's reckoning (a platform timer
  // rounds; a far deadline is chained by startTimer): check before ending.
  #schedule(): void {
    const left = this.#deadline - this.#clock!.now();
    if (left <= 0) {
      this.#timer = undefined;
      this.#end(new DeadlineExceededError());
      return;
    }
    this.#timer = startTimer(this.#clock!, () => this.#schedule(), left, this.#op);
  }

  // Detaches from the parent and the clock before aborting, so that what
  // the signal's own listeners do can never find this scope half-ended.
  #end(reason: unknown): void {
    if (this.#parent !== undefined) unlisten(this.#parent, this);
    if (this.#timer !== undefined) {
      stopTimer(this.#clock!, this.#timer);
      this.#timer = undefined;
    }
    this.#ac.abort(reason);
  }
}

function checkParent(parent: unknown, op: string): AbortSignal | undefined {
  return checkSignal(parent, op, 'parent');
}

function clockOf(opts: ScopeOptions | undefined, op: string): Clock {
  checkOpts(opts, op);
  return checkClock(opts?.clock, op, systemClock);
}

/**
 * Returns a `Scope` whose signal aborts when its `cancel()` is called or
 * when `parent` aborts, whichever happens first (Go's
 * `context.WithCancel`). Without a parent, only `cancel()` aborts it.
 * `withCancel(parent, fn)` runs `fn(signal)` under such a scope and
 * returns its promise, cancelling the scope when it settles.
 *
 * A child follows its parent with the parent's reason, synchronously, during
 * the parent's abort. Ending the scope removes its listener from `parent`:
 * any number of scopes created and cancelled leave the parent as they found
 * it. A parent that has already aborted gives a scope that is aborted at
 * once with the parent's reason and adds nothing to the parent. `cancel()`
 * without an argument aborts with a new `CanceledError`.
 *
 * **Cancellation**: call `cancel()` (or dispose of the scope) on every path
 * once the work is done, as Go's `defer cancel()`; until then the scope
 * stays attached to its parent.
 *
 * @param parent the signal to follow; `undefined` or `null` for none.
 * @throws TypeError if `parent` is neither an `AbortSignal` nor `undefined`.
 *
 * @example A cancel tree
 * ```ts
 * import { withCancel } from 'weftjs';
 * const root = withCancel();
 * const child = withCancel(root.signal);
 * const grandchild = withCancel(child.signal);
 * child.cancel(new Error('stop'));
 * grandchild.signal.reason.message; // => 'stop'
 * root.signal.aborted; // => false
 * root.cancel();
 * ```
 * @example Released with a using declaration
 * ```ts
 * import { withCancel } from 'weftjs';
 * let signal: AbortSignal;
 * {
 *   using scope = withCancel();
 *   signal = scope.signal;
 *   signal.aborted; // => false
 * }
 * signal.aborted; // => true
 * signal.reason.code; // => 'ERR_CANCELED'
 * ```
 * @see withTimeout
 * @see withDeadline
 * @see afterFunc
 */
export function withCancel(parent?: AbortSignal): Scope;
export function withCancel<T>(
  parent: AbortSignal | undefined,
  fn: (signal: AbortSignal) => T | PromiseLike<T>,
): Promise<Awaited<T>>;
export function withCancel<T>(
  parent?: AbortSignal,
  fn?: (signal: AbortSignal) => T | PromiseLike<T>,
): Scope | Promise<Awaited<T>> {
  const scope = new CancelScope(checkParent(parent, 'withCancel'), 'withCancel');
  return fn === undefined ? scope : scope.run(fn);
}

/**
 * Returns a `Scope` that also aborts `ms` milliseconds from now with a
 * `DeadlineExceededError` (Go's `context.WithTimeout`). Given a function,
 * `withTimeout(parent, ms, fn)` instead runs `fn(signal)` under such a
 * scope and returns its promise, cancelling the scope when it settles: the
 * form to use wherever the work's promise is returned (see `Scope` on the
 * `using` trap). `ms` of 0 gives a
 * scope that has already expired; `Infinity` means no deadline (no timer is
 * scheduled). Everything else is as `withCancel`: the scope follows
 * `parent`, and its `cancel()` aborts with a `CanceledError`.
 *
 * **Cancellation**: call `cancel()` (or dispose of the scope) once the work
 * is done: it clears the timer and removes the listener from `parent` at
 * once, where waiting for the deadline would keep both alive until then. A
 * scope that expires or follows its parent clears both itself.
 *
 * @param parent the signal to follow; `undefined` or `null` for none.
 * @param ms milliseconds until the deadline, from now on `opts.clock`.
 * @throws TypeError if `parent` is not an `AbortSignal`, `ms` is not a
 * number, or `opts.clock` is not a `Clock`.
 * @throws RangeError if `ms` is negative or NaN.
 *
 * @example A slow call that runs out of time
 * ```ts
 * import { sleep, withTimeout } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * using scope = withTimeout(undefined, 100, { clock });
 * const slow = sleep(1_000, { signal: scope.signal, clock }).catch((err) => err.code);
 * await clock.advance(100);
 * await slow; // => 'ERR_DEADLINE_EXCEEDED'
 * clock.pending; // => 0
 * ```
 * @example Bounding one call that returns a promise, safe to return without await
 * ```ts
 * import { sleep, withTimeout } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * // withTimeout(parent, ms, fn) runs fn(signal) and cancels when it settles.
 * const getJSON = (signal: AbortSignal) => sleep(50, { signal, clock }).then(() => ({ ok: true }));
 * const handler = (parent?: AbortSignal) => withTimeout(parent, 250, (signal) => getJSON(signal), { clock });
 * const reply = handler();
 * await clock.advance(50);
 * await reply; // => { ok: true }
 * clock.pending; // => 0
 * ```
 * @see withDeadline
 * @see withCancel
 */
export function withTimeout(parent: AbortSignal | undefined, ms: number, opts?: ScopeOptions): Scope;
export function withTimeout<T>(
  parent: AbortSignal | undefined,
  ms: number,
  fn: (signal: AbortSignal) => T | PromiseLike<T>,
  opts?: ScopeOptions,
): Promise<Awaited<T>>;
export function withTimeout<T>(
  parent: AbortSignal | undefined,
  ms: number,
  fnOrOpts?: ((signal: AbortSignal) => T | PromiseLike<T>) | ScopeOptions,
  opts?: ScopeOptions,
): Scope | Promise<Awaited<T>> {
  const op = 'withTimeout';
  const p = checkParent(parent, op);
  checkMs(ms, op, 'ms', true);
  const fn = typeof fnOrOpts === 'function' ? fnOrOpts : undefined;
  const clock = clockOf(fn === undefined ? (fnOrOpts as ScopeOptions | undefined) : opts, op);
  const scope = new CancelScope(p, op);
  if (ms !== Number.POSITIVE_INFINITY) scope.arm(clock, clock.now() + ms, op);
  return fn === undefined ? scope : scope.run(fn);
}

/**
 * Returns a `Scope` that also aborts at `deadline` with a
 * `DeadlineExceededError` (Go's `context.WithDeadline`). The deadline is a
 * `Date` or a number of milliseconds on the same scale as `clock.now()`:
 * epoch milliseconds for the default `systemClock`, virtual milliseconds for
 * a `TestClock`. A deadline that has passed gives a scope that has already
 * expired; `Infinity` means none. Everything else is as `withTimeout`,
 * the `withDeadline(parent, deadline, fn)` form included.
 *
 * **Cancellation**: as `withTimeout`: `cancel()` clears the timer and the
 * listener on `parent` at once.
 *
 * @param parent the signal to follow; `undefined` or `null` for none.
 * @param deadline when to abort: a `Date` or milliseconds on `opts.clock`'s scale.
 * @throws TypeError if `parent` is not an `AbortSignal`, `deadline` is
 * neither a number nor a `Date`, or `opts.clock` is not a `Clock`.
 * @throws RangeError if `deadline` is NaN or an invalid `Date`.
 *
 * @example A deadline on virtual time
 * ```ts
 * import { withDeadline } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock(1_000);
 * const scope = withDeadline(undefined, 1_500, { clock });
 * await clock.advance(499);
 * scope.signal.aborted; // => false
 * await clock.advance(1);
 * scope.signal.reason.code; // => 'ERR_DEADLINE_EXCEEDED'
 * ```
 * @example A Date in the past
 * ```ts
 * import { withDeadline } from 'weftjs';
 * const scope = withDeadline(undefined, new Date(2000, 0, 1));
 * scope.signal.aborted; // => true
 * ```
 * @see withTimeout
 */
export function withDeadline(parent: AbortSignal | undefined, deadline: number | Date, opts?: ScopeOptions): Scope;
export function withDeadline<T>(
  parent: AbortSignal | undefined,
  deadline: number | Date,
  fn: (signal: AbortSignal) => T | PromiseLike<T>,
  opts?: ScopeOptions,
): Promise<Awaited<T>>;
export function withDeadline<T>(
  parent: AbortSignal | undefined,
  deadline: number | Date,
  fnOrOpts?: ((signal: AbortSignal) => T | PromiseLike<T>) | ScopeOptions,
  opts?: ScopeOptions,
): Scope | Promise<Awaited<T>> {
  const op = 'withDeadline';
  const fn = typeof fnOrOpts === 'function' ? fnOrOpts : undefined;
  if (fn === undefined) opts = fnOrOpts as ScopeOptions | undefined;
  const p = checkParent(parent, op);
  let at: number;
  if (deadline instanceof Date) {
    at = deadline.getTime();
    if (Number.isNaN(at)) throw rangeError(`${op}: \`deadline\` must be a valid Date, got an Invalid Date`);
  } else if (typeof deadline === 'number') {
    if (Number.isNaN(deadline)) throw rangeError(`${op}: \`deadline\` must be a number of milliseconds, got NaN`);
    at = deadline;
  } else {
    throw typeError(`${op}: \`deadline\` must be a number of milliseconds or a Date, got ${show(deadline)}`);
  }
  const clock = clockOf(opts, op);
  const scope = new CancelScope(p, op);
  if (at !== Number.POSITIVE_INFINITY) scope.arm(clock, at, op);
  return fn === undefined ? scope : scope.run(fn);
}

// afterFunc's registration: its own listener on the signal, and a promise
// continuation, registered here in the caller's async context, that runs
// `fn` a microtask after the abort (as Go runs it in a goroutine of its
// own), in that context rather than in the context of whoever aborted.
class AfterFunc implements EventListenerObject {
  #signal: AbortSignal;
  #fn: (() => void) | null;
  #fire!: (value: undefined) => void;

  constructor(signal: AbortSignal, fn: () => void) {
    this.#signal = signal;
    this.#fn = fn;
    const fired = new Promise<undefined>((resolve) => {
      this.#fire = resolve;
    });
    fired.then(this.#run);
    if (signal.aborted) this.#fire(undefined);
    else listen(signal, this, 'afterFunc');
  }

  handleEvent(): void {
    unlisten(this.#signal, this);
    this.#fire(undefined);
  }

  readonly #run = (): void => {
    const fn = this.#fn;
    if (fn === null) return;
    this.#fn = null;
    try {
      fn();
    } catch (err) {
      // Reported as an uncaught exception, as a throw in a timer callback is.
      queueMicrotask(() => {
        throw err;
      });
    }
  };

  stop(): boolean {
    if (this.#fn === null) return false;
    this.#fn = null;
    unlisten(this.#signal, this);
    return true;
  }
}

/**
 * Arranges for `fn` to run once `signal` aborts (Go's `context.AfterFunc`),
 * and returns `stop`, which unregisters it. `fn` runs once, in a microtask of
 * its own after the abort (as Go runs it in its own goroutine), never inside
 * the code that called `abort()`, and in the async context of the
 * `afterFunc` call (an `AsyncLocalStorage` store set around it is what `fn`
 * sees); an exception it throws is reported as an uncaught exception. If the signal has already aborted, `fn` runs in the
 * next microtask.
 *
 * `stop()` returns true if it stopped `fn` from running, which it can until
 * the moment `fn` starts (even after the abort, while `fn` is queued), and
 * false if `fn` has started or `stop` was called before. `stop` removes the
 * listener from `signal`; so does the abort.
 *
 * **Cancellation**: the registration holds one listener on `signal` until
 * the abort or `stop()`: call `stop()` when `fn` is no longer wanted.
 *
 * @throws TypeError if `signal` is not an `AbortSignal` or `fn` is not a function.
 *
 * @example Cleaning up when a request is cancelled
 * ```ts
 * import { afterFunc, withCancel } from 'weftjs';
 * const scope = withCancel();
 * const log: string[] = [];
 * afterFunc(scope.signal, () => log.push('closed connection'));
 * scope.cancel();
 * log; // => []
 * await Promise.resolve();
 * log; // => ['closed connection']
 * ```
 * @example Stopping before the abort
 * ```ts
 * import { afterFunc } from 'weftjs';
 * const ac = new AbortController();
 * const stop = afterFunc(ac.signal, () => { throw new Error('never runs'); });
 * stop(); // => true
 * stop(); // => false
 * ac.abort();
 * ```
 * @see withCancel
 */
export function afterFunc(signal: AbortSignal, fn: () => void): () => boolean {
  const op = 'afterFunc';
  const s = checkRequiredSignal(signal, op);
  checkFn(fn, op, 'fn');
  const reg = new AfterFunc(s, fn);
  return () => reg.stop();
}

// A sleeping call: a waiter in no queue, which its timer settles; on abort
// it clears the timer before the waiter rejects with the reason.
class Sleeper extends Waiter<void> {
  #timer: unknown = undefined;
  readonly #clock: Clock;
  readonly #fire = (): void => {
    this.#timer = undefined;
    this.settle();
  };

  constructor(signal: AbortSignal | undefined, clock: Clock, ms: number) {
    super('sleep', signal);
    this.#clock = clock;
    if (ms !== Number.POSITIVE_INFINITY) this.#timer = startTimer(clock, this.#fire, ms, 'sleep');
  }

  override handleEvent(): void {
    if (this.#timer !== undefined) stopTimer(this.#clock, this.#timer);
    this.#timer = undefined;
    super.handleEvent();
  }
}

/**
 * Resolves after `ms` milliseconds on `opts.clock` (Go's `time.Sleep`, made
 * abortable). `sleep(0)` resolves at once without scheduling anything;
 * `sleep(Infinity)` schedules nothing either and resolves never: it ends
 * only through `opts.signal`.
 *
 * **Cancellation**: when `opts.signal` aborts, the sleep rejects with
 * `signal.reason` and clears its timer and its listener. An already-aborted
 * signal rejects at once. A sleep that ends normally removes its listener.
 *
 * @throws TypeError if `ms` is not a number, or `opts`, `opts.signal` or
 * `opts.clock` has the wrong type.
 * @throws RangeError if `ms` is negative or NaN.
 *
 * @example On virtual time
 * ```ts
 * import { sleep } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const woke = sleep(250, { clock }).then(() => clock.now());
 * await clock.advance(1_000);
 * await woke; // => 250
 * ```
 * @example Cut short by a signal
 * ```ts
 * import { sleep } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const ac = new AbortController();
 * const nap = sleep(60_000, { signal: ac.signal, clock });
 * ac.abort(new Error('wake up'));
 * await nap.catch((err) => err.message); // => 'wake up'
 * clock.pending; // => 0
 * ```
 * @see withTimeout
 */
export function sleep(ms: number, opts?: SleepOptions): Promise<void> {
  const op = 'sleep';
  checkMs(ms, op, 'ms', true);
  const signal = signalOf(opts, op);
  const clock = checkClock(opts?.clock, op, systemClock);
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms === 0) return RESOLVED;
  return new Sleeper(signal, clock, ms).promise;
}
