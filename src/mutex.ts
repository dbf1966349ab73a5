/**
 * Package mutex provides a mutual exclusion lock for asynchronous code,
 * after Go's `sync.Mutex`: one holder at a time, waiters served in the
 * order they came, the lock handed directly from one holder to the next.
 */

import { signalOf } from './internal/abort.js';
import { WeftError } from './internal/errors.js';
import { holder } from './internal/hooks.js';
import { inspectAs, inspectKey } from './internal/inspect.js';
import { Permits } from './internal/permits.js';
import { checkFn } from './internal/validate.js';
import type { Lock } from './lock.js';

/** Options of `Mutex.lock` and `Mutex.run`. */
export interface MutexOptions {
  /** Stops the wait: the call rejects with `signal.reason` and leaves the queue. */
  signal?: AbortSignal;
}

/**
 * Thrown by `Mutex.unlock`, `RWMutex.unlock` and `RWMutex.rUnlock` when the
 * lock is not held: Go's `"sync: unlock of unlocked mutex"`. `code` is
 * `'ERR_NOT_LOCKED'`.
 *
 * @example Unlocking an unlocked mutex
 * ```ts
 * import { Mutex } from 'weftjs';
 * let code = '';
 * try {
 *   new Mutex().unlock();
 * } catch (err) {
 *   code = (err as { code: string }).code;
 * }
 * code; // => 'ERR_NOT_LOCKED'
 * ```
 * @see Mutex.unlock
 * @see RWMutex.rUnlock
 */
export class NotLockedError extends WeftError {
  readonly code = 'ERR_NOT_LOCKED' as const;
}

/** One acquisition of a mutex; it releases only while it is the holder. */
class MutexLock implements Lock {
  #mu: Mutex | null;

  constructor(mu: Mutex) {
    this.#mu = mu;
  }

