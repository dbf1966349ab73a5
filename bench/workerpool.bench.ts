/**
 * WorkerPool and flow: 1,000,000 trivial async jobs (`async (n) => n`) at
 * concurrency 100 from a lazy source (a generator), every result taken.
 *
 * Contenders: weft's `WorkerPool.map`, its results taken with `for await`
 * or by its `Flow`'s `drain()`, and `flow(source).map(fn, { concurrency:
 * 100 }).drain()`; p-map over an
 * array made beforehand (p-map needs its input up front; the array is not
 * counted) and its `pMapIterable` over the generator; p-queue (add every
 * job, then `onIdle`, the way it is used); and the floor: 100 async loops
 * taking from one shared iterator, results discarded.
 *
 * `WorkerPool.map` hands its results to a `for await` loop, and one `for
 * await` step (a `next()` call, its promise and result object, one
 * microtask) costs about what the floor spends on a whole job. So the table
 * has a second floor that a consumer-facing API is measured against: the
 * same 100 loops handing each result through a minimal hand-written async
 * iterator (a ring of at most 200 results, loops waiting for room) to a
 * `for await` loop.
 *
 * Effect's `Stream.mapEffect` (concurrency 100, drained) takes minutes for a
 * million jobs (about 25 s for 100,000 when this was written), so it has its
 * own table at 10,000 jobs, with weft and the floor at the same size.
 *
 * Two rows take every result with a synchronous callback, `forEach((r) =>
 * { sum += r })`, on a flow and on a pool's map: they should cost what
 * `drain()` does (issue 14 measured 0.36x and 0.33x of the floor), plus
 * what the callback itself costs, which the floor with the same callback
 * shows (`sum` soon outgrows a small integer, and each `sum += r` then
 * boxes a heap number: 1.15-1.18x the floor's time on the 2-core machine).
 *
 * A last table compares ordered and unordered output of both weft APIs.
 * The smoke runs the first table on 200,000 jobs.
 */
import type * as effect from 'effect';
import pMap, { pMapIterable } from 'p-map';
import PQueue from 'p-queue';
import { flow, WorkerPool } from 'weftjs';
import { compare, smoke } from './lib.js';

// Effect is loaded in the processes of its own rows only (their setup):
// its module graph is large, and in any other child it would only add to
// the startup and to the heap the collector walks.
let Effect: typeof effect.Effect;
let Stream: typeof effect.Stream;
async function loadEffect(): Promise<void> {
  ({ Effect, Stream } = await import('effect'));
}

const N = smoke ? 200_000 : 1_000_000;
const C = 100;
const job = async (n: number) => n;

function* source(n = N): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

async function weftPoolDrain(n = N): Promise<void> {
  const pool = new WorkerPool(job, { concurrency: C });
  await pool.map(source(n)).drain();
  await pool.close();
}

async function weftPoolMap(ordered: boolean, n = N): Promise<void> {
  const pool = new WorkerPool(job, { concurrency: C });
  for await (const _ of pool.map(source(n), { ordered }));
  await pool.close();
}

async function weftPoolForEach(n = N): Promise<number> {
  const pool = new WorkerPool(job, { concurrency: C });
  let sum = 0;
  await pool.map(source(n)).forEach((r) => {
    sum += r;
  });
  await pool.close();
  return sum;
}

async function weftFlowForEach(n = N): Promise<number> {
  let sum = 0;
  await flow(source(n))
    .map(job, { concurrency: C })
    .forEach((r) => {
      sum += r;
    });
  return sum;
}

function weftFlow(ordered: boolean, n = N): Promise<void> {
  return flow(source(n)).map(job, { concurrency: C, ordered }).drain();
}

