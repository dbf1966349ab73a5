/**
 * The machinery of a `ThreadPool`: the queue of calls on the main thread,
 * the threads, how tasks are handed out (in batches sized to how long
 * tasks take), cancellation, crashes, resizing and closing. `pool.ts` is
 * the public face over it.
 */
import { systemClock } from '../../clock.js';
import { listen, unlisten } from '../../internal/abort.js';
import { startTimer, stopTimer } from '../../internal/timer.js';
import { show } from '../../internal/validate.js';
import { PoolClosedError, QueueFullError } from '../../workerpool.js';
import { ModuleLoadError, TaskNotFoundError, WorkerCrashedError } from '../errors.js';
import {
  decodeError,
  decodeValue,
  type EncodedError,
  ERROR,
  isEncodedError,
  NOT_FOUND,
  OK,
  SLOTS,
} from '../protocol.js';
import { DONE, QUEUED, SENT, Task, type TaskOwner, TaskQueue } from './queue.js';
import { ACTIVE, DEAD, RETIRING, STARTING, STOPPING, Thread, type ThreadHost, type ThreadSpec } from './thread.js';

/** Pool states. */
const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;

// Batches are sized so that a thread has about TARGET_US of work ahead of it
// (two batches: one running, one waiting, so that it never idles through a
// round trip), at most MAX_BATCH tasks a message. A task of LONG_US or more
// goes alone, one per thread: a thread never holds a long task that another
// idle thread could have run.
const TARGET_US = 1000;
const MAX_BATCH = SLOTS / 2;
const LONG_US = 2000;
// An idle thread takes tasks not yet started from a busy one when they add
// up to more than this.
const STEAL_US = 1000;
// A thread that has sent nothing back for this long (or four mean tasks,
// if longer) is running a long task: no task goes ahead to it, and an
// idle thread takes those it holds.
const STUCK_MS = 10;

/** Settled options of a pool. */
export interface SchedulerOptions {
  threads: number;
  maxQueue: number;
  idleTimeoutMs: number;
  abortGraceMs: number;
  spec: ThreadSpec;
}

export class Scheduler implements TaskOwner, ThreadHost {
  readonly #queue = new TaskQueue();
  readonly #threads: Thread[] = [];
  readonly #opts: SchedulerOptions;
  #max: number;
  #state = OPEN;
  #drop = false;
  #loadError: unknown;
  #hasLoadError = false;
  #pumpQueued = false;
  /** Mean thread time per task, in microseconds (0: nothing measured yet). */
  #avg = 0;
  #closed: Promise<void> | undefined;
  /** The timer of `#checkBalance`. */
  #balance: unknown;
  #resolveClosed: (() => void) | undefined;
  running = 0;
  completed = 0;
  failed = 0;
  canceled = 0;

  constructor(opts: SchedulerOptions) {
    this.#opts = opts;
    this.#max = opts.threads;
  }

  get threads(): number {
    return this.#threads.length;
  }

  get queued(): number {
    return this.#queue.live;
  }

  get maxThreads(): number {
    return this.#max;
  }

