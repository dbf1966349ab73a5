/**
 * The timed part of a child process: runs one contender's `setup`, then
 * its calls, and returns the child's figure. A simple timed loop on
 * `performance.now()`, not a benchmarking library, so what is timed is
 * plain to read: the first call is untimed warm-up whose result goes to
 * `check`; a heavy contender (one call is a whole run) gets one more
 * warm-up call, then 3 timed calls (where the first call took over a
 * second: no more warm-up, 2 timed calls); a
 * light one is called for 300 ms (100 ms) of warm-up, then timed in 5 (3)
 * samples of about 50 ms (30 ms) each, the calls of a sample in one loop,
 * each call awaited when the case returns a promise. A `once` contender's
 * first call is its one timed call. `gc()` (children run with
 * `--expose-gc`) runs before every timed call or sample. A `maxRSS`
 * comparison makes one call and reports the process's peak resident set
 * size in bytes.
 */
import type { Contender } from './lib.js';

export interface MeasureOptions {
  heavy: boolean;
  metric: 'time' | 'maxRSS';
  smoke: boolean;
  /** `--check`: the first call only, timed, as for `once`. */
  only: boolean;
  check: ((value: unknown) => void) | undefined;
}

export interface Measured {
  /** The median of `samples`. */
  value: number;
  /** Nanoseconds per call, or bytes for `maxRSS`. */
  samples: number[];
  /** Calls timed in all. */
  calls: number;
}

const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (() => {});

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

// Two loops, so that each stays monomorphic in a child that runs one case.
function loopSync(run: (s: unknown) => unknown, state: unknown, n: number): unknown {
  let r: unknown;
  for (let i = 0; i < n; i++) r = run(state);
  return r;
}

async function loopAsync(run: (s: unknown) => unknown, state: unknown, n: number): Promise<unknown> {
  let r: unknown;
  for (let i = 0; i < n; i++) r = await run(state);
  return r;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function measure(c: Contender, o: MeasureOptions): Promise<Measured> {
  const state = c.setup === undefined ? undefined : await c.setup();
  const run = c.run as (s: unknown) => unknown;
  if (o.metric === 'maxRSS') {
    let v = run(state);
    if (isThenable(v)) v = await v;
    o.check?.(v);
    const bytes = process.resourceUsage().maxRSS * 1024;
    return { value: bytes, samples: [bytes], calls: 1 };
  }

  gc();
  const t0 = performance.now();
  let first = run(state);
  const async = isThenable(first);
  if (async) first = await first;
  const firstMs = performance.now() - t0;
  o.check?.(first);
  if (c.once || o.only) return { value: firstMs * 1e6, samples: [firstMs * 1e6], calls: 1 };
  // Milliseconds for n calls in one loop; a sync case is not awaited, so
  // no microtask turn is in its timing.
  const time = async
    ? async (n: number) => {
        const t = performance.now();
        await loopAsync(run, state, n);
        return performance.now() - t;
      }
    : (n: number) => {
        const t = performance.now();
        loopSync(run, state, n);
        return performance.now() - t;
      };

  if (o.heavy) {
    // A call of over a second was warm long before it ended: no more
    // warm-up, and 2 timed calls, so a slow peer does not cost a minute a round.
    const slow = firstMs > 1000;
    if (!slow) await time(1);
    const samples: number[] = [];
    for (let i = 0; i < (slow ? 2 : 3); i++) {
      gc();
      samples.push((await time(1)) * 1e6);
    }
    return { value: median(samples), samples, calls: samples.length };
  }

  const warmupMs = o.smoke ? 100 : 300;
  const sampleMs = o.smoke ? 30 : 50;
  const count = o.smoke ? 3 : 5;
  // Warm up in growing batches; the last batch says what a call costs.
  let spent = firstMs;
  let batch = 1;
  let perCallMs = firstMs;
  while (spent < warmupMs) {
    const ms = await time(batch);
    spent += ms;
    perCallMs = ms / batch;
    if (ms < 10) batch *= 2;
  }
  const n = Math.max(1, Math.round(sampleMs / Math.max(perCallMs, 1e-6)));
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    gc();
    samples.push(((await time(n)) * 1e6) / n);
  }
  return { value: median(samples), samples, calls: n * count };
}
