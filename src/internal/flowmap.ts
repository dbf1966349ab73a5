/**
 * The concurrent mapping engine behind `Flow.map`, `Flow.filter`,
 * `Flow.buffer`, `Flow.forEach` and `WorkerPool.map`/`mapSettled`.
 *
 * Up to `concurrency` worker loops pull from one upstream iterator and run
 * the function; results wait in a window of at most `concurrency` items
 * (pulled and not yet taken by the consumer), in input order when ordered.
 * A loop stops pulling when the window is full and a new one starts when
 * the consumer makes room, so a source of any length is read only as fast
 * as the consumer takes results. A loop is an `async` function that reuses
 * its frame across items, like a hand-written `for (;;) await fn(next())`:
 * no closure or promise per item beyond the user function's own.
 *
 * Under a `WorkerPool` (a `Host`), each loop holds a worker slot of the
 * pool; the engine waits for slots in the pool's queue like a job, and a
 * loop gives its slot back when a queued job is waiting, so map and submit
 * share the workers fairly.
 */
import { closeUpstream, StageCtl, stopped, type Upstream } from './flowsource.js';
import { Ring } from './ring.js';
import { DONE, isThenable } from './settled.js';
import { type Linked, Waiter, WaitQueue } from './waiter.js';

/** Output modes: the function's result, the input when the result is truthy, or a `Settled` record. */
export const MAP = 0;
export const FILTER = 1;
export const SETTLED = 2;
export type Mode = typeof MAP | typeof FILTER | typeof SETTLED;

/** What a `WorkerPool` offers a map: worker slots and the job function. */
export interface Host {
  /** The window size: the pool's concurrency now. */
  readonly concurrency: number;
  /** A free slot for `e`, or -1 (nothing free, paused, or others queued first). */
  take(e: Engine<any, any>): number;
  /** Queues `e` for a slot; the host calls `e.grant(slot)` when one frees. */
  request(e: Engine<any, any>): void;
  /** Takes `e` out of the queue. */
  unqueue(e: Engine<any, any>): void;
  /** Takes `e` out of the queue and forgets it: it is over. */
  detach(e: Engine<any, any>): void;
  /** True when the loop holding `slot` should give it back (queued jobs, resize, pause). */
  shouldYield(slot: number, e: Engine<any, any>): boolean;
  release(slot: number): void;
  /** Runs the work on `item` in `slot`. */
  call(item: unknown, slot: number, e: Engine<any, any>): unknown;
  record(ok: boolean): void;
}

/** An item of an ordered window: its place is kept until its result is taken. */
class Slot {
  value: unknown = undefined;
  done = false;
  keep = true;
}

/** What `Engine.poll` returns when no result is ready. */
export const EMPTY: unique symbol = Symbol('empty');

/** One run of a mapping stage over one upstream; an AsyncIterator of its results. */
/** The node by which an engine waits in a host's queue for a slot. */
export class Feeder implements Linked {
  prev: Linked | null = null;
  next: Linked | null = null;
  queue: WaitQueue<any> | null = null;
  constructor(readonly engine: Engine<any, any>) {}
}

export class Engine<T, U> implements AsyncIterableIterator<U> {
  /** This engine's place in a host's queue. */
  readonly link: Feeder = new Feeder(this);

  readonly #up: Upstream<T>;
  readonly #sync: boolean;
  readonly #fn: ((x: T, signal: AbortSignal) => unknown) | null;
  readonly #host: Host | null;
  readonly #concurrency: number;
  #window: number;
  readonly #mode: Mode;
  readonly #ordered: boolean;
  readonly #outer: AbortSignal | undefined;
  readonly #ctl: StageCtl;
  readonly #op: string;

