/**
 * Package flow provides pipelines: Go's stages connected by channels
 * (generator, fan-out, fan-in, tee, or-done) as a lazy, pull-based chain of
 * stages over any iterable, async iterable, `Channel` or stream, each stage
 * with its own concurrency and one cancellation story for the whole chain.
 */
import { Channel } from './channel.js';
import { type Clock, systemClock } from './clock.js';
import { checkRequiredSignal, checkSignal } from './internal/abort.js';
import { FILTER, MAP, MapEngine } from './internal/flow/engine.js';
import { Branch, MergeIter, Shared } from './internal/flow/fan.js';
import {
  checkSource,
  closeUpstream,
  Derived,
  isSyncSource,
  type Open,
  openSource,
  type Source,
  SourceIter,
  type Upstream,
} from './internal/flow/source.js';
import { batchStage, flatMapStage, sliceStage, tapStage, throttleStage } from './internal/flow/stages.js';
import { isThenable, noop } from './internal/promise.js';
import { checkClock } from './internal/timer.js';
import { checkBool, checkFn, checkInt, checkMs, checkOpts, show, typeError } from './internal/validate.js';
import type { RateLimiter } from './rate.js';

/** Options of `flow`. */
export interface FlowOptions {
  /** Aborting it stops every stage: their signals abort, the source is closed, the consumer's wait rejects with the reason. */
  signal?: AbortSignal;
  /** The clock of timed stages (`batch`'s `maxWaitMs`); default `systemClock`. */
  clock?: Clock;
}

/** Options of `Flow.map`. */
export interface FlowMapOptions {
  /** How many calls of `fn` run at once (default 1). */
  concurrency?: number;
  /** Yield in input order (default true) or as calls complete (false). */
  ordered?: boolean;
}

function checkConcurrency(opts: { concurrency?: number } | undefined, op: string): number {
  checkOpts(opts, op);
  return checkInt(opts?.concurrency ?? 1, op, 'concurrency', 1);
}

// Results are held in a window of twice the concurrency: a worker that
// finishes goes on with the next item while the consumer takes the last one.
function windowOf(concurrency: number): number {
  return concurrency * 2;
}

/**
 * A lazy pipeline over a source: chain stages (`map`, `filter`, `batch`,
 * ...), then iterate it with `for await` or end it with a terminal
 * operation (`forEach`, `toArray`, ...). Create one with `flow(source)`.
 *
 * Nothing runs until the flow is iterated, and every stage pulls: it asks
 * for an item only when its consumer wants one, holding at most its
 * concurrency plus a small constant of items, so a flow over a source of
 * millions of items (or an endless one) runs in constant memory. Each
 * method returns a new `Flow`; a flow can be iterated more than once if its
 * source can.
 *
 * **Cancellation**: an error in any stage aborts the signals of the stages
 * upstream of it, calls `return()` on the source, and reaches the consumer
 * once. A consumer that stops early (`break`, `first()`, a `take`
 * downstream) does the same without error. When the flow's `signal`
 * aborts, every stage stops the same way and the consumer's iteration
 * rejects with the signal's reason.
 *
 * @example A pipeline
 * ```ts
 * import { flow } from 'weftjs';
 * const out = await flow([1, 2, 3, 4, 5, 6])
 *   .filter((n) => n % 2 === 0)
 *   .map(async (n) => n * 10, { concurrency: 2 })
 *   .toArray();
 * out; // => [20, 40, 60]
 * ```
 * @see flow
 * @see WorkerPool for jobs submitted one by one.
 */
export class Flow<T> implements AsyncIterable<T> {
  readonly #open: Open<T>;
  readonly #signal: AbortSignal | undefined;
  readonly #clock: Clock;

  /**
   * Same as `flow(source, opts)`.
   *
   * @throws TypeError if `source` is not an Iterable, AsyncIterable or ReadableStream, or an option has the wrong type.
   */
  constructor(source: Iterable<T> | AsyncIterable<T> | ReadableStream<T>, opts?: FlowOptions) {
    checkOpts(opts, 'flow');
    this.#signal = checkSignal(opts?.signal, 'flow');
    this.#clock = checkClock(opts?.clock, 'flow', systemClock);
    if (source instanceof Derived) {
      this.#open = source.open;
      return;
    }
    checkSource(source, 'flow');
    const sync = isSyncSource(source);
    this.#open = (outer) => [openSource(source as Source<T>, outer), sync];
  }