  /** A call of `run` (`limited`: subject to `maxQueue`; `map`'s calls are not, as it bounds itself). */
  submit(
    name: string,
    arg: unknown,
    transfer: readonly Transferable[] | undefined,
    signal: AbortSignal | undefined,
    limited: boolean,
  ): Promise<unknown> {
    if (this.#state !== OPEN) return Promise.reject(new PoolClosedError('ThreadPool.run: the pool is closed'));
    if (this.#hasLoadError) return Promise.reject(this.#moduleError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    const q = this.#queue;
    if (limited && q.live >= this.#opts.maxQueue) {
      this.#pump();
      if (q.live >= this.#opts.maxQueue) {
        return Promise.reject(
          new QueueFullError(`ThreadPool.run: ${q.live} tasks are waiting, the most \`maxQueue\` allows`),
        );
      }
    }
    const task = new Task(this, name, arg, transfer, signal);
    if (signal !== undefined) listen(signal, task, 'ThreadPool.run');
    q.push(task);
    // A lone task goes out now, alone; calls made in a burst wait for the
    // end of the burst (a microtask), to go out in batches.
    if (q.live === 1 && this.#idleThread()) this.#pump();
    else if (!this.#pumpQueued) {
      this.#pumpQueued = true;
      queueMicrotask(this.#pumpTask);
    }
    return task.promise;
  }

  #idleThread(): boolean {
    for (const t of this.#threads) if (t.accepting && t.inflight === 0) return true;
    return false;
  }

  readonly #pumpTask = (): void => {
    this.#pumpQueued = false;
    this.#pump();
  };

  /** Hands queued tasks to threads with room, starting threads where there are too few. */
  #pump(): void {
    const q = this.#queue;
    if (q.live === 0) return;
    const avg = this.#avg;
    const batch = avg === 0 ? 1 : Math.max(1, Math.min(MAX_BATCH, Math.floor(TARGET_US / avg)));
    const ahead = avg === 0 || avg >= LONG_US ? 1 : Math.min(SLOTS, 2 * batch);
    const now = performance.now();
    const stuck = this.#stuckMs();
    while (q.live > 0) {
      let best: Thread | undefined;
      let accepting = 0;
      for (const t of this.#threads) {
        if (!t.accepting) continue;
        accepting++;
        // No task goes ahead to a thread that has sent nothing back for long: its task is a long one.
        if (t.inflight > 0 && now - t.mark > stuck) continue;
        if (t.inflight < ahead && (best === undefined || t.inflight < best.inflight)) best = t;
      }
      if (best === undefined) break;
      this.#stopIdle(best);
      if (best.inflight === 0) best.mark = now;
      this.running += best.send(q, Math.min(ahead - best.inflight, batch, Math.ceil(q.live / accepting)));
    }
    this.#grow();
  }

  /** How long a thread may go without sending a result before its running task counts as long. */
  #stuckMs(): number {
    return Math.max(STUCK_MS, (4 * this.#avg) / 1000);
  }

  /** Starts threads (up to the most) for the tasks that wait: queued here, or sent ahead to a busy thread. */
  #grow(): void {
    let starting = 0;
    let waiting = this.#queue.live;
    for (const t of this.#threads) {
      if (t.state === STARTING) starting++;
      else if (t.accepting) waiting += t.unstarted;
    }
    while (waiting > starting && this.#threads.length < this.#max && !this.#hasLoadError) {
      if (!this.#spawn()) break;
      starting++;
    }
  }

  #spawn(): boolean {
    if (this.#state === CLOSED) return false;
    try {
      this.#threads.push(new Thread(this, this.#opts.spec));
      return true;
    } catch (err) {
      // The Worker could not even be constructed (resourceLimits, workerData...).
      this.#fail(err);
      return false;
    }
  }

  /**
   * An idle thread takes from the busiest thread the tasks it has not
   * started: half of them when they add up to more than a round trip, all
   * of them when that thread's running task is a long one.
   */
  #steal(idle: Thread): void {
    const now = performance.now();
    const stuck = this.#stuckMs();
    let victim: Thread | undefined;
    let take = 0;
    for (const t of this.#threads) {
      if (t === idle || !t.accepting || t.unstarted === 0) continue;
      const n = now - t.mark > stuck ? t.unstarted : t.unstarted * this.#avg >= STEAL_US ? t.unstarted >> 1 : 0;
      if (n > take) {
        victim = t;
        take = n;
      }
    }
    if (victim === undefined) return;
    const taken = victim.reclaim(take);
    if (taken.length === 0) return;
    this.#requeue(taken);
    this.#pump();
  }

  #requeue(tasks: Task[]): void {
    for (const t of tasks) {
      t.state = QUEUED;
      t.thread = null;
      this.running--;
    }
    this.#queue.unshiftAll(tasks);
  }

  // ThreadHost

  onReady(t: Thread): void {
    this.onDrained(t);
  }

  onLoadFailed(t: Thread, cause: unknown): void {
    t.terminate();
    this.#fail(isEncodedError(cause) ? decodeError(cause) : cause);
  }

  onResult(task: Task, status: number, value: unknown, micros: number): void {
    this.#avg = this.#avg === 0 ? micros : this.#avg + (micros - this.#avg) * 0.125;
    if (task.state !== SENT) return; // its caller aborted: the outcome goes nowhere
    this.#settle(task);
    if (status === OK) {
      this.completed++;
      task.resolve(value);
      return;
    }
    this.failed++;
    if (status === ERROR) task.reject(decodeError(value as EncodedError));
    else if (status === NOT_FOUND) {
      const names = (value as string[]).map((n) => show(n)).join(', ') || 'none';
      task.reject(
        new TaskNotFoundError(
          `ThreadPool.run: ${show(task.name)} is not an exported function of ${this.#opts.spec.moduleUrl} (its functions: ${names})`,
        ),
      );
    } else task.reject(decodeValue(value));
  }

  onDrained(t: Thread): void {
    t.mark = performance.now();
    // The aborted task ended within its grace: the thread takes tasks again.
    if (t.abandoned < 0 && t.grace !== undefined) this.#stopGrace(t);
    if (t.inflight === 0 && (t.state === ACTIVE || t.state === RETIRING) && t.abandoned < 0) {
      if (t.state === RETIRING || this.#drop || (this.#state !== OPEN && this.#queue.live === 0)) t.terminate();
      else {
        t.ref(false);
        if (this.#queue.live === 0) this.#steal(t);
        if (t.inflight === 0 && t.idle === undefined && this.#opts.idleTimeoutMs !== Number.POSITIVE_INFINITY) {
          t.idle = startTimer(systemClock, () => this.#idleExpired(t), this.#opts.idleTimeoutMs, 'ThreadPool idle');
          // An idle thread never keeps the process alive, nor does its timer.
          (t.idle as { unref?: () => void }).unref?.();
        }
      }
    }
    this.#pump();
    this.#checkBalance();
  }

  /**
   * When a thread idles while another holds tasks it has not started, and
   * stealing them is not yet worth it, looks again once that other thread
   * would count as stuck: a long task's thread never keeps a backlog that
   * an idle thread could run.
   */
  #checkBalance(): void {
    let idle = false;
    let held = false;
    for (const t of this.#threads) {
      if (!t.accepting) continue;
      if (t.inflight === 0) idle = true;
      else if (t.unstarted > 0) held = true;
    }
    if (idle && held && this.#state !== CLOSED) {
      if (this.#balance === undefined) {
        this.#balance = startTimer(systemClock, this.#rebalance, this.#stuckMs() + 1, 'ThreadPool balance');
        (this.#balance as { unref?: () => void }).unref?.();
      }
    } else if (this.#balance !== undefined) {
      stopTimer(systemClock, this.#balance);
      this.#balance = undefined;
    }
  }

  readonly #rebalance = (): void => {
    this.#balance = undefined;
    for (const t of [...this.#threads]) if (t.accepting && t.inflight === 0) this.#steal(t);
    this.#checkBalance();
  };

  onExit(t: Thread, code: number, error: unknown, running: Task | undefined, unstarted: Task[]): void {
    this.#stopGrace(t);
    this.#stopIdle(t);
    this.#threads.splice(this.#threads.indexOf(t), 1);
    if (running !== undefined) this.#crash(running, code, error);
    // What it had not started runs elsewhere; not a task whose arguments it received by transfer: they are gone.
    const again: Task[] = [];
    for (const x of unstarted) {
      if (x.state !== SENT) continue;
      if (x.transfer !== undefined && x.transfer.length > 0) this.#crash(x, code, error);
      else again.push(x);
    }
    this.#requeue(again);
    if (!t.loaded && !t.killed) {
      this.#fail(error ?? new Error(`the thread exited with code ${code} before the module loaded`));
    }
    this.#pump();
    this.#checkClosed();
  }

  onSendFailed(task: Task, err: unknown): void {
    this.#settle(task);
    this.failed++;
    task.reject(err);
  }

  #crash(task: Task, code: number, error: unknown): void {
    if (task.state !== SENT) return;
    this.#settle(task);
    this.failed++;
    const how =
      error === undefined ? `exited with code ${code}` : `died: ${(error as Error)?.message ?? String(error)}`;
    task.reject(
      new WorkerCrashedError(`ThreadPool.run: the thread running ${show(task.name)} ${how}`, code, {
        cause: error ?? code,
      }),
    );
  }

  // TaskOwner

  abortTask(task: Task): void {
    const state = task.state;
    if (state === DONE) return;
    const reason = task.signal!.reason;
    const t = task.thread as Thread | null;
    this.#settle(task);
    if (state === QUEUED) this.#queue.removed();
    else if (!t!.cancel(task)) this.#abandon(t!, task.seq, reason, true);
    this.canceled++;
    task.reject(reason);
    if (state === SENT) this.#pump();
  }

  /**
   * Task `seq` runs on `t` and its caller gave up on it: abort its signal
   * in the thread, and terminate the thread if the task has not ended in
   * `abortGraceMs`. Meanwhile the thread takes no task, and (`reclaim`)
   * what it had not started goes to the others.
   */
  #abandon(t: Thread, seq: number, reason: unknown, reclaim: boolean): void {
    t.abort(seq, reason);
    // A later task already given up on (`seq` has ended there since: one task runs at a time) keeps its grace.
    if (t.state === DEAD || t.state === STOPPING || seq <= t.abandoned) return;
    t.abandoned = seq;
    this.#stopGrace(t);
    t.grace = startTimer(systemClock, () => this.#graceExpired(t), this.#opts.abortGraceMs, 'ThreadPool abortGraceMs');
    if (reclaim) {
      const back = t.reclaim(SLOTS);
      if (back.length > 0) this.#requeue(back);
    }
  }

  #graceExpired(t: Thread): void {
    t.grace = undefined;
    if (t.abandoned >= 0) t.terminate();
  }

  #idleExpired(t: Thread): void {
    t.idle = undefined;
    if (t.inflight === 0 && t.state === ACTIVE) t.terminate();
  }

  #stopGrace(t: Thread): void {
    if (t.grace === undefined) return;
    stopTimer(systemClock, t.grace);
    t.grace = undefined;
  }

  #stopIdle(t: Thread): void {
    if (t.idle === undefined) return;
    stopTimer(systemClock, t.idle);
    t.idle = undefined;
  }

  /** `task` leaves SENT or QUEUED for DONE. */
  #settle(task: Task): void {
    if (task.state === SENT) this.running--;
    task.state = DONE;
    task.thread = null;
    task.arg = undefined;
    if (task.signal !== undefined) unlisten(task.signal, task);
  }

