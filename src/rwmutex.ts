/**
 * Package rwmutex provides a reader/writer lock for asynchronous code,
 * after Go's `sync.RWMutex`: any number of readers or one writer, and a
 * waiting writer holds back new readers so that writers never starve.
 */
import { signalOf } from './internal/abort.js';
import { isThenable } from './internal/promise.js';
import { checkFn } from './internal/validate.js';
import { Waiter, WaitQueue } from './internal/waiter.js';
import type { Lock } from './lock.js';
import { NotLockedError } from './mutex.js';

/** Options of the waiting methods of `RWMutex`. */
export interface RWMutexOptions {
  /** Stops the wait: the call rejects with `signal.reason` and leaves the queue. */
  signal?: AbortSignal;
}

/** A read lock: `release()` gives it back once. */
class ReadLock implements Lock {
  #rw: RWMutex | null;

  constructor(rw: RWMutex) {
    this.#rw = rw;
  }

  release(): void {
    const rw = this.#rw;
    if (rw === null) return;
    this.#rw = null;
    rw.rUnlock();
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/** A write lock: `release()` unlocks once, and only while it still holds the lock. */
class WriteLock implements Lock {
  #rw: RWMutex | null;
  readonly #owns: (lock: WriteLock) => boolean;

  constructor(rw: RWMutex, owns: (lock: WriteLock) => boolean) {
    this.#rw = rw;
    this.#owns = owns;
  }

  release(): void {
    const rw = this.#rw;
    if (rw === null) return;
    this.#rw = null;
    if (this.#owns(this)) rw.unlock();
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

function settleAll<T>(fn: () => T | Promise<T>, unlock: () => void): Promise<T> {
  let result: T | Promise<T>;
  try {
    result = fn();
  } catch (err) {
    unlock();
    return Promise.reject(err);
  }
  if (!isThenable(result)) {
    unlock();
    return Promise.resolve(result);
  }
  return Promise.resolve(result).then(
    (value) => {
      unlock();
      return value;
    },
    (err) => {
      unlock();
      throw err;
    },
  );
}

/**
 * A reader/writer mutual exclusion lock, as Go's `sync.RWMutex`: held by
 * any number of readers or by one writer.
 *
 * Writers are served first-in first-out. A writer that waits holds back
 * readers that come after it, so a stream of readers cannot starve it; and
 * when a writer unlocks, every reader that queued while it held or waited
 * is admitted together, before the next writer, so writers cannot starve
 * readers either (Go's behaviour).
 *
 * Prefer `runRead(fn)` and `run(fn)`, which unlock however `fn` ends;
 * `rLock()` and `lock()` return a `Lock` for `using`; `rUnlock()` and
 * `unlock()` are Go's. Not reentrant: a reader that takes a read lock again
 * while a writer waits waits forever, as in Go.
 *
 * @example Readers share, a writer excludes
 * ```ts
 * import { RWMutex } from 'weftjs';
 * const rw = new RWMutex();
 * const config = { version: 1 };
 * const reads = [1, 2, 3].map(() => rw.runRead(() => config.version));
 * const write = rw.run(() => { config.version = 2; });
 * const late = rw.runRead(() => config.version);
 * await write;
 * await Promise.all(reads); // => [1, 1, 1]
 * await late; // => 2
 * ```
 * @see Mutex
 */
export class RWMutex {
  /** Readers holding the lock. */
  #readers = 0;
  /** The write lock's holder: a `WriteLock`, `true` (held by `run` or after `unlock`-style use), or null. */
  #writer: WriteLock | true | null = null;
  readonly #readQ = new WaitQueue<Waiter<Lock>>();
  readonly #writeQ = new WaitQueue<Waiter<Lock>>();
  readonly #owns = (lock: WriteLock): boolean => this.#writer === lock;
  readonly #rUnlock = (): void => this.rUnlock();
  readonly #unlock = (): void => this.unlock();

  constructor() {
    // The writer at the head gave up: if no writer is left, the readers it
    // held back go in.
    this.#writeQ.onAbort = () => {
      if (this.#writer === null && this.#writeQ.length === 0) this.#admitReaders();
    };
  }

  /** Readers holding the lock now. */
  get readers(): number {
    return this.#readers;
  }

  /** Whether a writer holds the lock now. */
  get locked(): boolean {
    return this.#writer !== null;
  }

  /**
   * Takes a read lock, waiting while a writer holds the lock or waits for
   * it; resolves with a `Lock` whose `release()` gives it back (once).
   *
   * **Cancellation**: when `opts.signal` aborts, the call rejects with
   * `signal.reason` and leaves the queue holding nothing. An already-aborted
   * signal rejects a call that would have to wait.
   *
   * Rejects with `signal.reason`.
   * @throws TypeError at once if `opts.signal` is not an AbortSignal.
   * @example Many readers at once
   * ```ts
   * import { RWMutex } from 'weftjs';
   * const rw = new RWMutex();
   * const a = await rw.rLock();
   * const b = await rw.rLock();
   * rw.readers; // => 2
   * a.release();
   * b.release();
   * rw.readers; // => 0
   * ```
   * @see RWMutex.runRead
   */
  rLock(opts?: RWMutexOptions): Promise<Lock> {
    const signal = signalOf(opts, 'RWMutex.rLock');
    if (this.#writer === null && this.#writeQ.length === 0) {
      this.#readers++;
      return Promise.resolve(new ReadLock(this));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const w = new Waiter<Lock>('RWMutex.rLock', signal);
    this.#readQ.push(w);
    return w.promise;
  }

  /**
   * Takes a read lock if no writer holds or waits for the lock; returns it,
   * or `undefined` without waiting.
   *
   * @example Fails while a writer holds the lock
   * ```ts
   * import { RWMutex } from 'weftjs';
   * const rw = new RWMutex();
   * const w = rw.tryLock();
   * rw.tryRLock(); // => undefined
   * w?.release();
   * rw.tryRLock() !== undefined; // => true
   * ```
   * @see RWMutex.rLock
   */
  tryRLock(): Lock | undefined {
    if (this.#writer !== null || this.#writeQ.length !== 0) return undefined;
    this.#readers++;
    return new ReadLock(this);
  }

  /**
   * Gives back one read lock, as Go's `RUnlock`; the last reader out lets
   * the first waiting writer in.
   *
   * @throws NotLockedError (`'ERR_NOT_LOCKED'`) if no reader holds the lock.
   * @example Go style
   * ```ts
   * import { RWMutex } from 'weftjs';
   * const rw = new RWMutex();
   * await rw.rLock();
   * rw.rUnlock();
   * rw.readers; // => 0
   * ```
   * @see RWMutex.rLock
   */
  rUnlock(): void {
    if (this.#readers === 0) throw new NotLockedError('RWMutex.rUnlock: rUnlock of an unlocked RWMutex');
    if (--this.#readers === 0 && this.#writeQ.length !== 0) this.#admitWriter();
  }

  /**
   * Takes the write lock, waiting until no reader or writer holds it and
   * every earlier writer has had it; from the moment it waits, readers that
   * come later wait too. Resolves with a `Lock` whose `release()` unlocks
   * (once, and only while it still holds the lock).
   *
   * **Cancellation**: when `opts.signal` aborts, the call rejects with
   * `signal.reason` and leaves the queue holding nothing; readers it held
   * back go in if no other writer waits. An already-aborted signal rejects
   * a call that would have to wait.
   *
   * Rejects with `signal.reason`.
   * @throws TypeError at once if `opts.signal` is not an AbortSignal.
   * @example A writer waits for the readers, and new readers wait for it
   * ```ts
   * import { RWMutex } from 'weftjs';
   * const rw = new RWMutex();
   * const reader = await rw.rLock();
   * const writing = rw.lock();
   * rw.tryRLock(); // => undefined
   * reader.release();
   * using _w = await writing;
   * rw.locked; // => true
   * ```
   * @see RWMutex.run
   */
  lock(opts?: RWMutexOptions): Promise<Lock> {
    const signal = signalOf(opts, 'RWMutex.lock');
    if (this.#writer === null && this.#readers === 0 && this.#writeQ.length === 0) {
      return Promise.resolve(this.#hold());
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const w = new Waiter<Lock>('RWMutex.lock', signal);
    this.#writeQ.push(w);
    return w.promise;
  }

  /**
   * Takes the write lock if nobody holds or waits for it; returns it, or
   * `undefined` without waiting.
   *
   * @example Fails while a reader holds the lock
   * ```ts
   * import { RWMutex } from 'weftjs';
   * const rw = new RWMutex();
   * const r = rw.tryRLock();
   * rw.tryLock(); // => undefined
   * r?.release();
   * rw.tryLock() !== undefined; // => true
   * ```
   * @see RWMutex.lock
   */
  tryLock(): Lock | undefined {
    if (this.#writer !== null || this.#readers !== 0 || this.#writeQ.length !== 0) return undefined;
    return this.#hold();
  }

  /**
   * Unlocks the write lock, as Go's `Unlock`: every waiting reader goes in
   * together; if none waits, the first waiting writer does.
   *
   * @throws NotLockedError (`'ERR_NOT_LOCKED'`) if no writer holds the lock.
   * @example Go style
   * ```ts
   * import { RWMutex } from 'weftjs';
   * const rw = new RWMutex();
   * await rw.lock();
   * rw.unlock();
   * rw.locked; // => false
   * ```
   * @see RWMutex.lock
   */
  unlock(): void {
    if (this.#writer === null) throw new NotLockedError('RWMutex.unlock: unlock of an unlocked RWMutex');
    this.#writer = null;
    if (this.#readQ.length !== 0) this.#admitReaders();
    else if (this.#writeQ.length !== 0) this.#admitWriter();
  }

  /**
   * Runs `fn` under a read lock: waits as `rLock` does, calls `fn`, and
   * gives the lock back when `fn`'s result settles (at once when it returns
   * a plain value or throws); resolves or rejects with `fn`'s outcome.
   *
   * **Cancellation**: `opts.signal` stops the wait (the call rejects with
   * `signal.reason`, `fn` never runs); once `fn` has started, the run ends
   * with `fn`'s outcome.
   *
   * Rejects with `fn`'s error as it is, or with `signal.reason`.
   * @throws TypeError at once if `fn` is not a function or `opts.signal` not an AbortSignal.
   * @example Reading shared state
   * ```ts
   * import { RWMutex } from 'weftjs';
   * const rw = new RWMutex();
   * const cache = new Map([['a', 1]]);
   * await rw.runRead(() => cache.get('a')); // => 1
   * ```
   * @see RWMutex.run
   */
  runRead<T>(fn: () => T | Promise<T>, opts?: RWMutexOptions): Promise<T> {
    if (typeof fn !== 'function') checkFn(fn, 'RWMutex.runRead', 'fn');
    const signal = opts === undefined ? undefined : signalOf(opts, 'RWMutex.runRead');
    if (this.#writer === null && this.#writeQ.length === 0) {
      this.#readers++;
      return settleAll(fn, this.#rUnlock);
    }
    return this.rLock({ signal }).then((lock) => settleAll(fn, () => lock.release()));
  }

  /**
   * Runs `fn` under the write lock: waits as `lock` does, calls `fn`, and
   * unlocks when `fn`'s result settles (at once when it returns a plain
   * value or throws); resolves or rejects with `fn`'s outcome.
   *
   * **Cancellation**: `opts.signal` stops the wait (the call rejects with
   * `signal.reason`, `fn` never runs); once `fn` has started, the run ends
   * with `fn`'s outcome.
   *
   * Rejects with `fn`'s error as it is, or with `signal.reason`.
   * @throws TypeError at once if `fn` is not a function or `opts.signal` not an AbortSignal.
   * @example Updating shared state
   * ```ts
   * import { RWMutex } from 'weftjs';
   * const rw = new RWMutex();
   * const cache = new Map<string, number>();
   * await rw.run(() => cache.set('a', 1));
   * cache.get('a'); // => 1
   * ```
   * @see RWMutex.runRead
   */
  run<T>(fn: () => T | Promise<T>, opts?: RWMutexOptions): Promise<T> {
    if (typeof fn !== 'function') checkFn(fn, 'RWMutex.run', 'fn');
    const signal = opts === undefined ? undefined : signalOf(opts, 'RWMutex.run');
    if (this.#writer === null && this.#readers === 0 && this.#writeQ.length === 0) {
      this.#writer = true;
      return settleAll(fn, this.#unlock);
    }
    return this.lock({ signal }).then((lock) => settleAll(fn, () => lock.release()));
  }

  #hold(): WriteLock {
    const lock = new WriteLock(this, this.#owns);
    this.#writer = lock;
    return lock;
  }

  #admitReaders(): void {
    for (let w = this.#readQ.shift(); w !== null; w = this.#readQ.shift()) {
      this.#readers++;
      w.settle(new ReadLock(this));
    }
  }

  #admitWriter(): void {
    const w = this.#writeQ.shift();
    if (w !== null) w.settle(this.#hold());
  }
}
