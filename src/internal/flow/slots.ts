/**
 * Slots: what a pool lends the mapping engines (`engine.ts`) that run its
 * maps, and `SlotPool`, the one implementation weft has, which
 * `WorkerPool` is a thin public layer over.
 *
 * A pool has `concurrency` numbered slots. Work runs on a slot: a job the
 * pool runs itself, or one item of a map, run by one of the map's loops.
 * Whatever waits for a slot waits in one FIFO queue — jobs and maps (by
 * their `Feeder` node) side by side — so map and submit share the slots
 * fairly. A map's loop holds a slot across items and gives it back when
 * `shouldYield` says so, or when its window is full.
 */
import { type Linked, Waiter, WaitQueue } from '../waiter.js';

/** A map as its pool sees it: the node it queues by, and how it is handed a slot. */
export interface Mapper {
  readonly link: Feeder;
  /** The pool gives the map a slot it queued for; the map must `release` it if it has no use for it. */
  grant(slot: number): void;
  /** The pool's concurrency changed, or it resumed: the map may start more loops. */
  wake(): void;
}

/** The node by which a map waits in its pool's queue for a slot. */
export class Feeder implements Linked {
  prev: Linked | null = null;
  next: Linked | null = null;
  queue: WaitQueue<any> | null = null;
  constructor(readonly mapper: Mapper) {}
}

/**
 * What an engine needs of a pool of slots. An implementation guarantees:
 * - slots are the integers 0 to `concurrency - 1`, and no slot is lent to
 *   two holders at once;
 * - `take` lends a slot only when nothing queued is ahead of the map and
 *   the pool may start work now (not paused, not closed, fewer than
 *   `concurrency` slots lent): FIFO across jobs and maps;
 * - after `request`, `grant` is called once, with a slot lent to the map,
 *   unless `unqueue` or `detach` came first; it may be called from inside
 *   `release`, synchronously;
 * - `concurrency`, `paused` and `queue.length` are current whenever a loop
 *   reads them, so that a loop can rule out `shouldYield` without a call;
 * - `completed`, `failed` and `canceled` are the pool's own counters,
 *   which loops increment for the items they run (an item that fails once
 *   its map has stopped, aborted or broken off, is `canceled`).
 */
export interface Slots {
  /** The public object the pool is (a `WorkerPool`), as diagnostics subscribers see it. */
  readonly owner: object;
  /** Slots lent now. */
  readonly running: number;
  /** Jobs waiting for a slot (not counting maps that ask for one more). */
  readonly queued: number;
  readonly concurrency: number;
  readonly paused: boolean;
  /** What waits for a slot: queued jobs, and maps asking for one more. */
  readonly queue: { readonly length: number };
  completed: number;
  failed: number;
  canceled: number;
  /** A free slot for `m`, or -1 (none free, paused, closed, or others queued first). */
  take(m: Mapper): number;
  /** Queues `m` for a slot. */
  request(m: Mapper): void;
  /** Takes `m` out of the queue (it asks again later). */
  unqueue(m: Mapper): void;
  /** Takes `m` out of the queue and forgets it: the map is over. */
  detach(m: Mapper): void;
  /** True when the holder of `slot` should give it back: the pool is paused, closed or shrank, or others wait. */
  shouldYield(slot: number, m: Mapper): boolean;
  /** Gives `slot` back; the pool may lend it again at once. */
  release(slot: number): void;
}

/**
 * The pool's lifecycle: OPEN -> DRAINING (closed, work still running) ->
 * CLOSED (nothing runs; nothing will).
 */
export const OPEN = 0;
export const DRAINING = 1;
export const CLOSED = 2;
export type PoolState = typeof OPEN | typeof DRAINING | typeof CLOSED;

/**
 * `concurrency` numbered slots and the FIFO of what waits for them. A
 * subclass says how a queued job runs once it has a slot (`runQueued`),
 * and counts its jobs; the maps are counted here.
 */