  #moduleError(): ModuleLoadError {
    return new ModuleLoadError(`ThreadPool: the task module ${this.#opts.spec.moduleUrl} failed to load in a thread`, {
      cause: this.#loadError,
    });
  }

  /** The module cannot be loaded: every call, queued or to come, fails; threads still starting stop. */
  #fail(cause: unknown): void {
    if (this.#hasLoadError) return;
    this.#hasLoadError = true;
    this.#loadError = cause;
    for (const task of this.#queue.takeAll()) {
      this.#settle(task);
      this.failed++;
      task.reject(this.#moduleError());
    }
    for (const t of this.#threads) if (!t.loaded) t.terminate();
  }

  // Resize and close

  /** Sets the most threads; the idle ones past it exit now, the busy ones when their tasks are done. */
  resize(n: number): void {
    this.#max = n;
    const live = this.#threads.filter((t) => t.state === STARTING || t.state === ACTIVE);
    live.sort((a, b) => a.inflight - b.inflight);
    for (let excess = live.length - n, i = 0; excess > 0; excess--, i++) {
      const t = live[i]!;
      this.#stopIdle(t);
      if (t.inflight === 0) t.terminate();
      else {
        t.state = RETIRING;
        const back = t.reclaim(SLOTS);
        if (back.length > 0) this.#requeue(back);
      }
    }
    this.#pump();
  }

  /** See `ThreadPool.close`. */
  close(drain: boolean): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#resolveClosed = resolve;
    });
    if (this.#state === OPEN) this.#state = CLOSING;
    if (!drain && !this.#drop && this.#state === CLOSING) {
      this.#drop = true;
      const reason = new PoolClosedError('ThreadPool.close: the pool closed without drain');
      for (const task of this.#queue.takeAll()) this.#drop1(task, reason);
      for (const t of this.#threads) {
        for (const task of t.pending()) {
          const seq = task.seq;
          this.#drop1(task, reason);
          if (!t.cancel(task)) this.#abandon(t, seq, reason, false);
        }
      }
    }
    for (const t of [...this.#threads]) {
      if ((t.inflight === 0 || !t.loaded || this.#drop) && t.abandoned < 0) t.terminate();
    }
    this.#checkClosed();
    return this.#closed;
  }

  #drop1(task: Task, reason: PoolClosedError): void {
    this.#settle(task);
    this.canceled++;
    task.reject(reason);
  }

  #checkClosed(): void {
    if (this.#state !== CLOSING || this.#threads.length > 0 || this.#queue.live > 0) return;
    this.#state = CLOSED;
    this.#checkBalance();
    this.#resolveClosed!();
  }
}
