/**
 * Package syncmap provides a map with Go's `sync.Map` operations, plus an
 * asynchronous compute-if-absent that runs once per key at a time.
 */
import { signalOf } from './internal/abort.js';
import { isThenable } from './internal/promise.js';
import { checkFn } from './internal/validate.js';
import { Waiter } from './internal/waiter.js';

/**
 * One running `loadOrCompute` for a key: its result, and the callers
 * waiting for it. `compute`'s signal aborts when the last caller that can
 * leave (one with a signal) has left and none without a signal waits.
 */
class Computation<V> {
  readonly controller = new AbortController();
  promise!: Promise<V>;
  /** Callers without a signal: they never leave. */
  #stay = 0;
  /** Callers with a signal still waiting. */
  #leaving = 0;

  join(signal: AbortSignal | undefined): Promise<V> {
    if (signal === undefined) {
      this.#stay++;
      return this.promise;
    }
    this.#leaving++;
    const w = new ComputeCaller<V>(signal, this);
    this.promise.then(
      (v) => w.settle(v),
      (err) => w.fail(err),
    );
    return w.promise;
  }

  /** A caller with a signal left; the last one out aborts the computation. */
  left(reason: unknown): void {
    if (--this.#leaving === 0 && this.#stay === 0) this.controller.abort(reason);
  }
}

class ComputeCaller<V> extends Waiter<V> {
  readonly #computation: Computation<V>;
  constructor(signal: AbortSignal, computation: Computation<V>) {
    super('SyncMap.loadOrCompute', signal);
    this.#computation = computation;
  }
  override handleEvent(): void {
    if (this.settled) return;
    super.handleEvent();
    this.#computation.left(this.signal!.reason);
  }
}

/** What `SyncMap.loadOrStore` returns. */
export interface LoadOrStoreResult<V> {
  /** The value now stored: the existing one if `loaded`, else the one given. */
  value: V;
  /** True if the key was present. */
  loaded: boolean;
}

/** What `SyncMap.loadAndDelete` returns. */
export interface LoadAndDeleteResult<V> {
  /** The value that was stored, if any. */
  value: V | undefined;
  /** True if the key was present. */
  loaded: boolean;
}

/** What `SyncMap.swap` returns. */
export interface SwapResult<V> {
  /** The value that was stored, if any. */
  previous: V | undefined;
  /** True if the key was present. */
  loaded: boolean;
}

// Go's `==` for the compare-and-* operations, with NaN equal to itself as
// in Map keys (SameValueZero).
function same(a: unknown, b: unknown): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

/**
 * A map with the names and semantics of Go's `sync.Map` (`load`, `store`,
 * `loadOrStore`, `loadAndDelete`, `swap`, `compareAndSwap`, ...), plus
 * `loadOrCompute(key, compute)`, an asynchronous compute-if-absent that
 * runs one `compute` per key at a time and shares it with concurrent
 * callers: the cache-stampede guard that an `async` loader needs.
 *
 * JavaScript runs one task at a time, so each synchronous operation is
 * atomic; what needs care is the asynchronous gap of a computation, which
 * `loadOrCompute` covers. Keys are compared as `Map` keys are.
 *
 * @example Go's operations
 * ```ts
 * import { SyncMap } from 'weftjs';
 * const m = new SyncMap<string, number>();
 * m.store('a', 1);
 * m.loadOrStore('a', 2); // => { value: 1, loaded: true }
 * m.loadOrStore('b', 2); // => { value: 2, loaded: false }
 * m.compareAndSwap('a', 1, 10); // => true
 * m.swap('a', 11); // => { previous: 10, loaded: true }
 * m.loadAndDelete('b'); // => { value: 2, loaded: true }
 * m.size; // => 1
 * ```
 * @example One computation per key
 * ```ts
 * import { SyncMap } from 'weftjs';
 * const users = new SyncMap<number, { id: number }>();
 * let queries = 0;
 * const fetchUser = async (id: number) => {
 *   queries++;
 *   await new Promise((r) => setTimeout(r, 1));
 *   return { id };
 * };
 * const got = await Promise.all([1, 1, 1, 2].map((id) => users.loadOrCompute(id, fetchUser)));
 * got; // => [{ id: 1 }, { id: 1 }, { id: 1 }, { id: 2 }]
 * queries; // => 2
 * users.load(1); // => { id: 1 }
 * ```
 * @see Singleflight
 * @see onceValue
 */
export class SyncMap<K, V> {
  readonly #map = new Map<K, V>();
  /** Computations in flight, by key. */
  readonly #computing = new Map<K, Computation<V>>();