  /** A new flow with one more stage after this one. */
  #then<U>(make: (up: Upstream<T>, sync: boolean, outer: AbortSignal | undefined) => AsyncIterator<U>): Flow<U> {
    const open = this.#open;
    const derived = new Derived<U>((outer) => {
      const [up, sync] = open(outer);
      return [make(up, sync, outer), false];
    });
    return new Flow<U>(derived as unknown as Source<U>, { signal: this.#signal, clock: this.#clock });
  }

  /**
   * Iterates the flow: opens the source and every stage. Each call starts a
   * new, independent run.
   */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    const [it, sync] = this.#open(this.#signal);
    return sync ? sliceStage(it, true, this.#signal) : (it as AsyncIterator<T>);
  }

  /**
   * Applies `fn` to every item, with up to `concurrency` calls at once
   * (default 1), yielding in input order unless `ordered` is false. `fn`
   * receives the stage's signal, which aborts when the flow stops.
   *
   * An error thrown by `fn`, synchronously or by rejecting, ends the flow
   * with that error (see the class's **Cancellation**).
   *
   * @throws TypeError if `fn` is not a function; RangeError if `concurrency` is not an integer >= 1.
   *
   * @example Concurrent calls, results in input order
   * ```ts
   * import { flow } from 'weftjs';
   * import { TestClock } from 'weftjs/testing';
   * const clock = new TestClock();
   * const wait = (ms: number) => new Promise<void>((r) => clock.setTimeout(() => r(), ms));
   * const out = flow([30, 10, 20]).map(async (ms) => { await wait(ms); return ms; }, { concurrency: 3 }).toArray();
   * await clock.runAll();
   * await out; // => [30, 10, 20]
   * clock.now(); // => 30
   * ```
   * @see Flow.forEach
   */
  map<U>(fn: (x: T, signal: AbortSignal) => U | Promise<U>, opts?: FlowMapOptions): Flow<U> {
    checkFn(fn, 'Flow.map', 'fn');
    const concurrency = checkConcurrency(opts, 'Flow.map');
    const ordered = checkBool(opts?.ordered, 'Flow.map', 'ordered', true);
    return this.#then(
      (up, sync, outer) =>
        new MapEngine<T, U>(up, sync, fn, {
          concurrency,
          window: windowOf(concurrency),
          ordered,
          mode: MAP,
          outer,
          op: 'Flow.map',
        }),
    );
  }

