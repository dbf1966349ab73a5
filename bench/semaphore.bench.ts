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
 * (`Effect.makeSemaphore(100)` + `withPermits(1)`), a table per size; then
 * weft's throughput at the three sizes side by side: it must not fall as
 * the queue grows. Effect's semaphore slows down with the length of its
 * queue (a 10k queue takes seconds): one timed run per size, in the first
 * round only, stopped after 30 s.
 *
 * Every contender's limiter (and promise-pool's array) is made in its
 * `setup`, untimed, in its own process. The smoke runs (a) on 100,000
 * tasks.
 */
import { PromisePool } from '@supercharge/promise-pool';
import { Semaphore as AsyncMutexSemaphore } from 'async-mutex';
import { Sema } from 'async-sema';
import type * as effect from 'effect';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { Semaphore } from 'weftjs';
import { compare, smoke } from './lib.js';

// Effect is loaded in the processes of its own rows only (their setup):
// its module graph is large, and in any other child it would only add to
// the startup and to the heap the collector walks.
let Effect: typeof effect.Effect;
async function loadEffect(): Promise<void> {
  ({ Effect } = await import('effect'));
}

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
  const items = () => Array.from({ length: n }, (_, i) => i);
  const peers = ['peer p-limit', 'peer p-queue', 'peer async-sema', 'peer @supercharge/promise-pool'];
  await compare(`${n.toLocaleString('en')} trivial async tasks at concurrency ${CONCURRENCY}, all queued up front`, {
    ops: n,
    unit: 'tasks',
    heavy: true,
    smoke: true,
    cases: {
      'weft Semaphore.run': {
        setup: () => new Semaphore(CONCURRENCY),
        run: (sem: Semaphore) => all(n, () => sem.run(task)),
      },
      'floor (hand-written)': {
        setup: () => new FloorLimiter(CONCURRENCY),
        run: (floor: FloorLimiter) => all(n, () => floor.run(task)),
      },
      'peer p-limit': {
        smoke: false, // slower than promise-pool, the fastest peer: left out of the smoke
        setup: () => pLimit(CONCURRENCY),
        run: (limit: ReturnType<typeof pLimit>) => all(n, () => limit(task)),
      },
      'peer p-queue': {
        smoke: false, // slower than promise-pool, the fastest peer: left out of the smoke
        setup: () => new PQueue({ concurrency: CONCURRENCY }),
        run: (queue: PQueue) => all(n, () => queue.add(task)),
      },
      'peer async-sema': {
        smoke: false, // slower than promise-pool, the fastest peer: left out of the smoke
        setup: () => new Sema(CONCURRENCY),
        run: (sema: Sema) =>
          all(n, async (): Promise<number> => {
            await sema.acquire();
            try {
              return await task();
            } finally {
              sema.release();
            }
          }),
      },
      'peer @supercharge/promise-pool': {
        setup: items,
        run: (xs: number[]) => PromisePool.withConcurrency(CONCURRENCY).for(xs).process(task),
      },
      // What the shape costs before any limiting: a million task promises
      // and Promise.all over them. A limiter adds a pending promise (and its
      // resolvers) per queued call on top, whose collection dominates.
      'no limiter (Promise.all of the tasks)': () => all(n, task),
    },
    weft: 'weft Semaphore.run',
    targets: [
      { vs: 'floor', atMost: 1.1, note: 'issue 14: 0.83M/s against 1.0M/s' },
      { vs: peers, atLeast: 3 },
    ],
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
  await compare(
    `${n.toLocaleString('en')} trivial async tasks at concurrency ${CONCURRENCY}, started as slots free (no promise per task up front)`,
    {
      ops: n,
      unit: 'tasks',
      heavy: true,
      cases: {
        'weft Semaphore, Go worker-pool idiom': {
          setup: () => new Semaphore(CONCURRENCY),
          run: (sem: Semaphore) => goIdiom(sem, n),
        },
        'peer @supercharge/promise-pool': {
          setup: () => Array.from({ length: n }, (_, i) => i),
          run: (xs: number[]) => PromisePool.withConcurrency(CONCURRENCY).for(xs).process(task),
        },
      },
      weft: 'weft Semaphore, Go worker-pool idiom',
      targets: [{ vs: 'peer @supercharge/promise-pool', atLeast: 3 }],
    },
  );
}

async function scaling(sizes: number[]): Promise<void> {
  const effTask = (eff: effect.Effect.Semaphore) => eff.withPermits(1)(Effect.promise(task));
  for (const n of sizes) {
    await compare(`${n.toLocaleString('en')} tasks queued at once on a semaphore of ${CONCURRENCY}`, {
      ops: n,
      unit: 'tasks',
      cases: {
        'weft Semaphore.run': {
          setup: () => new Semaphore(CONCURRENCY),
          run: (sem: Semaphore) => all(n, () => sem.run(task)),
        },
        'floor (hand-written)': {
          setup: () => new FloorLimiter(CONCURRENCY),
          run: (floor: FloorLimiter) => all(n, () => floor.run(task)),
        },
        'peer async-mutex Semaphore.runExclusive': {
          setup: () => new AsyncMutexSemaphore(CONCURRENCY),
          run: (am: AsyncMutexSemaphore) => all(n, () => am.runExclusive(task)),
        },
        'peer effect withPermits(1)': {
          once: true,
          rounds: 1,
          timeoutMs: 30_000,
          setup: async () => {
            await loadEffect();
            return effTask(Effect.runSync(Effect.makeSemaphore(CONCURRENCY)));
          },
          run: (t: effect.Effect.Effect<number>) =>
            Effect.runPromise(
              Effect.all(
                Array.from({ length: n }, () => t),
                { concurrency: 'unbounded' },
              ),
            ),
        },
      },
      weft: 'weft Semaphore.run',
    });
  }
  const name = (n: number) => `weft Semaphore.run, ${n.toLocaleString('en')} queued`;
  const cases: Record<string, { setup: () => Semaphore; run: (sem: Semaphore) => unknown; ops: number }> = {};
  for (const n of sizes) {
    cases[name(n)] = { setup: () => new Semaphore(CONCURRENCY), run: (sem) => all(n, () => sem.run(task)), ops: n };
  }
  await compare(`Semaphore.run throughput by queue length (semaphore of ${CONCURRENCY})`, {
    ops: sizes[0]!,
    unit: 'tasks',
    cases,
    targets: sizes.slice(1).map((n) => ({ contender: name(n), vs: name(sizes[0]!) })),
    target: 'throughput must not fall as the queue grows: time per task at each size against the smallest',
  });
}

export default async function bench(): Promise<void> {
  await bounded(smoke ? 100_000 : 1_000_000);
  await lazy(1_000_000);
  await scaling([10_000, 20_000, 40_000]);
}
