/**
 * One thread of a `ThreadPool`, as the main thread drives it: the
 * `Worker`, its result port, its cancel slots, and the tasks in flight to
 * it in the order it will run them (a ring indexed by sequence number, the
 * order the thread numbers them in too, so that a result needs no id).
 */
import {
  MessageChannel,
  type MessagePort,
  type ResourceLimits,
  receiveMessageOnPort,
  Worker,
} from 'node:worker_threads';
import {
  ABORT,
  ABORTED,
  CANCELLED,
  ERROR,
  encodeError,
  encodeValue,
  INIT,
  LOAD_FAILED,
  PENDING,
  READY,
  RUN,
  SKIPPED,
  SLOT_MASK,
  SLOTS,
  STARTED,
} from '../protocol.js';
import { SENT, type Task, type TaskQueue } from './queue.js';

/** Started; the module is loading. */
export const STARTING = 0;
/** Takes tasks. */
export const ACTIVE = 1;
/** Takes no new tasks; exits once those in flight are done (resize, idle timeout, close). */
export const RETIRING = 2;
/** Terminated by the pool; waiting for its exit. */
export const STOPPING = 3;
/** Exited. */
export const DEAD = 4;

/** How to start a thread. */
export interface ThreadSpec {
  /** The bootstrap's file, or (with `evalEntry`) code that registers a TypeScript loader and imports it. */
  entry: string | URL;
  evalEntry: boolean;
  moduleUrl: string;
  execArgv: string[] | undefined;
  workerData: unknown;
  resourceLimits: ResourceLimits | undefined;
}

/** What a thread reports to its pool. */
export interface ThreadHost {
  /** The module loaded: the thread takes tasks. */
  onReady(t: Thread): void;
  /** The module failed to load in `t`. */
  onLoadFailed(t: Thread, cause: unknown): void;
  /** A task's outcome arrived (`task` may already be settled: its caller aborted). */
  onResult(task: Task, status: number, value: unknown, micros: number): void;
  /** A batch of messages from `t` has been handled. */
  onDrained(t: Thread): void;
  /** `t` exited: `running` is the task it was running (if any), `unstarted` those it had not started. */
  onExit(t: Thread, code: number, error: unknown, running: Task | undefined, unstarted: Task[]): void;
  /** `task` could not be sent (its argument cannot be cloned): reject it with `err`. */
  onSendFailed(task: Task, err: unknown): void;
}

export class Thread {
  state = STARTING;
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #control: MessagePort;
  readonly #slots: Int32Array;
  readonly #host: ThreadHost;
  readonly #ring: (Task | null)[] = new Array(SLOTS).fill(null);
  readonly #batch: Task[] = [];
  /** Sequence number of the oldest task without a result. */
  #head = 0;
  /** Sequence number the next task sent gets. */
  #tail = 0;
  /**
   * The sequence number of the latest running task whose caller aborted
   * (-1: none), until its result comes; no new task is sent meanwhile.
   */
  abandoned = -1;
  /** The pool's timers for this thread: `abortGraceMs` of `abandoned`, and `idleTimeoutMs`. */
  grace: unknown;
  idle: unknown;
  /** When the thread last sent something, or was handed work while idle (`performance.now()`). */
  mark = 0;
  /** Whether the module loaded (READY came). */
  loaded = false;
  /** Whether the pool terminated it (its exit is no crash). */
  killed = false;
  /** Whether the thread keeps the process alive now. */
  #ref = true;
  #error: unknown;

