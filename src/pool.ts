/**
 * Package pool keeps costly objects for reuse, after Go's `sync.Pool`:
 * buffers, parsers, encoders that are cheaper to reset than to make.
 */
import { checkFn, checkInt, checkOptFn, show, typeError } from './internal/validate.js';

/** Options of `new Pool()`. */
export interface PoolOptions<T> {
  /** Makes a new item when the pool is empty (Go's `New`). */
  create: () => T;
  /** Readies an item for its next user; called by `put` on the items the pool keeps. */
  reset?: (item: T) => void;
  /** The most idle items kept (default `Infinity`); `put` drops items beyond it. */
  max?: number;
}

/**
 * A pool of reusable items, as Go's `sync.Pool`: `get()` returns an idle
 * item, or a new one from `create()` when none is idle; `put(item)` resets
 * it and keeps it for the next `get()`.
 *
 * The pool never waits and never bounds how many items exist, only how
 * many idle ones it keeps (`max`): it saves allocations, it is not a
 * resource limit (use a `Semaphore` for that). Items are reused last in,
 * first out, so the warmest one goes out first. Unlike Go's pool, idle
 * items are not dropped by the garbage collector: `max` bounds them.
 *
 * @throws TypeError at once if `create` or `reset` is not a function; RangeError if `max` is not an integer >= 0 or `Infinity`.
 * @example Reusing buffers
 * ```ts
 * import { Pool } from 'weftjs';
 * let made = 0;
 * const buffers = new Pool({
 *   create: () => { made++; return [] as string[]; },
 *   reset: (b) => { b.length = 0; },
 *   max: 8,
 * });
 * const a = buffers.get();
 * a.push('hello');
 * buffers.put(a);
 * const b = buffers.get();
 * b === a; // => true
 * b.length; // => 0
 * made; // => 1
 * ```
 * @see Semaphore
 */
export class Pool<T> {
  readonly #create: () => T;
  readonly #reset: ((item: T) => void) | undefined;
  readonly #max: number;
  readonly #items: T[] = [];

  constructor(opts: PoolOptions<T>) {
    if (opts === null || typeof opts !== 'object')
      throw typeError(`Pool: \`opts\` must be an object, got ${show(opts)}`);
    this.#create = checkFn(opts.create, 'Pool', 'create');
    this.#reset = checkOptFn(opts.reset, 'Pool', 'reset');
    this.#max =
      opts.max === undefined
        ? Number.POSITIVE_INFINITY
        : checkInt(opts.max, 'Pool', 'max', 0, Number.POSITIVE_INFINITY);
  }

  /** Idle items in the pool now. */
  get size(): number {
    return this.#items.length;
  }

  /**
   * Takes an idle item, or makes one with `create()` if none is idle.
   * An error thrown by `create` propagates.
   *
   * @example A new item when empty
   * ```ts
   * import { Pool } from 'weftjs';
   * const pool = new Pool({ create: () => ({ id: Math.random() }) });
   * pool.size; // => 0
   * const item = pool.get();
   * pool.put(item);
   * pool.get() === item; // => true
   * ```
   * @see Pool.put
   */
  get(): T {
    return this.#items.length !== 0 ? this.#items.pop()! : this.#create();
  }

  /**
   * Gives an item back: unless `max` idle items are kept already (the item
   * is then dropped), `reset(item)` is called and the item kept for reuse.
   * An error thrown by `reset` propagates, and the item is not kept.
   *
   * @example Beyond max, items are dropped
   * ```ts
   * import { Pool } from 'weftjs';
   * const pool = new Pool({ create: () => new Uint8Array(1024), max: 1 });
   * pool.put(pool.get());
   * pool.put(new Uint8Array(1024));
   * pool.size; // => 1
   * ```
   * @see Pool.get
   */
  put(item: T): void {
    if (this.#items.length >= this.#max) return;
    this.#reset?.(item);
    this.#items.push(item);
  }
}
