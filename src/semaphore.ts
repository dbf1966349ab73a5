/**
 * Package semaphore provides a weighted semaphore, after
 * golang.org/x/sync/semaphore: `size` permits, taken and given back by
 * weight, waiters served strictly first-in first-out.
 */

import { signalOf } from './internal/abort.js';
import { WeftError } from './internal/errors.js';
import { inspectAs, inspectKey } from './internal/inspect.js';
import { Permits } from './internal/permits.js';
import { probes } from './internal/probes.js';
import { checkFn, checkInt, checkOpts, rangeError } from './internal/validate.js';
import type { Lock } from './lock.js';

/** Options of `Semaphore.acquire`. */
export interface SemaphoreAcquireOptions {
  /** Stops the wait: the call rejects with `signal.reason` and leaves the queue. */
  signal?: AbortSignal;
}

/** Options of `Semaphore.run`. */
export interface SemaphoreRunOptions {
  /** Permits `fn` runs under (default 1). */
  weight?: number;
  /** Stops the wait for permits; once `fn` has started, the run ends with `fn`'s outcome. */
  signal?: AbortSignal;
}

/**
 * Thrown by `Semaphore.release` (and a permit's `release()`) when more
 * permits would be given back than are held: Go's
 * `"semaphore: released more than held"` panic. `code` is
 * `'ERR_SEMAPHORE_OVER_RELEASE'`.
 *
 * @example Releasing what was never acquired
 * ```ts
 * import { Semaphore } from 'weftjs';
 * const sem = new Semaphore(2);
 * let code = '';
 * try {
 *   sem.release();
 * } catch (err) {
 *   code = (err as { code: string }).code;
 * }
 * code; // => 'ERR_SEMAPHORE_OVER_RELEASE'
 * ```
 * @see Semaphore.release
 */
export class SemaphoreOverReleaseError extends WeftError {
  readonly code = 'ERR_SEMAPHORE_OVER_RELEASE' as const;
}

/** The permits one `acquire` took; `release()` gives them back once. */
class Permit implements Lock {
  readonly #sem: Semaphore;
  readonly #weight: number;
  #released = false;

