/**
 * The many-source stages: fan-in (`merge`: one flow of several sources)
 * and the shared source of fan-out and tee (several flows over one source,
 * competing for its items or each seeing all of them).
 */

import { DONE, DONE_PROMISE, isThenable } from '../promise.js';
import { Ring } from '../ring.js';
import { Waiter, WaitQueue } from '../waiter.js';
import type { Source, Upstream } from './source.js';
import { closeUpstream, openSource } from './source.js';
import { settledItem } from './stages.js';

/** `#failure` when there is none. */
const NONE: unique symbol = Symbol('none');

// MergeIter's lifecycle: IDLE -> RUNNING (the first next() starts every
// source) -> ENDED (every source is done and nothing is left to take) or
// STOPPED (a source failed, or the consumer returned).
const IDLE = 0;
const RUNNING = 1;
const ENDED = 2;
const STOPPED = 3;
type MergeState = typeof IDLE | typeof RUNNING | typeof ENDED | typeof STOPPED;

/** Fan-in: every source is read at once, at most one item of each waits; each source's order is kept. */
export class MergeIter<T> implements AsyncIterator<T> {
  readonly #its: Upstream<T>[];
  readonly #sync: boolean[];
  readonly #outer: AbortSignal | undefined;
  readonly #ready = new Ring<{ i: number; value: T }>();
  readonly #consumers = new WaitQueue<Waiter<IteratorResult<T>>>();
  /** Sources not done yet. */
  #active: number;
  #state: MergeState = IDLE;
  /** A source's error that no consumer was waiting for: the next one gets it. */
  #failure: unknown = NONE;

  constructor(sources: Source<T>[], syncs: boolean[], outer: AbortSignal | undefined) {
    this.#outer = outer;
    this.#its = sources.map((s) => openSource(s, outer));
    this.#sync = syncs;
    this.#active = sources.length;
  }

  /** IDLE -> RUNNING: every source is asked for its first item. */
  #start(): void {
    this.#state = RUNNING;
    for (let i = 0; i < this.#its.length; i++) this.#pull(i);
    this.#endIfDone();
  }