  release(): void {
    const mu = this.#mu;
    if (mu === null) return;
    this.#mu = null;
    // After an explicit `unlock()`, the mutex may belong to someone else:
    // this stale handle must not release it.
    if (mu[holder] === this) mu.unlock();
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/**
 * A mutual exclusion lock, as Go's `sync.Mutex`, for asynchronous critical
 * sections: at most one holder at a time.
 *
 * Waiters are served first-in first-out, and a release hands the mutex
 * directly to the first waiter, so a newcomer never barges ahead of those
 * already waiting (`tryLock` fails while anyone waits).
 *
 * Prefer `run(fn)`, which unlocks however `fn` ends; `lock()` returns a
 * `Lock` for `using`. `unlock()` is Go's: it unlocks whoever locked, and a
 * `Lock` whose mutex was unlocked that way is spent (its `release()` then
 * does nothing). A mutex is not reentrant: locking it again while holding
 * it waits forever.
 *
 * @example A critical section across an await
 * ```ts
 * import { Mutex } from 'weftjs';
 * const mu = new Mutex();
 * let balance = 100;
 * const withdraw = (n: number) =>
 *   mu.run(async () => {
 *     const b = balance;
 *     await new Promise((r) => setTimeout(r, 1));
 *     balance = b - n;
 *   });
 * await Promise.all([withdraw(10), withdraw(20), withdraw(30)]);
 * balance; // => 40
 * ```
 * @see RWMutex
 * @see Semaphore
 * @see Cond
 */
export class Mutex {
  readonly #p: Permits;
  #holder: Lock | null = null;

  constructor() {
    this.#p = new Permits(1, () => this.#hold());
  }

  /** Whether the mutex is held now. */
  /** How `util.inspect` shows it: Mutex { ... } with its state now. */
  [inspectKey](depth: number, options: unknown, inspect?: (v: unknown, o?: unknown) => string): string {
    return inspectAs('Mutex', { locked: this.locked }, depth, options, inspect);
  }

  get locked(): boolean {
    return this.#p.cur !== 0;
  }

  /** @internal The lock that holds the mutex now (for `MutexLock` and `Cond`). */
  get [holder](): Lock | null {
    return this.#holder;
  }

  /** @internal */
  set [holder](lock: Lock | null) {
    this.#holder = lock;
  }

  #hold(): Lock {
    const lock = new MutexLock(this);
    this.#holder = lock;
    return lock;
  }

  /**
   * Locks the mutex, waiting until every earlier waiter has had it;
   * resolves with a `Lock` whose `release()` unlocks it (once). Resolves at
   * once when the mutex is free and nobody waits.
   *
   * **Cancellation**: when `opts.signal` aborts, the call rejects with
   * `signal.reason`, leaves the queue and holds nothing. An already-aborted
   * signal rejects a call that would have to wait.
   *
   * Rejects with `signal.reason`.
   * @throws TypeError at once if `opts.signal` is not an AbortSignal.
   * @example Locked for the length of a block
   * ```ts
   * import { Mutex } from 'weftjs';
   * const mu = new Mutex();
   * {
   *   using _lock = await mu.lock();
   *   mu.tryLock(); // => undefined
   * }
   * mu.locked; // => false
   * ```
   * @see Mutex.run
   */
  lock(opts?: MutexOptions): Promise<Lock> {
    const signal = signalOf(opts, 'Mutex.lock');
    const p = this.#p;
    if (p.tryTake(1)) return Promise.resolve(this.#hold());
    if (signal?.aborted) return Promise.reject(signal.reason);
    return p.waitLock('Mutex.lock', signal, 1);
  }

  /**
   * Locks the mutex if it is free and nobody waits; returns its `Lock`, or
   * `undefined` without waiting.
   *
   * @example Only when free
   * ```ts
   * import { Mutex } from 'weftjs';
   * const mu = new Mutex();
   * const lock = mu.tryLock();
   * lock !== undefined; // => true
   * mu.tryLock(); // => undefined
   * lock?.release();
   * ```
   * @see Mutex.lock
   */
  tryLock(): Lock | undefined {
    return this.#p.tryTake(1) ? this.#hold() : undefined;
  }

  /**
   * Unlocks the mutex, as Go's `Unlock`, handing it to the first waiter if
   * there is one. Any caller may unlock, not only the one that locked.
   *
   * @throws NotLockedError (`'ERR_NOT_LOCKED'`) if the mutex is not locked.
   * @example Go style
   * ```ts
   * import { Mutex } from 'weftjs';
   * const mu = new Mutex();
   * await mu.lock();
   * mu.unlock();
   * mu.locked; // => false
   * ```
   * @see Mutex.lock
   */
  unlock(): void {
    const p = this.#p;
    if (p.cur === 0) throw new NotLockedError('Mutex.unlock: unlock of an unlocked mutex');
    this.#holder = null;
    p.give(1);
  }

  /**
   * Runs `fn` holding the mutex: waits for it as `lock` does, calls `fn`,
   * and unlocks when `fn`'s result settles (at once when it returns a plain
   * value or throws); resolves or rejects with what `fn` returned or
   * threw. With the mutex free and nobody waiting, `fn` is called
   * synchronously, before `run` returns.
   *
   * **Cancellation**: `opts.signal` stops the wait (the call rejects with
   * `signal.reason` and `fn` never runs); once `fn` has started, the run
   * ends with `fn`'s outcome.
   *
   * Rejects with `fn`'s error as it is, or with `signal.reason`.
   * @throws TypeError at once if `fn` is not a function or `opts.signal` not an AbortSignal.
   * @example Unlocked even when fn throws
   * ```ts
   * import { Mutex } from 'weftjs';
   * const mu = new Mutex();
   * const failed = mu.run(() => { throw new Error('boom'); });
   * await failed.catch((err: Error) => err.message); // => 'boom'
   * mu.locked; // => false
   * ```
   * @see Mutex.lock
   */
  run<T>(fn: () => T | Promise<T>, opts?: MutexOptions): Promise<T> {
    if (typeof fn !== 'function') checkFn(fn, 'Mutex.run', 'fn');
    const signal = opts === undefined ? undefined : signalOf(opts, 'Mutex.run');
    const p = this.#p;
    if (p.tryTake(1)) return p.runHeld(fn, 1);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return p.waitRun('Mutex.run', signal, 1, fn);
  }
}
