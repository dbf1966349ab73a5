/**
 * What a `WorkerPool` and the mapping engines of its maps (`flowmap.ts`)
 * know of each other: the pool lends worker slots and runs the work; a map
 * waits for slots in the pool's queue through its `Feeder` node, as a job
 * waits there.
 */
import type { Linked, WaitQueue } from './waiter.js';

/** A map as its pool sees it: the node it queues by, and how it is handed a slot. */
export interface Mapper {
  readonly link: Feeder;
  /** The pool gives the map a slot it queued for. */
  grant(slot: number): void;
}

/** The node by which a map waits in its pool's queue for a slot. */
export class Feeder implements Linked {
  prev: Linked | null = null;
  next: Linked | null = null;
  queue: WaitQueue<any> | null = null;
  constructor(readonly engine: Mapper) {}
}

/** What a `WorkerPool` offers a map: worker slots and the job function. */
export interface Host {
  /** The window size: the pool's concurrency now. */
  readonly concurrency: number;
  /** A free slot for `e`, or -1 (nothing free, paused, or others queued first). */
  take(e: Mapper): number;
  /** Queues `e` for a slot; the host calls `e.grant(slot)` when one frees. */
  request(e: Mapper): void;
  /** Takes `e` out of the queue. */
  unqueue(e: Mapper): void;
  /** Takes `e` out of the queue and forgets it: it is over. */
  detach(e: Mapper): void;
  /** True when the loop holding `slot` should give it back (queued jobs, resize, pause). */
  shouldYield(slot: number, e: Mapper): boolean;
  release(slot: number): void;
  /** Runs the work function on `item`; a map's loop passes its slot's `ctx`. */
  call(item: unknown, ctx: { signal: AbortSignal; worker: number }): unknown;
  record(ok: boolean): void;
}
