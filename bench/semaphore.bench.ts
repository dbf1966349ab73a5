/**
 * Semaphore.run as a concurrency limiter.
 *
 * (a) 1,000,000 trivial async tasks at concurrency 100, every promise
 * created up front (`Promise.all(Array.from({ length: 1e6 }, () =>
 * sem.run(task)))`): weft against p-limit, p-queue, async-sema (acquire,
 * await, release in an async wrapper, its documented use),
 * @supercharge/promise-pool (its own API over an array of 1e6 items), and a
 * careful hand-written limiter (floor). A last row runs the tasks with no
 * limiter at all: the cost of the shape itself.
 *
 * @supercharge/promise-pool takes the whole array of items and starts
 * each task as a slot frees, holding no promise per waiting task: it gets a
 * second comparison in that shape too, against Go's own idiom for x/sync's
 * semaphore (acquire before starting a task, release when it ends).
 *
 * (b) Waiter-queue scaling: 10k, 20k and 40k tasks queued at once on a
 * semaphore of 100, against async-mutex's Semaphore and Effect's
 * (`Effect.makeSemaphore(100)` + `withPermits(1)`): the throughput of a
 * queue must not fall as it grows.
 */
import { PromisePool } from '@supercharge/promise-pool';
import { Semaphore as AsyncMutexSemaphore } from 'async-mutex';
import { Sema } from 'async-sema';
import { Effect } from 'effect';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { Semaphore } from '../src/index.js';
import { compare } from './lib.js';

// Set WEFT_BENCH_ONLY=upfront,lazy,scaling (any of them) to run part of this file.
const only = process.env.WEFT_BENCH_ONLY?.split(',');
const want = (part: string): boolean => only === undefined || only.includes(part);

const CONCURRENCY = 100;
const task = (): Promise<number> => Promise.resolve(1);

/**
 * The floor: the least a limiter can do. A counter, a ring of waiting
 * tasks and their resolvers, and a task started the moment a slot frees.
 */
class FloorLimiter {
  active = 0;
  readonly limit: number;
  fns: (() => Promise<unknown>)[] = [];
  resolves: ((v: unknown) => void)[] = [];
  rejects: ((e: unknown) => void)[] = [];
  head = 0;
  readonly onValue = (v: unknown): unknown => {
    this.next();
    return v;
  };
  readonly onError = (e: unknown): never => {
    this.next();
    throw e;
  };

  constructor(limit: number) {
    this.limit = limit;
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) {
      this.active++;
      return fn().then(this.onValue as (v: T) => T, this.onError);
    }
    return new Promise<T>((resolve, reject) => {
      this.fns.push(fn);
      this.resolves.push(resolve as (v: unknown) => void);
      this.rejects.push(reject);
    });
  }

  next(): void {
    if (this.head === this.fns.length) {
      this.active--;
      if (this.head !== 0) {
        this.fns = [];
        this.resolves = [];
        this.rejects = [];
        this.head = 0;
      }
      return;
    }
    const i = this.head++;
    const fn = this.fns[i]!;
    const resolve = this.resolves[i]!;
    const reject = this.rejects[i]!;
    fn().then(
      (v) => {
        resolve(v);
        this.next();
      },
      (e) => {
        reject(e);
        this.next();
      },
    );
  }
}

function all(n: number, run: () => Promise<unknown>): Promise<unknown[]> {
  return Promise.all(Array.from({ length: n }, run));
}

async function bounded(n: number): Promise<void> {
  const sem = new Semaphore(CONCURRENCY);
  const limit = pLimit(CONCURRENCY);
  const queue = new PQueue({ concurrency: CONCURRENCY });
  const sema = new Sema(CONCURRENCY);
  const floor = new FloorLimiter(CONCURRENCY);
  const items = Array.from({ length: n }, (_, i) => i);
  const semaRun = async (): Promise<number> => {
    await sema.acquire();
    try {
      return await task();
    } finally {
      sema.release();
    }
  };

  await compare(`${n.toLocaleString('en')} trivial async tasks at concurrency ${CONCURRENCY}, all queued up front`, {
    ops: n,
    unit: 'tasks',
    heavy: true,
    cases: {
      'weft Semaphore.run': () => all(n, () => sem.run(task)),
      'floor (hand-written)': () => all(n, () => floor.run(task)),
      'peer p-limit': () => all(n, () => limit(task)),
      'peer p-queue': () => all(n, () => queue.add(task)),
      'peer async-sema': () => all(n, semaRun),
      'peer @supercharge/promise-pool': () => PromisePool.withConcurrency(CONCURRENCY).for(items).process(task),
      // What the shape costs before any limiting: a million task promises
      // and Promise.all over them. A limiter adds a pending promise (and its
      // resolvers) per queued call on top, whose collection dominates.
      'no limiter (Promise.all of the tasks)': () => all(n, task),
    },
    weft: 'weft Semaphore.run',
    target: 'at least 3x the fastest peer',
  });
}

