/**
 * The concurrent mapping engine behind `Flow.map`, `Flow.filter`,
 * `Flow.buffer`, `Flow.forEach` and `WorkerPool.map`/`mapSettled`.
 *
 * Up to `concurrency` loops pull from one upstream iterator and run the
 * function (as a plain call, with no `this`); results wait in a window of
 * at most `window` items (pulled and not yet taken by the consumer), in
 * input order when ordered (`results.ts`). A loop is an `async` function
 * that reuses its frame across items, like a hand-written
 * `for (;;) await fn(next())`: no closure or promise per item beyond the
 * user function's own. When the window is full a loop parks on one promise
 * that all parked loops share, and they all wake when the consumer has
 * made room for each of them; so a source of any length is read only as
 * fast as the consumer takes results.
 *
 * A consumer is either an iterator (`next()`, one promise per result, the
 * result handed over at once when it is ready) or a sink (`run(each)`, for
 * the terminal operations): a sink takes each result synchronously when it
 * is ready, so a drained flow costs no promise per result at all. A sink
 * may return a promise (an async `forEach` callback): it then holds back
 * what follows, up to `limit` such promises at once, the results waiting in
 * the window meanwhile, so the loops park as for a slow iterator.
 *
 * Under a pool (`Slots`, `slots.ts`) each loop holds a slot of the pool;
 * the engine waits for slots in the pool's queue like a job, and a loop
 * gives its slot back when others wait or the window is full, so map and
 * submit share the pool fairly.
 *
 * The lifecycle of one run, in `#state`:
 *
 *     IDLE ──start──▶ RUNNING ──inputDone──▶ DRAINING ──end──▶ ENDED
 *       │  └────────inputDone─────────────────▲    (live = 0)
 *       └──────────────────── stop ───────────┴──────────────▶ STOPPED
 *
 * - IDLE: made, no loop started (nothing runs before a consumer asks).
 * - RUNNING: loops pull, call and deliver.
 * - DRAINING: no item will be pulled again (the source ended, or the pool
 *   closed with drain); items already pulled finish and are delivered.
 * - ENDED: every result was taken; consumers got the end, or `#failure`.
 * - STOPPED: an error, an abort or a consumer break; nothing is delivered
 *   any more, the stage's signal is aborted and the source closed.
 *
 * `#failure` holds an error to hand to the next consumer when none was
 * waiting at the time (it reaches the consumer once).
 */
import { jobEnded, jobStarted } from '../probes.js';
import { ContextCall, DONE, isThenable, noop, RESOLVED } from '../promise.js';
import { registry } from '../registry.js';
import { JobContextBase } from '../shapes.js';
import { Waiter, WaitQueue } from '../waiter.js';
import { EMPTY, ResultWindow } from './results.js';
import { Feeder, type Mapper, type Slots } from './slots.js';
import { closeUpstream, StageCtl, stopped, type Upstream } from './source.js';

// A module-local binding: read on every item under a pool, it is cheaper than the import's.
const reg = registry;

/** Output modes: the function's result, the input when the result is truthy, or a `Settled` record. */
export const MAP = 0;
export const FILTER = 1;
export const SETTLED = 2;
export type Mode = typeof MAP | typeof FILTER | typeof SETTLED;

const IDLE = 0;
const RUNNING = 1;
const DRAINING = 2;
const ENDED = 3;
const STOPPED = 4;
type State = typeof IDLE | typeof RUNNING | typeof DRAINING | typeof ENDED | typeof STOPPED;

/** `#failure` when there is none. */
const NONE: unique symbol = Symbol('none');

/** `#request` (under a pool): no slot asked for, or asked for and queued; a slot number once granted. */
const NO_REQUEST = -2;
const QUEUED = -1;

/** What `#pull` and `#call` return to end a loop, or to park it until the consumer makes room. */
const STOP: unique symbol = Symbol('stop');
const PARK: unique symbol = Symbol('park');

/** One loop's state, kept across its items (and reused by the next loop). */
class Loop {
  /** Under a pool: the slot held, or -1 while parked without one. */
  slot = 0;
  ctx: { signal: AbortSignal; worker: number } | null = null;
  // An async source's loop: the item being worked on, between `#call` and `#done`.
  item: unknown = undefined;
  seq = 0;
  ok = true;
  /** An async source's loop under a pool: when its item started, for diagnostics. */
  started = -1;
}

