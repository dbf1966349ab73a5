/**
 * Package threads provides `ThreadPool`: Go's worker pool on every core.
 * A Go pool's goroutines run on all cores by themselves; a JavaScript one
 * needs `node:worker_threads` for that, so the workers here are threads,
 * each running the exported functions of one task module, with weft's
 * cancellation (an `AbortSignal` that reaches the task inside its thread),
 * weft's pool semantics (`QueueFullError`, `PoolClosedError`, `close({
 * drain })`, `stats`), crash isolation, and types inferred from the task
 * module.
 */
import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { type Flow, flow } from '../flow.js';
import { checkSignal, signalOf } from '../internal/abort.js';
import {
  checkBool,
  checkInt,
  checkMs,
  checkNumber,
  checkOpts,
  checkRequiredOpts,
  checkString,
  show,
  typeError,
} from '../internal/validate.js';
import { moduleUrl, threadEntry, threadExecArgv } from './internal/entry.js';
import { Scheduler } from './internal/scheduler.js';
import type { Transferred } from './transfer.js';

/**
 * What a task receives as its second argument, in its thread:
 * `task(arg, { signal })`.
 */
export interface TaskContext {
  /**
   * Aborts when the call's `signal` does (with its reason, as far as
   * structured clone carries it: an `Error` keeps its class, message,
   * stack, code and cause; a reason that cannot be cloned becomes an
   * `AbortError`), or when the pool closes without drain. A synchronous
   * task that never yields sees it too, when it reads `signal.aborted` or
   * `signal.reason` or calls `signal.throwIfAborted()` (its `abort` event
   * fires then); an async task also gets the event between its awaits.
   */
  readonly signal: AbortSignal;
}

declare const untyped: unique symbol;
/** The default type argument of `ThreadPool`: tasks are not typed, as in `run<R>(task: string, arg?: unknown)`. */
export interface UntypedTasks {
  readonly [untyped]: true;
}

type IsUntyped<M> = 0 extends 1 & M ? true : [M] extends [UntypedTasks] ? true : false;
type Fn = (...args: never[]) => unknown;

/** The names of the exported functions of a task module's type `M` (any string for an untyped pool). */
export type TaskName<M> =
  IsUntyped<M> extends true ? string : { [K in keyof M]: M[K] extends Fn ? K : never }[keyof M] & string;

/** The argument type of task `K` of `M`: the type of its first parameter. */
export type TaskArg<M, K> =
  IsUntyped<M> extends true
    ? unknown
    : K extends keyof M
      ? M[K] extends (arg: infer A, ...rest: never[]) => unknown
        ? A
        : never
      : never;

/** What a call of task `K` of `M` resolves to: what the task returns, awaited, unwrapped from `transfer()`. */
export type TaskResult<M, K> = K extends keyof M
  ? M[K] extends (...args: never[]) => infer R
    ? Awaited<R> extends Transferred<infer V>
      ? V
      : Awaited<R>
    : never
  : never;

type RunArgs<M, K> =
  IsUntyped<M> extends true
    ? [arg?: unknown, opts?: ThreadPoolRunOptions]
    : K extends keyof M
      ? M[K] extends (...args: infer P) => unknown
        ? P extends []
          ? [arg?: undefined, opts?: ThreadPoolRunOptions]
          : undefined extends P[0]
            ? [arg?: P[0], opts?: ThreadPoolRunOptions]
            : [arg: P[0], opts?: ThreadPoolRunOptions]
        : never
      : never;

type Result<M, K, R> = IsUntyped<M> extends true ? R : TaskResult<M, K>;
type MapArg<M, K, T> = IsUntyped<M> extends true ? T : TaskArg<M, K>;

/** Options of the `ThreadPool` constructor. */
export interface ThreadPoolOptions {
  /**
   * The task module: a path (absolute, or relative to the working
   * directory) or a `file:` or `data:` URL of an ES module whose exported
   * functions are the tasks. A `.ts` file works when tsx is installed.
   */
  module: string | URL;
  /** The most threads (default `os.availableParallelism()`); they start as work arrives. */
  threads?: number;
  /** How many calls of `run` may wait for a thread, not counting those handed to one (default Infinity). */
  maxQueue?: number;
  /** An idle thread exits after this long, and is started again when work comes (default Infinity: never). */
  idleTimeoutMs?: number;
  /** How long a task whose call aborted may run on before its thread is terminated (default 1000). */
  abortGraceMs?: number;
  /** Each thread's `resourceLimits` (heap sizes, stack), as `new Worker` takes them. */
  resourceLimits?: ResourceLimits;
  /** Each thread's `workerData` (from `node:worker_threads`): cloned to every thread. */
  workerData?: unknown;
}

