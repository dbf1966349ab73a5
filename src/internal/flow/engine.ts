/**
 * The concurrent mapping engine behind `Flow.map`, `Flow.filter`,
 * `Flow.buffer`, `Flow.forEach` and `WorkerPool.map`/`mapSettled`.
 *
 * Up to `concurrency` worker loops pull from one upstream iterator and run
 * the function (as a plain call, with no `this`); results wait in a window
 * of at most `window` items (pulled and not yet taken by the consumer), in
 * input order when ordered. A loop is an `async` function that reuses its
 * frame across items, like a hand-written `for (;;) await fn(next())`: no
 * closure or promise per item beyond the user function's own. When the
 * window is full a loop parks on one promise that all parked loops share,
 * and they all wake when the consumer has made room for each of them; so a
 * source of any length is read only as fast as the consumer takes results.
 *
 * A consumer is either an iterator (`next()`, one promise per result, the
 * result handed over at once when it is ready) or a sink (`run(each)`, for
 * the terminal operations): a sink takes each result synchronously when it
 * is ready, so a drained flow costs no promise per result at all.
 *
 * Under a `WorkerPool` (a `Host`, `poolhost.ts`), each loop holds a worker
 * slot of the pool; the engine waits for slots in the pool's queue like a
 * job, and a loop gives its slot back when a queued job is waiting or the
 * window is full, so map and submit share the workers fairly.
 *
 * The window itself (ordered places, ready results) is `Results` in
 * `flowwindow.ts`, which the engine extends.
 */

import { capture, captured, DONE, forgetCaptured, isThenable, noop, RESOLVED } from '../promise.js';
import { Waiter, WaitQueue } from '../waiter.js';
import { EMPTY, Results } from './results.js';
import { Feeder, type Host, type Mapper } from './slots.js';
import { closeUpstream, StageCtl, stopped, type Upstream } from './source.js';

/** Output modes: the function's result, the input when the result is truthy, or a `Settled` record. */
export const MAP = 0;
export const FILTER = 1;
export const SETTLED = 2;
export type Mode = typeof MAP | typeof FILTER | typeof SETTLED;

/** What `#pull` and `#call` return to end a loop, or to park it until the consumer makes room. */
const STOP: unique symbol = Symbol('stop');
const PARK: unique symbol = Symbol('park');

/** A loop's state, kept across its items (and reused by the next loop). */
class Worker {
  slot = 0; // under a host: the worker slot held, or -1 while parked
  ctx: { signal: AbortSignal; worker: number } | null = null;
  // An async source's loop: the item being worked on, between `#call` and `#done`.
  item: unknown = undefined;
  seq = 0;
  ok = true;
}

/** One run of a mapping stage over one upstream; an AsyncIterator of its results. */
export class Engine<T, U> extends Results implements AsyncIterableIterator<U>, Mapper {
  /** This engine's place in a host's queue. */
  readonly link: Feeder = new Feeder(this);

  readonly #up: Upstream<T>;
  readonly #sync: boolean;
  /** The stage's function, or the pool's work (which takes a `JobContext` for its second argument). */
  readonly #fn: (x: T, second: never) => unknown;
  readonly #host: Host | null;
  readonly #concurrency: number;
  #window: number;
  readonly #mode: Mode;
  readonly #outer: AbortSignal | undefined;
  readonly #ctl: StageCtl;
  readonly #op: string;

  #loops = 0;
  #pulling = false;
  #sourceDone = false;
  #stopped = false;
  #ended = false;
  #started = false;
  #queued = false;
  #granted = -1;
  #error: unknown = undefined;
  #hasError = false;
  readonly #consumers = new WaitQueue<Waiter<IteratorResult<U>>>();
  #sink: ((value: U) => void) | null = null;
  #sinkWaiter: Waiter<void> | null = null;
  #parked = 0;
  #parking: Promise<void> | null = null;
  #unpark: () => void = noop;
  readonly #workers: Worker[] = [];
  #ctxs: { signal: AbortSignal; worker: number }[] | null = null;