/**
 * Go's worker-pool idiom (x/sync's semaphore example): acquire a permit
 * before starting each task, release it when the task ends, then acquire
 * the whole size to wait for the last ones. Tasks are started as permits
 * free, not queued up front: the shape @supercharge/promise-pool has.
 */
async function goIdiom(sem: Semaphore, n: number): Promise<number[]> {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    if (!sem.tryAcquire()) await sem.acquire();
    task().then((v) => {
      out[i] = v;
      sem.release();
    });
  }
  await sem.acquire(sem.size);
  sem.release(sem.size);
  return out;
}

async function lazy(n: number): Promise<void> {
  const sem = new Semaphore(CONCURRENCY);
  const items = Array.from({ length: n }, (_, i) => i);
  await compare(
    `${n.toLocaleString('en')} trivial async tasks at concurrency ${CONCURRENCY}, started as slots free (no promise per task up front)`,
    {
      ops: n,
      unit: 'tasks',
      heavy: true,
      cases: {
        'weft Semaphore, Go worker-pool idiom': () => goIdiom(sem, n),
        'peer @supercharge/promise-pool': () => PromisePool.withConcurrency(CONCURRENCY).for(items).process(task),
      },
      weft: 'weft Semaphore, Go worker-pool idiom',
      target: 'at least 3x the fastest peer',
    },
  );
}

async function scaling(sizes: number[]): Promise<void> {
  const sem = new Semaphore(CONCURRENCY);
  const am = new AsyncMutexSemaphore(CONCURRENCY);
  const floor = new FloorLimiter(CONCURRENCY);
  const eff = Effect.runSync(Effect.makeSemaphore(CONCURRENCY));
  const effTask = eff.withPermits(1)(Effect.promise(task));
  const effRun = (n: number) =>
    Effect.runPromise(
      Effect.all(
        Array.from({ length: n }, () => effTask),
        { concurrency: 'unbounded' },
      ),
    );
  const rows: string[] = [];
  let effSkip = false;
  for (const n of sizes) {
    const out = await compare(`${n.toLocaleString('en')} tasks queued at once on a semaphore of ${CONCURRENCY}`, {
      ops: n,
      unit: 'tasks',
      cases: {
        'weft Semaphore.run': () => all(n, () => sem.run(task)),
        'floor (hand-written)': () => all(n, () => floor.run(task)),
        'peer async-mutex Semaphore.runExclusive': () => all(n, () => am.runExclusive(task)),
      },
      weft: 'weft Semaphore.run',
    });
    // Effect's semaphore slows down with the length of its queue (a 10k
    // queue takes seconds): one timed run per size, and none past 20 s.
    let effect = 'skipped (the previous size took over 20 s)';
    if (!effSkip) {
      const t0 = performance.now();
      await effRun(n);
      const ms = performance.now() - t0;
      effSkip = ms > 20_000;
      effect = `${fmt((n * 1000) / ms)}/s (one run, ${(ms / 1000).toFixed(2)} s, ${((ms / out[0]!.nsPerRun) * 1e6).toFixed(0)}x weft's time)`;
    }
    rows.push(
      `  ${n.toLocaleString('en').padStart(6)} queued: weft ${fmt(out[0]!.opsPerSec)}/s, floor ${fmt(out[1]!.opsPerSec)}/s, async-mutex ${fmt(out[2]!.opsPerSec)}/s, effect ${effect}`,
    );
  }
  console.log(
    `\nThroughput by queue length on a semaphore of ${CONCURRENCY} (tasks/s; must not fall as the queue grows):`,
  );
  for (const r of rows) console.log(r);
}

function fmt(perSec: number): string {
  return perSec >= 1e6 ? `${(perSec / 1e6).toFixed(2)}M` : `${(perSec / 1e3).toFixed(1)}k`;
}

export default async function bench(): Promise<void> {
  if (want('upfront')) await bounded(1_000_000);
  if (want('lazy')) await lazy(1_000_000);
  if (want('scaling')) await scaling([10_000, 20_000, 40_000]);
}