/** Options of `ThreadPool.run`. */
export interface ThreadPoolRunOptions {
  /** Objects of `arg` (`ArrayBuffer`s, `MessagePort`s, ...) to move to the thread instead of copying. */
  transfer?: readonly Transferable[];
  /** Aborting it aborts the task's signal in its thread, and the call rejects with the reason at once. */
  signal?: AbortSignal;
}

/** Options of `ThreadPool.map`. */
export interface ThreadPoolMapOptions {
  /** Yield results in input order (default true) or as they complete (false). */
  ordered?: boolean;
  /** Aborting it stops the map: the running tasks' signals abort, the iteration rejects with the reason. */
  signal?: AbortSignal;
}

/** A snapshot of a pool's counters. */
export interface ThreadPoolStats {
  /** Threads alive now (starting, running or idle). */
  threads: number;
  /** Calls handed to a thread and not settled: running there, or next in its line. */
  running: number;
  /** Calls waiting on the main thread for a thread. */
  queued: number;
  /** Calls whose task returned. */
  completed: number;
  /** Calls whose task threw, whose thread died (crashes included), or that could not run (module, name, argument). */
  failed: number;
  /** Calls that their caller aborted, or that a close without drain dropped. */
  canceled: number;
}

// In-flight calls per thread of a `map`: enough for tiny tasks to travel
// in full batches; long tasks wait on the main thread, not on a thread.
const MAP_DEPTH = 64;

function checkLimits(limits: ResourceLimits | undefined): ResourceLimits | undefined {
  checkOpts(limits, 'ThreadPool', 'resourceLimits');
  if (limits === undefined) return undefined;
  for (const key of ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'] as const) {
    if (limits[key] !== undefined) checkNumber(limits[key], 'ThreadPool', `resourceLimits.${key}`, 0);
  }
  return { ...limits };
}

function isIterable(value: unknown): boolean {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    (typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function' ||
      typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function')
  );
}

/**
 * A pool of threads that run the exported functions of one task module:
 * `run(task, arg)` calls `task(arg, { signal })` in a free thread and
 * resolves with what it returns; `map(task, args)` does so for every item
 * of an iterable. Go's worker pool on every core, with the cancellation,
 * isolation and shutdown a service needs.
 *
 * Threads start as work arrives: one more whenever a call waits (here,
 * or sent ahead to a busy thread), up to `threads` (default
 * `os.availableParallelism()`). They stay until `close()` or `resize()`,
 * or until they have idled `idleTimeoutMs` (default Infinity: never; then
 * down to none, started again on demand); an idle thread never keeps the
 * process alive. Each thread runs one task at a time. Calls wait in one
 * FIFO queue on the main thread (at most `maxQueue`, default Infinity)
 * and are handed out in the order they were made: one at a time to each
 * thread when tasks are long (2 ms or more), in batches of up to 256 per
 * message when the queue is deep and tasks are short, sized so that a
 * thread holds about a millisecond of work ahead. A thread that has sent
 * nothing back for 10 ms (or four mean task times, if longer) is given
 * nothing more ahead, and an idle thread takes the tasks it has not
 * started. Arguments and results are copied by structured clone, or
 * moved with `transfer`.
 *
 * A task that throws rejects its own call only, with the error as thrown
 * (its class if standard, `name`, `message`, `stack`, `code`, `cause`
 * and other own properties rebuilt on this side; a weft error stays one
 * for `isWeftError`; a value that is not an `Error` as it is). A thread
 * that dies (`process.exit()`, an uncaught exception, an unhandled
 * rejection, out of memory under `resourceLimits`) fails the task it was
 * running with `WorkerCrashedError`, and only that one: it is replaced,
 * and the tasks it had been sent but had not started run on another
 * thread (except those whose arguments it received by `transfer`, which
 * are gone with it: they fail with `WorkerCrashedError` too). A thread
 * that dies while idle is replaced when work comes, failing nothing. A
 * module that cannot be loaded fails the calls with `ModuleLoadError`,
 * at once from then on: no thread is started again and again.
 *
 * A `.ts` task module works when tsx is installed (`npm i -D tsx`): when
 * the module is TypeScript or the process runs under tsx, each thread
 * registers tsx's loader before it imports the module (on Node 20 a
 * thread does not get `--import tsx` from the process). With a type
 * argument, `new ThreadPool<typeof import('./tasks.js')>({ module })`,
 * `run` and `map` check task names (the module's function exports),
 * argument types and result types. The thread bootstrap is the file
 * `worker.js` (or `.cjs`) next to weft's `threads/index.js`: a bundler
 * that inlines weft must copy it there.
 *
 * `stats` counts every call accepted (not those refused at once: bad
 * arguments, a full queue, a closed or failed pool): `completed +
 * failed + canceled + running + queued` is their number at any moment.
 *
 * **Cancellation**: a call whose `signal` aborts rejects with the reason
 * at once (and counts as `canceled`). If its task has not started
 * (queued here, or sent ahead to a thread) it never starts. If it runs,
 * the task's own `signal` aborts in its thread (a synchronous task sees
 * it when it reads the signal); the thread takes no new task meanwhile,
 * and gives the tasks it holds to the others; if the task is still
 * running `abortGraceMs` (default 1000) later, its thread is terminated
 * and replaced. Aborting one call never fails another, and never stops
 * the pool.
 *
 * @example Tasks in a module, run on two threads
 * ```ts
 * import { ThreadPool } from 'weftjs/threads';
 * const pool = new ThreadPool({ module: 'test/threads/fixtures/tasks.ts', threads: 2 });
 * await pool.run('add', [2, 3]); // => 5
 * await Promise.all([1, 2, 3].map((n) => pool.run('square', n))); // => [1, 4, 9]
 * await pool.map('square', [4, 5]).toArray(); // => [16, 25]
 * await pool.close();
 * ```
 * @example A module given as a data: URL, and an error from the thread
 * ```ts
 * import { ThreadPool } from 'weftjs/threads';
 * const source = 'export function parse(s) { return JSON.parse(s); }';
 * await using pool = new ThreadPool({ module: `data:text/javascript,${encodeURIComponent(source)}`, threads: 1 });
 * await pool.run('parse', '{"a":1}'); // => { a: 1 }
 * const err = await pool.run('parse', '{').catch((e: unknown) => e);
 * err instanceof SyntaxError; // => true
 * ```
 * @see WorkerPool for async work on the main thread.
 */
