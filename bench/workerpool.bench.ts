/**
 * WorkerPool and flow: 1,000,000 trivial async jobs (`async (n) => n`) at
 * concurrency 100 from a lazy source (a generator), every result taken.
 *
 * Contenders: weft's `WorkerPool.map` (results taken with `for await`) and
 * `flow(source).map(fn, { concurrency: 100 }).drain()`; p-map over an
 * array made beforehand (p-map needs its input up front; the array is not
 * counted) and its `pMapIterable` over the generator; p-queue (add every
 * job, then `onIdle`, the way it is used); and the floor: 100 async loops
 * taking from one shared iterator, results discarded.
 *
 * Effect's `Stream.mapEffect` (concurrency 100, drained) takes minutes for a
 * million jobs (about 25 s for 100,000 when this was written), so it has its
 * own table at 10,000 jobs, with weft and the floor at the same size.
 *
 * A last table compares ordered and unordered output of both weft APIs.
 */
import { Effect, Stream } from 'effect';
import pMap, { pMapIterable } from 'p-map';
import PQueue from 'p-queue';
import { flow, WorkerPool } from '../src/index.js';
import { compare } from './lib.js';

const N = 1_000_000;
const C = 100;
const job = async (n: number) => n;

function* source(n = N): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

const array = Array.from({ length: N }, (_, i) => i);

async function weftPoolMap(ordered: boolean, n = N): Promise<void> {
  const pool = new WorkerPool(job, { concurrency: C });
  for await (const _ of pool.map(source(n), { ordered }));
  await pool.close();
}

function weftFlow(ordered: boolean, n = N): Promise<void> {
  return flow(source(n)).map(job, { concurrency: C, ordered }).drain();
}

async function floor(n = N): Promise<void> {
  const it = source(n);
  const loop = async () => {
    for (let r = it.next(); !r.done; r = it.next()) await job(r.value);
  };
  const loops: Promise<void>[] = [];
  for (let i = 0; i < C; i++) loops.push(loop());
  await Promise.all(loops);
}

export default async function (): Promise<void> {
  await compare('WorkerPool / flow: 1,000,000 async jobs at concurrency 100, lazy source', {
    ops: N,
    unit: 'jobs',
    heavy: true,
    weft: 'weft flow.map().drain()',
    target: 'weft within 1.5x of the floor, and >= 4x the fastest peer',
    cases: {
      'weft flow.map().drain()': () => weftFlow(true),
      'weft WorkerPool.map (for await)': () => weftPoolMap(true),
      'p-map (array)': () => pMap(array, job, { concurrency: C }),
      'p-map pMapIterable': async () => {
        for await (const _ of pMapIterable(source(), job, { concurrency: C }));
      },
      'p-queue (add all + onIdle)': async () => {
        const q = new PQueue({ concurrency: C });
        for (let i = 0; i < N; i++) q.add(() => job(i));
        await q.onIdle();
      },
      'floor (hand-written)': () => floor(),
    },
  });
  const SMALL = 10_000;
  await compare('flow vs Effect Stream.mapEffect: 10,000 async jobs at concurrency 100', {
    ops: SMALL,
    unit: 'jobs',
    heavy: true,
    weft: 'weft flow.map().drain()',
    cases: {
      'weft flow.map().drain()': () => weftFlow(true, SMALL),
      'weft WorkerPool.map (for await)': () => weftPoolMap(true, SMALL),
      'Effect Stream.mapEffect': () =>
        Effect.runPromise(
          Stream.fromIterable(source(SMALL)).pipe(
            Stream.mapEffect((n) => Effect.promise(() => job(n)), { concurrency: C }),
            Stream.runDrain,
          ),
        ),
      'floor (hand-written)': () => floor(SMALL),
    },
  });
  await compare('WorkerPool / flow: ordered vs unordered output, 1,000,000 jobs', {
    ops: N,
    unit: 'jobs',
    heavy: true,
    weft: 'flow ordered',
    cases: {
      'flow ordered': () => weftFlow(true),
      'flow unordered': () => weftFlow(false),
      'WorkerPool.map ordered': () => weftPoolMap(true),
      'WorkerPool.map unordered': () => weftPoolMap(false),
      'floor (hand-written)': () => floor(),
    },
  });
}