  constructor(host: ThreadHost, spec: ThreadSpec) {
    this.#host = host;
    const { port1, port2 } = new MessageChannel();
    const control = new MessageChannel();
    this.#control = control.port1;
    const sab = new SharedArrayBuffer(SLOTS * 4);
    this.#slots = new Int32Array(sab);
    this.#port = port1;
    this.#worker = new Worker(spec.entry, {
      eval: spec.evalEntry,
      execArgv: spec.execArgv,
      workerData: spec.workerData,
      resourceLimits: spec.resourceLimits,
    });
    this.#worker.postMessage([INIT, port2, sab, spec.moduleUrl, control.port2], [port2, control.port2]);
    port1.on('message', this.#onMessage);
    port1.on('messageerror', this.#onMessageError);
    // The result port never keeps the process alive: the worker does, while it has tasks.
    port1.unref();
    this.#worker.on('error', (err) => {
      this.#error ??= err;
    });
    this.#worker.on('exit', (code) => this.#onExit(code));
  }

  /** Tasks sent and without a result. */
  get inflight(): number {
    return this.#tail - this.#head;
  }

  /** Whether new tasks may be sent. */
  get accepting(): boolean {
    return this.state === ACTIVE && this.abandoned < 0;
  }

  /** Keeps the process alive while the thread has work, not while it idles. */
  ref(on: boolean): void {
    if (on === this.#ref || this.state === DEAD) return;
    this.#ref = on;
    if (on) this.#worker.ref();
    else this.#worker.unref();
  }

  /**
   * Sends up to `n` tasks from `queue` in one message. A batch that
   * cannot be cloned (one argument cannot be) is sent again task by task,
   * so that only the bad ones fail. Returns how many were sent.
   */
  send(queue: TaskQueue, n: number): number {
    // One array reused for every batch: sending allocates only the message.
    const batch = this.#batch;
    for (let i = 0; i < n; i++) {
      const t = queue.shift();
      if (t === undefined) break;
      batch.push(t);
    }
    const count = batch.length;
    let sent = count;
    if (count > 0) {
      this.ref(true);
      if (!this.#post(batch)) {
        sent = 0;
        if (count > 1) for (const t of batch.splice(0)) if (this.#post([t])) sent++;
      }
    }
    batch.length = 0;
    return sent;
  }

  #post(batch: Task[]): boolean {
    const msg: unknown[] = new Array(1 + 2 * batch.length);
    msg[0] = RUN;
    let list: Transferable[] | undefined;
    const slots = this.#slots;
    for (let i = 0; i < batch.length; i++) {
      const t = batch[i]!;
      msg[1 + 2 * i] = t.name;
      msg[2 + 2 * i] = t.arg;
      if (t.transfer !== undefined && t.transfer.length > 0) {
        list ??= [];
        for (const x of t.transfer) list.push(x);
      }
      Atomics.store(slots, (this.#tail + i) & SLOT_MASK, PENDING);
    }
    try {
      if (list === undefined) this.#worker.postMessage(msg);
      else this.#worker.postMessage(msg, list as never);
    } catch (err) {
      if (batch.length === 1) this.#host.onSendFailed(batch[0]!, err);
      return false;
    }
    for (const t of batch) {
      t.state = SENT;
      t.seq = this.#tail;
      this.#ring[this.#tail & SLOT_MASK] = t;
      this.#tail++;
      t.thread = this;
    }
    return true;
  }

  /**
   * Takes a task sent to this thread back before it starts: true if it
   * will not start (the thread skips it), false if it has started.
   */
  cancel(task: Task): boolean {
    const slot = task.seq & SLOT_MASK;
    if (Atomics.compareExchange(this.#slots, slot, PENDING, CANCELLED) !== PENDING) return false;
    this.#ring[slot] = null;
    return true;
  }

  /**
   * Takes back, newest first, up to `max` tasks that have not started (not
   * those whose arguments were transferred: they cannot be sent again);
   * returns them in their order.
   */
  reclaim(max: number): Task[] {
    const out: Task[] = [];
    for (let seq = this.#tail - 1; seq >= this.#head && out.length < max; seq--) {
      const t = this.#ring[seq & SLOT_MASK];
      if (t === null || t === undefined) continue;
      if (t.transfer !== undefined && t.transfer.length > 0) break;
      if (!this.cancel(t)) break;
      out.push(t);
    }
    return out.reverse();
  }

  /** Tasks in flight that have not started (an estimate: the thread may be starting one now). */
  get unstarted(): number {
    return Math.max(0, this.inflight - 1);
  }

  /**
   * Tells the thread to abort the signal of its running task `seq`: the
   * message first, then the mark on its slot that a synchronous task's
   * signal reads (and then takes the message off the port).
   */
  abort(seq: number, reason: unknown): void {
    if (this.state === DEAD) return;
    try {
      this.#control.postMessage([ABORT, seq, encodeValue(reason)]);
    } catch {
      // A reason that cannot be cloned: the task's signal aborts with an AbortError.
      this.#control.postMessage([ABORT, seq, undefined]);
    }
    Atomics.compareExchange(this.#slots, seq & SLOT_MASK, STARTED, ABORTED);
  }

  /** The tasks in flight that are still SENT (their callers wait), in order. */
  pending(): Task[] {
    const out: Task[] = [];
    for (let seq = this.#head; seq < this.#tail; seq++) {
      const t = this.#ring[seq & SLOT_MASK];
      if (t !== null && t !== undefined && t.state === SENT) out.push(t);
    }
    return out;
  }

  /** Terminates the thread; `onExit` follows. */
  terminate(): void {
    if (this.state === STOPPING || this.state === DEAD) return;
    this.state = STOPPING;
    this.killed = true;
    this.#worker.terminate().catch(() => {});
  }

  readonly #onMessage = (m: unknown[]): void => {
    this.#handle(m);
    this.#drainPort();
    this.#host.onDrained(this);
  };

  readonly #onMessageError = (err: unknown): void => {
    // A result that arrived but could not be deserialized here: its call rejects with why.
    this.#handle([ERROR, encodeError(err as Error), 0]);
    this.#host.onDrained(this);
  };

  /** Handles every message already waiting on the port, without an event each. */
  #drainPort(): void {
    for (;;) {
      let r: { message: unknown } | undefined;
      try {
        r = receiveMessageOnPort(this.#port);
      } catch (err) {
        this.#handle([ERROR, encodeError(err as Error), 0]);
        continue;
      }
      if (r === undefined) return;
      this.#handle(r.message as unknown[]);
    }
  }

  #handle(m: unknown[]): void {
    const status = m[0] as number;
    if (status === READY) {
      this.loaded = true;
      if (this.state === STARTING) this.state = ACTIVE;
      this.#host.onReady(this);
      return;
    }
    if (status === LOAD_FAILED) {
      this.#host.onLoadFailed(this, m[1]);
      return;
    }
    const slot = this.#head & SLOT_MASK;
    const task = this.#ring[slot];
    this.#ring[slot] = null;
    this.#head++;
    if (this.abandoned >= 0 && this.#head > this.abandoned) this.abandoned = -1;
    if (status !== SKIPPED && task !== null && task !== undefined) {
      this.#host.onResult(task, status, m[1], m[2] as number);
    }
  }

  #onExit(code: number): void {
    // Results the thread sent before it died are still on the port.
    this.#drainPort();
    this.state = DEAD;
    this.#port.close();
    this.#control.close();
    let running: Task | undefined;
    const unstarted: Task[] = [];
    for (let seq = this.#head; seq < this.#tail; seq++) {
      const slot = seq & SLOT_MASK;
      const t = this.#ring[slot];
      this.#ring[slot] = null;
      if (t === null || t === undefined) continue;
      if (Atomics.load(this.#slots, slot) === PENDING) unstarted.push(t);
      else running = t;
    }
    this.#head = this.#tail;
    this.abandoned = -1;
    this.#host.onExit(this, code, this.#error, running, unstarted);
  }
}
