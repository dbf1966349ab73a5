/**
 * The weighted permit counter behind `Semaphore` and `Mutex`, after
 * golang.org/x/sync/semaphore: `cur` permits out of `size` are held, and
 * waiters are served strictly in the order they queued.
 *
 * Two kinds of call share the queue: an `acquire` (settled with a `Lock`
 * made by the owner) and a `run`. A queued `run` is granted by resolving
 * its grant with its function, and the function is called by a
 * continuation the caller registered on that grant when it queued: so it
 * runs in the caller's async context (an `AsyncLocalStorage` store, a
 * tracing span), not in the context of whoever released the permits. That
 * costs a queued run one promise more than starting it here would; a run
 * that finds its permits free calls its function at once, synchronously.
 * A `run` that cannot abort costs its promises and three slots of the
 * queue's ring; one with a signal, a `Waiter`.
 */
import type { Lock } from '../lock.js';
import { PermitQueue } from './permitqueue.js';
import { isThenable } from './promise.js';
import { Waiter } from './waiter.js';

/** A queued `acquire` (always a waiter): settled with the owner's lock. */
export class AcquireWaiter extends Waiter<Lock> {}

/** A queued `run` that can abort: granted by settling it with its function. */
export class RunWaiter<T = unknown> extends Waiter<() => T | PromiseLike<T>> {
  readonly fn: () => T | PromiseLike<T>;
  constructor(op: string, signal: AbortSignal | undefined, fn: () => T | PromiseLike<T>) {
    super(op, signal);
    this.fn = fn;
  }
}

export class Permits {
  readonly size: number;
  cur = 0;
  readonly queue = new PermitQueue();
  /** Makes the `Lock` an `acquire` waiter is settled with, once its permits are granted. */
  readonly makeLock: (weight: number) => Lock;
  /** Set while `wake` runs: a release from inside it must not start a second loop. */
  #waking = false;
  // Handlers of weight 1 (every Mutex.run, most Semaphore.run), made once
  // so that a run allocates no closure for them: start a granted run, and
  // give its permit back when it settles.
  readonly #start1 = (fn: () => unknown): Promise<unknown> => this.runHeld(fn, 1);
  readonly #give1 = (): void => {
    this.give(1);
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
   * it must wait and that `signal` has not aborted), and registers, here in
   * the caller's context, the continuation that runs `fn` once granted.
   * Without a signal the call is three slots of the queue, no waiter
   * object, whether leaks are tracked or not (tracking keys the entry by
   * its resolver).
   */
  waitRun<T>(op: string, signal: AbortSignal | undefined, weight: number, fn: () => T | PromiseLike<T>): Promise<T> {
    let grant: Promise<() => T | PromiseLike<T>>;
    if (signal === undefined) {
      grant = new Promise((resolve) => {
        this.queue.pushCall(fn, resolve, weight, op);
      });
    } else {
      const w = new RunWaiter<T>(op, signal, fn);
      this.queue.pushWaiter(w, weight);
      grant = w.promise;
    }
    if (weight === 1) return grant.then(this.#start1 as (fn: () => T | PromiseLike<T>) => Promise<T>);
    return grant.then((granted) => this.runHeld(granted, weight));
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
    // The permits go back in a reaction of their own, registered before the
    // caller can register one: whoever awaits the run finds them given back.
    // The run's promise is fn's own, so that awaiting it (or a queued run's
    // grant adopting it) costs no promise in between: 4-10% of a million
    // trivial queued runs, against a `then` that passes the value on.
    if (weight === 1) p.then(this.#give1, this.#give1);
    else {
      const give = (): void => this.give(weight);
      p.then(give, give);
    }
    return p;
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
        if (w === null) q.resolve!(q.fn);
        else if (w instanceof RunWaiter) w.settle(w.fn);
        else w.settle(this.makeLock(weight));
        q.clearTaken();
      }
    } finally {
      this.#waking = false;
    }
  }
}