  /**
   * Keeps the items for which `fn` returns (or resolves to) a truthy value,
   * in input order, with up to `concurrency` calls at once (default 1). A
   * type guard narrows the items, as `Array.prototype.filter` does.
   *
   * @throws TypeError if `fn` is not a function; RangeError if `concurrency` is not an integer >= 1.
   *
   * @example
   * ```ts
   * import { flow } from 'weftjs';
   * await flow(['a', 'bb', 'ccc']).filter(async (s) => s.length > 1, { concurrency: 2 }).toArray(); // => ['bb', 'ccc']
   * ```
   * @example A type guard narrows
   * ```ts
   * import { flow } from 'weftjs';
   * const nums: number[] = await flow([1, 'two', 3]).filter((x): x is number => typeof x === 'number').toArray();
   * nums; // => [1, 3]
   * ```
   * @see Flow.map
   */
  filter<S extends T>(fn: (x: T, signal: AbortSignal) => x is S, opts?: { concurrency?: number }): Flow<S>;
  filter(fn: (x: T, signal: AbortSignal) => boolean | Promise<boolean>, opts?: { concurrency?: number }): Flow<T>;
  filter(fn: (x: T, signal: AbortSignal) => boolean | Promise<boolean>, opts?: { concurrency?: number }): Flow<T> {
    checkFn(fn, 'Flow.filter', 'fn');
    const concurrency = checkConcurrency(opts, 'Flow.filter');
    return this.#then(
      (up, sync, outer) =>
        new MapEngine<T, T>(up, sync, fn, {
          concurrency,
          window: windowOf(concurrency),
          ordered: true,
          mode: FILTER,
          outer,
          op: 'Flow.filter',
        }),
    );
  }

  /**
   * Replaces every item with the items of what `fn` returns (an iterable,
   * an async iterable, or a promise of an iterable), in order, one item at
   * a time.
   *
   * @throws TypeError if `fn` is not a function.
   *
   * @example
   * ```ts
   * import { flow } from 'weftjs';
   * await flow(['a b', 'c']).flatMap((line) => line.split(' ')).toArray(); // => ['a', 'b', 'c']
   * ```
   * @see Flow.map
   */
  flatMap<U>(fn: (x: T, signal: AbortSignal) => Iterable<U> | AsyncIterable<U> | Promise<Iterable<U>>): Flow<U> {
    checkFn(fn, 'Flow.flatMap', 'fn');
    return this.#then((up, sync, outer) => flatMapStage(up, sync, outer, fn));
  }

  /**
   * Calls `fn` on every item as it passes (awaiting it if it returns a
   * promise) and yields the item unchanged: for logging and metrics.
   *
   * @throws TypeError if `fn` is not a function.
   *
   * @example
   * ```ts
   * import { flow } from 'weftjs';
   * const seen: number[] = [];
   * await flow([1, 2]).tap((n) => seen.push(n)).drain();
   * seen; // => [1, 2]
   * ```
   * @see Flow.forEach
   */
  tap(fn: (x: T) => unknown): Flow<T> {
    checkFn(fn, 'Flow.tap', 'fn');
    return this.#then((up, sync, outer) => tapStage(up, sync, outer, fn));
  }

  /**
   * Yields the first `n` items, then stops the stages upstream and closes
   * the source: an endless source is fine.
   *
   * @throws RangeError if `n` is not an integer >= 0.
   *
   * @example The first three of an endless source
   * ```ts
   * import { flow } from 'weftjs';
   * function* naturals() { for (let i = 0; ; i++) yield i; }
   * await flow(naturals()).map((n) => n * n).take(3).toArray(); // => [0, 1, 4]
   * ```
   * @see Flow.drop
   */
  take(n: number): Flow<T> {
    checkInt(n, 'Flow.take', 'n');
    return this.#then((up, sync, outer) => sliceStage(up, sync, outer, 0, n));
  }

  /**
   * Skips the first `n` items and yields the rest.
   *
   * @throws RangeError if `n` is not an integer >= 0.
   *
   * @example
   * ```ts
   * import { flow } from 'weftjs';
   * await flow([1, 2, 3, 4]).drop(2).toArray(); // => [3, 4]
   * ```
   * @see Flow.take
   */
  drop(n: number): Flow<T> {
    checkInt(n, 'Flow.drop', 'n');
    return this.#then((up, sync, outer) => sliceStage(up, sync, outer, n));
  }

  /**
   * Groups items into arrays of `size` (the last may be shorter). With
   * `maxWaitMs`, a partial batch is emitted as soon as its oldest item has
   * waited that long, so a slow source still makes progress; time comes
   * from `clock` (default: the flow's).
   *
   * **Cancellation**: the pending timer is cancelled whenever the stage ends.
   *
   * @throws RangeError if `size` is not an integer >= 1 or `maxWaitMs` is negative.
   *
   * @example Size, or time, whichever comes first
   * ```ts
   * import { Channel, flow } from 'weftjs';
   * import { TestClock } from 'weftjs/testing';
   * const clock = new TestClock();
   * const ch = new Channel<number>(10);
   * const batches: number[][] = [];
   * const done = flow(ch).batch(3, { maxWaitMs: 100, clock }).forEach((b) => { batches.push(b); });
   * for (const n of [1, 2, 3, 4]) await ch.send(n);
   * await clock.advance(100);
   * batches; // => [[1, 2, 3], [4]]
   * ch.close();
   * await done;
   * ```
   * @see Flow.buffer
   */
  batch(size: number, opts?: { maxWaitMs?: number; clock?: Clock }): Flow<T[]> {
    checkInt(size, 'Flow.batch', 'size', 1);
    checkOpts(opts, 'Flow.batch');
    const maxWaitMs = opts?.maxWaitMs === undefined ? undefined : checkMs(opts.maxWaitMs, 'Flow.batch', 'maxWaitMs');
    const clock = checkClock(opts?.clock, 'Flow.batch', this.#clock);
    return this.#then((up, sync, outer) => batchStage(up, sync, outer, size, maxWaitMs, clock));
  }

  /**
   * Reads up to `n` items ahead of the consumer, so that a slow producer
   * and a slow consumer work at the same time.
   *
   * @throws RangeError if `n` is not an integer >= 1.
   *
   * @example
   * ```ts
   * import { flow } from 'weftjs';
   * await flow([1, 2, 3]).buffer(2).toArray(); // => [1, 2, 3]
   * ```
   * @see Flow.batch
   */
  buffer(n: number): Flow<T> {
    checkInt(n, 'Flow.buffer', 'n', 1);
    return this.#then(
      (up, sync, outer) =>
        new MapEngine<T, T>(up, sync, identity, {
          concurrency: n,
          window: n,
          ordered: true,
          mode: MAP,
          outer,
          op: 'Flow.buffer',
        }),
    );
  }

  /**
   * Lets items through no faster than `limiter` allows: one token per item,
   * waited for with `limiter.wait(1)`.
   *
   * **Cancellation**: the wait is cancelled (its tokens given back) when the
   * flow's signal aborts.
   *
   * @throws TypeError if `limiter` has no `wait` method.
   *
   * @example Ten items a second
   * ```ts
   * import { flow, RateLimiter } from 'weftjs';
   * import { TestClock } from 'weftjs/testing';
   * const clock = new TestClock();
   * const limiter = new RateLimiter({ rate: 10, burst: 1, clock });
   * const out = flow([1, 2, 3]).throttle(limiter).toArray();
   * await clock.runAll();
   * await out; // => [1, 2, 3]
   * clock.now(); // => 200
   * ```
   * @see RateLimiter
   */
  throttle(limiter: RateLimiter): Flow<T> {
    if (limiter === null || typeof limiter !== 'object' || typeof (limiter as RateLimiter).wait !== 'function') {
      throw typeError(`Flow.throttle: \`limiter\` must be a RateLimiter, got ${show(limiter)}`);
    }
    return this.#then((up, sync, outer) => throttleStage(up, sync, outer, limiter));
  }

  /**
   * Runs `fn` on every item, up to `concurrency` at once (default 1), and
   * resolves when all are done. Rejects with the first error of `fn` or of
   * the flow (the other calls' signal aborts), or with the flow signal's
   * reason.
   *
   * @throws TypeError if `fn` is not a function; RangeError if `concurrency` is not an integer >= 1.
   *
   * @example
   * ```ts
   * import { flow } from 'weftjs';
   * let sum = 0;
   * await flow([1, 2, 3]).forEach(async (n) => { sum += n; }, { concurrency: 2 });
   * sum; // => 6
   * ```
   * @see Flow.drain
   */
  forEach(fn: (x: T, signal: AbortSignal) => unknown, opts?: { concurrency?: number }): Promise<void> {
    checkFn(fn, 'Flow.forEach', 'fn');
    const concurrency = checkConcurrency(opts, 'Flow.forEach');
    const [up, sync] = this.#open(this.#signal);
    // After a concurrent stage, `fn` is that stage's sink: a synchronous
    // callback costs no promise per item, an async one is awaited with up
    // to `concurrency` calls at once, the stage's results waiting meanwhile.
    if (up instanceof MapEngine) return (up as MapEngine<unknown, T>).run(fn, concurrency);
    const e = new MapEngine<T, unknown>(up, sync, fn, {
      concurrency,
      window: windowOf(concurrency),
      ordered: false,
      mode: MAP,
      outer: this.#signal,
      op: 'Flow.forEach',
    });
    return consume(e, noop);
  }

  /**
   * Collects every item into an array.
   *
   * @example
   * ```ts
   * import { flow } from 'weftjs';
   * await flow(new Set([1, 2])).toArray(); // => [1, 2]
   * ```
   * @see Flow.reduce
   */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    await consume(this[Symbol.asyncIterator](), (x) => {
      out.push(x);
    });
    return out;
  }

  /**
   * Folds the items into one value, in order: `acc = await fn(acc, x)`,
   * starting from `init`.
   *
   * @throws TypeError if `fn` is not a function.
   *
   * @example
   * ```ts
   * import { flow } from 'weftjs';
   * await flow([1, 2, 3]).reduce((acc, n) => acc + n, 0); // => 6
   * ```
   * @see Flow.toArray
   */
  async reduce<A>(fn: (acc: A, x: T) => A | Promise<A>, init: A): Promise<A> {
    checkFn(fn, 'Flow.reduce', 'fn');
    let acc = init;
    const [up, sync] = this.#open(this.#signal);
    if (up instanceof MapEngine) {
      // A sink of one call at a time: a synchronous fn costs no promise per item.
      const set = (a: A) => {
        acc = a;
      };
      await (up as MapEngine<unknown, T>).run((x) => {
        const v = fn(acc, x);
        if (isThenable(v)) return (v as Promise<A>).then(set);
        acc = v as A;
      }, 1);
      return acc;
    }
    const it = sync ? sliceStage(up, true, this.#signal) : (up as AsyncIterator<T>);
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) return acc;
        const v = fn(acc, r.value);
        acc = isThenable(v) ? await v : (v as A);
      }
    } catch (err) {
      closeUpstream(it);
      throw err;
    }
  }

  /**
   * Counts the items.
   *
   * @example
   * ```ts
   * import { flow } from 'weftjs';
   * await flow('hello').count(); // => 5
   * ```
   * @see Flow.drain
   */
  async count(): Promise<number> {
    let n = 0;
    await consume(this[Symbol.asyncIterator](), () => {
      n++;
    });
    return n;
  }

  /**
   * The first item, or `undefined` for an empty flow; the rest of the flow
   * is stopped and the source closed.
   *
   * @example
   * ```ts
   * import { flow } from 'weftjs';
   * await flow([7, 8, 9]).first(); // => 7
   * await flow([]).first(); // => undefined
   * ```
   * @see Flow.take
   */
  async first(): Promise<T | undefined> {
    const it = this[Symbol.asyncIterator]();
    const r = await it.next();
    if (r.done) return undefined;
    await it.return?.();
    return r.value;
  }

  /**
   * Runs the flow to its end, discarding the items: for flows whose work
   * is in their stages.
   *
   * @example
   * ```ts
   * import { flow } from 'weftjs';
   * const seen: number[] = [];
   * await flow([1, 2, 3]).map((n) => seen.push(n)).drain();
   * seen; // => [1, 2, 3]
   * ```
   * @see Flow.forEach
   */
  drain(): Promise<void> {
    return consume(this[Symbol.asyncIterator](), noop);
  }

  /**
   * Starts the flow and sends its items on a new `Channel` of `capacity`
   * (default 0, unbuffered), closing the channel after the last one: a
   * bridge to `select` and to Go-style consumers. The flow runs as fast as
   * the channel is received from. An error ends the flow and closes the
   * channel as well (use `forEach` where errors matter).
   *
   * **Cancellation**: the flow's signal stops the flow and closes the channel.
   *
   * @throws RangeError if `capacity` is not an integer >= 0.
   *
   * @example
   * ```ts
   * import { flow } from 'weftjs';
   * const ch = flow([1, 2, 3]).map((n) => n * 2).toChannel(1);
   * const got: number[] = [];
   * for await (const n of ch) got.push(n);
   * got; // => [2, 4, 6]
   * ```
   * @see Channel
   */
  toChannel(capacity = 0): Channel<T> {
    const ch = new Channel<T>(capacity);
    const it = this[Symbol.asyncIterator]();
    const opts = this.#signal === undefined ? undefined : { signal: this.#signal };
    const pump = async () => {
      try {
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          await ch.send(r.value, opts);
        }
      } catch {
        // The flow ended with an error, or the channel was closed by its reader: stop the flow.
        closeUpstream(it);
      } finally {
        if (!ch.closed) ch.close();
      }
    };
    pump();
    return ch;
  }
}

