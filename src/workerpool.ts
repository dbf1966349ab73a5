/**
 * Package workerpool provides `WorkerPool`, Go's worker-pool pattern (a
 * fixed number of goroutines ranging over a jobs channel) as an object: a
 * bounded number of workers run one function over submitted jobs or over a
 * whole iterable, with back-pressure, cancellation, live resizing and a
 * graceful or immediate shutdown.
 */

import { Flow } from './flow.js';
import { listen, signalOf, unlisten } from './internal/abort.js';
import { WeftError } from './internal/errors.js';
import { MAP, MapEngine, type Mode, SETTLED } from './internal/flow/engine.js';
import { OPEN } from './internal/flow/slots.js';
import { checkSource, Derived, isSyncSource, openSource, type Source } from './internal/flow/source.js';
import { inspectAs, inspectKey } from './internal/inspect.js';
import { JobPool } from './internal/jobpool.js';
import { checkBool, checkFn, checkInt, checkOpts } from './internal/validate.js';
import { waitFor } from './internal/waiter.js';

/** What a job's function receives besides the job. */
export interface JobContext {
  /** Aborts when the job is cancelled: its `submit` signal or its map's signal aborts, or the pool closes without drain. */
  signal: AbortSignal;
  /** The worker slot running the job, from 0 to `concurrency - 1`; no two running jobs share one. */
  worker: number;
}

/** The outcome of one job of `WorkerPool.mapSettled`, as `Promise.allSettled` reports it, with the job. */
export type Settled<T, R> = { ok: true; job: T; value: R } | { ok: false; job: T; error: unknown };

/** Options of the `WorkerPool` constructor. */
export interface WorkerPoolOptions {
  /** How many jobs run at once (default 10). */
  concurrency?: number;
  /** How many submitted jobs may wait for a worker, not counting running ones (default Infinity). */
  maxQueue?: number;
  /** Aborting it closes the pool without drain, as `close({ drain: false })`. */
  signal?: AbortSignal;
}

/** Options of `WorkerPool.map` and `WorkerPool.mapSettled`. */
export interface WorkerPoolMapOptions {
  /** Yield results in input order (default true) or as they complete (false). */
  ordered?: boolean;
  /** Aborting it stops the map: running jobs' signals abort, the iteration rejects with the reason. */
  signal?: AbortSignal;
}

/** A snapshot of a pool's counters. */
export interface WorkerPoolStats {
  /** The number of workers. */
  concurrency: number;
  /** Workers busy now: running a job, or fetching the next item of a map. */
  running: number;
  /** Submitted jobs waiting for a worker. */
  queued: number;
  /** Jobs that succeeded. */
  completed: number;
  /** Jobs that threw or rejected. */
  failed: number;
  /**
   * Jobs that threw or rejected after they were cancelled (their signal or
   * their map's aborted, their map stopped, or the pool closed without
   * drain): the caller's doing, not the work's, so not counted as `failed`.
   */
  canceled: number;
}

/**
 * Rejection of `WorkerPool.submit` when `maxQueue` jobs are already waiting
 * for a worker. Nothing was queued; try again later or shed the load.
 *
 * @example Shedding load past one waiting job
 * ```ts
 * import { WorkerPool } from 'weftjs';
 * let release!: () => void;
 * const gate = new Promise<void>((resolve) => (release = resolve));
 * const pool = new WorkerPool(async (n: number) => (await gate, n), { concurrency: 1, maxQueue: 1 });
 * const running = pool.submit(1);
 * const waiting = pool.submit(2);
 * const err = await pool.submit(3).catch((e) => e);
 * err.code; // => 'ERR_QUEUE_FULL'
 * release();
 * await Promise.all([running, waiting]); // => [1, 2]
 * ```
 */
export class QueueFullError extends WeftError {
  readonly code = 'ERR_QUEUE_FULL' as const;
}

/**
 * Rejection of work that a closed pool will not run: `submit` after
 * `close()`, jobs still queued when `close({ drain: false })` is called (or
 * the pool's signal aborts), and a `map` whose pool closed under it.
 *
 * @example Submitting to a closed pool
 * ```ts
 * import { WorkerPool } from 'weftjs';
 * const pool = new WorkerPool((n: number) => n * 2);
 * await pool.close();
 * const err = await pool.submit(1).catch((e) => e);
 * err.code; // => 'ERR_POOL_CLOSED'
 * ```
 */
