/**
 * A generic pool: jobs submitted one at a time, each with its own result,
 * a bounded queue that sheds load (QueueFullError), a job cancelled while it
 * waits, a job that fails alone, and a graceful close that drains the queue.
 */
import { WorkerPool } from 'weftjs';

type Resize = { id: string; width: number };

const pool = new WorkerPool(
  async (img: Resize) => {
    await new Promise((r) => setTimeout(r, 5)); // some I/O
    if (img.width <= 0) throw new Error(`bad width for ${img.id}`);
    return `${img.id}@${img.width}px`;
  },
  { concurrency: 2, maxQueue: 3 },
);

const jobs = ['a', 'b', 'c', 'd', 'e'].map((id, i) => pool.submit({ id, width: (i + 1) * 100 }));
const shed = await pool.submit({ id: 'f', width: 600 }).catch((e) => e.code);
console.log(`running ${pool.stats.running}, queued ${pool.stats.queued}; a sixth job: ${shed}`);

const settled = await Promise.allSettled(jobs);
console.log(settled.map((s) => (s.status === 'fulfilled' ? s.value : s.reason)).join(', '));

const ac = new AbortController();
const blocker = [pool.submit({ id: 'g', width: 1 }), pool.submit({ id: 'h', width: 2 })];
const cancelled = pool.submit({ id: 'i', width: 3 }, { signal: ac.signal });
ac.abort(new Error('no longer needed'));
console.log(`cancelled while queued: ${await cancelled.catch((e) => e.message)}`);
await Promise.all(blocker);

const failed = await pool.submit({ id: 'bad', width: 0 }).catch((e) => e.message);
console.log(`a failing job fails alone: ${failed}; next: ${await pool.submit({ id: 'ok', width: 9 })}`);

const last = [
  pool.submit({ id: 'x', width: 10 }),
  pool.submit({ id: 'y', width: 20 }),
  pool.submit({ id: 'z', width: 30 }),
];
await pool.close();
console.log(`drained on close: ${(await Promise.all(last)).join(', ')}`);
console.log(`after close: ${await pool.submit({ id: 'late', width: 1 }).catch((e) => e.code)}`);
console.log(pool.stats);
