// Semaphore against a model of x/sync's weighted semaphore: over any
// schedule of acquire, tryAcquire, run, release and abort, the permits held
// never exceed the size, and exactly the requests the FIFO model grants are
// granted, in the order they were made.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Lock, Semaphore } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { flush } from '../support.js';

type Cmd =
  | { kind: 'acquire'; w: number; abortable: boolean }
  | { kind: 'run'; w: number; abortable: boolean }
  | { kind: 'try'; w: number }
  | { kind: 'release'; pick: number }
  | { kind: 'abort'; pick: number };

const cmd = (size: number): fc.Arbitrary<Cmd> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('acquire' as const),
        w: fc.integer({ min: 0, max: size }),
        abortable: fc.boolean(),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('run' as const),
        w: fc.integer({ min: 0, max: size }),
        abortable: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('try' as const), w: fc.integer({ min: 0, max: size }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
  );

interface Req {
  id: number;
  w: number;
  ac: AbortController | undefined;
  /** What the semaphore did with it. */
  actual: 'pending' | 'granted' | 'aborted';
  /** What the model says. */
  model: 'pending' | 'granted' | 'aborted';
  /** Gives the permits back (a Lock's release, or ending a run). */
  release: (() => void) | undefined;
  released: boolean;
}

describe('Semaphore properties', () => {
  // With leak tracking on, every queued call is a waiter object; with it
  // off, a run without a signal is queued as bare slots of the ring: both
  // representations, mixed with waiters that abort, must behave the same.
  it.each([
    ['with leak tracking (every call a waiter)', true],
    ['without leak tracking (runs without a signal queued as slots)', false],
  ])(
    'never over-admits and grants exactly what a strict FIFO model grants, in request order, %s',
    async (_name, tracked) => {
      await fc.assert(
        fc.asyncProperty(
          fc
            .integer({ min: 1, max: 6 })
            .chain((size) => fc.tuple(fc.constant(size), fc.array(cmd(size), { maxLength: 60 }))),
          async ([size, cmds]) => {
            using leaks = tracked ? trackLeaks() : undefined;
            const sem = new Semaphore(size);
            const reqs: Req[] = [];
            const queue: Req[] = []; // the model's waiters
            let modelHeld = 0;
            let held = 0; // permits held according to what was granted
            const grantOrder: number[] = [];
            const isRun: boolean[] = [];
            const modelWake = () => {
              while (queue.length > 0 && size - modelHeld >= queue[0]!.w) {
                const r = queue.shift()!;
                r.model = 'granted';
                modelHeld += r.w;
              }
            };
            const granted = (r: Req) => {
              r.actual = 'granted';
              held += r.w;
              grantOrder.push(r.id);
              expect(held).toBeLessThanOrEqual(size);
            };
            for (const c of cmds) {
              if (c.kind === 'acquire' || c.kind === 'run') {
                const ac = c.abortable ? new AbortController() : undefined;
                const r: Req = {
                  id: reqs.length,
                  w: c.w,
                  ac,
                  actual: 'pending',
                  model: 'pending',
                  release: undefined,
                  released: false,
                };
                reqs.push(r);
                isRun[r.id] = c.kind === 'run';
                if (queue.length === 0 && size - modelHeld >= c.w) {
                  r.model = 'granted';
                  modelHeld += c.w;
                } else queue.push(r);
                const opts = ac ? { signal: ac.signal } : undefined;
                const onAbort = () => {
                  r.actual = 'aborted';
                };
                if (c.kind === 'acquire') {
                  sem.acquire(c.w, opts).then((lock: Lock) => {
                    granted(r);
                    r.release = () => lock.release();
                  }, onAbort);
                } else {
                  let end!: () => void;
                  sem
                    .run(
                      () => {
                        granted(r);
                        return new Promise<void>((res) => (end = res));
                      },
                      { weight: c.w, signal: ac?.signal },
                    )
                    .catch(onAbort);
                  r.release = () => end();
                }
              } else if (c.kind === 'try') {
                const model = queue.length === 0 && size - modelHeld >= c.w;
                expect(sem.tryAcquire(c.w)).toBe(model);
                if (model) {
                  modelHeld += c.w;
                  held += c.w;
                  const r: Req = {
                    id: -1,
                    w: c.w,
                    ac: undefined,
                    actual: 'granted',
                    model: 'granted',
                    release: () => sem.release(c.w),
                    released: false,
                  };
                  reqs.push(r);
                }
              } else if (c.kind === 'release') {
                const live = reqs.filter((r) => r.actual === 'granted' && !r.released);
                if (live.length === 0) continue;
                const r = live[c.pick % live.length]!;
                r.released = true;
                held -= r.w;
                modelHeld -= r.w;
                r.release!();
                modelWake();
              } else {
                const pending = queue.filter((r) => r.ac !== undefined);
                if (pending.length === 0) continue;
                const r = pending[c.pick % pending.length]!;
                queue.splice(queue.indexOf(r), 1);
                r.model = 'aborted';
                r.ac!.abort();
                modelWake();
              }
              await flush();
              expect(reqs.map((r) => r.actual)).toEqual(reqs.map((r) => r.model));
              expect(sem.available).toBe(size - modelHeld);
              expect(sem.waiting).toBe(queue.length);
            }
            // FIFO: grants happened in request order. A run is seen granted
            // when its fn starts (synchronously), an acquire a microtask after
            // (its promise): each kind is checked on its own.
            for (const kind of [true, false]) {
              const ids = grantOrder.filter((id) => id >= 0 && isRun[id] === kind);
              expect(ids).toEqual([...ids].sort((a, b) => a - b));
            }
            // Drain: abort every waiter that can be aborted and release everything.
            for (const r of queue) r.ac?.abort();
            for (;;) {
              const live = reqs.filter((r) => r.actual === 'granted' && !r.released);
              if (live.length === 0) break;
              for (const r of live) {
                r.released = true;
                held -= r.w;
                r.release!();
              }
              await flush();
            }
            expect(sem.available).toBe(size);
            expect(sem.waiting).toBe(0);
            if (leaks !== undefined) {
              expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
              leaks.stop();
            }
          },
        ),
        { numRuns: 150 },
      );
    },
  );
});