function identity<T>(x: T): T {
  return x;
}

/** Runs `it` to its end, calling `each` on every item; a mapping stage hands its results over as they are ready. */
function consume<T>(it: AsyncIterator<T>, each: (x: T) => void): Promise<void> {
  return it instanceof MapEngine ? (it as MapEngine<unknown, T>).run(each) : iterate(it, each);
}

async function iterate<T>(it: AsyncIterator<T>, each: (x: T) => void): Promise<void> {
  try {
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      each(r.value);
    }
  } catch (err) {
    closeUpstream(it);
    throw err;
  }
}

/**
 * Creates a `Flow` over `source`: an array or any iterable, a generator, an
 * async iterable (async generator, `Channel`, Node `Readable`), or a web
 * `ReadableStream` (accepted in the types too, since the DOM typings do not
 * declare it async-iterable; one without `Symbol.asyncIterator` is read
 * through its reader). Nothing is read until the flow is iterated.
 *
 * **Cancellation**: aborting `opts.signal` stops the whole flow and rejects
 * its consumer with the reason (see `Flow`).
 *
 * @throws TypeError if `source` is not an Iterable, AsyncIterable or ReadableStream, or an option has the wrong type.
 *
 * @example Stopping a flow with a signal
 * ```ts
 * import { flow } from 'weftjs';
 * const ac = new AbortController();
 * const seen: number[] = [];
 * const run = flow([1, 2, 3, 4], { signal: ac.signal }).forEach((n) => {
 *   seen.push(n);
 *   if (n === 2) ac.abort(new Error('enough'));
 * });
 * (await run.catch((e) => e.message)); // => 'enough'
 * seen; // => [1, 2]
 * ```
 * @see Flow
 */
