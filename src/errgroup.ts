/**
 * Package errgroup runs a group of tasks that work on one job, after
 * golang.org/x/sync/errgroup: `wait()` waits for all of them and reports the
 * first error, the group's `signal` tells the others to stop as soon as one
 * fails, and `setLimit` bounds how many run at once.
 */
import { CanceledError } from './context.js';
import { checkSignal, listen, signalOf, unlisten } from './internal/abort.js';
import { WeftError } from './internal/errors.js';
import { type Outcome, RESOLVED, settle } from './internal/promise.js';
import { guardSignal } from './internal/shapes.js';
import { checkFn, checkOpts, rangeError, show, typeError } from './internal/validate.js';
import { Waiter, WaitQueue } from './internal/waiter.js';

/**
 * Thrown by `ErrGroup.setLimit` when tasks of the group are still running
 * (Go panics: "errgroup: modify limit while N goroutines in the group are
 * still active").
 *
 * @example Changing the limit while a task runs
 * ```ts
 * import { ErrGroup } from 'weftjs';
 * const g = new ErrGroup();
 * let finish!: () => void;
 * await g.go(() => new Promise<void>((resolve) => (finish = resolve)));
 * let code = '';
 * try {
 *   g.setLimit(2);
 * } catch (err) {
 *   code = (err as { code: string }).code;
 * }
 * code; // => 'ERR_ERRGROUP_ACTIVE'
 * finish();
 * await g.wait();
 * g.setLimit(2); // fine once every task has settled
 * ```
 */
export class ErrGroupActiveError extends WeftError {
  readonly code = 'ERR_ERRGROUP_ACTIVE' as const;
}

/** Options of `ErrGroup`. */
export interface ErrGroupOptions {
  /** A parent signal: when it aborts, the group's `signal` aborts with its reason. */
  signal?: AbortSignal;
  /** Most tasks running at once; negative or `Infinity` means no limit (default: no limit). */
  limit?: number;
}

/** A `go()` call waiting for a slot under the limit; it carries the task to start. */
/** A `go` call waiting for a slot: granted by settling it with its function. */
class Slot extends Waiter<(signal: AbortSignal) => unknown> {
  readonly fn: (signal: AbortSignal) => unknown;

  constructor(fn: (signal: AbortSignal) => unknown, signal: AbortSignal | undefined) {
    super('ErrGroup.go', signal);
    this.fn = fn;
  }
}

