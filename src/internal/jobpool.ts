/**
 * The machinery of `WorkerPool`: a `SlotPool` whose queued jobs run one
 * function, and whose maps (`MapEngine`s) run the same function on their
 * loops. The public class validates, words the errors and documents; this
 * one keeps the jobs, the counters and the close.
 */
import { CLOSED, DRAINING, type Feeder, type Mapper, OPEN, SlotPool } from './flow/slots.js';
import { jobEnded, jobStarted } from './probes.js';
import { settle } from './promise.js';
import { registry } from './registry.js';
import { JobContextBase } from './shapes.js';
import { type Linked, Waiter } from './waiter.js';

/** What the work function receives besides the job (the public `JobContext`). */
export interface JobCtx {
  readonly signal: AbortSignal;
  readonly worker: number;
}

/** A submitted job: its own waiter, and what its work function's context reads. */
class Job<T, R> extends Waiter<R> {
  readonly job: T;
  worker = -1;
  running = false;
  /** A queued job: resolves its grant (with the job), which starts it in its caller's async context. */
  grant: ((job: Job<T, R>) => void) | null = null;
  #ac: AbortController | null = null;
  readonly #pool: JobPool<T, R>;

  constructor(job: T, signal: AbortSignal | undefined, pool: JobPool<T, R>) {
    super('WorkerPool.submit', signal);
    this.job = job;
    this.#pool = pool;
  }