  /** Entries stored now (computations in flight not counted). */
  get size(): number {
    return this.#map.size;
  }

  /**
   * Returns the value stored for `key`, or `undefined`. When `undefined`
   * may be a stored value, the `loaded` flag of `loadOrStore`, `swap` or
   * `loadAndDelete` tells presence apart.
   *
   * @example Present and absent keys
   * ```ts
   * import { SyncMap } from 'weftjs';
   * const m = new SyncMap<string, number>();
   * m.load('x'); // => undefined
   * m.store('x', 1);
   * m.load('x'); // => 1
   * ```
   * @see SyncMap.store
   */
  load(key: K): V | undefined {
    return this.#map.get(key);
  }

  /**
   * Stores `value` for `key`.
   *
   * @example Storing a value
   * ```ts
   * import { SyncMap } from 'weftjs';
   * const m = new SyncMap<string, string>();
   * m.store('k', 'v');
   * m.load('k'); // => 'v'
   * ```
   * @see SyncMap.load
   */
  store(key: K, value: V): void {
    this.#map.set(key, value);
  }

  /**
   * Returns the value stored for `key` if there is one (`loaded: true`);
   * otherwise stores `value` and returns it (`loaded: false`).
   *
   * @example The first store wins
   * ```ts
   * import { SyncMap } from 'weftjs';
   * const m = new SyncMap<string, number>();
   * m.loadOrStore('n', 1); // => { value: 1, loaded: false }
   * m.loadOrStore('n', 2); // => { value: 1, loaded: true }
   * ```
   * @see SyncMap.loadOrCompute
   */
  loadOrStore(key: K, value: V): LoadOrStoreResult<V> {
    const map = this.#map;
    if (map.has(key)) return { value: map.get(key) as V, loaded: true };
    map.set(key, value);
    return { value, loaded: false };
  }

  /**
   * Deletes `key`, returning the value it had, if any.
   *
   * @example Taking a value out
   * ```ts
   * import { SyncMap } from 'weftjs';
   * const m = new SyncMap<string, number>();
   * m.store('n', 1);
   * m.loadAndDelete('n'); // => { value: 1, loaded: true }
   * m.loadAndDelete('n'); // => { value: undefined, loaded: false }
   * ```
   * @see SyncMap.delete
   */
  loadAndDelete(key: K): LoadAndDeleteResult<V> {
    const map = this.#map;
    if (!map.has(key)) return { value: undefined, loaded: false };
    const value = map.get(key);
    map.delete(key);
    return { value, loaded: true };
  }

  /**
   * Deletes `key` (nothing happens if it is absent). A computation in
   * flight for `key` is not stopped.
   *
   * @example Deleting a key
   * ```ts
   * import { SyncMap } from 'weftjs';
   * const m = new SyncMap<string, number>();
   * m.store('n', 1);
   * m.delete('n');
   * m.size; // => 0
   * ```
   * @see SyncMap.loadAndDelete
   */
  delete(key: K): void {
    this.#map.delete(key);
  }

  /**
   * Stores `value` for `key` and returns the value it replaced, if any.
   *
   * @example Replacing a value
   * ```ts
   * import { SyncMap } from 'weftjs';
   * const m = new SyncMap<string, number>();
   * m.swap('n', 1); // => { previous: undefined, loaded: false }
   * m.swap('n', 2); // => { previous: 1, loaded: true }
   * ```
   * @see SyncMap.compareAndSwap
   */
  swap(key: K, value: V): SwapResult<V> {
    const map = this.#map;
    const loaded = map.has(key);
    const previous = map.get(key);
    map.set(key, value);
    return { previous, loaded };
  }

  /**
   * Stores `value` for `key` if the value stored for it is `old` (compared
   * with `===`, NaN equal to itself); returns whether it did.
   *
   * @example Only from the expected value
   * ```ts
   * import { SyncMap } from 'weftjs';
   * const m = new SyncMap<string, number>();
   * m.store('n', 1);
   * m.compareAndSwap('n', 2, 3); // => false
   * m.compareAndSwap('n', 1, 3); // => true
   * m.load('n'); // => 3
   * ```
   * @see SyncMap.compareAndDelete
   */
  compareAndSwap(key: K, old: V, value: V): boolean {
    const map = this.#map;
    if (!map.has(key) || !same(map.get(key), old)) return false;
    map.set(key, value);
    return true;
  }