/** The floor, with every result taken by a `for await` loop through a minimal async iterator. */
async function floorForAwait(n = N): Promise<void> {
  const it = source(n);
  const W = 2 * C; // results pulled and not yet taken, as weft's window
  const ring = new Array<number>(256);
  let head = 0;
  let count = 0;
  let live = 0;
  let ended = 0;
  let taker: ((r: IteratorResult<number>) => void) | null = null;
  let room: Promise<void> | null = null;
  let open = () => {};
  const loop = async () => {
    for (;;) {
      while (live >= W) await (room ??= new Promise<void>((r) => (open = r)));
      const r = it.next();
      if (r.done) break;
      live++;
      const v = await job(r.value);
      if (taker === null) ring[(head + count++) & 255] = v;
      else {
        const t = taker;
        taker = null;
        live--;
        t({ value: v, done: false });
      }
    }
    if (++ended === C) taker?.({ value: undefined, done: true });
  };
  for (let i = 0; i < C; i++) loop();
  const results: AsyncIterableIterator<number> = {
    [Symbol.asyncIterator]: () => results,
    next(): Promise<IteratorResult<number>> {
      if (count > 0) {
        const v = ring[head]!;
        head = (head + 1) & 255;
        count--;
        live--;
        if (room !== null && live <= W - C) {
          room = null;
          open();
        }
        return Promise.resolve({ value: v, done: false });
      }
      if (ended === C) return Promise.resolve({ value: undefined, done: true });
      return new Promise((r) => (taker = r));
    },
  };
  for await (const _ of results);
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

/**
 * The floor, each result given to the same synchronous callback as the
 * `forEach` rows: what the callback itself costs. `sum` outgrows a small
 * integer early on, so each `sum += r` in a closure boxes a new heap
 * number; the `forEach` rows pay that too, the `drain()` rows do not.
 */
async function floorCallback(n = N): Promise<number> {
  const it = source(n);
  let sum = 0;
  const each = (r: number) => {
    sum += r;
  };
  const loop = async () => {
    for (let r = it.next(); !r.done; r = it.next()) each(await job(r.value));
  };
  const loops: Promise<void>[] = [];
  for (let i = 0; i < C; i++) loops.push(loop());
  await Promise.all(loops);
  return sum;
}

export default async function (): Promise<void> {
  const peers = ['p-map (array)', 'p-map pMapIterable', 'p-queue (add all + onIdle)'];
  await compare(`WorkerPool / flow: ${N.toLocaleString('en-US')} async jobs at concurrency 100, lazy source`, {
    ops: N,
    unit: 'jobs',
    heavy: true,
    smoke: true,
    weft: 'weft flow.map().drain()',
    cases: {
      'weft flow.map().drain()': () => weftFlow(true),
      'weft flow.map().forEach(sync)': () => weftFlowForEach(),
      'weft WorkerPool.map().drain()': () => weftPoolDrain(),
      'weft WorkerPool.map().forEach(sync)': () => weftPoolForEach(),
      'weft WorkerPool.map (for await)': () => weftPoolMap(true),
      'p-map (array)': {
        // p-map needs its input up front: the array is made untimed.
        setup: () => Array.from({ length: N }, (_, i) => i),
        run: (array: number[]) => pMap(array, job, { concurrency: C }),
      },
      'p-map pMapIterable': async () => {
        for await (const _ of pMapIterable(source(), job, { concurrency: C }));
      },
      'p-queue (add all + onIdle)': {
        smoke: false, // 20-40 times slower than weft: never the fastest peer
        run: async () => {
          const q = new PQueue({ concurrency: C });
          for (let i = 0; i < N; i++) q.add(() => job(i));
          await q.onIdle();
        },
      },
      'floor (hand-written)': () => floor(),
      'floor + for await over results': () => floorForAwait(),
      'floor + sync callback': () => floorCallback(),
    },
    targets: [
      { vs: 'floor', atMost: 1.5, note: 'issue 14: 0.90x' },
      { contender: 'weft WorkerPool.map().drain()', vs: 'floor', atMost: 1.5 },
      { vs: peers, atLeast: 4 },
      { contender: 'weft WorkerPool.map().drain()', vs: peers, atLeast: 4 },
      {
        contender: 'weft flow.map().forEach(sync)',
        vs: 'weft flow.map().drain()',
        atMost: 1.15,
        note: 'issue 14: 0.36x the floor',
      },
      {
        contender: 'weft WorkerPool.map().forEach(sync)',
        vs: 'weft WorkerPool.map().drain()',
        atMost: 1.15,
        note: 'issue 14: 0.33x the floor',
      },
      {
        contender: 'floor + sync callback',
        vs: 'floor (hand-written)',
        note: 'what the callback costs the floor: the forEach rows pay the same',
      },
      { contender: 'weft WorkerPool.map (for await)', vs: 'floor + for await over results' },
    ],
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
      'Effect Stream.mapEffect': {
        setup: loadEffect,
        run: () =>
          Effect.runPromise(
            Stream.fromIterable(source(SMALL)).pipe(
              Stream.mapEffect((n) => Effect.promise(() => job(n)), { concurrency: C }),
              Stream.runDrain,
            ),
          ),
      },
      'floor (hand-written)': () => floor(SMALL),
    },
  });
  await compare(`WorkerPool / flow: ordered vs unordered output, ${N.toLocaleString('en-US')} jobs`, {
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
      'floor + for await over results': () => floorForAwait(),
    },
  });
}