  #loops = 0;
  #live = 0; // pulled and not yet taken by the consumer (or dropped)
  #pulling = false;
  #sourceDone = false;
  #stopped = false;
  #ended = false;
  #started = false;
  #queued = false;
  #granted = -1;
  #error: unknown = undefined;
  #hasError = false;
  readonly #order: Ring<Slot> | null;
  readonly #ready: Ring<unknown> | null;
  readonly #free: Slot[] = [];
  readonly #consumers = new WaitQueue<Waiter<IteratorResult<U>>>();
  #ctxs: { signal: AbortSignal; worker: number }[] | null = null;

  constructor(
    up: Upstream<T>,
    sync: boolean,
    fn: ((x: T, signal: AbortSignal) => unknown) | null,
    opts: {
      concurrency: number;
      /** Most items pulled and not yet taken (default: twice the concurrency). */
      window?: number;
      ordered: boolean;
      mode: Mode;
      outer: AbortSignal | undefined;
      host?: Host;
      op: string;
    },
  ) {
    this.#up = up;
    this.#sync = sync;
    this.#fn = fn;
    this.#host = opts.host ?? null;
    this.#concurrency = opts.concurrency;
    this.#window = opts.host === undefined ? (opts.window ?? 2 * opts.concurrency) : 2 * opts.host.concurrency;
    this.#mode = opts.mode;
    this.#ordered = opts.ordered;
    this.#outer = opts.outer;
    this.#op = opts.op;
    this.#order = opts.ordered ? new Ring<Slot>() : null;
    this.#ready = opts.ordered ? null : new Ring<unknown>();
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

  /** The window: how many items may be pulled and not yet taken (a host's changes come through `wake`). */
  #limit(): number {
    return this.#window;
  }

