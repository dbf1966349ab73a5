/**
 * Go's worker pool: 5 workers take 20 jobs from a queue; each job takes
 * some time (virtual time here, on a TestClock, so the run is instant and
 * always the same). Results come back in job order; the log shows which
 * worker ran each job and when.
 */
import { WorkerPool } from 'weftjs';
import { TestClock } from 'weftjs/testing';

const clock = new TestClock();
const log: string[] = [];

const pool = new WorkerPool(
  async (job: number, { worker }) => {
    const start = clock.now();
    const ms = ((job * 7) % 5) * 100 + 100; // 100..500 ms
    await new Promise<void>((resolve) => clock.setTimeout(() => resolve(), ms));
    log.push(`worker ${worker} finished job ${String(job).padStart(2)} at ${String(clock.now()).padStart(4)} ms`);
    return { job, worker, start, ms };
  },
  { concurrency: 5 },
);

const jobs = Array.from({ length: 20 }, (_, i) => i + 1);
// pool.map returns a Flow: read it with `for await`, or end it with toArray/forEach/drain.
const results = pool.map(jobs).toArray();
await clock.runAll();
const done = await results;

for (const line of log) console.log(line);
const perWorker = new Map<number, number>();
for (const r of done) perWorker.set(r.worker, (perWorker.get(r.worker) ?? 0) + 1);
console.log(`results in job order: ${done.map((r) => r.job).join(' ')}`);
console.log(
  `jobs per worker: ${[...perWorker.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([w, n]) => `${w}:${n}`)
    .join(' ')}`,
);
const serial = done.reduce((sum, r) => sum + r.ms, 0);
console.log(`20 jobs, 5 workers: ${clock.now()} ms of virtual time (${serial} ms one after another)`);
console.log(pool.stats);
await pool.close();
