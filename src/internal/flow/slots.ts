/**
 * What a `WorkerPool` and the mapping engines of its maps (`flowmap.ts`)
 * know of each other: the pool lends worker slots and runs the work; a map
 * waits for slots in the pool's queue through its `Feeder` node, as a job
 * waits there.
 */
import type { Linked, WaitQueue } from '../waiter.js';

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

/**
 * What a `WorkerPool` offers a map: worker slots, and the state a map's
 * loops read after each job. The data fields are kept current by the pool,
 * so that a loop reads them instead of calling into the pool per job.
 */
export interface Host {
  /** The pool's concurrency now (a map's window is twice it). */
  concurrency: number;
  /** True while the pool is paused. */
  paused: boolean;
  /** What waits for a worker: queued jobs, and maps asking for one more. */
  readonly queue: { readonly length: number };
  /** Jobs done, counted by the pool and by its maps' loops alike (the pool's `stats`). */
  completed: number;
  failed: number;
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
}
