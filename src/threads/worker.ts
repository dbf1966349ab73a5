/// <reference types="node" />
/**
 * The code that runs inside each thread of a `ThreadPool`: it loads the
 * task module, then runs the tasks the pool sends it, one at a time in the
 * order they arrive, each as `task(arg, { signal })`, and sends each result
 * back as soon as it has it. It is the pool's own entry point (a separate
 * file of the build, `threads/worker.js`), never imported by users.
 *
 * See `protocol.ts` for the messages and the cancel slots.
 */
import { type MessagePort, parentPort, receiveMessageOnPort } from 'node:worker_threads';
import {
  ABORT,
  ABORTED,
  CANCELLED,
  decodeValue,
  ERROR,
  encodeError,
  INIT,
  isError,
  LOAD_FAILED,
  NOT_FOUND,
  OK,
  PENDING,
  READY,
  RUN,
  SKIPPED,
  SLOT_MASK,
  STARTED,
  THROWN,
} from './protocol.js';
import { isTransferred } from './transfer.js';

type TaskFn = (arg: unknown, ctx: TaskContext) => unknown;

const signalProto = AbortSignal.prototype;
const realAborted = Object.getOwnPropertyDescriptor(signalProto, 'aborted')!.get!;
const realReason = Object.getOwnPropertyDescriptor(signalProto, 'reason')!.get!;

/**
 * What a task receives as its second argument. Its `signal` is made on
 * first read: a task that never looks at it costs no `AbortController`.
 *
 * A synchronous task never yields to the event loop, so no message can
 * tell it of an abort; the signal's `aborted`, `reason` and
 * `throwIfAborted()` therefore first read the task's slot (shared with
 * the main thread, which marks it ABORTED), and on an abort take the
 * reason off the control port at once (`receiveMessageOnPort`). An async
 * task also hears of it by the message, between its awaits.
 */
class TaskContext {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  /** The task has ended: its slot may belong to another task now. */
  #done = false;
  readonly #slot: number;

  constructor(seq: number) {
    this.#slot = seq & SLOT_MASK;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const c = (this.#controller = new AbortController());
      if (this.#aborted) this.#abortWith(c);
      else this.#watch(c.signal);
    }
    return this.#controller.signal;
  }

  /** Makes reading `signal` look at the shared slot first. */
  #watch(signal: AbortSignal): void {
    const poll = () => {
      if (!this.#aborted && !this.#done && Atomics.load(slots, this.#slot) === ABORTED) drainControl(this);
    };
    Object.defineProperties(signal, {
      aborted: {
        configurable: true,
        get() {
          poll();
          return realAborted.call(this);
        },
      },
      reason: {
        configurable: true,
        get() {
          poll();
          return realReason.call(this);
        },
      },
      throwIfAborted: {
        configurable: true,
        value() {
          poll();
          return signalProto.throwIfAborted.call(this);
        },
      },
    });
  }

  // A task that reads its context as if it were the signal learns the shape at once.
  get aborted(): never {
    return misread();
  }
  get reason(): never {
    return misread();
  }
  get addEventListener(): never {
    return misread();
  }

