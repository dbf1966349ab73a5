/**
 * How `ThreadPool` scales with threads on CPU-bound work: the same batch of
 * tasks (a fixed loop of about 10 ms each, pure CPU) on 1, 2, 4, 8 and 16
 * threads, and the speedup over 1 thread (issue 12's target: at least 0.9x
 * the thread count, where the machine has that many cores). A standalone
 * script, not a `compare()` bench file, for a many-core machine:
 *
 *   npx tsx bench/threads-scaling.ts            # weft from src/ (tsconfig paths)
 *   npx tsx bench/threads-scaling.ts --dist     # the built package (npm run build first)
 *   node --experimental-strip-types bench/threads-scaling.ts   # Node >= 22.6: weftjs/threads as installed
 *
 * Options: `--threads 1,2,4,8,16` (the thread counts), `--tasks N` (tasks
 * per run; default 8 per thread of the largest count), `--rounds N`
 * (timed runs per count, the median is reported; default 3). The task
 * module is a `data:` URL, so nothing needs building for it. Rows past
 * `os.availableParallelism()` are marked: they cannot scale.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { ThreadPool as Pool } from 'weftjs/threads';

const { values } = parseArgs({
  options: {
    dist: { type: 'boolean', default: false },
    threads: { type: 'string', default: '1,2,4,8,16' },
    tasks: { type: 'string' },
    rounds: { type: 'string', default: '3' },
  },
});

// Loaded at run time so that `--dist` can pick the built file over the tsconfig `paths` tsx applies.
const specifier = values.dist ? new URL('../dist/threads/index.js', import.meta.url).href : 'weftjs/threads';
const { ThreadPool } = (await import(specifier)) as typeof import('weftjs/threads');

const counts = values.threads.split(',').map(Number);
const tasks = Number(values.tasks ?? 8 * Math.max(...counts));
const rounds = Number(values.rounds);
const ITERATIONS = 10_000_000; // about 10 ms on a 2020s x86 core

const source = `export function burn(n) { let x = 0; for (let i = 0; i < n; i++) x = (Math.imul(x, 31) + i) | 0; return x; }`;
const module = `data:text/javascript,${encodeURIComponent(source)}`;

async function timeRun(pool: Pool): Promise<number> {
  const t0 = performance.now();
  await Promise.all(Array.from({ length: tasks }, () => pool.run('burn', ITERATIONS)));
  return performance.now() - t0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const cores = availableParallelism();
console.log(
  `ThreadPool CPU scaling: ${tasks} tasks of ~10 ms, median of ${rounds} runs; os.availableParallelism() = ${cores}; node ${process.version}; weft from ${values.dist ? 'dist/' : specifier}`,
);
console.log('threads   time/run    tasks/s   speedup   per thread   target (0.9x threads)');
let base = 0;
for (const threads of counts) {
  const pool = new ThreadPool({ module, threads });
  // Start every thread and warm the task up, untimed.
  await Promise.all(Array.from({ length: threads }, () => pool.run('burn', ITERATIONS / 10)));
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) times.push(await timeRun(pool));
  await pool.close();
  const ms = median(times);
  if (threads === counts[0]) base = ms * threads;
  const speedup = base / ms;
  const target = 0.9 * threads;
  const verdict =
    threads > cores
      ? `n/a (${cores} cores)`
      : speedup >= target
        ? `met (${target.toFixed(1)}x)`
        : `MISSED (${target.toFixed(1)}x)`;
  console.log(
    `${String(threads).padStart(7)}   ${ms.toFixed(0).padStart(6)} ms   ${((tasks / ms) * 1000).toFixed(0).padStart(8)}   ${speedup.toFixed(2).padStart(6)}x   ${(speedup / threads).toFixed(2).padStart(9)}x   ${verdict}`,
  );
}