export class PoolClosedError extends WeftError {
  readonly code = 'ERR_POOL_CLOSED' as const;
}

/**
 * A pool of `concurrency` workers running `work` over jobs: submitted one
 * at a time with `submit`, or pulled from an iterable with `map`. Go's
 * worker pool, with the shutdown, back-pressure and cancellation a service
 * needs.
 *
 * A job starts at once when a worker is free (the work function is called
 * synchronously inside `submit`); otherwise it waits in a FIFO queue of at
 * most `maxQueue` jobs (default Infinity). `concurrency` defaults to 10.
 * A job that throws, synchronously or by rejecting, fails that job only:
 * the worker goes on with the next one. `map` and `submit` share the
 * workers fairly: a map gives its worker back after each job when
 * submitted jobs are waiting.
 *
 * **Cancellation**: a queued job whose `submit` signal aborts leaves the
 * queue and rejects with the reason; a running one rejects at once and its
 * `ctx.signal` aborts, so the work can stop (its worker is free when the
 * work returns). `close({ drain: false })`, or the pool's own `signal`
 * aborting, rejects the queued and running jobs with `PoolClosedError` and
 * aborts the running jobs' signals.
 *
 * @example Five workers, twenty jobs
 * ```ts
 * import { WorkerPool } from 'weftjs';
 * const pool = new WorkerPool(async (n: number, { worker }) => {
 *   await Promise.resolve();
 *   return { n, square: n * n, worker };
 * }, { concurrency: 5 });
 * const results = [];
 * for await (const r of pool.map(Array.from({ length: 20 }, (_, i) => i))) results.push(r.square);
 * results.slice(0, 5); // => [0, 1, 4, 9, 16]
 * results.length; // => 20
 * pool.stats.completed; // => 20
 * await pool.close();
 * ```
 * @example Submitting jobs one by one
 * ```ts
 * import { WorkerPool } from 'weftjs';
 * const pool = new WorkerPool((s: string) => s.toUpperCase(), { concurrency: 2 });
 * await pool.submit('a'); // => 'A'
 * await Promise.all([pool.submit('b'), pool.submit('c'), pool.submit('d')]); // => ['B', 'C', 'D']
 * await pool.close();
 * ```
 * @see flow for pipelines of stages, each with its own concurrency.
 */
export class WorkerPool<T, R> {
  readonly #pool: JobPool<T, R>;
  readonly #maxQueue: number;
  readonly #signal: AbortSignal | undefined;

