/**
 * The FIFO of calls waiting for permits (`Semaphore`, `Mutex`), kept in one
 * growable ring of slots rather than a linked list of nodes.
 *
 * A call that can never be aborted (no signal) is queued as three slots —
 * its function, the resolver of its grant and its weight — and costs no
 * object of its own; while `weft/testing` tracks leaks, its resolver is
 * the key of its registry entry, so a tracked queue is the queue users run. A call with a signal is queued
 * as its `Waiter`, which must be removable from the middle when the signal
 * aborts: it is removed lazily (it leaves the count at once and its slots
 * are skipped when they reach the head), and the ring is compacted when
 * removed entries outnumber live ones, so that waiters that keep timing out
 * behind a permit that is never given back cannot grow it without bound.
 *
 * Why not nodes: with a million calls queued, every node is an object the
 * young-generation collector copies (twice) before it is promoted; a large
 * ring is one array in large-object space that it does not copy.
 */
import { registry, track, untrack } from './registry.js';
import type { Linked, Waiter, WaiterHome } from './waiter.js';

// A module-local binding: read on every operation, it is cheaper than the import's.
const reg = registry;

/** Slots per entry: fn or waiter, resolve, weight. */
const STRIDE = 3;
/** Removed entries tolerated before compaction is considered. */
const COMPACT_MIN = 64;
/**
 * A ring of more than this many entries (2 MiB of slots) is replaced by a
 * small one when it empties. Smaller ones are kept: giving back and growing
 * again a ring that bursts of thousands fill each time costs more than it saves.
 */
const SHRINK_ABOVE = 65_536;

export class PermitQueue implements WaiterHome {
  #slots: unknown[];
  /** Capacity in entries, minus one (capacity is a power of two). */
  #mask: number;
  /** Entry index of the first entry held, live or removed. */
  #first = 0;
  /** Entries held, live or removed. */
  #held = 0;
  /** Entries removed but still held. */
  #removed = 0;
  /** Live entries: calls waiting. */
  length = 0;
  onAbort: ((waiter: Waiter<any>, wasHead: boolean) => void) | undefined = undefined;

  // What `take` took: a waiter, or a function with the resolver of its grant.
  waiter: Waiter<any> | null = null;
  fn: (() => unknown) | null = null;
  resolve: ((value: unknown) => void) | null = null;
  weight = 0;

  constructor(capacity = 16) {
    this.#slots = new Array(capacity * STRIDE);
    this.#mask = capacity - 1;
  }

  /** Entries the ring can hold before it grows: the seam of the tests that check it stays bounded. */
  get capacity(): number {
    return this.#mask + 1;
  }

  /** Queues a call that cannot abort, granted through `resolve`; `op` names it in leak reports. */
  pushCall(fn: () => unknown, resolve: (value: any) => void, weight: number, op: string): void {
    if (reg.active !== 0) track(resolve, 'waiter', op);
    const i = this.#slot();
    const s = this.#slots;
    s[i] = fn;
    s[i + 1] = resolve;
    s[i + 2] = weight;
  }

  /** Queues a waiter (removable by `remove` when its signal aborts). */
  pushWaiter(w: Waiter<any> & Linked, weight: number): void {
    w.queue = this;
    const i = this.#slot();
    const s = this.#slots;
    s[i] = w;
    s[i + 1] = undefined;
    s[i + 2] = weight;
  }

  /** The weight of the first live entry, or -1 when none waits. */
  headWeight(): number {
    if (this.length === 0) return -1;
    this.#skipRemoved();
    return this.#slots[this.#first * STRIDE + 2] as number;
  }

  /** The first live entry's waiter, or its function; null when none waits. */
  get head(): unknown {
    if (this.length === 0) return null;
    this.#skipRemoved();
    return this.#slots[this.#first * STRIDE];
  }

  /**
   * Takes the first live entry into `waiter` (with `fn` null) or into `fn`
   * and `resolve` (with `waiter` null), and its `weight`. The caller
   * checked that one waits.
   */
  take(): void {
    this.#skipRemoved();
    const s = this.#slots;
    const i = this.#first * STRIDE;
    const head = s[i];
    this.weight = s[i + 2] as number;
    if (typeof head === 'function') {
      this.waiter = null;
      this.fn = head as () => unknown;
      this.resolve = s[i + 1] as (value: unknown) => void;
      if (reg.active !== 0) untrack(this.resolve);
    } else {
      const w = head as Waiter<any> & Linked;
      w.queue = null;
      this.waiter = w;
      this.fn = this.resolve = null;
    }
    s[i] = s[i + 1] = undefined;
    this.#first = (this.#first + 1) & this.#mask;
    this.#held--;
    this.length--;
    // After a burst, give the large ring back.
    if (this.#held === 0 && this.#mask >= SHRINK_ABOVE) {
      this.#slots = new Array(16 * STRIDE);
      this.#mask = 15;
      this.#first = 0;
    }
  }

  /** Forgets what `take` took, so that the queue keeps nothing alive. */
  clearTaken(): void {
    this.waiter = null;
    this.fn = this.resolve = null;
  }

  /** Removes waiter `node` if it waits here (its signal aborted); returns whether it did. */
  remove(node: Linked): boolean {
    if (node.queue !== this) return false;
    node.queue = null;
    this.length--;
    this.#removed++;
    if (this.#removed > COMPACT_MIN && this.#removed > this.length) this.#compact();
    return true;
  }

  // A live waiter's `queue` is this queue; a removed one's is null.
  #isRemoved(entry: unknown): boolean {
    return typeof entry !== 'function' && (entry as Linked).queue !== this;
  }

  #skipRemoved(): void {
    const s = this.#slots;
    for (;;) {
      const i = this.#first * STRIDE;
      if (!this.#isRemoved(s[i])) return;
      s[i] = s[i + 2] = undefined;
      this.#first = (this.#first + 1) & this.#mask;
      this.#held--;
      this.#removed--;
    }
  }

  /** Index of a new entry's first slot at the tail, growing the ring when full. */
  #slot(): number {
    if (this.#held > this.#mask) this.#resize((this.#mask + 1) * 2, false);
    const i = ((this.#first + this.#held) & this.#mask) * STRIDE;
    this.#held++;
    this.length++;
    return i;
  }

  #compact(): void {
    this.#resize(this.#mask + 1, true);
  }

  /** Copies the held entries (without removed ones, if `dropRemoved`) into a ring of `capacity` entries. */
  #resize(capacity: number, dropRemoved: boolean): void {
    const old = this.#slots;
    const mask = this.#mask;
    const next = new Array(capacity * STRIDE);
    let n = 0;
    for (let k = 0; k < this.#held; k++) {
      const i = ((this.#first + k) & mask) * STRIDE;
      if (dropRemoved && this.#isRemoved(old[i])) continue;
      const j = n * STRIDE;
      next[j] = old[i];
      next[j + 1] = old[i + 1];
      next[j + 2] = old[i + 2];
      n++;
    }
    if (dropRemoved) this.#removed = 0;
    this.#slots = next;
    this.#mask = capacity - 1;
    this.#first = 0;
    this.#held = n;
  }
}
