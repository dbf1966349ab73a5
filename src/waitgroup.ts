/**
 * Package waitgroup waits for a collection of tasks to finish, after Go's
 * `sync.WaitGroup`: a counter that tasks add to and mark done, and a wait
 * that resolves when it reaches zero.
 */
import { signalOf } from './internal/abort.js';
import { type Outcome, settle } from './internal/promise.js';
import { checkFn, checkInt, rangeError } from './internal/validate.js';
import { Waiter, WaitQueue } from './internal/waiter.js';

/** Options of `WaitGroup.wait`. */
export interface WaitGroupWaitOptions {
  /** Stops the wait: the call rejects with `signal.reason`; the counter is untouched. */
  signal?: AbortSignal;
}

/**
 * Waits for a collection of tasks to finish, as Go's `sync.WaitGroup`:
 * `add(n)` before starting tasks, `done()` as each finishes, and `wait()`
 * resolves once the counter is zero. `go(fn)` does all three for one task.
 *
 * Unlike `ErrGroup`, a WaitGroup does not collect errors: a task's error
 * is its own business (`go` leaves a rejection unhandled, as an unrecovered
 * panic in a goroutine crashes a Go program).
 *
 * A WaitGroup may be reused: once the counter is back at zero, new tasks
 * may be added and waited for.
 *
 * @example Waiting for a batch of tasks
 * ```ts
 * import { WaitGroup } from 'weftjs';
 * const wg = new WaitGroup();
 * const results: number[] = [];
 * for (const n of [3, 1, 2]) {
 *   wg.go(async () => {
 *     await new Promise((r) => setTimeout(r, n));
 *     results.push(n);
 *   });
 * }
 * wg.count; // => 3
 * await wg.wait();
 * results.sort(); // => [1, 2, 3]
 * ```
 * @see ErrGroup
 */
export class WaitGroup {
  #count = 0;
  readonly #waiters = new WaitQueue<Waiter<void>>();
  // How a `go` task ended: handlers made once per group. A failure stays
  // an unhandled rejection, as a panic in a goroutine would crash.
  readonly #outcome: Outcome<unknown> = {
    onValue: () => this.add(-1),
    onError: (err) => {
      this.add(-1);
      void Promise.reject(err);
    },
  };

  /** The counter: tasks added and not done yet. */
  get count(): number {
    return this.#count;
  }

  /**
   * Adds `delta` (default 1, may be negative) to the counter; when it
   * reaches zero, every `wait` resolves. As in Go, call `add` before
   * starting the task, not from inside it.
   *
   * @throws RangeError if the counter would go negative (it is left as it was), or `delta` is not an integer.
   * @example Go style
   * ```ts
   * import { WaitGroup } from 'weftjs';
   * const wg = new WaitGroup();
   * wg.add(2);
   * setTimeout(() => wg.done(), 1);
   * setTimeout(() => wg.done(), 2);
   * await wg.wait();
   * wg.count; // => 0
   * ```
   * @see WaitGroup.done
   */
  add(delta = 1): void {
    checkInt(delta, 'WaitGroup.add', 'delta', Number.MIN_SAFE_INTEGER);
    this.#change(delta, 'WaitGroup.add');
  }

  #change(delta: number, op: string): void {
    const count = this.#count + delta;
    if (count < 0) {
      throw rangeError(
        op === 'WaitGroup.done'
          ? 'WaitGroup.done: more done() calls than tasks added (the counter is 0)'
          : `${op}: negative WaitGroup counter (${this.#count} + ${delta})`,
      );
    }
    this.#count = count;
    if (count === 0 && this.#waiters.length !== 0) {
      for (let w = this.#waiters.shift(); w !== null; w = this.#waiters.shift()) w.settle();
    }
  }

  /**
   * Takes one from the counter (`add(-1)`).
   *
   * @throws RangeError if the counter is already zero.
   * @example One more than added
   * ```ts
   * import { WaitGroup } from 'weftjs';
   * const wg = new WaitGroup();
   * wg.add();
   * wg.done();
   * let name = '';
   * try { wg.done(); } catch (err) { name = (err as Error).name; }
   * name; // => 'RangeError'
   * ```
   * @see WaitGroup.add
   */
  done(): void {
    this.#change(-1, 'WaitGroup.done');
  }

  /**
   * Runs `fn` as a task of the group (Go 1.25's `WaitGroup.Go`): adds one,
   * calls `fn` at once, and marks it done when `fn`'s result settles (at
   * once when it returns a plain value).
   *
   * A task's failure is not the group's: the task is done either way, and
   * its error is left unhandled, as a panic would be in Go. A rejection of
   * `fn`'s promise becomes an unhandled rejection; a synchronous throw is
   * treated the same way (the task is done, and the error surfaces as an
   * unhandled rejection, not as a throw from `go`). Catch inside `fn`, or
   * use `ErrGroup`, to handle errors.
   *
   * @throws TypeError at once if `fn` is not a function.
   * @example Tasks that are synchronous or not
   * ```ts
   * import { WaitGroup } from 'weftjs';
   * const wg = new WaitGroup();
   * let n = 0;
   * wg.go(() => { n++; });
   * wg.go(async () => { n++; });
   * wg.count; // => 1
   * await wg.wait();
   * n; // => 2
   * ```
   * @see WaitGroup.wait
   */
  go(fn: () => unknown): void {
    checkFn(fn, 'WaitGroup.go', 'fn');
    this.#count++;
    settle(fn, undefined, undefined, this.#outcome);
  }

  /**
   * Waits until the counter is zero; resolves at once if it is.
   *
   * **Cancellation**: when `opts.signal` aborts, the call rejects with
   * `signal.reason` and leaves nothing behind; the counter and the tasks
   * are untouched. An already-aborted signal rejects a wait that would have
   * to wait.
   *
   * Rejects with `signal.reason`.
   * @throws TypeError at once if `opts.signal` is not an AbortSignal.
   * @example Waiting with a deadline
   * ```ts
   * import { WaitGroup } from 'weftjs';
   * const wg = new WaitGroup();
   * wg.add();
   * const ac = new AbortController();
   * const waiting = wg.wait({ signal: ac.signal });
   * ac.abort('gave up');
   * await waiting.catch((reason) => reason); // => 'gave up'
   * wg.count; // => 1
   * ```
   * @see WaitGroup.go
   */
  wait(opts?: WaitGroupWaitOptions): Promise<void> {
    const signal = signalOf(opts, 'WaitGroup.wait');
    if (this.#count === 0) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    const w = new Waiter<void>('WaitGroup.wait', signal);
    this.#waiters.push(w);
    return w.promise;
  }
}
