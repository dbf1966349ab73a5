/**
 * ThreadPool under abort storms, against a model: random calls (tiny,
 * async, failing, sleeping and hung tasks), each maybe aborted at a random
 * moment (at once, after a microtask, after a few milliseconds). Every
 * call settles, exactly as the model says: with its task's value or
 * error, or, when its caller aborted before it finished, with that
 * caller's reason, and never with any other error (no abort fails another
 * call, none stops the pool). The counters add up, nothing is left on any
 * signal, and no thread outlives `close()` (the process's OS threads are
 * counted).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { trackLeaks } from 'weftjs/testing';
import { ThreadPool } from 'weftjs/threads';

const module = 'test/threads/fixtures/tasks.ts';

/** The OS threads of this process (Linux), or -1 where that cannot be read. */
function osThreads(): number {
  try {
    return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? -1);
  } catch {
    return -1;
  }
}

type Kind = 'inc' | 'later' | 'fail' | 'sleep' | 'spin';
type Abort = 'none' | 'sync' | 'microtask' | number;
interface Call {
  kind: Kind;
  n: number;
  abort: Abort;
}

const call: fc.Arbitrary<Call> = fc
  .record({
    kind: fc.constantFrom<Kind>('inc', 'inc', 'inc', 'inc', 'later', 'fail', 'sleep', 'sleep', 'spin'),
    n: fc.integer({ min: 0, max: 8 }),
    abort: fc.oneof(
      fc.constant<Abort>('none'),
      fc.constant<Abort>('sync'),
      fc.constant<Abort>('microtask'),
      fc.integer({ min: 0, max: 6 }),
    ),
  })
  // A hung task must be aborted, and rarely: each one costs a thread.
  .map((c) => (c.kind === 'spin' ? { ...c, abort: c.abort === 'none' ? 2 : c.abort } : c));

const expected = (c: Call): { ok: boolean; value: unknown } => {
  switch (c.kind) {
    case 'inc':
      return { ok: true, value: c.n + 1 };
    case 'later':
    case 'sleep':
      return { ok: true, value: c.n };
    case 'fail':
      return { ok: false, value: `boom ${c.n}` };
    default:
      return { ok: false, value: 'never returns' };
  }
};

describe('ThreadPool properties', () => {
  const pool = new ThreadPool({ module, threads: 2, abortGraceMs: 30 });
  const baseline = osThreads();
  afterAll(async () => {
    await pool.close();
  });

  it('under random aborts, every call settles as the model says, the counters add up, and nothing is left', {
    timeout: 90_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(call, { minLength: 1, maxLength: 40 }).filter((cs) => cs.filter((c) => c.kind === 'spin').length <= 1),
        async (calls) => {
          using leaks = trackLeaks();
          const before = pool.stats;
          const reasons = calls.map((_, i) => new Error(`abort ${i}`));
          const settles = calls.map(() => 0);
          const promises = calls.map((c, i) => {
            const ac = new AbortController();
            const arg = c.kind === 'fail' ? `boom ${c.n}` : c.kind === 'spin' ? undefined : c.n;
            const p = pool.run(c.kind, arg, { signal: ac.signal }).then(
              (value) => {
                settles[i]!++;
                return { ok: true, value } as const;
              },
              (error) => {
                settles[i]!++;
                return { ok: false, error } as const;
              },
            );
            if (c.abort === 'sync') ac.abort(reasons[i]);
            else if (c.abort === 'microtask') queueMicrotask(() => ac.abort(reasons[i]));
            else if (typeof c.abort === 'number') setTimeout(() => ac.abort(reasons[i]), c.abort);
            return p;
          });
          const outcomes = await Promise.all(promises);
          await new Promise((r) => setTimeout(r, 10)); // aborts scheduled after a settle are harmless
          expect(settles.every((n) => n === 1)).toBe(true);
          let completed = 0;
          let failed = 0;
          let canceled = 0;
          outcomes.forEach((o, i) => {
            const c = calls[i]!;
            const want = expected(c);
            if (!o.ok && o.error === reasons[i]) {
              expect(c.abort).not.toBe('none');
              canceled++;
            } else if (o.ok) {
              expect(want).toEqual({ ok: true, value: o.value });
              completed++;
            } else {
              expect(o.error).toBeInstanceOf(Error);
              expect([c.kind, (o.error as Error).message]).toEqual(['fail', want.value]);
              failed++;
            }
          });
          const after = pool.stats;
          expect({
            completed: after.completed - before.completed,
            failed: after.failed - before.failed,
            canceled: after.canceled - before.canceled,
            running: after.running,
            queued: after.queued,
          }).toEqual({ completed, failed, canceled, running: 0, queued: 0 });
          expect(after.threads).toBeLessThanOrEqual(2);
          expect(leaks.check().listeners).toBe(0);
          expect(leaks.check().waiters).toBe(0);
        },
      ),
      { numRuns: 30 },
    );
    // A hung task's thread is gone after its grace; then close leaves no thread at all.
    await pool.close();
    expect(pool.stats.threads).toBe(0);
    if (baseline > 0) {
      for (let i = 0; i < 100 && osThreads() > baseline; i++) await new Promise((r) => setTimeout(r, 20));
      expect(osThreads()).toBeLessThanOrEqual(baseline);
    }
  });

  it('map under a random abort or early stop yields a prefix of the results in order, and stops its tasks', {
    timeout: 60_000,
  }, async () => {
    await using p = new ThreadPool({ module, threads: 2, abortGraceMs: 30 });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 300 }),
        fc.oneof(fc.constant<'break' | number>('break'), fc.integer({ min: 0, max: 5 })),
        fc.integer({ min: 0, max: 400 }),
        async (n, stop, at) => {
          using leaks = trackLeaks();
          const ac = new AbortController();
          const reason = new Error('stop');
          const out: number[] = [];
          let error: unknown;
          if (typeof stop === 'number') setTimeout(() => ac.abort(reason), stop);
          try {
            for await (const v of p.map<number, number>(
              'inc',
              Array.from({ length: n }, (_, i) => i),
              { signal: ac.signal },
            )) {
              out.push(v);
              if (stop === 'break' && out.length >= at) break;
            }
          } catch (e) {
            error = e;
          }
          expect(out).toEqual(Array.from({ length: out.length }, (_, i) => i + 1));
          if (error !== undefined) expect(error).toBe(reason);
          else if (stop === 'break') expect(out.length).toBe(Math.min(n, Math.max(1, at)));
          await new Promise((r) => setTimeout(r, 10));
          expect(p.stats).toMatchObject({ running: 0, queued: 0 });
          expect(leaks.check().listeners).toBe(0);
          ac.abort();
        },
      ),
      { numRuns: 40 },
    );
  });
});
