/**
 * The weighted permit counter behind `Semaphore` and `Mutex`, after
 * golang.org/x/sync/semaphore: `cur` permits out of `size` are held, and
 * waiters are served strictly in the order they queued.
 *
 * Two kinds of waiter share the queue: an `acquire` (settled with a `Lock`
 * made by the owner) and a `run` (whose function is started here, the
 * moment its permits are granted, so that a queued `run` costs one waiter
 * and one promise, with no hop through an intermediate `Lock`).
 */
import type { Lock } from '../lock.js';
import { unlisten } from './abort.js';
import { isThenable } from './settled.js';
import { Waiter, WaitQueue } from './waiter.js';

/** A queued `acquire`: settled with the owner's lock. */
export class AcquireWaiter extends Waiter<Lock> {
  readonly weight: number;
  constructor(op: string, signal: AbortSignal | undefined, weight: number) {
    super(op, signal);
    this.weight = weight;
  }
}

/** A queued `run`: its function starts when its permits are granted. */
export class RunWaiter<T = unknown> extends Waiter<T> {
  readonly weight: number;
  readonly fn: () => T | PromiseLike<T>;
  constructor(op: string, signal: AbortSignal | undefined, weight: number, fn: () => T | PromiseLike<T>) {
    super(op, signal);
    this.weight = weight;
    this.fn = fn;
  }
}

type SemWaiter = AcquireWaiter | RunWaiter<any>;

export class Permits {
  readonly size: number;
  cur = 0;
  readonly queue = new WaitQueue<SemWaiter>();
  /** Makes the `Lock` an `acquire` waiter is settled with, once its permits are granted. */
  readonly makeLock: (weight: number) => Lock;
  /** Set while `wake` runs: a release from inside a granted function must not start a second loop. */
  #waking = false;
  // Release handlers of weight 1 (every Mutex.run, most Semaphore.run),
  // made once so that a run allocates no closure for them.
  readonly #onValue1 = (value: unknown): unknown => {
    this.give(1);
    return value;
  };
  readonly #onError1 = (err: unknown): never => {
    this.give(1);
    throw err;
  };

  constructor(size: number, makeLock: (weight: number) => Lock) {
    this.size = size;
    this.makeLock = makeLock;
    // x/sync's notifyWaiters on cancellation: a waiter that leaves from the
    // head may have been the one holding back smaller ones behind it.
    this.queue.onAbort = (_w, wasHead) => {
      if (wasHead) this.wake();
    };
  }

  /** Takes `weight` permits if they are free and nobody waits. */
  tryTake(weight: number): boolean {
    if (this.queue.length === 0 && this.size - this.cur >= weight) {
      this.cur += weight;
      return true;
    }
    return false;
  }

  /** Gives `weight` permits back (the caller checked that they are held) and serves the queue. */
  give(weight: number): void {
    this.cur -= weight;
    if (this.queue.length !== 0) this.wake();
  }

  /**
   * Runs `fn` under `weight` permits already taken: gives them back when
   * its result settles, at once when it returns a plain value or throws.
   */
  runHeld<T>(fn: () => T | PromiseLike<T>, weight: number): Promise<T> {
    let result: T | PromiseLike<T>;
    try {
      result = fn();
    } catch (err) {
      this.give(weight);
      return Promise.reject(err);
    }
    let p: Promise<T>;
    if (result instanceof Promise) p = result;
    else if (isThenable(result)) p = Promise.resolve(result);
    else {
      this.give(weight);
      return Promise.resolve(result);
    }
    if (weight === 1) return p.then(this.#onValue1 as (v: T) => T, this.#onError1);
    return p.then(
      (value) => {
        this.give(weight);
        return value;
      },
      (err) => {
        this.give(weight);
        throw err;
      },
    );
  }

  /**
   * Serves waiters from the head while their permits are free. A large
   * waiter at the head holds back the smaller ones behind it: that is what
   * keeps it from starving.
   */
  wake(): void {
    if (this.#waking) return;
    this.#waking = true;
    try {
      for (let w = this.queue.head; w !== null; w = this.queue.head) {
        if (this.size - this.cur < w.weight) break;
        this.queue.shift();
        this.cur += w.weight;
        if (w instanceof RunWaiter) void this.#runner(w);
        else w.settle(this.makeLock(w.weight));
      }
    } finally {
      this.#waking = false;
    }
  }

  // Runs a granted run, then goes on with the next queued run that fits,
  // and the next: a chain of runs costs one async frame, not a closure
  // pair and a derived promise per run. Plain values and synchronous throws
  // go round the loop without awaiting: no recursion however many such
  // runs are queued.
  async #runner(w: RunWaiter<any>): Promise<void> {
    for (;;) {
      // The signal governs the wait only: once `fn` runs, the run ends with
      // `fn`'s outcome (and the permits are held until then).
      if (w.signal !== undefined) unlisten(w.signal, w);
      try {
        const result = w.fn();
        // Taken straight from the queue below, this run may have left
        // waiters at the head that fit as well: they start after it.
        const head = this.queue.head;
        if (head !== null && this.size - this.cur >= head.weight) this.wake();
        w.settle(isThenable(result) ? await result : result);
      } catch (err) {
        w.fail(err);
      }
      this.cur -= w.weight;
      const next = this.queue.head;
      if (next instanceof RunWaiter && this.size - this.cur >= next.weight) {
        this.queue.shift();
        this.cur += next.weight;
        w = next;
        continue;
      }
      if (next !== null) this.wake();
      return;
    }
  }
}