  /** Aborts `ctx`'s signal (a static: the task sees only `signal`). */
  static abort(ctx: TaskContext, reason: unknown): void {
    if (ctx.#aborted) return;
    ctx.#aborted = true;
    ctx.#reason = reason;
    if (ctx.#controller !== undefined) ctx.#abortWith(ctx.#controller);
  }

  /** The task has ended. */
  static done(ctx: TaskContext): void {
    ctx.#done = true;
  }

  #abortWith(c: AbortController): void {
    // A reason that could not be cloned arrives as undefined: the default AbortError then.
    if (this.#reason === undefined) c.abort();
    else c.abort(this.#reason);
  }
}

function misread(): never {
  const err = new TypeError(
    'ThreadPool: a task receives (arg, { signal }), not the AbortSignal: write (arg, { signal }) => …',
  );
  (err as { code?: string }).code = 'ERR_INVALID_ARG_VALUE';
  throw err;
}

let results!: MessagePort;
let control!: MessagePort;
let slots!: Int32Array;
let tasks: Record<string, unknown> = {};
let moduleUrl = '';

// Tasks received and not started: [name, arg, name, arg, ...] from `head`.
let inbox: unknown[] = [];
let head = 0;
// The sequence number of the next task to start.
let next = 0;
// The task running now (set while an async task is pending), for ABORT.
let current: TaskContext | null = null;
let currentSeq = -1;

const SKIP_MESSAGE = [SKIPPED, undefined, 0];

/** An ABORT from the main thread: aborts the signal of the running task it names. */
function onControl(m: unknown[]): void {
  if (m[0] === ABORT && current !== null && currentSeq === m[1]) TaskContext.abort(current, decodeValue(m[2]));
}

/** The slot of `ctx`'s task says ABORTED: takes the ABORT (sent before the mark) off the control port now. */
function drainControl(ctx: TaskContext): void {
  for (let r = receiveMessageOnPort(control); r !== undefined; r = receiveMessageOnPort(control)) {
    onControl(r.message as unknown[]);
  }
  // Not found (it cannot happen: the message is queued before the slot is marked): abort without a reason.
  TaskContext.abort(ctx, undefined);
}

function lookup(name: string): TaskFn | undefined {
  const fn = tasks[name];
  if (typeof fn === 'function') return fn as TaskFn;
  // A CommonJS module's exports are its default export.
  const def = tasks.default;
  if (def !== null && typeof def === 'object' && Object.hasOwn(def, name)) {
    const f = (def as Record<string, unknown>)[name];
    if (typeof f === 'function') return f as TaskFn;
  }
  return undefined;
}

function exportedNames(): string[] {
  const names = Object.keys(tasks).filter((k) => typeof tasks[k] === 'function');
  const def = tasks.default;
  if (def !== null && typeof def === 'object') {
    for (const k of Object.keys(def)) if (typeof (def as Record<string, unknown>)[k] === 'function') names.push(k);
  }
  return names;
}

/** Sends one task's outcome; returns the time, the start of the next task. */
function reply(status: number, value: unknown, start: number): number {
  const end = performance.now();
  const micros = (end - start) * 1000;
  try {
    if (status === OK && isTransferred(value)) results.postMessage([OK, value.value, micros], value.list as never);
    else results.postMessage([status, value, micros]);
  } catch (err) {
    // The value could not be cloned (a function, a detached buffer...): the call rejects with why.
    results.postMessage([ERROR, encodeError(err as Error), micros]);
  }
  return end;
}

function failure(err: unknown, start: number): number {
  return isError(err) ? reply(ERROR, encodeError(err), start) : reply(THROWN, err, start);
}

/** Runs the tasks received, in order, until one is pending (async) or none is left. */
function drain(): void {
  let start = performance.now();
  while (head < inbox.length) {
    const seq = next++;
    const name = inbox[head] as string;
    const arg = inbox[head + 1];
    inbox[head] = inbox[head + 1] = undefined;
    head += 2;
    // The pool may have taken the task back (its caller aborted, or another thread took it).
    if (Atomics.compareExchange(slots, seq & SLOT_MASK, PENDING, STARTED) === CANCELLED) {
      results.postMessage(SKIP_MESSAGE);
      continue;
    }
    const fn = lookup(name);
    if (fn === undefined) {
      start = reply(NOT_FOUND, exportedNames(), start);
      continue;
    }
    const ctx = new TaskContext(seq);
    current = ctx;
    currentSeq = seq;
    let r: unknown;
    try {
      r = fn(arg, ctx);
    } catch (err) {
      end(ctx);
      start = failure(err, start);
      continue;
    }
    if (
      r !== null &&
      (typeof r === 'object' || typeof r === 'function') &&
      typeof (r as PromiseLike<unknown>).then === 'function'
    ) {
      const began = start;
      (r as PromiseLike<unknown>).then(
        (v) => settled(ctx, OK, v, began),
        (err) => settled(ctx, -1, err, began),
      );
      return;
    }
    end(ctx);
    start = reply(OK, r, start);
  }
  // Everything received has run: let the inbox's array go.
  inbox = [];
  head = 0;
}

function end(ctx: TaskContext): void {
  TaskContext.done(ctx);
  current = null;
  currentSeq = -1;
}

function settled(ctx: TaskContext, status: number, value: unknown, start: number): void {
  end(ctx);
  if (status === OK) reply(OK, value, start);
  else failure(value, start);
  drain();
}

function onMessage(m: unknown[]): void {
  if (m[0] === RUN) {
    // A thread kept busy by async tasks never empties its inbox: drop what has run.
    if (head > 1024 && head * 2 > inbox.length) {
      inbox = inbox.slice(head);
      head = 0;
    }
    for (let i = 1; i < m.length; i++) inbox.push(m[i]);
    if (current === null) drain();
  }
}

parentPort!.once('message', (m: unknown[]) => {
  if (m[0] !== INIT) return;
  results = m[1] as MessagePort;
  slots = new Int32Array(m[2] as SharedArrayBuffer);
  moduleUrl = m[3] as string;
  control = m[4] as MessagePort;
  control.on('message', onControl);
  import(moduleUrl).then(
    (mod: Record<string, unknown>) => {
      tasks = mod;
      parentPort!.on('message', onMessage);
      results.postMessage([READY, undefined, 0]);
    },
    (err: unknown) => {
      results.postMessage([LOAD_FAILED, isError(err) ? encodeError(err) : String(err), 0]);
    },
  );
});
