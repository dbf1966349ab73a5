/**
 * weft/threads: `ThreadPool` against the floor (hand-written
 * `worker_threads`, one message per task each way) and the peers
 * (piscina, tinypool, workerpool), all with their threads started and
 * warm before timing (in each contender's `setup`).
 *
 * 1. 20,000 tiny tasks (`x => x + 1`) on 2 threads, all submitted at once
 *    and awaited: what a pool costs per task. weft batches a deep queue
 *    into few messages, so it can beat the one-message-per-task floor.
 * 2. CPU-bound tasks (a fixed 10 million-step loop, about 10 ms) on 1 and
 *    on 2 threads: the speedup of 2 threads over 1, for each pool. The
 *    floor's own speedup says whether the second core is really there
 *    (`os.availableParallelism()` is printed under the table).
 * 3. A lone task's round trip (`await run(...)`, one at a time) against a
 *    bare `postMessage` round trip.
 *
 * Task modules: `bench/fixtures/threads-tasks.ts` (weft, piscina,
 * tinypool), `threads-workerpool.ts` (workerpool's own worker script) and
 * `threads-raw.ts` (the floor's worker).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import Tinypool from 'tinypool';
import { ThreadPool } from 'weftjs/threads';
import workerpool from 'workerpool';
import { compare, fixture, smoke } from './lib.js';

const TINY = smoke ? 5_000 : 20_000;
const CPU_TASKS = smoke ? 16 : 40;
const BURN = 10_000_000; // loop steps: about 10 ms
const INC = 0;
const CPU = 1;

type Run = (kind: number, x: number) => Promise<number>;

/** The floor: `threads` bare workers, tasks dealt round-robin, one message each way per task. */
async function raw(threads: number): Promise<Run> {
  const workers = Array.from({ length: threads }, () => new Worker(fixture('threads-raw')));
  const waiting = workers.map(() => [] as ((v: number) => void)[]);
  workers.forEach((w, i) => {
    w.on('message', (v: number) => waiting[i]!.shift()!(v));
  });
  let next = 0;
  const run: Run = (kind, x) => {
    const i = next++ % threads;
    workers[i]!.postMessage([kind, x]);
    return new Promise((resolve) => waiting[i]!.push(resolve));
  };
  await Promise.all(workers.map((_, i) => run(INC, i)));
  return run;
}

async function weft(threads: number): Promise<Run> {
  const pool = new ThreadPool({ module: fixture('threads-tasks'), threads });
  const run: Run = (kind, x) => pool.run(kind === INC ? 'inc' : 'burn', x) as Promise<number>;
  // Start every thread: as many calls at once as there are threads, each long enough to need one.
  await Promise.all(Array.from({ length: threads }, () => run(CPU, BURN / 10)));
  return run;
}

async function piscina(threads: number): Promise<Run> {
  const pool = new Piscina({ filename: fixture('threads-tasks'), minThreads: threads, maxThreads: threads });
  const run: Run = (kind, x) => pool.run(x, { name: kind === INC ? 'inc' : 'burn' });
  await Promise.all(Array.from({ length: threads }, () => run(CPU, BURN / 10)));
  return run;
}

async function tinypool(threads: number): Promise<Run> {
  const pool = new Tinypool({ filename: fixture('threads-tasks'), minThreads: threads, maxThreads: threads });
  const run: Run = (kind, x) => pool.run(x, { name: kind === INC ? 'inc' : 'burn' });
  await Promise.all(Array.from({ length: threads }, () => run(CPU, BURN / 10)));
  return run;
}

async function workerPool(threads: number): Promise<Run> {
  const pool = workerpool.pool(fixture('threads-workerpool'), {
    minWorkers: threads,
    maxWorkers: threads,
    workerType: 'thread',
  });
  const run: Run = (kind, x) => pool.exec(kind === INC ? 'inc' : 'burn', [x]) as unknown as Promise<number>;
  await Promise.all(Array.from({ length: threads }, () => run(CPU, BURN / 10)));
  return run;
}

/** `n` tiny tasks at once, awaited; resolves with the sum of the results. */
async function tiny(run: Run, n = TINY): Promise<number> {
  const calls = new Array<Promise<number>>(n);
  for (let i = 0; i < n; i++) calls[i] = run(INC, i);
  let sum = 0;
  for (const v of await Promise.all(calls)) sum += v;
  return sum;
}

/** `n` CPU-bound tasks at once, awaited. */
function cpu(run: Run, n = CPU_TASKS): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, () => run(CPU, BURN)));
}

const tinySum = (TINY * (TINY + 1)) / 2;

