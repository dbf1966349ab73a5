/**
 * Package threads' errors: what a `ThreadPool` call rejects with when the
 * thread, rather than the task, failed it (the thread died, the task does
 * not exist, the module does not load). A task's own error reaches its
 * caller as the task threw it, not wrapped in one of these.
 */
import { WeftError } from '../internal/errors.js';

/**
 * Rejection of the call whose task was running when its thread died: the
 * task called `process.exit()`, threw from a timer or a callback (an
 * uncaught exception), left a promise rejection unhandled, or ran out of
 * memory under the pool's `resourceLimits`. Only that call fails: the
 * thread is replaced, and the tasks it had been sent but had not started
 * run on another thread. `cause` is the error that killed the thread
 * (`ERR_WORKER_OUT_OF_MEMORY` for memory), or the exit code when it
 * exited without one; `exitCode` is the thread's exit code.
 *
 * @example A task that exits its thread
 * ```ts
 * import { ThreadPool, type WorkerCrashedError } from 'weftjs/threads';
 * const pool = new ThreadPool({ module: 'test/threads/fixtures/tasks.ts', threads: 1 });
 * const err = (await pool.run('exit', 3).catch((e) => e)) as WorkerCrashedError;
 * [err.code, err.exitCode, err.cause]; // => ['ERR_WORKER_CRASHED', 3, 3]
 * await pool.run('add', [1, 2]); // => 3
 * await pool.close();
 * ```
 */
export class WorkerCrashedError extends WeftError {
  readonly code = 'ERR_WORKER_CRASHED' as const;
  /** The dead thread's exit code. */
  readonly exitCode: number;

  constructor(message: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/**
 * Rejection of a call whose task name is not an exported function of the
 * pool's module. The message names the module and the functions it does
 * export.
 *
 * @example
 * ```ts
 * import { type TaskNotFoundError, ThreadPool } from 'weftjs/threads';
 * const pool = new ThreadPool({ module: 'test/threads/fixtures/tasks.ts', threads: 1 });
 * const err = (await pool.run('nope').catch((e) => e)) as TaskNotFoundError;
 * err.code; // => 'ERR_TASK_NOT_FOUND'
 * await pool.close();
 * ```
 */
export class TaskNotFoundError extends WeftError {
  readonly code = 'ERR_TASK_NOT_FOUND' as const;
}

/**
 * Rejection of every call of a pool whose task module cannot be loaded
 * in a thread: it does not exist, it throws or fails to parse when it is
 * imported, or its thread dies before it is loaded. The message names the
 * module; `cause` is the load error (or the exit code). A pool stays
 * failed: every later call rejects with a `ModuleLoadError` too, at once.
 *
 * @example A module that does not exist
 * ```ts
 * import { type ModuleLoadError, ThreadPool } from 'weftjs/threads';
 * const pool = new ThreadPool({ module: 'test/threads/fixtures/missing.ts', threads: 1 });
 * const err = (await pool.run('any').catch((e) => e)) as ModuleLoadError;
 * err.code; // => 'ERR_MODULE_LOAD'
 * (err.cause as { code?: string }).code; // => 'ERR_MODULE_NOT_FOUND'
 * await pool.close();
 * ```
 */
export class ModuleLoadError extends WeftError {
  readonly code = 'ERR_MODULE_LOAD' as const;
}