  /** RUNNING -> ENDED, once every source is done and nothing waits to be taken. */
  #endIfDone(): void {
    if (this.#state !== RUNNING || this.#active !== 0 || this.#ready.length !== 0) return;
    this.#state = ENDED;
    for (const w of this.#consumers.takeAll()) w.settle(DONE);
  }

  /** IDLE | RUNNING -> STOPPED: the sources are closed; `err` goes to the consumers (or the next one). */
  #stop(err: unknown, surface: boolean): void {
    if (this.#state === ENDED || this.#state === STOPPED) return;
    this.#state = STOPPED;
    this.#ready.clear();
    for (const it of this.#its) closeUpstream(it);
    if (!surface) return;
    const ws = this.#consumers.takeAll();
    if (ws.length === 0) this.#failure = err;
    for (const w of ws) w.fail(err);
  }

  #pull(i: number): void {
    if (this.#state !== RUNNING) return;
    const it = this.#its[i]!;
    if (this.#sync[i]) {
      let r: IteratorResult<T>;
      try {
        r = (it as Iterator<T>).next();
      } catch (err) {
        this.#stop(err, true);
        return;
      }
      // A thenable item of a synchronous source is awaited first, as flow's stages do.
      if (r.done !== true && isThenable(r.value)) {
        settledItem(r.value as PromiseLike<T>).then(
          (got) => this.#got(i, got),
          (err) => this.#stop(err, true),
        );
        return;
      }
      this.#got(i, r);
      return;
    }
    let p: Promise<IteratorResult<T>>;
    try {
      p = (it as AsyncIterator<T>).next();
    } catch (err) {
      this.#stop(err, true);
      return;
    }
    p.then(
      (r) => this.#got(i, r),
      (err) => this.#stop(err, true),
    );
  }

  #got(i: number, r: IteratorResult<T>): void {
    if (this.#state !== RUNNING) return;
    if (r.done) {
      this.#active--;
      this.#endIfDone();
      return;
    }
    const w = this.#consumers.shift();
    if (w !== null) {
      w.settle({ value: r.value, done: false });
      this.#pull(i);
    } else this.#ready.push({ i, value: r.value });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#state === IDLE) this.#start();
    if (this.#outer?.aborted) this.#stop(this.#outer.reason, true);
    const e = this.#ready.shift();
    if (e !== undefined) {
      const v = e.value;
      this.#pull(e.i);
      this.#endIfDone();
      return Promise.resolve({ value: v, done: false });
    }
    if (this.#state === ENDED || this.#state === STOPPED) {
      const failure = this.#failure;
      this.#failure = NONE;
      return failure === NONE ? DONE_PROMISE : Promise.reject(failure);
    }
    const w = new Waiter<IteratorResult<T>>('merge.next', this.#outer);
    this.#consumers.push(w);
    return w.promise;
  }

  return(): Promise<IteratorResult<T>> {
    this.#stop(undefined, false);
    return DONE_PROMISE;
  }
}

// Shared's lifecycle: READING -> EXHAUSTED (the source ended), FAILED (it
// threw: `#failure`; buffered items are still read first) or CLOSED (every
// branch left: the source was closed early).
const READING = 0;
const EXHAUSTED = 1;
const FAILED = 2;
const CLOSED = 3;
type SharedState = typeof READING | typeof EXHAUSTED | typeof FAILED | typeof CLOSED;

/**
 * One source shared by consumers that take turns (fanOut) or that each see
 * every item (tee, with `lag` items of buffering at most between the fastest
 * and the slowest). Pulls are serialized; a value pulled for a consumer that
 * gave up meanwhile is kept for the next one, never lost.
 */
export class Shared<T> {
  readonly #it: Upstream<T>;
  readonly #sync: boolean;
  readonly #lag: number; // 0: fanOut (competing); > 0: tee
  readonly #waiters = new WaitQueue<Waiter<void>>();
  readonly #buf = new Ring<T>();
  readonly #pos: (number | -1)[]; // tee: next index each branch reads; -1 once it left
  #base = 0; // index of #buf's first item
  /** A branch is fetching the next item (one at a time). */
  #pulling = false;
  #state: SharedState = READING;
  #failure: unknown = undefined;
  #left = 0;

  constructor(source: Source<T>, sync: boolean, branches: number, lag: number) {
    this.#it = openSource(source, undefined);
    this.#sync = sync;
    this.#lag = lag;
    this.#pos = new Array(branches).fill(0);
  }

  /** The next item for `branch`. */
  async next(branch: number): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.#pos[branch] === -1) return DONE;
      if (this.#lag === 0) {
        if (this.#buf.length > 0) return { value: this.#buf.shift()!, done: false };
      } else {
        const k = (this.#pos[branch] as number) - this.#base;
        if (k < this.#buf.length) {
          const v = this.#buf.at(k)!;
          this.#pos[branch] = (this.#pos[branch] as number) + 1;
          this.#trim();
          return { value: v, done: false };
        }
      }
      if (this.#state === FAILED) throw this.#failure;
      if (this.#state !== READING) return DONE;
      // tee: the fastest waits while the slowest is `lag` items behind.
      if (this.#pulling || (this.#lag > 0 && this.#buf.length >= this.#lag)) {
        const w = new Waiter<void>(this.#lag === 0 ? 'fanOut.next' : 'tee.next', undefined);
        this.#waiters.push(w);
        await w.promise;
        continue;
      }
      await this.#fetch();
    }
  }

  /** Pulls one item into the buffer; READING -> EXHAUSTED or FAILED when the source ends. */
  async #fetch(): Promise<void> {
    this.#pulling = true;
    try {
      let r = this.#sync ? (this.#it as Iterator<T>).next() : await this.#it.next();
      // A thenable item of a synchronous source is awaited first, as flow's stages do.
      if (this.#sync && r.done !== true && isThenable(r.value)) r = await settledItem(r.value as PromiseLike<T>);
      if (this.#state !== READING) return; // every branch left meanwhile
      if (r.done) this.#state = EXHAUSTED;
      else this.#buf.push(r.value);
    } catch (err) {
      if (this.#state === READING) {
        this.#state = FAILED;
        this.#failure = err;
      }
    } finally {
      this.#pulling = false;
      this.#wakeAll();
    }
  }

  #trim(): void {
    let min = Number.POSITIVE_INFINITY;
    for (const p of this.#pos) if (p !== -1 && p < min) min = p;
    let trimmed = false;
    while (this.#base < min && this.#buf.length > 0) {
      this.#buf.shift();
      this.#base++;
      trimmed = true;
    }
    if (trimmed) this.#wakeAll();
  }

  #wakeAll(): void {
    if (this.#waiters.length > 0) for (const w of this.#waiters.takeAll()) w.settle();
  }

  /** `branch` stops reading; the last one out closes the source (READING -> CLOSED). */
  leave(branch: number): void {
    if (this.#pos[branch] === -1) return;
    this.#pos[branch] = -1;
    this.#left++;
    if (this.#lag > 0) this.#trim();
    if (this.#left === this.#pos.length && this.#state === READING) {
      this.#state = CLOSED;
      this.#buf.clear();
      closeUpstream(this.#it);
    }
    this.#wakeAll();
  }
}

/** The iterator of one branch of a `Shared` source. */
export class Branch<T> implements AsyncIterator<T> {
  readonly #shared: Shared<T>;
  readonly #i: number;
  #over = false;
  constructor(shared: Shared<T>, i: number) {
    this.#shared = shared;
    this.#i = i;
  }
  next(): Promise<IteratorResult<T>> {
    if (this.#over) return DONE_PROMISE;
    return this.#shared.next(this.#i).then(
      (r) => {
        if (r.done) this.return();
        return r;
      },
      (err) => {
        this.return();
        throw err;
      },
    );
  }
  return(): Promise<IteratorResult<T>> {
    if (!this.#over) {
      this.#over = true;
      this.#shared.leave(this.#i);
    }
    return DONE_PROMISE;
  }
}