  constructor(sem: Semaphore, weight: number) {
    this.#sem = sem;
    this.#weight = weight;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#sem.release(this.#weight);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/**
 * A weighted semaphore, as Go's `semaphore.Weighted`: `size` permits that
 * callers take by weight (default 1) and give back when done, to bound how
 * much of something (connections, memory, concurrent requests) is in use.
 *
 * Permits are given out in the order they were requested: waiters are
 * served strictly first-in first-out, so a large waiter at the head holds
 * back smaller ones behind it even when they would fit, and none starves.
 * `tryAcquire` fails while anyone waits, for the same reason.
 *
 * Prefer `run(fn)`, which gives the permits back however `fn` ends; `acquire`
 * returns a `Lock` for `using`; `release(weight)` is Go's unchecked
 * `Release` for code that acquired without keeping the `Lock`.
 *
 * A weight of 0 is allowed, as in Go: it takes nothing, and waits only
 * while others wait (it keeps its place in the line).
 *
 * @throws RangeError at once if `size` is not an integer >= 1 (`Infinity` is accepted: no limit).
 * @example At most 3 at a time
 * ```ts
 * import { Semaphore } from 'weftjs';
 * const sem = new Semaphore(3);
 * let running = 0;
 * let peak = 0;
 * const work = async (x: number) => {
 *   peak = Math.max(peak, ++running);
 *   await new Promise((r) => setTimeout(r, 1));
 *   running--;
 *   return x * 2;
 * };
 * const out = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((x) => sem.run(() => work(x))));
 * out; // => [2, 4, 6, 8, 10, 12, 14]
 * peak; // => 3
 * ```
 * @example A large waiter holds back smaller ones
 * ```ts
 * import { Semaphore } from 'weftjs';
 * const sem = new Semaphore(10);
 * const first = await sem.acquire(6);
 * const order: string[] = [];
 * const big = sem.acquire(10).then((l) => { order.push('big'); l.release(); });
 * const small = sem.acquire(1).then((l) => { order.push('small'); l.release(); });
 * sem.tryAcquire(1); // => false
 * first.release();
 * await Promise.all([big, small]);
 * order; // => ['big', 'small']
 * ```
 * @see Mutex
 * @see ErrGroup
 */
export class Semaphore {
  readonly #p: Permits;

  constructor(size: number) {
    checkInt(size, 'Semaphore', 'size', 1, Number.POSITIVE_INFINITY);
    this.#p = new Permits(size, (weight) => new Permit(this, weight));
  }

  /** The number of permits. */
  /** How `util.inspect` shows it: Semaphore { ... } with its state now. */
  [inspectKey](depth: number, options: unknown, inspect?: (v: unknown, o?: unknown) => string): string {
    return inspectAs(
      'Semaphore',
      { size: this.size, available: this.available, waiting: this.waiting },
      depth,
      options,
      inspect,
    );
  }

  get size(): number {
    return this.#p.size;
  }

  /** Permits free now (`size` minus those held). */
  get available(): number {
    return this.#p.size - this.#p.cur;
  }

  /** Calls of `acquire` and `run` waiting for permits. */
  get waiting(): number {
    return this.#p.queue.length;
  }

  /**
   * Acquires `weight` permits, waiting until they are free and every
   * earlier waiter has been served; resolves with a `Lock` whose
   * `release()` gives them back (once, however often it is called).
   * Resolves at once when nobody waits and the permits are free.
   *
   * **Cancellation**: when `opts.signal` aborts, the call rejects with
   * `signal.reason`, loses its place in the queue and holds nothing; if it
   * was at the head, the waiters behind it that now fit are served. An
   * already-aborted signal rejects a call that would have to wait; a call
   * that can take its permits at once succeeds (as Go's `Acquire`).
   *
   * Rejects with `RangeError` when `weight > size` (it could never be
   * served), at once, without waiting or queueing.
   * @throws TypeError / RangeError at once if `weight` is not an integer >= 0, or `opts.signal` not an AbortSignal.
   * @example Permits by weight, released with using
   * ```ts
   * import { Semaphore } from 'weftjs';
   * const sem = new Semaphore(10);
   * {
   *   using _permits = await sem.acquire(4);
   *   sem.available; // => 6
   * }
   * sem.available; // => 10
   * ```
   * @example Giving up the wait
   * ```ts
   * import { Semaphore } from 'weftjs';
   * const sem = new Semaphore(1);
   * const held = await sem.acquire();
   * const ac = new AbortController();
   * const wait = sem.acquire(1, { signal: ac.signal });
   * ac.abort(new Error('too slow'));
   * await wait.catch((err: Error) => err.message); // => 'too slow'
   * sem.waiting; // => 0
   * held.release();
   * ```
   * @see Semaphore.run
   * @see Semaphore.tryAcquire
   */
  acquire(weight = 1, opts?: SemaphoreAcquireOptions): Promise<Lock> {
    checkInt(weight, 'Semaphore.acquire', 'weight', 0);
    const signal = signalOf(opts, 'Semaphore.acquire');
    const p = this.#p;
    if (weight > p.size) return Promise.reject(tooBig('Semaphore.acquire', weight, p.size));
    if (p.tryTake(weight)) return Promise.resolve(new Permit(this, weight));
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.#contended(weight);
    return p.waitLock('Semaphore.acquire', signal, weight);
  }

  /**
   * Takes `weight` permits if they are free now and nobody waits; returns
   * whether it did. It never waits, and returns false for `weight > size`
   * (as Go's `TryAcquire`). Give the permits back with `release(weight)`.
   *
   * @throws TypeError / RangeError at once if `weight` is not an integer >= 0.
   * @example Taking what is free, or nothing
   * ```ts
   * import { Semaphore } from 'weftjs';
   * const sem = new Semaphore(2);
   * sem.tryAcquire(); // => true
   * sem.tryAcquire(2); // => false
   * sem.release();
   * sem.tryAcquire(2); // => true
   * ```
   * @see Semaphore.acquire
   */
  tryAcquire(weight = 1): boolean {
    checkInt(weight, 'Semaphore.tryAcquire', 'weight', 0);
    return this.#p.tryTake(weight);
  }

  /**
   * Gives back `weight` permits (default 1), as Go's `Release`, and serves
   * the waiters that now fit, in order.
   *
   * @throws SemaphoreOverReleaseError (`'ERR_SEMAPHORE_OVER_RELEASE'`) if more than are held would be given back.
   * @throws TypeError / RangeError at once if `weight` is not an integer >= 0.
   * @example Go style: acquire, then release by weight
   * ```ts
   * import { Semaphore } from 'weftjs';
   * const sem = new Semaphore(5);
   * await sem.acquire(3);
   * sem.release(3);
   * sem.available; // => 5
   * ```
   * @see Semaphore.acquire
   */
  release(weight = 1): void {
    checkInt(weight, 'Semaphore.release', 'weight', 0);
    const p = this.#p;
    if (weight > p.cur) {
      throw new SemaphoreOverReleaseError(`Semaphore.release: released ${weight} permits while ${p.cur} are held`);
    }
    p.give(weight);
  }

  /**
   * Runs `fn` under `opts.weight` permits (default 1): waits for them as
   * `acquire` does, calls `fn`, and gives them back when its result
   * settles (at once when it returns a plain value or throws); resolves or
   * rejects with what `fn` returned or threw. With permits free and nobody
   * waiting, `fn` is called synchronously, before `run` returns.
   *
   * **Cancellation**: `opts.signal` stops the wait for permits (the call
   * rejects with `signal.reason`, `fn` never runs, nothing is held); once
   * `fn` has started, the run ends with `fn`'s outcome, and `fn` is
   * expected to watch the signal itself if it should stop.
   *
   * Rejects with `fn`'s error as it is, with `signal.reason`, or with
   * `RangeError` when `weight > size`.
   * @throws TypeError / RangeError at once if `fn` is not a function, `opts.weight` not an integer >= 0, or `opts.signal` not an AbortSignal.
   * @example Bounding concurrent requests
   * ```ts
   * import { Semaphore } from 'weftjs';
   * const sem = new Semaphore(2);
   * const fetchUser = (id: number) => sem.run(async () => ({ id }));
   * const users = await Promise.all([1, 2, 3].map(fetchUser));
   * users; // => [{ id: 1 }, { id: 2 }, { id: 3 }]
   * sem.available; // => 2
   * ```
   * @example The permits come back when fn throws
   * ```ts
   * import { Semaphore } from 'weftjs';
   * const sem = new Semaphore(4);
   * const failed = sem.run(() => { throw new Error('boom'); }, { weight: 4 });
   * await failed.catch((err: Error) => err.message); // => 'boom'
   * sem.available; // => 4
   * ```
   * @see Semaphore.acquire
   */
  run<T>(fn: () => T | Promise<T>, opts?: SemaphoreRunOptions): Promise<T> {
    if (typeof fn !== 'function') checkFn(fn, 'Semaphore.run', 'fn');
    let weight = 1;
    let signal: AbortSignal | undefined;
    if (opts !== undefined) {
      checkOpts(opts, 'Semaphore.run');
      if (opts.weight !== undefined) weight = checkInt(opts.weight, 'Semaphore.run', 'weight', 0);
      signal = signalOf(opts, 'Semaphore.run');
    }
    const p = this.#p;
    if (weight > p.size) return Promise.reject(tooBig('Semaphore.run', weight, p.size));
    if (p.tryTake(weight)) return p.runHeld(fn, weight);
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.#contended(weight);
    return p.waitRun('Semaphore.run', signal, weight, fn);
  }

  // A call must wait: diagnostics, for whoever listens (one property read when nobody installed them).
  #contended(weight: number): void {
    const p = probes();
    if (p?.semaphoreContended.hasSubscribers) {
      p.semaphoreContended.publish({ semaphore: this, weight, available: this.available, waiting: this.waiting });
    }
  }
}

function tooBig(op: string, weight: number, size: number): RangeError {
  return rangeError(`${op}: \`weight\` must be an integer from 0 to ${size}, got ${weight}`);
}