  constructor(
    up: Upstream<T>,
    sync: boolean,
    fn: (x: T, second: never) => unknown,
    opts: {
      concurrency: number;
      /** Most items pulled and not yet taken (default: twice the concurrency); at least `concurrency`. */
      window?: number;
      ordered: boolean;
      mode: Mode;
      outer: AbortSignal | undefined;
      host?: Host;
      op: string;
    },
  ) {
    const window = opts.host === undefined ? (opts.window ?? 2 * opts.concurrency) : 2 * opts.host.concurrency;
    super(opts.ordered, window);
    this.#up = up;
    this.#sync = sync;
    this.#fn = fn;
    this.#host = opts.host ?? null;
    this.#concurrency = opts.concurrency;
    this.#window = window;
    this.#mode = opts.mode;
    this.#outer = opts.outer;
    this.#op = opts.op;
    this.#ctl = new StageCtl(opts.outer, (reason) => this.#stop(reason, true));
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
    return (ctxs[slot] ??= { signal: this.#ctl.signal, worker: slot });
  }

  /** Starts loops while there is room, input and (under a host) a free worker. */
  #spawn(): void {
    // Parked loops come back when there is room: no new one meanwhile.
    if (this.#parked !== 0) return;
    const host = this.#host;
    while (!this.#stopped && !this.#sourceDone && !this.#pulling && this.live < this.#window) {
      let slot = 0;
      if (host === null) {
        if (this.#loops >= this.#concurrency) return;
      } else if (this.#granted >= 0) {
        slot = this.#granted;
        this.#granted = -1;
      } else {
        if (this.#queued) return;
        slot = host.take(this);
        if (slot < 0) {
          this.#queued = true;
          host.request(this);
          return;
        }
      }
      this.#loops++;
      const w = this.#workers.pop() ?? new Worker();
      w.slot = slot;
      w.ctx = host === null ? null : this.ctx(slot);
      if (this.#sync) this.#loop(w);
      else this.#loopAsync(w);
    }
  }

  /** The host gives this engine a slot it queued for. */
  grant(slot: number): void {
    this.#queued = false;
    this.#granted = slot;
    this.#spawn();
    // Not needed after all (stopped, input ended, window full): give it back.
    if (this.#granted >= 0) {
      this.#granted = -1;
      this.#host!.release(slot);
    }
  }

  /** The promise a loop waits on while the window is full; one for all parked loops. */
  #park(): Promise<void> {
    this.#parked++;
    if (this.#parking === null) {
      this.#parking = new Promise<void>(capture);
      this.#unpark = captured.resolve as () => void;
      forgetCaptured();
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
   * pool it runs the pool's work on the worker slot it holds, and gives the
   * slot back when the pool wants it (`shouldYield`) or the window is full.
   */
  async #loop(w: Worker): Promise<void> {
    const host = this.#host;
    const up = this.#up as Iterator<T>;
    let inline = 0; // items in a row that finished without an await
    for (;;) {
      if (this.#stopped || this.#sourceDone) break;
      if (this.live >= this.#window) {
        this.#parkWorker(w);
        inline = 0;
        await this.#park();
        continue;
      }
      if (w.slot < 0 && !this.#retake(w)) break;
      let r: IteratorResult<T>;
      try {
        r = up.next();
      } catch (err) {
        this.#stop(err, true);
        break;
      }
      if (r.done) {
        this.#sourceDone = true;
        break;
      }
      const item = r.value;
      const seq = this.add(this.#window);
      let ok = true;
      let v: unknown;
      try {
        const fn = this.#fn; // called as a plain function, with no `this`
        v = fn(item, (host === null ? this.#ctl.signal : w.ctx) as never);
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
      if (host !== null) {
        if (ok) host.completed++;
        else host.failed++;
      }
      if (ok && this.#mode === MAP && !this.#stopped) {
        this.finish(seq, v, true);
        if (this.#parked !== 0) this.#wake(false);
      } else this.#deliver(seq, item, ok, v);
      // Under a pool, the fields read first rule out most jobs without a call.
      if (host !== null && (host.paused || host.queue.length !== 0 || w.slot >= host.concurrency) && this.#yields(w))
        break;
    }
    this.#exit(w);
  }

  /** `#loop` for an async source: one loop awaits the source at a time, the others work. */
  async #loopAsync(w: Worker): Promise<void> {
    for (;;) {
      let r: unknown = this.#pull(w);
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
      if (this.#stopped) break;
      let v = this.#call(w, r as IteratorResult<T>);
      if (v === STOP) break;
      let ok = w.ok;
      if (ok && isThenable(v)) {
        try {
          v = await v;
        } catch (err) {
          ok = false;
          v = err;
        }
      }
      if (!this.#done(w, ok, v)) break;
    }
    this.#exit(w);
  }

  /** An async source: the promise of the next item, PARK or STOP (another loop is pulling). */
  #pull(w: Worker): Promise<IteratorResult<T>> | typeof PARK | typeof STOP {
    if (this.#stopped || this.#sourceDone) return STOP;
    if (this.live >= this.#window) return this.#parkWorker(w);
    if (this.#pulling || (w.slot < 0 && !this.#retake(w))) return STOP;
    this.#pulling = true;
    try {
      return this.#up.next() as Promise<IteratorResult<T>>;
    } catch (err) {
      this.#pulling = false;
      this.#stop(err, true);
      return STOP;
    }
  }

  /** The window is full: the loop parks; under a pool it gives its worker back while it waits. */
  #parkWorker(w: Worker): typeof PARK {
    if (w.slot >= 0 && this.#host !== null) {
      const slot = w.slot;
      w.slot = -1;
      this.#host.release(slot);
    }
    return PARK;
  }

  /** A parked loop under a pool takes a worker again; false when none is free for it (it ends). */
  #retake(w: Worker): boolean {
    const slot = this.#host!.take(this);
    if (slot < 0) return false;
    w.slot = slot;
    w.ctx = this.ctx(slot);
    return true;
  }

  /** An async source: starts the work on a pulled item; its result or promise, or STOP at the end of the input. */
  #call(w: Worker, r: IteratorResult<T>): unknown {
    if (r.done) {
      this.#sourceDone = true;
      return STOP;
    }
    const item = r.value;
    w.item = item;
    w.seq = this.add(this.#window);
    // Let another loop fetch the next item while this one works.
    this.#spawn();
    w.ok = true;
    try {
      const fn = this.#fn;
      return fn(item, (this.#host === null ? this.#ctl.signal : w.ctx) as never);
    } catch (err) {
      w.ok = false;
      return err;
    }
  }

  /** An async source: delivers a finished item; false when the loop must end (a pool wants its worker). */
  #done(w: Worker, ok: boolean, v: unknown): boolean {
    const host = this.#host;
    const item = w.item as T;
    w.item = undefined;
    if (host !== null) {
      if (ok) host.completed++;
      else host.failed++;
    }
    this.#deliver(w.seq, item, ok, v);
    return host === null || !this.#yields(w);
  }

  /**
   * Under a pool, after a job: true when the loop must give its worker
   * back (the pool is paused, shrank, or has jobs waiting). Checked after a
   * job, never before the first: two maps sharing a pool take turns.
   */
  #yields(w: Worker): boolean {
    const host = this.#host!;
    if (!host.shouldYield(w.slot, this)) return false;
    // Behind the jobs waiting now: ask again at the back of the queue.
    if (this.#queued) {
      this.#queued = false;
      host.unqueue(this);
    }
    return true;
  }

  #exit(w: Worker): void {
    this.#loops--;
    this.#workers.push(w);
    if (this.#host !== null && w.slot >= 0) this.#host.release(w.slot);
    w.ctx = null;
    this.#spawn();
    this.#settleIfDone();
  }

  #deliver(seq: number, item: T, ok: boolean, v: unknown): void {
    if (this.#stopped) {
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
    if (this.#sink !== null) {
      this.#sink(value as U);
      return true;
    }
    const w = this.#consumers.shift();
    if (w === null) return false;
    w.settle({ value: value as U, done: false });
    return true;
  }

  /** Starts more loops if there is room now (the host's concurrency grew, or it resumed). */
  wake(): void {
    if (this.#host !== null) this.#window = 2 * this.#host.concurrency;
    if (!this.#started) return;
    // Parked loops look again: the window may have shrunk below what they wait for.
    this.#wake(true);
    this.#spawn();
  }

  #start(): void {
    this.#started = true;
    this.#spawn();
  }

  next(): Promise<IteratorResult<U>> {
    if (!this.#started) this.#start();
    const v = this.take() as U | typeof EMPTY;
    if (v !== EMPTY) {
      this.#wake(false);
      this.#spawn();
      if (this.#sourceDone) this.#settleIfDone();
      return Promise.resolve({ value: v, done: false });
    }
    // Taking skipped filtered-out items may have emptied the window.
    this.#settleIfDone();
    if (this.#stopped || this.#ended) {
      if (!this.#hasError) return Promise.resolve(DONE);
      this.#hasError = false;
      return Promise.reject(this.#error);
    }
    const w = new Waiter<IteratorResult<U>>(this.#op, this.#outer);
    this.#consumers.push(w);
    this.#wake(false);
    this.#spawn();
    return w.promise;
  }

  /**
   * Runs the stage to its end, handing each result to `each` (which must not
   * throw) as soon as it is ready, in order when ordered: the terminal
   * operations' consumer. Resolves at the end; rejects as `next()` would.
   * Called once, on a fresh engine, and never mixed with `next()`.
   */
  run(each: (value: U) => void): Promise<void> {
    const w = new Waiter<void>(this.#op, undefined);
    this.#sink = each;
    this.#sinkWaiter = w;
    if (this.#stopped || this.#ended) {
      // Stopped or ended before it started: the flow's signal was aborted, or the pool is closed.
      if (this.#hasError) {
        this.#hasError = false;
        w.fail(this.#error);
      } else w.settle();
    } else {
      this.#start();
      this.#settleIfDone();
    }
    return w.promise;
  }

  return(): Promise<IteratorResult<U>> {
    if (!this.#stopped && !this.#ended) this.#stop(undefined, false);
    return Promise.resolve(DONE);
  }

  /** Ends the input early (a pool closing with drain): what is running finishes, then the consumer gets `reason`. */
  endInput(reason: unknown): void {
    if (this.#stopped || this.#sourceDone) return;
    this.#sourceDone = true;
    this.#error = reason;
    this.#hasError = true;
    if (this.#queued) {
      this.#queued = false;
      this.#host?.unqueue(this);
    }
    closeUpstream(this.#up);
    this.#wake(true);
    this.#settleIfDone();
  }

  /** Stops the stage: aborts its signal, closes the upstream, fails waiting consumers with `reason`. */
  abort(reason: unknown): void {
    this.#stop(reason, true);
  }

  #stop(reason: unknown, surface: boolean): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const consumers = this.#consumers.takeAll();
    const sink = this.#sinkWaiter;
    if (surface && consumers.length === 0 && sink === null) {
      this.#error = reason;
      this.#hasError = true;
    }
    // A consumer break (no reason): the stage's functions see the usual AbortError.
    this.#ctl.stop(surface ? reason : stopped());
    this.clear();
    this.#queued = false;
    this.#host?.detach(this);
    closeUpstream(this.#up);
    this.#wake(true);
    for (const w of consumers) w.fail(reason);
    if (sink !== null) {
      if (surface) sink.fail(reason);
      else sink.settle();
    }
  }

  #settleIfDone(): void {
    if (this.#ended || this.#stopped || !this.#sourceDone || this.live !== 0) return;
    this.#ended = true;
    this.#ctl.end();
    this.#host?.detach(this);
    this.#wake(true);
    const sink = this.#sinkWaiter;
    if (sink !== null) {
      if (this.#hasError) {
        this.#hasError = false;
        sink.fail(this.#error);
      } else sink.settle();
    }
    const consumers = this.#consumers.takeAll();
    if (this.#hasError && consumers.length > 0) {
      this.#hasError = false;
      for (const w of consumers) w.fail(this.#error);
    } else for (const w of consumers) w.settle(DONE);
  }
}
