/**
 * The demo's task module for `ThreadPool` (`weftjs/threads`): the CPU step
 * of each batch, run in a worker thread so that the main thread stays free
 * for the network. Each export is a task, called as `task(arg, { signal })`.
 */
import { createHash } from 'node:crypto';
import type { TaskContext } from 'weftjs/threads';
import type { Item } from './protocol.js';

/** What `seal` is given: one batch of items and how much work to spend on it. */
export interface SealInput {
  batch: number;
  tenant: string;
  items: Item[];
  /** SHA-256 rounds over the body: the knob for how heavy the CPU step is. */
  rounds: number;
}

/** What `seal` gives back: the request body and its digest, which the downstream checks. */
export interface Sealed {
  body: string;
  digest: string;
}

/**
 * Serialises a batch and seals it: the body's SHA-256, chained `rounds`
 * times (a stand-in for signing, compressing or validating a payload). It
 * reads its signal between rounds, so a Ctrl-C stops it at once.
 */
export function seal({ batch, tenant, items, rounds }: SealInput, { signal }: TaskContext): Sealed {
  const body = JSON.stringify({ batch, tenant, items });
  let digest = createHash('sha256').update(body).digest();
  for (let r = 1; r < rounds; r++) {
    signal.throwIfAborted();
    digest = createHash('sha256').update(digest).update(body).digest();
  }
  return { body, digest: digest.toString('hex') };
}