function checkLimit(n: unknown, op: string, name: string): number {
  if (typeof n !== 'number') throw typeError(`${op}: \`${name}\` must be a number, got ${show(n)}`);
  if (n < 0 || n === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (!Number.isInteger(n)) {
    throw rangeError(`${op}: \`${name}\` must be an integer, a negative number or Infinity, got ${show(n)}`);
  }
  return n;
}

/**
 * A group of tasks working on subtasks of one job, as Go's `errgroup.Group`
 * made with `errgroup.WithContext`.
 *
 * `go(fn)` starts `fn(signal)` at once when the group is under its limit,
 * and otherwise waits, first come first served, for a running task to
 * finish. `wait()` settles when every task started or queued by `go` has
 * settled: it rejects with the first error (a task that throws
 * synchronously or returns a promise that rejects fails with that error),
 * and resolves otherwise.
 *
 * `signal`, the one every task receives, aborts on the first of:
 * - a task failing: the reason is that task's error (Go's `context.Cause`);
 * - the parent `opts.signal` aborting: the reason is the parent's reason;
 * - `wait()` settling: the reason is a `CanceledError` (code `'ERR_CANCELED'`).
 *
 * Once aborted, the signal stays aborted: a group can be used again after
 * `wait()` (its first error, once set, is kept, as in Go), but its tasks get
 * the aborted signal. `go` still runs a task when the signal has aborted, as
 * Go's `Go` does; a task that should not start then checks `signal.aborted`.
 *
 * **Cancellation**: the group adds one listener to the parent signal and
 * removes it when its own signal aborts, which `wait()` settling does; a
 * group whose `wait()` is never called keeps that listener, as a Go context
 * that is never cancelled does. Neither `go` nor `wait` takes a signal:
 * abort the parent, and the tasks, which see it through the group's signal,
 * end, and with them the waits.
 *
 * @example First error wins, and the others are told to stop
 * ```ts
 * import { ErrGroup } from 'weftjs';
 * const g = new ErrGroup();
 * const seen: string[] = [];
 * g.go(async (signal) => {
 *   await new Promise((resolve) => signal.addEventListener('abort', resolve));
 *   seen.push(`stopped: ${signal.reason.message}`);
 * });
 * g.go(() => Promise.reject(new Error('boom')));
 * await g.wait().catch((e) => e.message); // => 'boom'
 * seen; // => ['stopped: boom']
 * ```
 * @example At most two at a time
 * ```ts
 * import { ErrGroup } from 'weftjs';
 * const g = new ErrGroup({ limit: 2 });
 * let running = 0;
 * let most = 0;
 * for (let i = 0; i < 10; i++) {
 *   await g.go(async () => {
 *     most = Math.max(most, ++running);
 *     await new Promise((r) => setTimeout(r, 1));
 *     running--;
 *   });
 * }
 * await g.wait();
 * most; // => 2
 * ```
 * @example Collecting results, as Go's ExampleGroup_parallel
 * ```ts
 * import { ErrGroup } from 'weftjs';
 * const search = async (kind: string, q: string) => `${kind} result for "${q}"`;
 * const g = new ErrGroup();
 * const results: string[] = [];
 * ['web', 'image', 'video'].forEach((kind, i) => {
 *   g.go(async () => {
 *     results[i] = await search(kind, 'golang');
 *   });
 * });
 * await g.wait();
 * results; // => ['web result for "golang"', 'image result for "golang"', 'video result for "golang"']
 * ```
 * @see withCancel
 * @see Semaphore
 */
export class ErrGroup {
  readonly #controller = new AbortController();
  readonly #parent: AbortSignal | undefined;
  #limit: number;
  /** Tasks running now (started, not settled). */
  #active = 0;
  /** Tasks not settled yet, queued ones included: what `wait()` waits for. */
  #pending = 0;
  #failed = false;
  #error: unknown = undefined;
  readonly #slots = new WaitQueue<Slot>();
  readonly #waiters = new WaitQueue<Waiter<void>>();
  // The parent's abort listener: one object per group, no closure per task.
  readonly #onParentAbort = { handleEvent: () => this.#abort(this.#parent!.reason) };
  // How a task ended: handlers made once per group.
  readonly #outcome: Outcome<unknown> = {
    onValue: () => this.#release(),
    onError: (err) => {
      this.#fail(err);
      this.#release();
    },
  };

  // Starts a granted task: registered on its slot by `go`, so it runs in go's caller's context.
  readonly #startGranted = (fn: (signal: AbortSignal) => unknown): void => {
    settle(fn, this.#controller.signal, undefined, this.#outcome);
  };

  /**
   * Creates an empty group. Without options it has no parent signal and no
   * limit, like a Go `errgroup.Group` from `WithContext(context.Background())`.
   *
   * @throws TypeError or RangeError at once if `opts`, `opts.signal` or `opts.limit` is invalid.
   */
  constructor(opts?: ErrGroupOptions) {
    const op = 'ErrGroup';
    checkOpts(opts, op);
    guardSignal(this.#controller.signal, 'ErrGroup.go', '(signal) => …');
    // A `go` call that gave up waiting for a slot is no longer pending.
    this.#slots.onAbort = () => this.#settled();
    const parent = checkSignal(opts?.signal, op);
    this.#limit = opts?.limit === undefined ? Number.POSITIVE_INFINITY : checkLimit(opts.limit, op, 'limit');
    this.#parent = parent;
    if (parent === undefined) return;
    if (parent.aborted) this.#controller.abort(parent.reason);
    else listen(parent, this.#onParentAbort, op);
  }

  /**
   * The signal every task receives. It aborts on the first task error (the
   * reason is that error), when the parent signal aborts (the parent's
   * reason), or when `wait()` settles (a `CanceledError`, code
   * `'ERR_CANCELED'`), whichever comes first.
   */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Starts `fn(signal)` in the group, waiting first for a slot when the group
   * is at its limit; resolves once `fn` has started. Calls that wait are
   * served in the order they were made, and a waiting call's `fn` runs in
   * the async context of its own `go` call.
   *
   * A task fails when `fn` throws or its promise rejects: the first failure
   * aborts `signal` with the error and is what `wait()` rejects with. `fn`
   * runs even when `signal` has already aborted (Go's `Go` does too).
   *
   * **Cancellation**: `opts.signal` stops a wait for a slot: the call
   * rejects with `signal.reason`, `fn` never runs and the group no longer
   * waits for it. Once `fn` has started, the signal has no effect (the task
   * watches the group's `signal`). Use `tryGo` to start a task only when
   * there is room.
   *
   * @throws TypeError at once if `fn` is not a function or `opts.signal` not an AbortSignal.
   * @example Backpressure: a producer that never runs ahead
   * ```ts
   * import { ErrGroup } from 'weftjs';
   * const g = new ErrGroup({ limit: 3 });
   * let started = 0;
   * for (let i = 0; i < 100; i++) await g.go(async () => void started++);
   * await g.wait();
   * started; // => 100
   * ```
   * @see tryGo
   */
  go(fn: (signal: AbortSignal) => unknown, opts?: { signal?: AbortSignal }): Promise<void> {
    checkFn(fn, 'ErrGroup.go', 'fn');
    const signal = signalOf(opts, 'ErrGroup.go');
    if (this.#active < this.#limit && this.#slots.length === 0) {
      this.#pending++;
      this.#start(fn);
      return RESOLVED;
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.#pending++;
    const slot = new Slot(fn, signal);
    this.#slots.push(slot);
    return slot.promise.then(this.#startGranted);
  }

  /**
   * Starts `fn(signal)` only if the group is under its limit and no `go`
   * call is waiting for a slot; returns whether it started it.
   *
   * @throws TypeError at once if `fn` is not a function.
   * @example
   * ```ts
   * import { ErrGroup } from 'weftjs';
   * const g = new ErrGroup({ limit: 1 });
   * let release!: () => void;
   * g.tryGo(() => new Promise<void>((r) => (release = r))); // => true
   * g.tryGo(() => {}); // => false
   * release();
   * await g.wait();
   * ```
   * @see go
   */
  tryGo(fn: (signal: AbortSignal) => unknown): boolean {
    checkFn(fn, 'ErrGroup.tryGo', 'fn');
    if (this.#active >= this.#limit || this.#slots.length !== 0) return false;
    this.#pending++;
    this.#start(fn);
    return true;
  }

  /**
   * Limits the tasks running at once to `n`; a negative `n` or `Infinity`
   * removes the limit, and 0 lets no task start (`go` waits, `tryGo` fails).
   * `go` calls waiting for a slot are started at once if the new limit
   * leaves room.
   *
   * @throws ErrGroupActiveError (code `'ERR_ERRGROUP_ACTIVE'`) while tasks of the group are running.
   * @throws TypeError or RangeError at once if `n` is not a number, or a finite non-integer.
   * @example
   * ```ts
   * import { ErrGroup } from 'weftjs';
   * const g = new ErrGroup();
   * g.setLimit(1);
   * g.go(() => new Promise((r) => setTimeout(r, 1)));
   * try {
   *   g.setLimit(2);
   * } catch (e: any) {
   *   e.code; // => 'ERR_ERRGROUP_ACTIVE'
   * }
   * await g.wait();
   * ```
   */
  setLimit(n: number): void {
    const limit = checkLimit(n, 'ErrGroup.setLimit', 'n');
    if (this.#active !== 0) {
      throw new ErrGroupActiveError(
        `ErrGroup.setLimit: cannot change the limit while ${this.#active} task(s) of the group are running`,
      );
    }
    this.#limit = limit;
    this.#drain();
  }

  /**
   * Waits until every task started or queued by `go`/`tryGo` has settled,
   * then aborts `signal` (reason: a `CanceledError`) if it has not aborted
   * yet, and resolves, or rejects with the first error of a task.
   *
   * Several calls may wait at once; all settle together. Tasks started after
   * `wait()` settled are waited for by the next `wait()`.
   *
   * **Cancellation**: when `opts.signal` aborts, this wait rejects with
   * `signal.reason` and leaves nothing behind; the tasks go on (abort the
   * group's parent signal to make them end). Settling removes the group's
   * listener from the parent.
   *
   * Rejects with the first error of a task, as it is.
   * @example
   * ```ts
   * import { ErrGroup } from 'weftjs';
   * const g = new ErrGroup();
   * g.go(async () => {});
   * await g.wait(); // => undefined
   * g.signal.reason.code; // => 'ERR_CANCELED'
   * ```
   */
  wait(opts?: { signal?: AbortSignal }): Promise<void> {
    const signal = signalOf(opts, 'ErrGroup.wait');
    if (this.#pending === 0) {
      this.#finish();
      return this.#failed ? Promise.reject(this.#error) : RESOLVED;
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const waiter = new Waiter<void>('ErrGroup.wait', signal);
    this.#waiters.push(waiter);
    return waiter.promise;
  }
  /**
   * `await using g = new ErrGroup()`: waits for every task, as `wait()`,
   * when the block is left, and rethrows the first task error.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.wait();
  }

  #start(fn: (signal: AbortSignal) => unknown): void {
    this.#active++;
    settle(fn, this.#controller.signal, undefined, this.#outcome);
  }

  // A task settled: free its slot, hand free slots to queued calls, and
  // settle the waits when nothing is left.
  #release(): void {
    this.#active--;
    if (this.#slots.length !== 0) this.#drain();
    this.#settled();
  }

  // A task or a queued call is over: settle the waits when nothing is left.
  #settled(): void {
    this.#pending--;
    if (this.#pending === 0 && this.#waiters.length !== 0) {
      this.#finish();
      const waiters = this.#waiters.takeAll();
      for (const w of waiters) {
        if (this.#failed) w.fail(this.#error);
        else w.settle();
      }
    }
  }

  // Grants queued calls while there is room: each takes its slot now and
  // starts in its own caller's continuation (`#startGranted`).
  #drain(): void {
    while (this.#active < this.#limit && this.#slots.length !== 0) {
      const slot = this.#slots.shift()!;
      this.#active++;
      slot.settle(slot.fn);
    }
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = err;
    this.#abort(err);
  }

  #finish(): void {
    if (!this.#controller.signal.aborted) this.#abort(new CanceledError('ErrGroup: wait() returned'));
  }

  #abort(reason: unknown): void {
    if (this.#parent !== undefined) unlisten(this.#parent, this.#onParentAbort);
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }
}