/** The `JobContext` a map's loop hands a pool's work: one per slot. */
class LoopContext extends JobContextBase {
  constructor(
    readonly signal: AbortSignal,
    readonly worker: number,
  ) {
    super();
  }
}

/** Options of a `MapEngine`. */
export interface MapEngineOptions {
  concurrency: number;
  /** Most items pulled and not yet taken (default: twice the concurrency); at least `concurrency`. */
  window?: number;
  ordered: boolean;
  mode: Mode;
  outer: AbortSignal | undefined;
  /** The pool whose slots the loops run on (its concurrency then rules, and `fn` gets a `JobContext`). */
  pool?: Slots;
  op: string;
}

/** One run of a mapping stage over one upstream; an AsyncIterator of its results. */
export class MapEngine<T, U> extends ResultWindow implements AsyncIterableIterator<U>, Mapper {
  /** This engine's place in a pool's queue. */
  readonly link: Feeder = new Feeder(this);

  readonly #up: Upstream<T>;
  readonly #sync: boolean;
  /** The stage's function, or the pool's work (which takes a `JobContext` for its second argument). */
  readonly #fn: (x: T, second: never) => unknown;
  readonly #pool: Slots | null;
  readonly #concurrency: number;
  #window: number;
  readonly #mode: Mode;
  readonly #outer: AbortSignal | undefined;
  readonly #ctl: StageCtl;
  readonly #op: string;

  #state: State = IDLE;
  #failure: unknown = NONE;
  /** Loops running (parked ones included). */
  #loops = 0;
  /** An async source: a loop is awaiting `next()` (one at a time). */
  #pulling = false;
  #request = NO_REQUEST;
  readonly #consumers = new WaitQueue<Waiter<IteratorResult<U>>>();
  #sink: ((value: U, signal: AbortSignal) => unknown) | null = null;
  #sinkWaiter: Waiter<void> | null = null;
  /** Sink calls whose promises have not settled yet, and how many may be at once. */
  #sinkBusy = 0;
  #sinkLimit = Number.POSITIVE_INFINITY;
  #parked = 0;
  #parking: Promise<void> | null = null;
  #unpark: () => void = noop;
  readonly #spare: Loop[] = [];
  /** Under a pool: starts loops for a slot granted or a pool grown, in the consumer's async context. */
  #fromPool: ContextCall | null = null;
  #ctxs: { signal: AbortSignal; worker: number }[] | null = null;

