/**
 * Peak memory of a long run: 1,000,000 and 10,000,000 trivial async jobs at
 * concurrency 100 from a lazy source. Each contender runs once in a fresh
 * child process (a `maxRSS` comparison: the child reports
 * `process.resourceUsage().maxRSS` after its one call), on plain `node` and
 * the built package, as every benchmark here. Contenders: weft's
 * `flow().map().drain()` and `WorkerPool.map` (read with `for await`, and
 * with its flow's `drain()`), the hand-written floor (100 loops over one
 * iterator), and p-map over an array (1,000,000 only: it needs the whole
 * input up front, and the array is part of what it costs).
 *
 * Each size is run twice: with V8's defaults, and with the young
 * generation held at one size (`--max-semi-space-size=1`). V8 grows the
 * young generation as a process keeps allocating (here from 1 MB towards
 * 16 MB per semi-space), so with the defaults a longer run of the same
 * steady work peaks higher, the floor's included; with the young
 * generation held, what is left is what the run retains, which must not
 * grow with the number of items.
 *
 * Targets: flat (10,000,000 within 1.10x of 1,000,000) and within 1.3x of
 * the floor at each size. Peak RSS varies little from run to run: 3 rounds.
 */
import pMap from 'p-map';
import { flow, WorkerPool } from 'weftjs';
import { compare, type Target } from './lib.js';

const C = 100;
const job = async (x: number) => x;

function* source(n: number) {
  for (let i = 0; i < n; i++) yield i;
}

const impls: Record<string, (n: number) => Promise<unknown>> = {
  'weft flow': (n) => flow(source(n)).map(job, { concurrency: C }).drain(),
  'weft pool': async (n) => {
    const pool = new WorkerPool(job, { concurrency: C });
    for await (const _ of pool.map(source(n)));
    await pool.close();
  },
  'weft pool drain': async (n) => {
    const pool = new WorkerPool(job, { concurrency: C });
    await pool.map(source(n)).drain();
    await pool.close();
  },
  floor: async (n) => {
    const it = source(n);
    const loop = async () => {
      for (let r = it.next(); !r.done; r = it.next()) await job(r.value);
    };
    await Promise.all(Array.from({ length: C }, loop));
  },
  'p-map': (n) => pMap(Array.from(source(n)), job, { concurrency: C }),
};

const M1 = 1_000_000;
const M10 = 10_000_000;

export default async function (): Promise<void> {
  const cases: Record<string, { run: () => unknown; ops: number }> = {};
  for (const [name, fn] of Object.entries(impls)) {
    cases[`${name}, 1M`] = { run: () => fn(M1), ops: M1 };
    if (name !== 'p-map') cases[`${name}, 10M`] = { run: () => fn(M10), ops: M10 };
  }
  const targets: Target[] = [];
  for (const name of ['weft flow', 'weft pool', 'weft pool drain']) {
    targets.push(
      { contender: `${name}, 10M`, vs: `${name}, 1M`, atMost: 1.1, note: 'flat' },
      { contender: `${name}, 1M`, vs: 'floor, 1M', atMost: 1.3 },
      { contender: `${name}, 10M`, vs: 'floor, 10M', atMost: 1.3 },
    );
  }
  const head = 'Peak RSS, 100 concurrent trivial async jobs over a lazy source (fresh process each)';
  for (const [title, flags] of [
    [`${head}: V8 defaults`, []],
    [`${head}: young generation held (--max-semi-space-size=1)`, ['--max-semi-space-size=1']],
  ] as const) {
    await compare(title, {
      ops: M1,
      unit: 'jobs',
      metric: 'maxRSS',
      nodeFlags: [...flags],
      rounds: 3,
      weft: 'weft flow, 1M',
      floor: 'floor, 1M',
      cases,
      targets,
      target: 'the vs weft and vs floor columns compare with the 1M rows; the targets pair each size with its own',
    });
  }
}