export default async function (): Promise<void> {
  const peers = ['piscina', 'tinypool', 'workerpool'];
  await compare(`ThreadPool: ${TINY.toLocaleString('en-US')} tiny tasks (x => x + 1) on 2 threads, all at once`, {
    ops: TINY,
    unit: 'tasks',
    heavy: true,
    smoke: true,
    weft: 'weft run()',
    floor: 'floor (worker_threads, a message per task)',
    cases: {
      'weft run()': { setup: () => weft(2), run: (r: Run) => tiny(r) },
      'weft map().reduce()': {
        setup: async () => {
          const pool = new ThreadPool({ module: fixture('threads-tasks'), threads: 2 });
          await Promise.all([pool.run('burn', BURN / 10), pool.run('burn', BURN / 10)]);
          return pool;
        },
        run: (pool: ThreadPool) =>
          pool
            .map<number, number>(
              'inc',
              Array.from({ length: TINY }, (_, i) => i),
            )
            .reduce((a, v) => a + v, 0),
      },
      'floor (worker_threads, a message per task)': { setup: () => raw(2), run: (r: Run) => tiny(r) },
      piscina: { setup: () => piscina(2), run: (r: Run) => tiny(r) },
      tinypool: { setup: () => tinypool(2), run: (r: Run) => tiny(r) },
      workerpool: { setup: () => workerPool(2), run: (r: Run) => tiny(r) },
    },
    check: (v) => {
      if (v !== tinySum) throw new Error(`sum of results ${v}, expected ${tinySum}`);
    },
    targets: [
      { vs: peers, atLeast: 4, note: 'issue 12: piscina 28-33k tasks/s here' },
      { vs: 'floor', atMost: 2, note: 'issue 12: the floor 207-286k tasks/s here' },
      { contender: 'weft map().reduce()', vs: 'floor', atMost: 2 },
    ],
  });

  const one = (make: (threads: number) => Promise<Run>, threads: number) => ({
    setup: () => make(threads),
    run: (r: Run) => cpu(r),
  });
  await compare(`ThreadPool: ${CPU_TASKS} CPU-bound tasks (about 10 ms each), 1 thread vs 2`, {
    ops: CPU_TASKS,
    unit: 'tasks',
    heavy: true,
    weft: 'weft, 2 threads',
    floor: 'floor, 2 threads',
    cases: {
      'weft, 1 thread': one(weft, 1),
      'weft, 2 threads': one(weft, 2),
      'floor, 1 thread': one(raw, 1),
      'floor, 2 threads': one(raw, 2),
      'piscina, 1 thread': one(piscina, 1),
      'piscina, 2 threads': one(piscina, 2),
      'tinypool, 1 thread': one(tinypool, 1),
      'tinypool, 2 threads': one(tinypool, 2),
      'workerpool, 1 thread': one(workerPool, 1),
      'workerpool, 2 threads': one(workerPool, 2),
    },
    check: (v) => {
      if (!Array.isArray(v) || v.length !== CPU_TASKS) throw new Error('not every task answered');
    },
    target: `os.availableParallelism() = ${availableParallelism()}: the floor's speedup (2 threads over 1) shows whether a second core is really there`,
    targets: [
      { contender: 'weft, 2 threads', vs: 'weft, 1 thread', atLeast: 1.9, note: 'issue 12: speedup on 2 threads' },
      { contender: 'floor, 2 threads', vs: 'floor, 1 thread', note: 'sanity: the second core (issue 12: 1.97x)' },
      { contender: 'piscina, 2 threads', vs: 'piscina, 1 thread', note: 'issue 12: 1.89x' },
      { contender: 'tinypool, 2 threads', vs: 'tinypool, 1 thread', note: 'issue 12: 1.96x' },
      { contender: 'workerpool, 2 threads', vs: 'workerpool, 1 thread' },
    ],
  });

  const lone = (make: (threads: number) => Promise<Run>) => ({
    setup: () => make(1),
    run: (r: Run) => r(INC, 1),
  });
  await compare('ThreadPool: a lone task, round trip (one at a time, 1 thread)', {
    ops: 1,
    unit: 'tasks',
    smoke: true,
    weft: 'weft run()',
    floor: 'floor (a postMessage round trip)',
    cases: {
      'weft run()': lone(weft),
      'floor (a postMessage round trip)': lone(raw),
      piscina: lone(piscina),
      tinypool: lone(tinypool),
      workerpool: lone(workerPool),
    },
    check: (v) => {
      if (v !== 2) throw new Error(`got ${v}`);
    },
    targets: [{ vs: 'floor', atMost: 1.5, note: 'issue 12: within 1.5x of a bare round trip' }],
  });
}
