/**
 * Package cond provides a condition variable, after Go's `sync.Cond`: a
 * rendezvous point for tasks waiting for, or announcing, a change of state
 * guarded by a `Mutex`.
 */
import { signalOf } from './internal/abort.js';
import { holder as holderOf } from './internal/hooks.js';
import { show, typeError } from './internal/validate.js';
import { Waiter, WaitQueue } from './internal/waiter.js';
import type { Lock } from './lock.js';
import { Mutex, NotLockedError } from './mutex.js';

/** A waiting `Cond.wait`; once woken, it is queued for the mutex at once, ahead of later comers. */
class CondWaiter extends Waiter<void> {
  relocking: Promise<Lock> | undefined = undefined;
}

/** Options of `Cond.wait`. */
export interface CondWaitOptions {
  /** Stops the wait: the call rejects with `signal.reason`, once the mutex is held again. */
  signal?: AbortSignal;
}

/**
 * A condition variable over a weft `Mutex`, as Go's `sync.Cond`: tasks
 * that hold the mutex `wait()` for a condition to change, and the task that
 * changes it calls `signal()` (wake one) or `broadcast()` (wake all).
 *
 * As in Go, the mutex is released while waiting and held again when
 * `wait()` returns, and a woken waiter must check its condition again in a
 * loop: another task may have changed the state before it got the mutex
 * back. Waiters are woken in the order they began waiting. If the mutex
 * was locked through a `Lock` (`using lock = await mu.lock()`), that same
 * `Lock` holds it again after `wait()`, so its release stays correct.
 *
 * For one-shot events and values, a `Channel` or a promise is simpler.
 *
 * @throws TypeError at once if `lock` is not a weft `Mutex`.
 * @example A queue that consumers wait on
 * ```ts
 * import { Cond, Mutex } from 'weftjs';
 * const mu = new Mutex();
 * const nonEmpty = new Cond(mu);
 * const queue: string[] = [];
 * const consume = async () => {
 *   using _lock = await mu.lock();
 *   while (queue.length === 0) await nonEmpty.wait();
 *   return queue.shift();
 * };
 * const consumers = [consume(), consume()];
 * await mu.run(() => {
 *   queue.push('a', 'b');
 *   nonEmpty.broadcast();
 * });
 * (await Promise.all(consumers)).sort(); // => ['a', 'b']
 * mu.locked; // => false
 * ```
 * @see Mutex
 * @see Channel
 */
export class Cond {
  /** The mutex the condition's state is guarded by. */
  readonly lock: Mutex;
  readonly #waiters = new WaitQueue<CondWaiter>();

  constructor(lock: Mutex) {
    if (!(lock instanceof Mutex)) throw typeError(`Cond: \`lock\` must be a weft Mutex, got ${show(lock)}`);
    this.lock = lock;
  }

  /** Tasks waiting in `wait()` for a `signal` or `broadcast` (not those getting the mutex back). */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Unlocks the mutex, waits for `signal()` or `broadcast()`, then locks
   * the mutex again before resolving. The caller must hold the mutex.
   *
   * **Cancellation**: when `opts.signal` aborts, the wait stops, but the
   * call rejects with `signal.reason` only after it holds the mutex again,
   * so that the caller's unlock (or `using`) stays correct on every path.
   * An already-aborted signal rejects at once, the mutex still held.
   *
   * Rejects with `signal.reason`.
   * @throws NotLockedError (`'ERR_NOT_LOCKED'`) at once if the mutex is not locked.
   * @throws TypeError at once if `opts.signal` is not an AbortSignal.
   * @example Waiting for a flag
   * ```ts
   * import { Cond, Mutex } from 'weftjs';
   * const mu = new Mutex();
   * const cond = new Cond(mu);
   * let ready = false;
   * const waiter = mu.run(async () => {
   *   while (!ready) await cond.wait();
   *   return 'saw ready';
   * });
   * await mu.run(() => {
   *   ready = true;
   *   cond.signal();
   * });
   * await waiter; // => 'saw ready'
   * ```
   * @see Cond.signal
   * @see Cond.broadcast
   */
  wait(opts?: CondWaitOptions): Promise<void> {
    const signal = signalOf(opts, 'Cond.wait');
    const mu = this.lock;
    if (!mu.locked) throw new NotLockedError('Cond.wait: the mutex is not locked');
    if (signal?.aborted) return Promise.reject(signal.reason);
    const w = new CondWaiter('Cond.wait', signal);
    this.#waiters.push(w);
    const holder = mu[holderOf];
    mu.unlock();
    return relock(w, mu, holder);
  }

  /**
   * Wakes the task that has waited longest, if any (Go's `Signal`). The
   * caller may, but need not, hold the mutex.
   *
   * @example One at a time
   * ```ts
   * import { Cond, Mutex } from 'weftjs';
   * const mu = new Mutex();
   * const cond = new Cond(mu);
   * let woken = 0;
   * for (let i = 0; i < 2; i++) void mu.run(async () => { await cond.wait(); woken++; });
   * await new Promise((r) => setTimeout(r, 0));
   * cond.signal();
   * await mu.run(() => {});
   * woken; // => 1
   * cond.broadcast();
   * await mu.run(() => {});
   * woken; // => 2
   * ```
   * @see Cond.broadcast
   */
  signal(): void {
    const w = this.#waiters.shift();
    if (w !== null) this.#wake(w);
  }

  /**
   * Wakes every waiting task (Go's `Broadcast`); they get the mutex back
   * one after another, in the order they began waiting.
   *
   * @example Waking all
   * ```ts
   * import { Cond, Mutex } from 'weftjs';
   * const mu = new Mutex();
   * const cond = new Cond(mu);
   * const waits = [1, 2, 3].map((n) => mu.run(async () => { await cond.wait(); return n; }));
   * await new Promise((r) => setTimeout(r, 0));
   * cond.waiting; // => 3
   * cond.broadcast();
   * await Promise.all(waits); // => [1, 2, 3]
   * ```
   * @see Cond.signal
   */
  broadcast(): void {
    for (let w = this.#waiters.shift(); w !== null; w = this.#waiters.shift()) this.#wake(w);
  }

  // The woken waiter queues for the mutex now, not a microtask later, so
  // that a task locking the mutex after this call does not barge ahead.
  #wake(w: CondWaiter): void {
    w.relocking = this.lock.lock();
    w.settle();
  }
}

// Waits to be woken (or aborted), then takes the mutex back for the same
// holder the caller had, and only then settles.
async function relock(w: CondWaiter, mu: Mutex, holder: Lock | null): Promise<void> {
  let aborted = false;
  let reason: unknown;
  try {
    await w.promise;
  } catch (err) {
    aborted = true;
    reason = err;
  }
  await (w.relocking ?? mu.lock());
  mu[holderOf] = holder;
  if (aborted) throw reason;
}