export function flow<T>(
  source: Iterable<T> | AsyncIterable<T> | ReadableStream<T>,
  opts?: FlowOptions,
): Flow<Awaited<T>> {
  return new Flow(source as Iterable<Awaited<T>>, opts);
}

/**
 * Fan-in: one flow of the items of all `sources`, read at the same time,
 * each yielded as soon as it is ready. Each source's own order is kept;
 * at most one item per source waits to be taken. An error in any source
 * stops the others and closes them.
 *
 * @throws TypeError if a source is not an Iterable, AsyncIterable or ReadableStream.
 *
 * @example
 * ```ts
 * import { merge } from 'weftjs';
 * const out = await merge([1, 2], ['a', 'b']).toArray(); // a Flow<number | string>
 * out.filter((x) => typeof x === 'number'); // => [1, 2]
 * out.length; // => 4
 * ```
 * @see fanOut
 */
export function merge<T>(...sources: (Iterable<T> | AsyncIterable<T> | ReadableStream<T>)[]): Flow<T>;
// Sources of different item types: the flow's items are their union.
export function merge<S extends (Iterable<unknown> | AsyncIterable<unknown> | ReadableStream<unknown>)[]>(
  ...sources: S
): Flow<ItemOf<S[number]>>;
export function merge<T>(...sources: (Iterable<T> | AsyncIterable<T> | ReadableStream<T>)[]): Flow<T> {
  for (let i = 0; i < sources.length; i++) checkSource(sources[i], 'merge', `sources[${i}]`);
  const syncs = sources.map(isSyncSource);
  return new Flow<T>(
    new Derived<T>((outer) => [new MergeIter<T>(sources as Source<T>[], syncs, outer), false]) as unknown as Source<T>,
  );
}