export abstract class SlotPool implements Slots {
  concurrency: number;
  paused = false;
  readonly queue = new WaitQueue<Linked>();
  completed = 0;
  failed = 0;
  canceled = 0;
  /** Slots lent now. */
  running = 0;
  state: PoolState = OPEN;
  /** The maps running on the pool (started and not over). */
  readonly mappers = new Set<Mapper>();
  readonly #free: number[] = [];
  readonly #busy: boolean[] = [];
  readonly #idle = new WaitQueue<Waiter<void>>();
  #dispatching = false;

  constructor(
    concurrency: number,
    readonly owner: object,
  ) {
    this.concurrency = concurrency;
    this.#rebuildFree();
  }

  /** Jobs waiting for a slot; the subclass knows its jobs. */
  abstract readonly queued: number;

  /** Starts queued job `node` on `slot` (lent to it already). */
  protected abstract runQueued(node: Linked, slot: number): void;

  /** True when no slot is lent and no job waits; the subclass knows its jobs. */
  protected abstract isIdle(): boolean;

  /** The pool went idle (`isIdle()` became true). */
  protected onIdle(): void {}

  /** Whether work may start now, queue aside. */
  canRun(): boolean {
    return !this.paused && this.running < this.concurrency && this.state !== CLOSED;
  }

  /** Lends the lowest free slot. Precondition: `canRun()`. */
  takeSlot(): number {
    const slot = this.#free.pop()!;
    this.#busy[slot] = true;
    this.running++;
    return slot;
  }

  take(_m: Mapper): number {
    return this.queue.length === 0 && this.canRun() ? this.takeSlot() : -1;
  }

  request(m: Mapper): void {
    this.queue.push(m.link);
  }

  unqueue(m: Mapper): void {
    this.queue.remove(m.link);
  }

  detach(m: Mapper): void {
    this.queue.remove(m.link);
    this.mappers.delete(m);
  }

  shouldYield(slot: number, m: Mapper): boolean {
    return (
      this.paused ||
      this.state === CLOSED ||
      slot >= this.concurrency ||
      // The map's own request, if it has one queued, does not count.
      this.queue.length > (m.link.queue === null ? 0 : 1)
    );
  }

  release(slot: number): void {
    this.#busy[slot] = false;
    this.running--;
    if (slot < this.concurrency) this.#free.push(slot);
    this.dispatch();
    this.checkIdle();
  }

  /** Sets the number of slots: slot numbers stay below it; lent slots above it come back as they are released. */
  resize(concurrency: number): void {
    this.concurrency = concurrency;
    this.#rebuildFree();
    this.wakeAll();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wakeAll();
  }

  /** Resolves when the pool is idle; `op` names the wait in leak reports; `signal` (not aborted) stops it. */
  whenIdle(op: string, signal: AbortSignal | undefined): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    const w = new Waiter<void>(op, signal);
    this.#idle.push(w);
    return w.promise;
  }

  /** Serves the queue from the head while slots are free: a job runs, a map gets a slot for its next item. */
  dispatch(): void {
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      while (this.queue.length > 0 && this.canRun()) {
        const node = this.queue.shift()!;
        const slot = this.takeSlot();
        if (node instanceof Feeder) node.mapper.grant(slot);
        else this.runQueued(node, slot);
      }
    } finally {
      this.#dispatching = false;
    }
  }

  /** Serves the queue and lets every map start what it now can. */
  wakeAll(): void {
    this.dispatch();
    for (const m of this.mappers) m.wake();
  }

  /** Settles `whenIdle` waiters and finishes a drain once the pool is idle. */
  checkIdle(): void {
    if (!this.isIdle()) return;
    if (this.#idle.length > 0) for (const w of this.#idle.takeAll()) w.settle();
    if (this.state === DRAINING) this.state = CLOSED;
    this.onIdle();
  }

  /** Keeps the free slots below `concurrency`, lowest number on top. */
  #rebuildFree(): void {
    this.#free.length = 0;
    for (let i = this.concurrency - 1; i >= 0; i--) if (this.#busy[i] !== true) this.#free.push(i);
  }
}