export class ThreadPool<M = UntypedTasks> {
  readonly #s: Scheduler;

  /**
   * @throws TypeError if `module` is not a path or a `file:`/`data:` URL, an option has the wrong type, or
   * `workerData` cannot be cloned.
   * @throws RangeError if `threads` is not an integer >= 1, `maxQueue` not an integer >= 0 (or Infinity),
   * `abortGraceMs` not a finite number >= 0, `idleTimeoutMs` negative or NaN, or a `resourceLimits` field negative.
   */
  constructor(opts: ThreadPoolOptions) {
    const op = 'ThreadPool';
    checkRequiredOpts(opts, op);
    const url = moduleUrl(opts.module, op);
    const threads = checkInt(opts.threads ?? availableParallelism(), op, 'threads', 1);
    const maxQueue = checkInt(opts.maxQueue ?? Number.POSITIVE_INFINITY, op, 'maxQueue', 0, Number.POSITIVE_INFINITY);
    const idleTimeoutMs = checkMs(opts.idleTimeoutMs ?? Number.POSITIVE_INFINITY, op, 'idleTimeoutMs', true);
    const abortGraceMs = checkMs(opts.abortGraceMs ?? 1000, op, 'abortGraceMs');
    const resourceLimits = checkLimits(opts.resourceLimits);
    if (opts.workerData !== undefined) {
      try {
        structuredClone(opts.workerData);
      } catch (err) {
        throw typeError(
          `${op}: \`workerData\` must be cloneable, got ${show(opts.workerData)}: ${(err as Error).message}`,
        );
      }
    }
    this.#s = new Scheduler({
      threads,
      maxQueue,
      // Past the longest timer (about 24.8 days), an idle thread is kept.
      idleTimeoutMs: idleTimeoutMs > 2_147_483_647 ? Number.POSITIVE_INFINITY : idleTimeoutMs,
      abortGraceMs,
      spec: {
        ...threadEntry(url),
        moduleUrl: url,
        execArgv: threadExecArgv(),
        workerData: opts.workerData,
        resourceLimits,
      },
    });
  }

  /** The current counters: a fresh snapshot on each read. Accepted calls add up: completed + failed + canceled + running + queued. */
  get stats(): ThreadPoolStats {
    const s = this.#s;
    return {
      threads: s.threads,
      running: s.running,
      queued: s.queued,
      completed: s.completed,
      failed: s.failed,
      canceled: s.canceled,
    };
  }

  /**
   * Runs `task(arg, { signal })` in a thread and resolves with what it
   * returns (awaited). The call goes to an idle thread at once, or waits
   * its turn in FIFO order; `arg` is copied by structured clone, except
   * the objects in `opts.transfer`, which are moved (detached here). A
   * task returns a value without copying it with `transfer(value, list)`.
   *
   * **Cancellation**: when `opts.signal` aborts, the call rejects with
   * its reason at once. A task that has not started never starts (also
   * one already sent ahead to a thread); a running one sees its `signal`
   * abort in its thread, and its thread is terminated and replaced if it
   * is still running `abortGraceMs` later. Nothing is left on the signal
   * once the call settles.
   *
   * Rejects with what the task throws; with `WorkerCrashedError`
   * (`ERR_WORKER_CRASHED`) if its thread dies running it;
   * `TaskNotFoundError` (`ERR_TASK_NOT_FOUND`) if the module exports no
   * function `task`; `ModuleLoadError` (`ERR_MODULE_LOAD`) if the module
   * cannot be loaded; the `DataCloneError` if `arg` or the result cannot
   * be cloned (that call only); `QueueFullError` (`ERR_QUEUE_FULL`) when
   * `maxQueue` calls already wait; `PoolClosedError` (`ERR_POOL_CLOSED`)
   * after `close()`.
   *
   * @throws TypeError if `task` is not a string, or `opts`, its `signal` or its `transfer` has the wrong type.
   *
   * @example Cancelling a task inside its thread
   * ```ts
   * import { ThreadPool } from 'weftjs/threads';
   * const pool = new ThreadPool({ module: 'test/threads/fixtures/tasks.ts', threads: 1 });
   * const seen = new Int32Array(new SharedArrayBuffer(4)); // the task writes 1 when it starts, 2 on abort
   * const ac = new AbortController();
   * const call = pool.run('untilAborted', seen, { signal: ac.signal });
   * while (Atomics.load(seen, 0) === 0) await new Promise((r) => setTimeout(r, 1));
   * ac.abort('enough');
   * await call.catch((e) => e); // => 'enough'
   * await pool.run('add', [1, 1]); // => 2
   * seen[0]; // => 2
   * await pool.close();
   * ```
   * @example Moving a buffer both ways
   * ```ts
   * import { ThreadPool } from 'weftjs/threads';
   * const pool = new ThreadPool({ module: 'test/threads/fixtures/tasks.ts', threads: 1 });
   * const bytes = new Uint8Array([1, 2, 3]);
   * const back = await pool.run('double', bytes, { transfer: [bytes.buffer] });
   * bytes.byteLength; // => 0
   * [...(back as Uint8Array)]; // => [2, 4, 6]
   * await pool.close();
   * ```
   * @see ThreadPool.map
   */
  run<R = unknown, K extends TaskName<M> = TaskName<M>>(task: K, ...args: RunArgs<M, K>): Promise<Result<M, K, R>>;
  run(task: string, arg?: unknown, opts?: ThreadPoolRunOptions): Promise<unknown> {
    const signal = signalOf(opts, 'ThreadPool.run');
    checkString(task, 'ThreadPool.run', 'task');
    const transfer = opts?.transfer;
    if (transfer !== undefined && !Array.isArray(transfer)) {
      throw typeError(`ThreadPool.run: \`transfer\` must be an Array, got ${show(transfer)}`);
    }
    return this.#s.submit(task, arg, transfer, signal, true);
  }

  /**
   * Runs `task` on every item of `args` and yields the results, in input
   * order by default (`ordered: false`: as they complete). Items are
   * pulled from `args` (sync or async) only as threads free up and the
   * consumer takes results: at most 64 calls per thread are in flight,
   * however long `args` is, and nothing runs until the result is
   * iterated. It is built on `flow`, and returns a `Flow`, so stages
   * chain after it and its terminal operations (`toArray`, `forEach`,
   * `drain`, ...) work. `maxQueue` does not apply: the map bounds itself.
   *
   * The first call that fails ends the iteration with its error.
   *
   * **Cancellation**: when `opts.signal` aborts, or the consumer stops
   * early (`break`), the running tasks' signals abort in their threads
   * (with `abortGraceMs` as in `run`), unstarted ones never start,
   * `args.return()` is called, and (for an abort) the iteration rejects
   * with the reason.
   *
   * @throws TypeError if `task` is not a string, `args` is not iterable, or an option has the wrong type.
   *
   * @example Squares of a lazy sequence, in order
   * ```ts
   * import { ThreadPool } from 'weftjs/threads';
   * const pool = new ThreadPool({ module: 'test/threads/fixtures/tasks.ts', threads: 2 });
   * function* numbers() {
   *   for (let i = 1; i <= 100; i++) yield i;
   * }
   * const squares = await pool.map('square', numbers()).toArray();
   * squares.slice(0, 4); // => [1, 4, 9, 16]
   * squares.length; // => 100
   * await pool.close();
   * ```
   * @see ThreadPool.run
   */
  map<T = never, R = unknown, K extends TaskName<M> = TaskName<M>>(
    task: K,
    args: Iterable<MapArg<M, K, T>> | AsyncIterable<MapArg<M, K, T>>,
    opts?: ThreadPoolMapOptions,
  ): Flow<Result<M, K, R>>;
  map(task: string, args: Iterable<unknown> | AsyncIterable<unknown>, opts?: ThreadPoolMapOptions): Flow<any> {
    const op = 'ThreadPool.map';
    checkString(task, op, 'task');
    if (!isIterable(args))
      throw typeError(`${op}: \`args\` must be an Iterable or an AsyncIterable, got ${show(args)}`);
    checkOpts(opts, op);
    const signal = checkSignal(opts?.signal, op);
    const ordered = checkBool(opts?.ordered, op, 'ordered', true);
    const s = this.#s;
    return flow(args, { signal }).map((arg, stage) => s.submit(task, arg, undefined, stage, false), {
      concurrency: s.maxThreads * MAP_DEPTH,
      ordered,
    });
  }

  /**
   * Sets the most threads. Growing starts threads as work needs them;
   * shrinking stops idle threads at once and busy ones when their
   * running task is done (their unstarted tasks go to the others).
   *
   * **Cancellation**: nothing to cancel: it does not wait, and no call
   * fails because of it.
   *
   * @throws RangeError if `threads` is not an integer >= 1.
   *
   * @example
   * ```ts
   * import { ThreadPool } from 'weftjs/threads';
   * const pool = new ThreadPool({ module: 'test/threads/fixtures/tasks.ts', threads: 1 });
   * pool.resize(2);
   * await Promise.all([pool.run('square', 2), pool.run('square', 3)]); // => [4, 9]
   * pool.resize(1);
   * await pool.close();
   * pool.stats.threads; // => 0
   * ```
   * @see ThreadPool.close
   */
  resize(threads: number): void {
    this.#s.resize(checkInt(threads, 'ThreadPool.resize', 'threads', 1));
  }

  /**
   * Closes the pool: `run` rejects with `PoolClosedError` from now on,
   * and maps stop. With `drain: true` (the default) queued and running
   * tasks finish first. With `drain: false` queued and unstarted calls
   * reject with `PoolClosedError` (`ERR_POOL_CLOSED`) at once, as do
   * running ones, whose tasks' signals abort in their threads; a thread
   * whose task is still running `abortGraceMs` later is terminated, so a
   * close without drain always resolves within about `abortGraceMs`,
   * whatever the tasks do. Resolves when every thread has exited; the
   * process can then exit by itself. Calling it again returns the same
   * promise; a `drain: false` call ends a drain in progress.
   *
   * **Cancellation**: `close` takes no signal. A drain waits for every
   * task, also one that never returns; to bound it, call `close({ drain:
   * false })` (at once, or when a deadline passes): it ends the drain.
   *
   * @throws TypeError if `opts` or `drain` has the wrong type.
   *
   * @example A close without drain ends a task that never returns
   * ```ts
   * import type { PoolClosedError } from 'weftjs';
   * import { ThreadPool } from 'weftjs/threads';
   * const pool = new ThreadPool({ module: 'test/threads/fixtures/tasks.ts', threads: 1, abortGraceMs: 50 });
   * const seen = new Int32Array(new SharedArrayBuffer(4));
   * const hung = pool.run('spin', seen).catch((e: PoolClosedError) => e.code); // loops forever, deaf to its signal
   * const queued = pool.run('add', [1, 2]).catch((e: PoolClosedError) => e.code);
   * while (Atomics.load(seen, 0) === 0) await new Promise((r) => setTimeout(r, 1)); // it has started
   * await pool.close({ drain: false });
   * [await hung, await queued]; // => ['ERR_POOL_CLOSED', 'ERR_POOL_CLOSED']
   * pool.stats.threads; // => 0
   * ```
   * @see ThreadPool.resize
   */
  close(opts?: { drain?: boolean }): Promise<void> {
    checkOpts(opts, 'ThreadPool.close');
    return this.#s.close(checkBool(opts?.drain, 'ThreadPool.close', 'drain', true));
  }

  /**
   * Same as `close()` (with drain), for `await using`; `Shutdown` (weft/node)
   * takes a pool as a hook this way.
   * @see ThreadPool.close
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
