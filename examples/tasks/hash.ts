/**
 * The task module of examples/50-thread-pool.ts: SHA-256 on a worker
 * thread. Each export is a task, called in a thread as `task(arg, { signal })`.
 */
import { createHash } from 'node:crypto';
import { workerData } from 'node:worker_threads';
import type { TaskContext } from 'weftjs/threads';

/**
 * Counters shared across threads, if given: `[0]` the tasks that stopped
 * because their signal aborted, `[1]` the tasks that started.
 */
const shared = (workerData as { counts?: SharedArrayBuffer } | undefined)?.counts;
const counts = shared === undefined ? undefined : new Int32Array(shared);

/**
 * Hashes `data` `rounds` times over (each round hashes the data and the
 * previous digest), checking its signal between rounds: a Ctrl-C stops it
 * within one round.
 */
export function hash({ data, rounds }: { data: Uint8Array; rounds: number }, { signal }: TaskContext): string {
  if (counts !== undefined) Atomics.add(counts, 1, 1);
  let digest = Buffer.alloc(0);
  for (let r = 0; r < rounds; r++) {
    if (signal.aborted) {
      if (counts !== undefined) Atomics.add(counts, 0, 1);
      throw signal.reason;
    }
    digest = createHash('sha256').update(data).update(digest).digest();
  }
  return digest.toString('hex');
}