  constructor(up: Upstream<T>, sync: boolean, fn: (x: T, second: never) => unknown, opts: MapEngineOptions) {
    const window = opts.pool === undefined ? (opts.window ?? 2 * opts.concurrency) : 2 * opts.pool.concurrency;
    super(opts.ordered, window);
    this.#up = up;
    this.#sync = sync;
    this.#fn = fn;
    this.#pool = opts.pool ?? null;
    this.#concurrency = opts.concurrency;
    this.#window = window;
    this.#mode = opts.mode;
    this.#outer = opts.outer;
    this.#op = opts.op;
    this.#ctl = new StageCtl(opts.outer, opts.op, (reason) => this.#stop(reason, true));
    // The flow's signal was aborted already: the first next() rejects.
    if (this.#ctl.signal.aborted) this.#stop(this.#ctl.signal.reason, true);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The signal the stage's functions receive. */
  get signal(): AbortSignal {
    return this.#ctl.signal;
  }

  /** The `JobContext` of `slot` for a pool's work function: one object per slot, not per job. */
  ctx(slot: number): { signal: AbortSignal; worker: number } {
    const ctxs = (this.#ctxs ??= []);
    return (ctxs[slot] ??= new LoopContext(this.#ctl.signal, slot));
  }

  // ── Transitions ─────────────────────────────────────────────────────

  /** IDLE -> RUNNING: a consumer asked; loops start. */
  #start(): void {
    this.#state = RUNNING;
    // Made here, in the consumer's call: loops that the pool's calls start
    // later run the work in the consumer's async context, not the pool caller's.
    if (this.#pool !== null) this.#fromPool = new ContextCall(this.#spawnFromPool);
    this.#spawn();
  }

  /** IDLE | RUNNING -> DRAINING: nothing more will be pulled. */
  #inputDone(): void {
    this.#state = DRAINING;
  }

  /** DRAINING -> ENDED, once every pulled item was taken. */
  #endIfDrained(): void {
    if (this.#state !== DRAINING || this.live !== 0 || this.#sinkBusy !== 0) return;
    this.#state = ENDED;
    this.#ctl.end();
    this.#pool?.detach(this);
    this.#wake(true);
    const failure = this.#takeFailure();
    const sink = this.#sinkWaiter;
    if (sink !== null) {
      if (failure === NONE) sink.settle();
      else sink.fail(failure);
      return;
    }
    const consumers = this.#consumers.takeAll();
    if (failure !== NONE && consumers.length > 0) for (const w of consumers) w.fail(failure);
    else {
      if (failure !== NONE) this.#failure = failure; // nobody waits: the next consumer gets it
      for (const w of consumers) w.settle(DONE);
    }
  }

  /**
   * Any state before ENDED -> STOPPED: aborts the stage's signal, closes the
   * upstream, fails waiting consumers with `reason` (`surface`), or ends
   * them quietly (a consumer break).
   */
  #stop(reason: unknown, surface: boolean): void {
    if (this.#state === ENDED || this.#state === STOPPED) return;
    this.#state = STOPPED;
    const consumers = this.#consumers.takeAll();
    const sink = this.#sinkWaiter;
    if (surface && consumers.length === 0 && sink === null) this.#failure = reason;
    // A consumer break (no reason): the stage's functions see the usual AbortError.
    this.#ctl.stop(surface ? reason : stopped());
    this.clear();
    // A slot granted and not yet used is given back by `#spawnFromPool`.
    if (this.#request === QUEUED) this.#request = NO_REQUEST;
    this.#pool?.detach(this);
    closeUpstream(this.#up);
    this.#wake(true);
    for (const w of consumers) w.fail(reason);
    if (sink !== null) {
      if (surface) sink.fail(reason);
      else sink.settle();
    }
  }

  #takeFailure(): unknown {
    const failure = this.#failure;
    this.#failure = NONE;
    return failure;
  }

  // ── Loops ───────────────────────────────────────────────────────────

  /** Starts loops while there is room, input and (under a pool) a free slot. */
  #spawn(): void {
    // Parked loops come back when there is room: no new one meanwhile.
    if (this.#parked !== 0) return;
    const pool = this.#pool;
    while (this.#state === RUNNING && !this.#pulling && this.live < this.#window) {
      let slot = 0;
      if (pool === null) {
        if (this.#loops >= this.#concurrency) return;
      } else if (this.#request >= 0) {
        slot = this.#request;
        this.#request = NO_REQUEST;
      } else {
        if (this.#request === QUEUED) return;
        slot = pool.take(this);
        if (slot < 0) {
          this.#request = QUEUED;
          pool.request(this);
          return;
        }
      }
      this.#loops++;
      const loop = this.#spare.pop() ?? new Loop();
      loop.slot = slot;
      loop.ctx = pool === null ? null : this.ctx(slot);
      if (this.#sync) this.#loop(loop);
      else this.#loopAsync(loop);
    }
  }

  /** The pool gives this engine a slot it queued for; a loop takes it up in the consumer's context. */
  grant(slot: number): void {
    this.#request = slot;
    this.#fromPool!.request();
  }

  /** Starts what a pool's call made possible (a granted slot, more concurrency), or gives the slot back. */
  readonly #spawnFromPool = (): void => {
    this.#spawn();
    const slot = this.#request;
    // Not needed after all (stopped, input ended, window full): give it back.
    if (slot >= 0) {
      this.#request = NO_REQUEST;
      this.#pool!.release(slot);
    }
  };

  /** The promise a loop waits on while the window is full; one for all parked loops. */
  #park(): Promise<void> {
    this.#parked++;
    if (this.#parking === null) {
      this.#parking = new Promise<void>((resolve) => {
        this.#unpark = resolve;
      });
    }
    return this.#parking;
  }

  /**
   * Wakes the parked loops once there is room for each (or for a whole
   * window, when a pool shrank under more of them), or when they must end.
   *
   * Waking them together costs one promise for the lot, where waking one per
   * result taken would cost one per item. It does not starve the consumer:
   * the window being twice the concurrency, when they wake the results still
   * waiting cover the time their work takes, unless the consumer is faster
   * than the whole concurrency can feed it, and then the window never fills.
   */
  #wake(force: boolean): void {
    const parked = this.#parked;
    if (parked === 0 || (!force && this.#window - this.live < Math.min(parked, this.#window))) return;
    this.#parked = 0;
    this.#parking = null;
    const unpark = this.#unpark;
    this.#unpark = noop;
    unpark();
  }

  /**
   * The loop over a synchronous source, written out as one function (a
   * `map` result is handed over without a call) so that it costs little
   * more than the hand-written `for (;;) await fn(it.next().value)`. Under a
   * pool it runs the pool's work on the slot it holds, and gives the slot
   * back when the pool wants it (`shouldYield`) or the window is full.
   */
  async #loop(loop: Loop): Promise<void> {
    const pool = this.#pool;
    const up = this.#up as Iterator<T>;
    let inline = 0; // items in a row that finished without an await
    for (;;) {
      if (this.#state !== RUNNING) break;
      if (this.live >= this.#window) {
        this.#parkLoop(loop);
        inline = 0;
        await this.#park();
        continue;
      }
      if (loop.slot < 0 && !this.#retake(loop)) break;
      let r: IteratorResult<T>;
      try {
        r = up.next();
      } catch (err) {
        this.#stop(err, true);
        break;
      }
      if (r.done) {
        this.#inputDone();
        break;
      }
      let item = r.value;
      const seq = this.add(this.#window);
      // A thenable item is awaited before the function sees it (as p-map
      // does), its place in the window kept; one that rejects fails the
      // flow as a throwing source would.
      if (isThenable(item)) {
        inline = 0;
        try {
          item = await item;
        } catch (err) {
          this.live--;
          this.#stop(err, true);
          break;
        }
        if ((this.#state as State) === STOPPED) {
          this.live--;
          break;
        }
      }
      let ok = true;
      let v: unknown;
      // Under a pool, diagnostics (a property read when nobody installed them).
      const probes = pool === null ? null : reg.probes;
      const started = probes == null ? -1 : jobStarted(probes, pool!, item, loop.slot);
      try {
        const fn = this.#fn; // called as a plain function, with no `this`
        v = fn(item, (pool === null ? this.#ctl.signal : loop.ctx) as never);
        if (isThenable(v)) {
          inline = 0;
          v = await v;
        } else if (++inline >= this.#window) {
          // Synchronous work on a synchronous source: let the event loop in now and then.
          inline = 0;
          await RESOLVED;
        }
      } catch (err) {
        ok = false;
        v = err;
      }
      if (pool !== null) {
        if (ok) pool.completed++;
        else if ((this.#state as State) === STOPPED) pool.canceled++;
        else pool.failed++;
        if (probes != null) jobEnded(probes, pool, item, loop.slot, started, ok, v);
      }
      // (`as State`: the state may have changed during the awaits since it was read.)
      if (ok && this.#mode === MAP && (this.#state as State) !== STOPPED) {
        this.finish(seq, v, true);
        if (this.#parked !== 0) this.#wake(false);
      } else this.#deliver(seq, item, ok, v);
      // Under a pool, the fields read first rule out most items without a call.
      if (
        pool !== null &&
        (pool.paused || pool.queue.length !== 0 || loop.slot >= pool.concurrency) &&
        this.#yields(loop)
      )
        break;
    }
    this.#exit(loop);
  }

  /** `#loop` for an async source: one loop awaits the source at a time, the others work. */
  async #loopAsync(loop: Loop): Promise<void> {
    for (;;) {
      let r: unknown = this.#pull(loop);
      if (r === STOP) break;
      if (r === PARK) {
        await this.#park();
        continue;
      }
      try {
        r = await (r as Promise<IteratorResult<T>>);
      } catch (err) {
        this.#pulling = false;
        this.#stop(err, true);
        break;
      }
      this.#pulling = false;
      if (this.#state === STOPPED) break;
      let v = this.#call(loop, r as IteratorResult<T>);
      if (v === STOP) break;
      let ok = loop.ok;
      if (ok && isThenable(v)) {
        try {
          v = await v;
        } catch (err) {
          ok = false;
          v = err;
        }
      }
      if (!this.#done(loop, ok, v)) break;
    }
    this.#exit(loop);
  }

  /** An async source: the promise of the next item, PARK, or STOP (input over, or another loop is pulling). */
  #pull(loop: Loop): Promise<IteratorResult<T>> | typeof PARK | typeof STOP {
    if (this.#state !== RUNNING) return STOP;
    if (this.live >= this.#window) return this.#parkLoop(loop);
    if (this.#pulling || (loop.slot < 0 && !this.#retake(loop))) return STOP;
    this.#pulling = true;
    try {
      return this.#up.next() as Promise<IteratorResult<T>>;
    } catch (err) {
      this.#pulling = false;
      this.#stop(err, true);
      return STOP;
    }
  }

  /** The window is full: the loop parks; under a pool it gives its slot back while it waits. */
  #parkLoop(loop: Loop): typeof PARK {
    if (loop.slot >= 0 && this.#pool !== null) {
      const slot = loop.slot;
      loop.slot = -1;
      this.#pool.release(slot);
    }
    return PARK;
  }

  /** A parked loop under a pool takes a slot again; false when none is free for it (it ends). */
  #retake(loop: Loop): boolean {
    const slot = this.#pool!.take(this);
    if (slot < 0) return false;
    loop.slot = slot;
    loop.ctx = this.ctx(slot);
    return true;
  }

  /** An async source: starts the work on a pulled item; its result or promise, or STOP at the end of the input. */
  #call(loop: Loop, r: IteratorResult<T>): unknown {
    if (r.done) {
      // Another loop may have ended the input meanwhile (a pool closing).
      if (this.#state === RUNNING) this.#inputDone();
      return STOP;
    }
    const item = r.value;
    loop.item = item;
    loop.seq = this.add(this.#window);
    // Let another loop fetch the next item while this one works.
    this.#spawn();
    loop.ok = true;
    const pool = this.#pool;
    if (pool !== null) {
      const probes = reg.probes;
      loop.started = probes == null ? -1 : jobStarted(probes, pool, item, loop.slot);
    }
    try {
      const fn = this.#fn;
      return fn(item, (pool === null ? this.#ctl.signal : loop.ctx) as never);
    } catch (err) {
      loop.ok = false;
      return err;
    }
  }

  /** An async source: delivers a finished item; false when the loop must end (a pool wants its slot). */
  #done(loop: Loop, ok: boolean, v: unknown): boolean {
    const pool = this.#pool;
    const item = loop.item as T;
    loop.item = undefined;
    if (pool !== null) {
      if (ok) pool.completed++;
      else if (this.#state === STOPPED) pool.canceled++;
      else pool.failed++;
      const probes = reg.probes;
      if (probes != null) jobEnded(probes, pool, item, loop.slot, loop.started, ok, v);
    }
    this.#deliver(loop.seq, item, ok, v);
    return pool === null || !this.#yields(loop);
  }

  /**
   * Under a pool, after an item: true when the loop must give its slot back
   * (the pool is paused, shrank, or has others waiting). Checked after an
   * item, never before the first: two maps sharing a pool take turns.
   */
  #yields(loop: Loop): boolean {
    const pool = this.#pool!;
    if (!pool.shouldYield(loop.slot, this)) return false;
    // Behind the others waiting now: ask again at the back of the queue.
    if (this.#request === QUEUED) {
      this.#request = NO_REQUEST;
      pool.unqueue(this);
    }
    return true;
  }

  #exit(loop: Loop): void {
    this.#loops--;
    this.#spare.push(loop);
    if (this.#pool !== null && loop.slot >= 0) this.#pool.release(loop.slot);
    loop.ctx = null;
    this.#spawn();
    this.#endIfDrained();
  }

  /** Hands a finished item to the window: its result, the item (filter), a `Settled` record, or the stage's error. */
  #deliver(seq: number, item: T, ok: boolean, v: unknown): void {
    if (this.#state === STOPPED) {
      this.live--;
      return;
    }
    let keep = true;
    let value = v;
    if (this.#mode === SETTLED) {
      value = ok ? { ok: true, job: item, value: v } : { ok: false, job: item, error: v };
    } else if (!ok) {
      this.live--;
      this.#stop(v, true);
      return;
    } else if (this.#mode === FILTER) {
      keep = !!v;
      value = item;
    }
    this.finish(seq, value, keep);
    this.#wake(false);
  }

  /** Hands `value` to the sink or a waiting consumer; false when nobody takes it now. */
  protected emit(value: unknown): boolean {
    if (this.#sink !== null) return this.#toSink(value as U);
    const w = this.#consumers.shift();
    if (w === null) return false;
    w.settle({ value: value as U, done: false });
    return true;
  }

  /** Hands `value` to the sink unless it has `limit` promises pending; a throw stops the stage. */
  #toSink(value: U): boolean {
    if (this.#sinkBusy >= this.#sinkLimit) return false;
    let r: unknown;
    try {
      r = this.#sink!(value, this.#ctl.signal);
    } catch (err) {
      this.#stop(err, true);
      return true;
    }
    if (r !== undefined && isThenable(r)) {
      this.#sinkBusy++;
      r.then(this.#sinkSettled, this.#sinkRejected);
    }
    return true;
  }

  /** A sink promise settled: what waited in the window goes to the sink, the loops go on. */
  readonly #sinkSettled = (): void => {
    this.#sinkBusy--;
    if (this.#state === STOPPED) return;
    if (this.ordered) this.flush();
    else {
      while (this.#sinkBusy < this.#sinkLimit && (this.#state as State) !== STOPPED) {
        const v = this.take();
        if (v === EMPTY) break;
        this.#toSink(v as U);
      }
    }
    this.#wake(false);
    this.#spawn();
    this.#endIfDrained();
  };

  readonly #sinkRejected = (err: unknown): void => {
    this.#sinkBusy--;
    this.#stop(err, true);
  };

  // ── What the pool and the consumer call ────────────────────────────

  /** The pool's concurrency grew, or it resumed: start more loops if there is room now. */
  wake(): void {
    if (this.#pool !== null) this.#window = 2 * this.#pool.concurrency;
    if (this.#state === IDLE) return;
    // Parked loops look again: the window may have shrunk below what they wait for.
    this.#wake(true);
    if (this.#fromPool !== null) this.#fromPool.request();
    else this.#spawn();
  }

  next(): Promise<IteratorResult<U>> {
    if (this.#state === IDLE) this.#start();
    const v = this.take() as U | typeof EMPTY;
    if (v !== EMPTY) {
      this.#wake(false);
      this.#spawn();
      this.#endIfDrained();
      return Promise.resolve({ value: v, done: false });
    }
    // Taking skipped filtered-out items may have emptied the window.
    this.#endIfDrained();
    if (this.#state === STOPPED || this.#state === ENDED) {
      const failure = this.#takeFailure();
      return failure === NONE ? Promise.resolve(DONE) : Promise.reject(failure);
    }
    const w = new Waiter<IteratorResult<U>>(this.#op, this.#outer);
    this.#consumers.push(w);
    this.#wake(false);
    this.#spawn();
    return w.promise;
  }

  /**
   * Runs the stage to its end, handing each result to `each(value, signal)`
   * as soon as it is ready, in order when ordered: the terminal
   * operations' consumer. `each` may return a promise: at most `limit`
   * (default: no limit) are pending at once, what follows waiting in the
   * window. A throw or a rejection of `each` stops the stage with that
   * error. Resolves at the end (once `each`'s promises have settled);
   * rejects as `next()` would. Called once, on a fresh engine, and never
   * mixed with `next()`.
   */
  run(each: (value: U, signal: AbortSignal) => unknown, limit = Number.POSITIVE_INFINITY): Promise<void> {
    const w = new Waiter<void>(this.#op, undefined);
    this.#sink = each;
    this.#sinkLimit = limit;
    this.#sinkWaiter = w;
    if (this.#state === STOPPED || this.#state === ENDED) {
      // Over before it started: the flow's signal was aborted, or the pool is closed.
      const failure = this.#takeFailure();
      if (failure === NONE) w.settle();
      else w.fail(failure);
    } else {
      if (this.#state === IDLE) this.#start();
      this.#endIfDrained();
    }
    return w.promise;
  }

  return(): Promise<IteratorResult<U>> {
    this.#stop(undefined, false);
    return Promise.resolve(DONE);
  }

  /** Ends the input early (a pool closing with drain): what is running finishes, then the consumer gets `reason`. */
  endInput(reason: unknown): void {
    if (this.#state !== IDLE && this.#state !== RUNNING) return;
    this.#inputDone();
    this.#failure = reason;
    if (this.#request === QUEUED) {
      this.#request = NO_REQUEST;
      this.#pool?.unqueue(this);
    }
    closeUpstream(this.#up);
    this.#wake(true);
    this.#endIfDrained();
  }

  /** Stops the stage: aborts its signal, closes the upstream, fails waiting consumers with `reason`. */
  abort(reason: unknown): void {
    this.#stop(reason, true);
  }
}