/**
 * Fan-out: `n` flows that compete for the items of one `source`: each item
 * goes to exactly one of them, whichever asks first (Go's several
 * goroutines reading one channel). The source is read once, one item at a
 * time, and closed when every flow has stopped.
 *
 * @throws TypeError if `source` is not iterable; RangeError if `n` is not an integer >= 1.
 *
 * @example Three workers share the jobs
 * ```ts
 * import { fanOut, merge } from 'weftjs';
 * const workers = fanOut([1, 2, 3, 4, 5, 6], 3).map((w, i) => w.map((n) => `${i}:${n}`));
 * const all = await merge(...workers).toArray();
 * all.length; // => 6
 * ```
 * @see merge
 */
export function fanOut<T, N extends number = number>(
  source: Iterable<T> | AsyncIterable<T> | ReadableStream<T>,
  n: N,
): Flows<T, N> {
  checkSource(source, 'fanOut');
  checkInt(n, 'fanOut', 'n', 1);
  return branches(source as Source<T>, n, 0) as Flows<T, N>;
}

/**
 * Tee: `n` flows (default 2) that each see every item of `source`, in
 * order. The source is read once; the slowest flow sets the pace, the
 * fastest running at most 16 items ahead of it. A flow that stops early
 * no longer holds the others back; the source is closed when all stop.
 *
 * @throws TypeError if `source` is not iterable; RangeError if `n` is not an integer >= 1.
 *
 * @example
 * ```ts
 * import { tee } from 'weftjs';
 * const [a, b] = tee([1, 2, 3]);
 * await Promise.all([a.toArray(), b.map((n) => n * 10).toArray()]); // => [[1, 2, 3], [10, 20, 30]]
 * ```
 * @see fanOut
 */