  /** Starts loops while there is room, input and (under a host) a free worker. */
  #spawn(): void {
    const host = this.#host;
    while (!this.#stopped && !this.#sourceDone && !this.#pulling && this.#live < this.#limit()) {
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
      this.#loop(slot);
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

  async #loop(slot: number): Promise<void> {
    const host = this.#host;
    const fn = this.#fn;
    for (;;) {
      if (this.#stopped || this.#sourceDone || this.#live >= this.#limit()) break;
      let r: IteratorResult<T>;
      if (this.#sync) {
        try {
          r = (this.#up as Iterator<T>).next();
        } catch (err) {
          this.#fail(err);
          break;
        }
      } else {
        if (this.#pulling) break;
        this.#pulling = true;
        try {
          r = await this.#up.next();
        } catch (err) {
          this.#pulling = false;
          this.#fail(err);
          break;
        }
        this.#pulling = false;
        if (this.#stopped) break;
      }
      if (r.done) {
        this.#sourceDone = true;
        break;
      }
      const item = r.value;
      this.#live++;
      let place: Slot | null = null;
      if (this.#order !== null) {
        place = this.#free.pop() ?? new Slot();
        this.#order.push(place);
      }
      // An async source: let another loop fetch the next item while this one works.
      if (!this.#sync) this.#spawn();
      let ok = true;
      let v: unknown;
      try {
        v = host === null ? fn!(item, this.#ctl.signal) : host.call(item, slot, this);
        if (isThenable(v)) v = await v;
      } catch (err) {
        ok = false;
        v = err;
      }
      if (host !== null) host.record(ok);
      this.#deliver(place, item, ok, v);
      // Checked after a job, never before the first: two maps sharing a pool take turns.
      if (host?.shouldYield(slot, this)) {
        // Behind the jobs waiting now: ask again at the back of the queue.
        if (this.#queued) {
          this.#queued = false;
          host.unqueue(this);
        }
        break;
      }
    }
    this.#loops--;
    if (host !== null) host.release(slot);
    this.#spawn();
    this.#settleIfDone();
  }

  #deliver(place: Slot | null, item: T, ok: boolean, v: unknown): void {
    if (this.#stopped) {
      this.#live--;
      return;
    }
    let keep = true;
    let value = v;
    if (this.#mode === SETTLED) {
      value = ok ? { ok: true, job: item, value: v } : { ok: false, job: item, error: v };
    } else if (!ok) {
      this.#live--;
      this.#fail(v);
      return;
    } else if (this.#mode === FILTER) {
      keep = !!v;
      value = item;
    }
    if (place !== null) {
      place.value = value;
      place.keep = keep;
      place.done = true;
      if (place === this.#order!.peek()) this.#flush();
      return;
    }
    if (!keep) {
      this.#live--;
      return;
    }
    const w = this.#consumers.shift();
    if (w !== null) {
      this.#live--;
      w.settle({ value: value as U, done: false });
    } else this.#ready!.push(value);
  }

  /** Ordered: hands finished items at the head of the window to waiting consumers. */
  #flush(): void {
    const order = this.#order!;
    for (let head = order.peek(); head?.done; head = order.peek()) {
      if (head.keep) {
        const w = this.#consumers.shift();
        if (w === null) return;
        w.settle({ value: head.value as U, done: false });
      }
      order.shift();
      this.#recycle(head);
    }
  }

  #recycle(place: Slot): void {
    this.#live--;
    place.value = undefined;
    place.done = false;
    this.#free.push(place);
  }

  /** A result ready now, or EMPTY. */
  #take(): U | typeof EMPTY {
    let value: unknown = EMPTY;
    if (this.#order !== null) {
      const order = this.#order;
      for (let head = order.peek(); head?.done; head = order.peek()) {
        order.shift();
        const keep = head.keep;
        value = head.value;
        this.#recycle(head);
        if (keep) break;
        value = EMPTY;
      }
    } else if (this.#ready!.length > 0) {
      value = this.#ready!.shift();
      this.#live--;
    }
    return value as U | typeof EMPTY;
  }

  /** Takes a ready result without waiting, or returns EMPTY; for terminal operations. */
  poll(): U | typeof EMPTY {
    if (!this.#started) this.#start();
    const v = this.#take();
    if (v !== EMPTY) this.#spawn();
    this.#settleIfDone();
    return v;
  }

  /** Starts more loops if there is room now (the host's concurrency grew, or it resumed). */
  wake(): void {
    if (this.#host !== null) this.#window = 2 * this.#host.concurrency;
    if (this.#started) this.#spawn();
  }

  #start(): void {
    this.#started = true;
    this.#spawn();
  }

  next(): Promise<IteratorResult<U>> {
    if (!this.#started) this.#start();
    const v = this.#take();
    if (v !== EMPTY) {
      this.#spawn();
      this.#settleIfDone();
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
    this.#spawn();
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
    this.#settleIfDone();
  }

  /** Stops the stage: aborts its signal, closes the upstream, fails waiting consumers with `reason`. */
  abort(reason: unknown): void {
    this.#stop(reason, true);
  }

  #fail(err: unknown): void {
    this.#stop(err, true);
  }

  #stop(reason: unknown, surface: boolean): void {
    if (this.#stopped) return;
    this.#stopped = true;
    const consumers = this.#consumers.takeAll();
    if (surface && consumers.length === 0) {
      this.#error = reason;
      this.#hasError = true;
    }
    // A consumer break (no reason): the stage's functions see the usual AbortError.
    this.#ctl.stop(surface ? reason : stopped());
    this.#order?.clear();
    this.#ready?.clear();
    this.#queued = false;
    this.#host?.detach(this);
    closeUpstream(this.#up);
    for (const w of consumers) w.fail(reason);
  }

  #settleIfDone(): void {
    if (this.#ended || this.#stopped || !this.#sourceDone || this.#live !== 0) return;
    this.#ended = true;
    this.#ctl.end();
    this.#host?.detach(this);
    const consumers = this.#consumers.takeAll();
    if (this.#hasError && consumers.length > 0) {
      this.#hasError = false;
      for (const w of consumers) w.fail(this.#error);
    } else for (const w of consumers) w.settle(DONE);
  }
}