  // Made on first read: most work functions never look at their signal.
  workSignal(): AbortSignal {
    if (this.#ac !== null) return this.#ac.signal;
    const own = this.signal;
    if (own === undefined) return this.#pool.hardSignal();
    const ac = (this.#ac = new AbortController());
    const hard = this.#pool.hard;
    if (hard?.signal.aborted) ac.abort(hard.signal.reason);
    else if (own.aborted) ac.abort(own.reason);
    return ac.signal;
  }

  /** Aborts the work's signal (close without drain, or its own signal while running). */
  abortWork(reason: unknown): void {
    if (this.#ac !== null && !this.#ac.signal.aborted) this.#ac.abort(reason);
  }

  override handleEvent(): void {
    if (this.running) this.abortWork(this.signal!.reason);
    super.handleEvent();
  }
}

/** The context handed to the work function of a submitted job. */
class SubmitContext extends JobContextBase implements JobCtx {
  readonly #job: Job<any, any>;
  readonly worker: number;
  constructor(job: Job<any, any>) {
    super();
    this.#job = job;
    this.worker = job.worker;
  }
  get signal(): AbortSignal {
    return this.#job.workSignal();
  }
}

/** Reports the outcome of the job running on one slot; its handlers are made once per slot. */
class SlotRunner {
  job: Job<any, any> | null = null;
  /** When the job started, for diagnostics (-1: nobody listens). */
  started = -1;
  readonly onValue: (value: unknown) => void;
  readonly onError: (reason: unknown) => void;
  constructor(pool: JobPool<any, any>, slot: number) {
    this.onValue = (value) => pool.finish(slot, true, value);
    this.onError = (reason) => pool.finish(slot, false, reason);
  }
}

/** What the pool needs of a map over it, beyond a `Mapper`. */
export interface PoolMapper extends Mapper {
  readonly link: Feeder;
  /** The pool closed with drain: the map stops pulling, finishes what runs, then ends with `reason`. */
  endInput(reason: unknown): void;
  /** The pool closed without drain: the map stops now with `reason`. */
  abort(reason: unknown): void;
}

// A module-local binding: read on every job, it is cheaper than the import's.
const reg = registry;

export class JobPool<T, R> extends SlotPool {
  readonly work: (job: T, ctx: JobCtx) => R | Promise<R>;
  /** Submitted jobs waiting for a slot. */
  queuedJobs = 0;
  /** Aborted when the pool closes without drain: the signal of running jobs that have none of their own. */
  hard: AbortController | null = null;
  readonly #running = new Set<Job<T, R>>();
  /** One per slot: a slot runs one job at a time, so its handlers are made once. */
  readonly #runners: SlotRunner[] = [];
  #closed: Waiter<void> | null = null;

  constructor(work: (job: T, ctx: JobCtx) => R | Promise<R>, concurrency: number, owner: object) {
    super(concurrency, owner);
    this.work = work;
    this.queue.onAbort = (node) => {
      if (node instanceof Job) this.queuedJobs--;
      this.checkIdle();
    };
  }

  get queued(): number {
    return this.queuedJobs;
  }

  hardSignal(): AbortSignal {
    return (this.hard ??= new AbortController()).signal;
  }

  /** Whether a job submitted now would start at once. */
  startsNow(): boolean {
    return this.queue.length === 0 && this.canRun();
  }

  /**
   * Runs `job` now or queues it. Preconditions: the pool is open, `signal`
   * has not aborted, and there is room. A queued job starts through a
   * continuation registered here, so that its work runs in the async
   * context of this call, not in that of whichever job freed its slot.
   */
  submit(job: T, signal: AbortSignal | undefined): Promise<R> {
    const node = new Job<T, R>(job, signal, this);
    if (this.startsNow()) {
      this.#hold(node, this.takeSlot());
      this.#run(node);
    } else {
      const granted = new Promise<Job<T, R>>((resolve) => {
        node.grant = resolve;
      });
      granted.then(this.#startGranted);
      this.queue.push(node);
      this.queuedJobs++;
    }
    return node.promise;
  }

  protected runQueued(node: Linked, slot: number): void {
    const job = node as Job<T, R>;
    this.queuedJobs--;
    this.#hold(job, slot);
    const grant = job.grant!;
    job.grant = null;
    grant(job);
  }

  /** A granted job starts, unless it was settled (aborted, or the pool closed without drain) meanwhile. */
  readonly #startGranted = (job: Job<T, R>): void => {
    if (!job.settled) this.#run(job);
    else {
      job.running = false;
      this.#running.delete(job);
      this.release(job.worker);
    }
  };

  /** `job` holds `slot` from now on: it counts as running (a close without drain fails it). */
  #hold(job: Job<T, R>, slot: number): void {
    job.running = true;
    job.worker = slot;
    this.#running.add(job);
  }

  #run(job: Job<T, R>): void {
    const slot = job.worker;
    const runner = (this.#runners[slot] ??= new SlotRunner(this, slot));
    runner.job = job;
    const p = reg.probes;
    runner.started = p == null ? -1 : jobStarted(p, this, job.job, slot);
    // Called as a map's loop calls it: a plain function, not a method of the pool.
    settle(this.work, job.job, new SubmitContext(job), runner);
  }

  /** The job on `slot` settled. */
  finish(slot: number, ok: boolean, v: unknown): void {
    const runner = this.#runners[slot]!;
    const job = runner.job!;
    runner.job = null;
    const p = reg.probes;
    if (p != null) jobEnded(p, this, job.job, slot, runner.started, ok, v);
    job.running = false;
    this.#running.delete(job);
    if (ok) {
      this.completed++;
      job.settle(v as R);
    } else {
      // Already rejected with the reason of its signal (or of a close
      // without drain): its work failed because it was stopped.
      if (job.settled) this.canceled++;
      else this.failed++;
      job.fail(v);
    }
    this.release(slot);
  }

  /** Adds a map that is starting; a closed pool ends its input at once with `reason`. */
  addMapper(m: PoolMapper, reason: () => unknown): void {
    if (this.state === OPEN) this.mappers.add(m);
    else m.endInput(reason());
  }

  protected isIdle(): boolean {
    return this.running === 0 && this.queuedJobs === 0;
  }

  protected override onIdle(): void {
    if (this.state === CLOSED) this.#closed?.settle();
  }

  /** OPEN -> DRAINING: maps stop pulling and end with `reason` once what runs has finished. */
  startClose(reason: () => unknown): void {
    if (this.state !== OPEN) return;
    this.state = DRAINING;
    for (const m of [...this.mappers]) (m as PoolMapper).endInput(reason());
  }

  /** Rejects queued and running jobs with `reason`, aborts running work and stops the maps (once). */
  abortAll(reason: unknown): void {
    if (this.hard?.signal.aborted) return;
    this.hardSignal();
    this.hard!.abort(reason);
    for (const node of this.queue.takeAll()) if (node instanceof Job) node.fail(reason);
    this.queuedJobs = 0;
    for (const job of [...this.#running]) {
      job.abortWork(reason);
      job.fail(reason);
    }
    for (const m of [...this.mappers]) (m as PoolMapper).abort(reason);
  }

  /** Resolves once the pool is closed and idle; the same promise on every call. */
  whenClosed(): Promise<void> {
    this.#closed ??= new Waiter<void>('WorkerPool.close', undefined);
    const promise = this.#closed.promise;
    this.checkIdle();
    return promise;
  }
}
