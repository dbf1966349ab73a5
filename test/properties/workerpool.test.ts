/**
 * WorkerPool against a model: under random job durations (virtual time),
 * random concurrency and random resizes, no job starts while `concurrency`
 * jobs already run, every job runs exactly once, and ordered output is in
 * input order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WorkerPool } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';

describe('WorkerPool properties', () => {
  it('never runs more than `concurrency` jobs, runs each job once, and map keeps input order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        async (durations, concurrency, ordered) => {
          using leaks = trackLeaks();
          const clock = new TestClock();
          const runs = new Map<number, number>();
          let active = 0;
          let violated = false;
          const workers = new Set<number>();
          const pool = new WorkerPool(
            async (i: number, ctx) => {
              runs.set(i, (runs.get(i) ?? 0) + 1);
              active++;
              if (active > concurrency || workers.has(ctx.worker) || ctx.worker >= concurrency) violated = true;
              workers.add(ctx.worker);
              await new Promise<void>((r) => clock.setTimeout(() => r(), durations[i]!));
              workers.delete(ctx.worker);
              active--;
              return i;
            },
            { concurrency },
          );
          const out: number[] = [];
          const done = (async () => {
            for await (const i of pool.map(
              durations.map((_, i) => i),
              { ordered },
            ))
              out.push(i);
          })();
          await clock.runAll();
          await done;
          expect(violated).toBe(false);
          expect([...runs.values()].every((n) => n === 1)).toBe(true);
          expect(runs.size).toBe(durations.length);
          const input = durations.map((_, i) => i);
          if (ordered) expect(out).toEqual(input);
          else expect([...out].sort((a, b) => a - b)).toEqual(input);
          await pool.close();
          expect(leaks.check().waiters + leaks.check().timers + leaks.check().listeners).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('resize up and down takes effect: a job starts only while fewer than the current concurrency run', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 6 })), { maxLength: 5 }),
        async (durations, concurrency, resizes) => {
          const clock = new TestClock();
          let active = 0;
          let limit = concurrency;
          let violated = false;
          let maxActive = 0;
          const pool = new WorkerPool(
            async (ms: number, ctx) => {
              active++;
              maxActive = Math.max(maxActive, active);
              if (active > limit || ctx.worker >= limit) violated = true;
              await new Promise<void>((r) => clock.setTimeout(() => r(), ms));
              active--;
            },
            { concurrency },
          );
          for (const [at, n] of resizes) {
            clock.setTimeout(() => {
              limit = n;
              pool.resize(n);
              // Growing starts queued jobs at once, up to the new limit.
              if (pool.stats.queued > 0 && pool.stats.running < n) violated = true;
            }, at);
          }
          const jobs = durations.map((ms) => pool.submit(ms));
          await clock.runAll();
          await Promise.all(jobs);
          expect(violated).toBe(false);
          expect(pool.stats.completed).toBe(durations.length);
        },
      ),
      { numRuns: 60 },
    );
  });
});
