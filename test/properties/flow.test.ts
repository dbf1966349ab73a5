/**
 * Flow against a model: `map` over random inputs, durations, concurrency and
 * order is `Array.prototype.map` (sorted when unordered), with at most
 * `concurrency` calls in flight; and the streaming claim: over a lazy
 * source of a million items, the items pulled and not yet yielded stay under
 * a small constant.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flow, WorkerPool } from 'weftjs';
import { TestClock } from 'weftjs/testing';

describe('Flow properties', () => {
  it('map is Array.map in input order (or a permutation of it when unordered), within its concurrency', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        fc.boolean(),
        async (durations, concurrency, ordered, async) => {
          const clock = new TestClock();
          let active = 0;
          let max = 0;
          const calls = new Map<number, number>();
          const fn = (d: number, i: number) => {
            calls.set(i, (calls.get(i) ?? 0) + 1);
            if (!async || d === 0) return d * 2;
            active++;
            max = Math.max(max, active);
            return new Promise<number>((r) =>
              clock.setTimeout(() => {
                active--;
                r(d * 2);
              }, d),
            );
          };
          const run = flow(durations.map((d, i) => [d, i] as const))
            .map(([d, i]) => fn(d, i), { concurrency, ordered })
            .toArray();
          await clock.runAll();
          const out = await run;
          const want = durations.map((d) => d * 2);
          if (ordered) expect(out).toEqual(want);
          else expect([...out].sort((a, b) => a - b)).toEqual([...want].sort((a, b) => a - b));
          expect(max).toBeLessThanOrEqual(concurrency);
          expect(calls.size).toBe(durations.length);
          expect([...calls.values()].every((n) => n === 1)).toBe(true);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('map consumed by for await at its own pace yields what toArray does, within its concurrency and window', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 })), { maxLength: 40 }),
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        fc.boolean(),
        async (steps, concurrency, ordered, viaPool) => {
          const clock = new TestClock();
          const sleep = (ms: number) => new Promise<void>((r) => clock.setTimeout(r, ms));
          let active = 0;
          let max = 0;
          let pulled = 0;
          const calls = new Array<number>(steps.length).fill(0);
          const work = async (i: number) => {
            calls[i]!++;
            active++;
            max = Math.max(max, active);
            await sleep(steps[i]![0]);
            active--;
            return i;
          };
          function* source() {
            for (let i = 0; i < steps.length; i++) {
              pulled++;
              yield i;
            }
          }
          const pool = viaPool ? new WorkerPool(work, { concurrency }) : null;
          const results =
            pool === null ? flow(source()).map(work, { concurrency, ordered }) : pool.map(source(), { ordered });
          const consume = async () => {
            const out: number[] = [];
            let ahead = 0;
            for await (const i of results) {
              out.push(i);
              ahead = Math.max(ahead, pulled - out.length);
              // The consumer takes its time: results pile up and the loops wait for room.
              await sleep(steps[i]![1]);
            }
            return { out, ahead };
          };
          const run = consume();
          await clock.runAll();
          const { out, ahead } = await run;
          const want = steps.map((_, i) => i);
          expect(ordered ? out : [...out].sort((a, b) => a - b)).toEqual(want);
          expect(max).toBeLessThanOrEqual(concurrency);
          expect(ahead).toBeLessThanOrEqual(2 * concurrency);
          expect(calls.every((n) => n === 1)).toBe(true);
          await pool?.close();
        },
      ),
      { numRuns: 80 },
    );
  });

  it('forEach after a map, with a sync or an async callback of any concurrency, sees what toArray does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 })), { maxLength: 40 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        async (steps, concurrency, eachConcurrency, ordered, asyncEach, viaPool) => {
          const clock = new TestClock();
          const sleep = (ms: number) => new Promise<void>((r) => clock.setTimeout(r, ms));
          let pulled = 0;
          let inEach = 0;
          let maxEach = 0;
          let ahead = 0;
          const seen: number[] = [];
          const work = async (i: number) => {
            await sleep(steps[i]![0]);
            return i;
          };
          function* source() {
            for (let i = 0; i < steps.length; i++) {
              pulled++;
              yield i;
            }
          }
          const pool = viaPool ? new WorkerPool(work, { concurrency }) : null;
          const mapped =
            pool === null ? flow(source()).map(work, { concurrency, ordered }) : pool.map(source(), { ordered });
          const each = (i: number) => {
            seen.push(i);
            ahead = Math.max(ahead, pulled - seen.length);
            if (!asyncEach) return;
            inEach++;
            maxEach = Math.max(maxEach, inEach);
            return sleep(steps[i]![1]).then(() => {
              inEach--;
            });
          };
          const run = mapped.forEach(each, { concurrency: eachConcurrency });
          await clock.runAll();
          await run;
          const want = steps.map((_, i) => i);
          expect(ordered ? seen : [...seen].sort((a, b) => a - b)).toEqual(want);
          expect(maxEach).toBeLessThanOrEqual(eachConcurrency);
          // What is pulled and not yet handed over stays within the window (and the callbacks in flight).
          expect(ahead).toBeLessThanOrEqual(2 * concurrency + eachConcurrency);
          expect(inEach).toBe(0);
          await pool?.close();
        },
      ),
      { numRuns: 80 },
    );
  });

  it('filter, take and drop agree with their array counterparts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -50, max: 50 })),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 1, max: 4 }),
        async (xs, d, t, concurrency) => {
          const out = await flow(xs)
            .filter(async (x) => x % 3 !== 0, { concurrency })
            .drop(d)
            .take(t)
            .toArray();
          expect(out).toEqual(
            xs
              .filter((x) => x % 3 !== 0)
              .slice(d)
              .slice(0, t),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it('batch(size) concatenates back to the input, every batch full but the last', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat()), fc.integer({ min: 1, max: 7 }), async (xs, size) => {
        const batches = await flow(xs).batch(size).toArray();
        expect(batches.flat()).toEqual(xs);
        expect(batches.slice(0, -1).every((b) => b.length === size)).toBe(true);
        expect(batches.every((b) => b.length > 0)).toBe(true);
      }),
    );
  });

  it('map over a lazy source of 1,000,000 items holds a small constant of items pulled and not yet yielded', async () => {
    let pulled = 0;
    function* source() {
      for (let i = 0; i < 1_000_000; i++) {
        pulled++;
        yield i;
      }
    }
    let yielded = 0;
    let maxAhead = 0;
    for await (const x of flow(source()).map(async (n) => n + 1, { concurrency: 8 })) {
      yielded++;
      if (x !== yielded) throw new Error(`out of order: ${x} at ${yielded}`);
      const ahead = pulled - yielded;
      if (ahead > maxAhead) maxAhead = ahead;
    }
    expect(yielded).toBe(1_000_000);
    // concurrency 8: a window of 16 results, whatever the length of the source.
    expect(maxAhead).toBeLessThanOrEqual(16);
  }, 60_000);

  it('WorkerPool.map over a lazy source of 1,000,000 items holds a small constant of items too', async () => {
    let pulled = 0;
    function* source() {
      for (let i = 0; i < 1_000_000; i++) {
        pulled++;
        yield i;
      }
    }
    const pool = new WorkerPool(async (n: number) => n, { concurrency: 8 });
    let yielded = 0;
    let maxAhead = 0;
    for await (const _ of pool.map(source(), { ordered: false })) {
      yielded++;
      const ahead = pulled - yielded;
      if (ahead > maxAhead) maxAhead = ahead;
    }
    expect(yielded).toBe(1_000_000);
    expect(maxAhead).toBeLessThanOrEqual(16);
    await pool.close();
  }, 60_000);
});
