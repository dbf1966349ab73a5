/**
 * What the demo's processes say to each other: the items of the job, and
 * the messages between the service and its flaky downstream (a child
 * process, over its IPC channel).
 */

/** One item of the job. */
export interface Item {
  id: number;
  amount: number;
}

/** One batch of items: one call to the downstream, one job of the Redis queue. */
export interface Batch {
  batch: number;
  tenant: string;
  items: Item[];
}

/** How the downstream misbehaves. */
export interface DownstreamConfig {
  /** Share of calls answered 503 (0..1). */
  failRate: number;
  /** Share of calls that take `slowMs` instead of a few milliseconds (0..1). */
  slowRate: number;
  slowMs: number;
  /** The downstream goes down once it has accepted this many items... */
  outageAfterItems: number;
  /** ...for this long (ms): the port is closed, every connection dropped. */
  outageMs: number;
}

/** What the downstream counted. */
export interface DownstreamStats {
  requests: number;
  /** Calls answered 503 on purpose. */
  failed: number;
  /** Calls made slow on purpose. */
  slow: number;
  /** Responses never written because the caller had gone (it timed out). */
  abandoned: number;
  /** Token requests (`GET /token/:tenant`). */
  tokens: number;
  /** Items accepted, each once. */
  accepted: number;
  /** Batches received again after they had been accepted (a retry of a call whose answer was lost). */
  duplicates: number;
  /** Epoch ms of the outage's start and end, once they happened. */
  downAt?: number;
  upAt?: number;
}

/** Downstream -> service. */
export type DownstreamMessage =
  | { type: 'ready'; port: number }
  | { type: 'down'; at: number }
  | { type: 'up'; at: number }
  | { type: 'stats'; stats: DownstreamStats };

/** Service -> downstream: `stop` answers with the final `stats`, then the process exits. */
export type ServiceMessage = { type: 'stop' };