  /**
   * Deletes `key` if the value stored for it is `old` (compared with `===`,
   * NaN equal to itself); returns whether it did.
   *
   * @example Only the expected value
   * ```ts
   * import { SyncMap } from 'weftjs';
   * const m = new SyncMap<string, number>();
   * m.store('n', 1);
   * m.compareAndDelete('n', 2); // => false
   * m.compareAndDelete('n', 1); // => true
   * m.size; // => 0
   * ```
   * @see SyncMap.compareAndSwap
   */
  compareAndDelete(key: K, old: V): boolean {
    const map = this.#map;
    if (!map.has(key) || !same(map.get(key), old)) return false;
    map.delete(key);
    return true;
  }

  /**
   * Calls `fn(key, value)` for each entry in insertion order, stopping
   * when it returns `false` (Go's `Range`). Entries stored during the range
   * may or may not be visited; deleted ones are not.
   *
   * @throws TypeError at once if `fn` is not a function.
   * @example Stopping early
   * ```ts
   * import { SyncMap } from 'weftjs';
   * const m = new SyncMap<string, number>();
   * m.store('a', 1);
   * m.store('b', 2);
   * m.store('c', 3);
   * const seen: string[] = [];
   * m.range((k) => { seen.push(k); return k !== 'b'; });
   * seen; // => ['a', 'b']
   * ```
   * @see SyncMap.size
   */
  range(fn: (key: K, value: V) => boolean | void): void {
    checkFn(fn, 'SyncMap.range', 'fn');
    for (const [k, v] of this.#map) if (fn(k, v) === false) return;
  }

  /**
   * Deletes every entry (Go's `Clear`). Computations in flight are not
   * stopped.
   *
   * @example Emptying the map
   * ```ts
   * import { SyncMap } from 'weftjs';
   * const m = new SyncMap<string, number>();
   * m.store('a', 1);
   * m.clear();
   * m.size; // => 0
   * ```
   * @see SyncMap.delete
   */
  clear(): void {
    this.#map.clear();
  }

  /**
   * Resolves with the value stored for `key`; if there is none, calls
   * `compute(key)`, stores its value and resolves with it. Calls for a key
   * made while its computation runs share it: one `compute` per key at a
   * time.
   *
   * A `compute` that throws or rejects stores nothing and rejects every
   * caller that shares it with its error; the next call computes again. If
   * a value is stored for `key` while `compute` runs (by `store`,
   * `loadOrStore`...), that value wins and is what the callers get, as
   * with `loadOrStore`. Deleting `key` meanwhile does not stop `compute`.
   * With a value present, resolves at once; a `compute` that returns a
   * plain value stores it at once.
   *
   * **Cancellation**: when `opts.signal` aborts, this caller stops
   * waiting and rejects with `signal.reason`, leaving nothing behind.
   * `compute` receives a signal of its own that aborts once every caller
   * waiting for it has gone (as `Singleflight`'s), with the last one's
   * reason; a caller without a signal never goes. An already-aborted signal
   * rejects a call that would wait.
   *
   * Rejects with `compute`'s error as it is.
   * @throws TypeError at once if `compute` is not a function.
   * @example A failed computation is not cached
   * ```ts
   * import { SyncMap } from 'weftjs';
   * const m = new SyncMap<string, number>();
   * let tries = 0;
   * const flaky = async () => {
   *   if (++tries === 1) throw new Error('timeout');
   *   return 42;
   * };
   * await m.loadOrCompute('answer', flaky).catch((err: Error) => err.message); // => 'timeout'
   * m.size; // => 0
   * await m.loadOrCompute('answer', flaky); // => 42
   * await m.loadOrCompute('answer', flaky); // => 42
   * tries; // => 2
   * ```
   * @see SyncMap.loadOrStore
   * @see Singleflight
   */
  loadOrCompute(
    key: K,
    compute: (key: K, signal: AbortSignal) => V | Promise<V>,
    opts?: { signal?: AbortSignal },
  ): Promise<V> {
    const op = 'SyncMap.loadOrCompute';
    if (typeof compute !== 'function') checkFn(compute, op, 'compute');
    const signal = signalOf(opts, op);
    const map = this.#map;
    if (map.has(key)) return Promise.resolve(map.get(key) as V);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const running = this.#computing.get(key);
    if (running !== undefined) return running.join(signal);
    const computation = new Computation<V>();
    let result: V | Promise<V>;
    try {
      result = compute(key, computation.controller.signal);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!isThenable(result)) return Promise.resolve(this.loadOrStore(key, result).value);
    const computing = this.#computing;
    computation.promise = Promise.resolve(result).then(
      (value) => {
        computing.delete(key);
        return this.loadOrStore(key, value).value;
      },
      (err) => {
        computing.delete(key);
        throw err;
      },
    );
    computing.set(key, computation);
    return computation.join(signal);
  }
}