  /**
   * @param work the function run on each job; it receives the job and a `JobContext`.
   * @throws TypeError if `work` is not a function or an option has the wrong type.
   * @throws RangeError if `concurrency` is not an integer >= 1 or `maxQueue` not an integer >= 0 (or Infinity).
   */
  constructor(work: (job: T, ctx: JobContext) => R | Promise<R>, opts?: WorkerPoolOptions) {
    checkFn(work, 'WorkerPool', 'work');
    checkOpts(opts, 'WorkerPool');
    const concurrency = checkInt(opts?.concurrency ?? 10, 'WorkerPool', 'concurrency', 1);
    this.#maxQueue = checkInt(opts?.maxQueue ?? Number.POSITIVE_INFINITY, 'WorkerPool', 'maxQueue', 0, Infinity);
    this.#signal = signalOf(opts, 'WorkerPool');
    this.#pool = new JobPool<T, R>(work, concurrency, this);
    if (this.#signal !== undefined) {
      if (this.#signal.aborted) this.#signalAborted();
      else listen(this.#signal, this.#onSignal, 'WorkerPool');
    }
  }

  /** How `util.inspect` shows it: WorkerPool { ... } with its state now. */
  [inspectKey](depth: number, options: unknown, inspect?: (v: unknown, o?: unknown) => string): string {
    return inspectAs('WorkerPool', this.stats, depth, options, inspect);
  }

  /** The current counters: a fresh snapshot on each read. */
  get stats(): WorkerPoolStats {
    const p = this.#pool;
    return {
      concurrency: p.concurrency,
      running: p.running,
      queued: p.queuedJobs,
      completed: p.completed,
      failed: p.failed,
      canceled: p.canceled,
    };
  }

  /**
   * Runs `work` on `job` and resolves with what it returns. The job starts
   * at once if a worker is free, else waits its turn in FIFO order.
   *
   * **Cancellation**: if `opts.signal` aborts while the job waits, it leaves
   * the queue; while it runs, its `ctx.signal` aborts. Either way the
   * promise rejects with the signal's reason at once.
   *
   * Rejects with `QueueFullError` (`ERR_QUEUE_FULL`) when `maxQueue` jobs
   * are already waiting, with `PoolClosedError` (`ERR_POOL_CLOSED`) after
   * `close()`, and with whatever the work throws.
   *
   * @throws TypeError if `opts` or its `signal` has the wrong type.
   *
   * @example A full queue sheds load
   * ```ts
   * import { WorkerPool } from 'weftjs';
   * const pool = new WorkerPool(() => new Promise<string>((r) => setTimeout(r, 5, 'done')), { concurrency: 1, maxQueue: 1 });
   * const running = pool.submit(1);
   * const queued = pool.submit(2);
   * const err = await pool.submit(3).catch((e) => e);
   * err.code; // => 'ERR_QUEUE_FULL'
   * await Promise.all([running, queued]); // => ['done', 'done']
   * ```
   * @example Cancelling a running job
   * ```ts
   * import { WorkerPool } from 'weftjs';
   * const pool = new WorkerPool((_: number, { signal }) =>
   *   new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))));
   * const ac = new AbortController();
   * const job = pool.submit(1, { signal: ac.signal });
   * ac.abort('stop');
   * await job.catch((e) => e); // => 'stop'
   * await pool.onIdle();
   * [pool.stats.failed, pool.stats.canceled]; // => [0, 1]
   * ```
   * @see WorkerPool.map
   */
  submit(job: T, opts?: { signal?: AbortSignal }): Promise<R> {
    const signal = signalOf(opts, 'WorkerPool.submit');
    const pool = this.#pool;
    if (pool.state !== OPEN) return Promise.reject(new PoolClosedError('WorkerPool.submit: the pool is closed'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (pool.queuedJobs >= this.#maxQueue && !pool.startsNow()) {
      return Promise.reject(
        new QueueFullError(`WorkerPool.submit: ${pool.queuedJobs} jobs are waiting, the most \`maxQueue\` allows`),
      );
    }
    return pool.submit(job, signal);
  }

  /**
   * Runs `work` on every job of `jobs` and yields the results, in input
   * order by default (`ordered: false`: as they complete). Jobs are pulled
   * from `jobs` only as workers free up and the consumer takes results, so
   * at most `concurrency` jobs are held at once however long `jobs` is.
   * Nothing runs until the result is iterated; each iteration reads `jobs`
   * again.
   *
   * The result is a `Flow` (an `AsyncIterable`, as the contract says), so
   * stages chain after it and its terminal operations (`forEach`,
   * `toArray`, `drain`, ...) take each result as it is ready, without the
   * promise per result that `for await` costs.
   *
   * The first job that fails stops the map: the iteration rejects with its
   * error (use `mapSettled` to go on). If the pool closes with drain, the
   * jobs running finish and are yielded, then the iteration rejects with
   * `PoolClosedError` (`ERR_POOL_CLOSED`); it does so at once on a closed
   * pool.
   *
   * **Cancellation**: when `opts.signal` aborts, or the consumer stops early
   * (`break`), the running jobs' `ctx.signal` aborts, `jobs.return()` is
   * called, and (for an abort) the iteration rejects with the reason.
   *
   * @throws TypeError if `jobs` is not iterable or an option has the wrong type.
   *
   * @example Results in input order, or as they complete
   * ```ts
   * import { WorkerPool } from 'weftjs';
   * import { TestClock } from 'weftjs/testing';
   * const clock = new TestClock();
   * const pool = new WorkerPool((ms: number) => new Promise<number>((r) => clock.setTimeout(() => r(ms), ms)), { concurrency: 3 });
   * const ordered = pool.map([30, 10, 20]).toArray();
   * await clock.runAll();
   * await ordered; // => [30, 10, 20]
   * const unordered: number[] = [];
   * const reading = (async () => { for await (const ms of pool.map([30, 10, 20], { ordered: false })) unordered.push(ms); })();
   * await clock.runAll();
   * await reading;
   * unordered; // => [10, 20, 30]
   * ```
   * @example More stages after the pool's
   * ```ts
   * import { WorkerPool } from 'weftjs';
   * const pool = new WorkerPool((n: number) => n * n, { concurrency: 4 });
   * await pool.map([1, 2, 3, 4]).filter((sq) => sq % 2 === 0).toArray(); // => [4, 16]
   * ```
   * @see WorkerPool.mapSettled
   */
  map(jobs: Iterable<T | PromiseLike<T>> | AsyncIterable<T>, opts?: WorkerPoolMapOptions): Flow<R> {
    return this.#mapper<R>(jobs, opts, MAP, 'WorkerPool.map');
  }

  /**
   * As `map`, but a job that fails does not stop the map: every job yields
   * a `Settled` record, `{ ok: true, job, value }` or `{ ok: false, job,
   * error }`. Cancellation as in `map`.
   *
   * @throws TypeError if `jobs` is not iterable or an option has the wrong type.
   *
   * @example Failures are results too
   * ```ts
   * import { WorkerPool } from 'weftjs';
   * const pool = new WorkerPool((n: number) => {
   *   if (n === 2) throw new Error('two');
   *   return n * 10;
   * });
   * const out = [];
   * for await (const s of pool.mapSettled([1, 2, 3])) out.push(s.ok ? s.value : (s.error as Error).message);
   * out; // => [10, 'two', 30]
   * ```
   * @see WorkerPool.map
   */
  mapSettled(jobs: Iterable<T | PromiseLike<T>> | AsyncIterable<T>, opts?: WorkerPoolMapOptions): Flow<Settled<T, R>> {
    return this.#mapper<Settled<T, R>>(jobs, opts, SETTLED, 'WorkerPool.mapSettled');
  }

  #mapper<U>(
    jobs: Iterable<T | PromiseLike<T>> | AsyncIterable<T>,
    opts: WorkerPoolMapOptions | undefined,
    mode: Mode,
    op: string,
  ): Flow<U> {
    checkSource(jobs, op, 'jobs');
    const signal = signalOf(opts, op);
    const ordered = checkBool(opts?.ordered, op, 'ordered', true);
    const sync = isSyncSource(jobs);
    const pool = this.#pool;
    const open = (outer: AbortSignal | undefined): [AsyncIterator<U>, boolean] => {
      const e = new MapEngine<T, U>(openSource(jobs as Source<T>, outer), sync, pool.work, {
        concurrency: 0,
        ordered,
        mode,
        outer,
        pool,
        op,
      });
      pool.addMapper(e, () => new PoolClosedError(`${op}: the pool is closed`));
      return [e, false];
    };
    return new Flow<U>(new Derived<U>(open) as unknown as Source<U>, { signal });
  }

  /**
   * Sets the number of workers. Growing starts queued jobs at once;
   * shrinking lets running jobs finish and starts no new one until fewer
   * than `concurrency` run. Worker slots stay numbered from 0 to
   * `concurrency - 1`.
   *
   * @throws RangeError if `concurrency` is not an integer >= 1.
   *
   * @example
   * ```ts
   * import { WorkerPool } from 'weftjs';
   * const pool = new WorkerPool((n: number) => n, { concurrency: 2 });
   * pool.resize(8);
   * pool.stats.concurrency; // => 8
   * ```
   * @see WorkerPool.pause
   */
  resize(concurrency: number): void {
    this.#pool.resize(checkInt(concurrency, 'WorkerPool.resize', 'concurrency', 1));
  }

  /**
   * Stops starting jobs: running jobs finish, queued ones wait (and can
   * still be submitted) until `resume()`.
   *
   * @example
   * ```ts
   * import { WorkerPool } from 'weftjs';
   * const pool = new WorkerPool((n: number) => n * 2);
   * pool.pause();
   * const job = pool.submit(21);
   * pool.stats.queued; // => 1
   * pool.resume();
   * await job; // => 42
   * ```
   * @see WorkerPool.resume
   */
  pause(): void {
    this.#pool.pause();
  }

  /** Starts jobs again after `pause()`. @see WorkerPool.pause */
  resume(): void {
    this.#pool.resume();
  }

  /**
   * Resolves when no job is running and none is queued (at once if so
   * now). It never rejects but for its signal.
   *
   * **Cancellation**: when `opts.signal` aborts, the wait rejects with
   * `signal.reason` and leaves nothing behind; the pool is untouched.
   *
   * @example
   * ```ts
   * import { WorkerPool } from 'weftjs';
   * const done: number[] = [];
   * const pool = new WorkerPool(async (n: number) => { await Promise.resolve(); done.push(n); });
   * for (const n of [1, 2, 3]) pool.submit(n);
   * await pool.onIdle();
   * done; // => [1, 2, 3]
   * ```
   * @see WorkerPool.close
   */
  onIdle(opts?: { signal?: AbortSignal }): Promise<void> {
    const signal = signalOf(opts, 'WorkerPool.onIdle');
    if (signal?.aborted) return Promise.reject(signal.reason);
    return this.#pool.whenIdle('WorkerPool.onIdle', signal);
  }

  /**
   * Closes the pool: `submit` rejects with `PoolClosedError` from now on,
   * and maps stop pulling jobs. With `drain: true` (the default) queued and
   * running jobs finish; with `drain: false` queued and running jobs reject
   * with `PoolClosedError` (`ERR_POOL_CLOSED`) and the running jobs'
   * signals abort. Resolves when no job is running any more (a paused pool
   * drains after `resume()`). `opts.signal` stops this wait only (the call
   * rejects with `signal.reason`; the pool goes on closing). Calling it
   * again waits for the same close; a `drain: false` call ends a drain in
   * progress. `await using` closes a pool with drain at the end of its block.
   *
   * @throws TypeError if `opts` or `drain` has the wrong type.
   *
   * @example Drain, or drop what is queued
   * ```ts
   * import { WorkerPool } from 'weftjs';
   * const pool = new WorkerPool((n: number) => new Promise<number>((r) => setTimeout(r, 1, n)), { concurrency: 1 });
   * const a = pool.submit(1).catch((e) => e.code);
   * const b = pool.submit(2).catch((e) => e.code);
   * await pool.close({ drain: false });
   * await a; // => 'ERR_POOL_CLOSED'
   * await b; // => 'ERR_POOL_CLOSED'
   * (await pool.submit(3).catch((e) => e.code)); // => 'ERR_POOL_CLOSED'
   * ```
   * @see WorkerPool.onIdle
   */
  close(opts?: { drain?: boolean; signal?: AbortSignal }): Promise<void> {
    checkOpts(opts, 'WorkerPool.close');
    const drain = checkBool(opts?.drain, 'WorkerPool.close', 'drain', true);
    const signal = signalOf(opts, 'WorkerPool.close');
    const closed = this.#pool.whenClosed();
    this.#startClose();
    if (!drain) this.#pool.abortAll(new PoolClosedError('WorkerPool.close: the pool closed without drain'));
    this.#pool.checkIdle();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return waitFor(closed, signal, 'WorkerPool.close');
  }

  /** `await using pool = new WorkerPool(...)`: closes the pool with drain, as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // The pool's signal listener: one object for the pool's life, removed when it closes.
  readonly #onSignal: EventListenerObject = { handleEvent: () => this.#signalAborted() };

  /** The pool's signal aborted: close without drain. */
  #signalAborted(): void {
    this.#startClose();
    this.#pool.abortAll(new PoolClosedError('WorkerPool: the pool signal aborted', { cause: this.#signal!.reason }));
    this.#pool.checkIdle();
  }

  #startClose(): void {
    if (this.#pool.state !== OPEN) return;
    if (this.#signal !== undefined) unlisten(this.#signal, this.#onSignal);
    this.#pool.startClose(() => new PoolClosedError('WorkerPool.map: the pool closed'));
  }
}
