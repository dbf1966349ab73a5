/**
 * The weighted permit counter behind `Semaphore` and `Mutex`, after
 * golang.org/x/sync/semaphore: `cur` permits out of `size` are held, and
 * waiters are served strictly in the order they queued.
 *
 * Two kinds of call share the queue: an `acquire` (settled with a `Lock`
 * made by the owner) and a `run` (whose function is started here, the
 * moment its permits are granted, with no hop through an intermediate
 * `Lock`). A `run` that cannot abort costs its promise and four slots of
 * the queue's ring; one with a signal, a `Waiter`.
 */
import type { Lock } from '../lock.js';
import { unlisten } from './abort.js';
import { PermitQueue } from './permitqueue.js';
import { registry } from './registry.js';
import { isThenable } from './settled.js';
import { Waiter } from './waiter.js';

// A module-local binding: read on every operation, it is cheaper than the import's.
const reg = registry;

/** A queued `acquire` (always a waiter): settled with the owner's lock. */
export class AcquireWaiter extends Waiter<Lock> {}

/** A queued `run` that can abort (or is tracked): its function starts when its permits are granted. */
export class RunWaiter<T = unknown> extends Waiter<T> {
  readonly fn: () => T | PromiseLike<T>;
  constructor(op: string, signal: AbortSignal | undefined, fn: () => T | PromiseLike<T>) {
    super(op, signal);
    this.fn = fn;
  }
}

// The promise executor runs synchronously inside `new Promise`: one
// module-level function hands the resolvers over, no closure per call.
let capturedResolve: ((value: any) => void) | null = null;
let capturedReject: ((reason: unknown) => void) | null = null;
function capture(resolve: (value: any) => void, reject: (reason: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

export class Permits {
  readonly size: number;
  cur = 0;
  readonly queue = new PermitQueue();
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

  /** Queues an `acquire` of `weight` (the caller checked that it must wait and that `signal` has not aborted). */
  waitLock(op: string, signal: AbortSignal | undefined, weight: number): Promise<Lock> {
    const w = new AcquireWaiter(op, signal);
    this.queue.pushWaiter(w, weight);
    return w.promise;
  }

  /**
   * Queues a `run` of `fn` under `weight` permits (the caller checked that
   * it must wait and that `signal` has not aborted). Without a signal, and
   * with no leak tracking on, the call is four slots of the queue: no
   * waiter object.
   */
  waitRun<T>(op: string, signal: AbortSignal | undefined, weight: number, fn: () => T | PromiseLike<T>): Promise<T> {
    if (signal === undefined && reg.active === 0) {
      const promise = new Promise<T>(capture);
      this.queue.pushCall(fn, capturedResolve!, capturedReject!, weight);
      capturedResolve = capturedReject = null;
      return promise;
    }
    const w = new RunWaiter<T>(op, signal, fn);
    this.queue.pushWaiter(w, weight);
    return w.promise;
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
    const q = this.queue;
    try {
      for (let weight = q.headWeight(); weight !== -1; weight = q.headWeight()) {
        if (this.size - this.cur < weight) break;
        q.take();
        this.cur += weight;
        const w = q.waiter;
        if (w === null) void this.#runner(q.fn!, q.resolve!, q.reject!, weight, null);
        else if (w instanceof RunWaiter) void this.#runner(w.fn, null, null, weight, w);
        else w.settle(this.makeLock(weight));
        q.clearTaken();
      }
    } finally {
      this.#waking = false;
    }
  }

  // Runs a granted run, then goes on with the next queued run that fits,
  // and the next: a chain of runs costs one async frame, not a closure
  // pair and a derived promise per run. Plain values and synchronous throws
  // go round the loop without awaiting: no recursion however many such
  // runs are queued. A run is either a waiter `w` or, when `w` is null,
  // `fn` with the resolvers of its promise.
  async #runner(
    fn: () => unknown,
    resolve: ((value: unknown) => void) | null,
    reject: ((reason: unknown) => void) | null,
    weight: number,
    w: RunWaiter<any> | null,
  ): Promise<void> {
    const q = this.queue;
    for (;;) {
      // The signal governs the wait only: once `fn` runs, the run ends with
      // `fn`'s outcome (and the permits are held until then).
      if (w !== null && w.signal !== undefined) unlisten(w.signal, w);
      try {
        const result = fn();
        // Taken straight from the queue below, this run may have left
        // waiters at the head that fit as well: they start after it.
        if (q.length !== 0 && this.size - this.cur >= q.headWeight()) this.wake();
        const value = isThenable(result) ? await result : result;
        if (w === null) resolve!(value);
        else w.settle(value);
      } catch (err) {
        if (w === null) reject!(err);
        else w.fail(err);
      }
      this.cur -= weight;
      if (q.length === 0) return;
      const next = q.headWeight();
      if (this.size - this.cur < next || !isRun(q.head)) {
        this.wake();
        return;
      }
      q.take();
      this.cur += next;
      weight = next;
      w = q.waiter as RunWaiter<any> | null;
      if (w === null) {
        fn = q.fn!;
        resolve = q.resolve;
        reject = q.reject;
      } else {
        fn = w.fn;
        resolve = reject = null;
      }
      q.clearTaken();
    }
  }
}

/** Whether a queue head is a `run`: a bare function, or a `RunWaiter`. */
function isRun(head: unknown): boolean {
  return typeof head === 'function' || head instanceof RunWaiter;
}
