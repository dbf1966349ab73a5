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
import { capture, captured, forgetCaptured, isThenable } from './promise.js';
import { Waiter } from './waiter.js';

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

export class Permits {
  readonly size: number;
  cur = 0;
  readonly queue = new PermitQueue();
  /** Makes the `Lock` an `acquire` waiter is settled with, once its permits are granted. */
  readonly makeLock: (weight: number) => Lock;
  /** Set while `wake` runs: a release from inside a granted function must not start a second loop. */
  #waking = false;
  /** Runners with no run, ready for the next granted one. */
  readonly #runners: Runner[] = [];
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
   * it must wait and that `signal` has not aborted). Without a signal the
   * call is four slots of the queue, no waiter object, whether leaks are
   * tracked or not (tracking keys the entry by its resolver).
   */
  waitRun<T>(op: string, signal: AbortSignal | undefined, weight: number, fn: () => T | PromiseLike<T>): Promise<T> {
    if (signal === undefined) {
      const promise = new Promise<T>(capture);
      this.queue.pushCall(fn, captured.resolve, captured.reject, weight, op);
      forgetCaptured();
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
        if (w === null || w instanceof RunWaiter) this.#startTaken(weight);
        else w.settle(this.makeLock(weight));
        q.clearTaken();
      }
    } finally {
      this.#waking = false;
    }
  }

  /** Starts a granted run, taken by `take` into the queue's fields, on a runner. */
  #startTaken(weight: number): void {
    const r = this.#runners.pop() ?? new Runner(this);
    r.load(this.queue, weight);
    this.#start(r);
  }

  /**
   * Calls the runner's function. A promise (or thenable) result is followed
   * by the runner's own handlers, made once per runner; a plain value or a
   * synchronous throw settles the run at once and the loop goes on with the
   * next queued run that fits: no recursion however many such runs wait.
   */
  #start(r: Runner): void {
    const q = this.queue;
    for (;;) {
      // The signal governs the wait only: once `fn` runs, the run ends with
      // `fn`'s outcome (and the permits are held until then).
      const w = r.w;
      if (w !== null && w.signal !== undefined) unlisten(w.signal, w);
      let result: unknown;
      try {
        result = r.fn!();
      } catch (err) {
        r.settle(err, false);
        if (this.next(r)) continue;
        return;
      }
      // Taken straight from the queue by `next`, this run may have left
      // waiters at the head that fit as well: they start after it.
      if (q.length !== 0 && this.size - this.cur >= q.headWeight()) this.wake();
      if (result instanceof Promise) {
        result.then(r.onValue, r.onError);
        return;
      }
      if (isThenable(result)) {
        Promise.resolve(result).then(r.onValue, r.onError);
        return;
      }
      r.settle(result, true);
      if (!this.next(r)) return;
    }
  }

  /** A runner's run settled: it goes on with the next queued run that fits, if any. */
  finish(r: Runner, value: unknown, ok: boolean): void {
    r.settle(value, ok);
    if (this.next(r)) this.#start(r);
  }

  /**
   * Gives back the permits of `r`'s run, then takes the next queued run
   * into `r` if it is a run and fits (true); otherwise lets `r` go and
   * serves the queue (false).
   */
  next(r: Runner): boolean {
    this.cur -= r.weight;
    const q = this.queue;
    if (q.length !== 0) {
      const weight = q.headWeight();
      if (this.size - this.cur >= weight && isRun(q.head)) {
        q.take();
        this.cur += weight;
        r.load(q, weight);
        q.clearTaken();
        return true;
      }
    }
    r.fn = r.resolve = r.reject = r.w = null;
    if (this.#runners.length < MAX_IDLE_RUNNERS) this.#runners.push(r);
    if (q.length !== 0) this.wake();
    return false;
  }
}

/** Runners kept for reuse; more are made when more runs are in flight at once. */
const MAX_IDLE_RUNNERS = 256;

/**
 * Carries granted runs one after another: the run in flight (a waiter `w`,
 * or when `w` is null, `fn` and the resolvers of its promise) and the
 * handlers that its promise settles through, made once per runner rather
 * than once per run.
 */
class Runner {
  fn: (() => unknown) | null = null;
  resolve: ((value: unknown) => void) | null = null;
  reject: ((reason: unknown) => void) | null = null;
  weight = 0;
  w: RunWaiter<any> | null = null;
  readonly onValue: (value: unknown) => void;
  readonly onError: (err: unknown) => void;

  constructor(permits: Permits) {
    this.onValue = (value) => permits.finish(this, value, true);
    this.onError = (err) => permits.finish(this, err, false);
  }

  /** Takes on the run that `take` just took from `q` (a bare call, or a `RunWaiter`). */
  load(q: PermitQueue, weight: number): void {
    this.weight = weight;
    const w = q.waiter as RunWaiter<any> | null;
    this.w = w;
    if (w === null) {
      this.fn = q.fn;
      this.resolve = q.resolve;
      this.reject = q.reject;
    } else {
      this.fn = w.fn;
      this.resolve = this.reject = null;
    }
  }

  /** Settles the run in flight with its outcome. */
  settle(value: unknown, ok: boolean): void {
    const w = this.w;
    if (w !== null) {
      if (ok) w.settle(value);
      else w.fail(value);
    } else if (ok) this.resolve!(value);
    else this.reject!(value);
  }
}

/** Whether a queue head is a `run`: a bare function, or a `RunWaiter`. */
function isRun(head: unknown): boolean {
  return typeof head === 'function' || head instanceof RunWaiter;
}