export function tee<T, N extends number = 2>(
  source: Iterable<T> | AsyncIterable<T> | ReadableStream<T>,
  n: N = 2 as N,
): Flows<T, N> {
  checkSource(source, 'tee');
  checkInt(n, 'tee', 'n', 1);
  return branches(source as Source<T>, n, TEE_LAG) as Flows<T, N>;
}

const TEE_LAG = 16;

/** The item type of a flow source. */
export type ItemOf<S> =
  S extends AsyncIterable<infer T>
    ? T
    : S extends Iterable<infer T>
      ? T
      : S extends ReadableStream<infer T>
        ? T
        : never;

/**
 * The flows of `fanOut` and `tee`: a tuple of `N` flows when `N` is a
 * number literal (so `const [a, b] = tee(src)` types both as defined, also
 * under `noUncheckedIndexedAccess`), an array otherwise.
 */
export type Flows<T, N extends number> = number extends N ? Flow<T>[] : FlowTuple<T, N, []>;
type FlowTuple<T, N extends number, R extends Flow<T>[]> = R['length'] extends N ? R : FlowTuple<T, N, [...R, Flow<T>]>;

function branches<T>(source: Source<T>, n: number, lag: number): Flow<T>[] {
  const shared = new Shared<T>(source, isSyncSource(source), n, lag);
  return Array.from(
    { length: n },
    (_, i) => new Flow<T>({ [Symbol.asyncIterator]: () => new Branch<T>(shared, i) } as AsyncIterable<T>),
  );
}

/**
 * Go's or-done: iterates `source` until `signal` aborts, then ends quietly
 * (`{ done: true }`, no error) and calls `source.return()`, even while a
 * `next()` is waiting. Use it to stop ranging over a channel that may
 * never close. (`flow(source, { signal })` rejects with the reason instead.)
 *
 * @throws TypeError if `source` is not an AsyncIterable or `signal` not an AbortSignal.
 *
 * @example
 * ```ts
 * import { Channel, orDone } from 'weftjs';
 * const ch = new Channel<number>(4);
 * await ch.send(1);
 * const ac = new AbortController();
 * const got: number[] = [];
 * for await (const n of orDone(ch, ac.signal)) {
 *   got.push(n);
 *   ac.abort();
 * }
 * got; // => [1]
 * ```
 * @see flow
 */
export function orDone<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncIterable<T> {
  if (source === null || typeof (source as AsyncIterable<T>)?.[Symbol.asyncIterator] !== 'function') {
    throw typeError(`orDone: \`source\` must be an AsyncIterable, got ${show(source)}`);
  }
  checkRequiredSignal(signal, 'orDone');
  return {
    [Symbol.asyncIterator]: () => {
      const src = new SourceIter<T>(source[Symbol.asyncIterator](), signal);
      const quiet = (err: unknown): IteratorResult<T> => {
        if (!signal.aborted) throw err;
        src.return();
        return { done: true, value: undefined };
      };
      return {
        next: () => (signal.aborted ? src.return() : src.next().then(undefined, quiet)),
        return: () => src.return(),
      };
    },
  };
}
