// Semaphore: the intent of golang.org/x/sync's semaphore_test.go, ported,
// plus weft's own contract (Lock handles, run, abort, validation).
import { setMaxListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Semaphore, sleep } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';
import { flush } from '../test/support.js';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };
const codeOf = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: unknown }).code;
  }
  return 'no error';
};

describe('Semaphore (x/sync semaphore_test.go)', () => {
  it('TestWeighted: workers of every weight hammering acquire/release never exceed the size', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const n = 8;
    const sem = new Semaphore(n);
    let held = 0;
    let peak = 0;
    const hammer = async (weight: number, loops: number) => {
      for (let i = 0; i < loops; i++) {
        const lock = await sem.acquire(weight);
        held += weight;
        peak = Math.max(peak, held);
        expect(held).toBeLessThanOrEqual(n);
        await sleep((i * 7 + weight) % 3, { clock });
        held -= weight;
        lock.release();
      }
    };
    const all = Promise.all(Array.from({ length: n + 1 }, (_, w) => hammer(w, 50)));
    while (clock.pending > 0 || sem.waiting > 0) await clock.advance(1);
    await all;
    expect(peak).toBe(n);
    expect(sem.available).toBe(n);
    expect(leaks.check()).toEqual(none);
  });

  it('TestWeightedPanic: releasing what was never acquired throws ERR_SEMAPHORE_OVER_RELEASE', () => {
    const sem = new Semaphore(1);
    expect(codeOf(() => sem.release(1))).toBe('ERR_SEMAPHORE_OVER_RELEASE');
    sem.tryAcquire(1);
    expect(codeOf(() => sem.release(2))).toBe('ERR_SEMAPHORE_OVER_RELEASE');
    expect(sem.available).toBe(0);
    sem.release(1);
    expect(sem.available).toBe(1);
  });

  it('TestWeightedTryAcquire: tryAcquire takes what is free and nothing more', async () => {
    const sem = new Semaphore(2);
    const tries: boolean[] = [];
    await sem.acquire(1);
    tries.push(sem.tryAcquire(1));
    tries.push(sem.tryAcquire(1));
    sem.release(2);
    tries.push(sem.tryAcquire(1));
    await sem.acquire(1);
    tries.push(sem.tryAcquire(1));
    expect(tries).toEqual([true, false, true, false]);
  });

  it('TestWeightedAcquire: an acquire with a deadline succeeds when free and gives up with the reason when not', async () => {
    using leaks = trackLeaks();
    const sem = new Semaphore(2);
    const tryAcquire = async (n: number): Promise<boolean> => {
      const ac = new AbortController();
      const p = sem.acquire(n, { signal: ac.signal });
      await flush();
      ac.abort(new Error('deadline'));
      return p.then(
        () => true,
        (err: Error) => {
          expect(err.message).toBe('deadline');
          return false;
        },
      );
    };
    const tries: boolean[] = [];
    await sem.acquire(1);
    tries.push(await tryAcquire(1));
    tries.push(await tryAcquire(1));
    sem.release(2);
    tries.push(await tryAcquire(1));
    await sem.acquire(1);
    tries.push(await tryAcquire(1));
    expect(tries).toEqual([true, false, true, false]);
    expect(sem.waiting).toBe(0);
    expect(leaks.check()).toEqual(none);
  });

  it('TestWeightedDoesntBlockIfTooBig: a weight above the size rejects at once with RangeError and blocks nobody', async () => {
    using leaks = trackLeaks();
    const sem = new Semaphore(2);
    await expect(sem.acquire(3)).rejects.toThrow(RangeError);
    await expect(sem.run(() => 1, { weight: 3 })).rejects.toThrow(RangeError);
    expect(sem.tryAcquire(3)).toBe(false);
    expect(sem.waiting).toBe(0);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => sem.run(() => sleep(0).then(() => i))));
    expect(results).toEqual([0, 1, 2, 3, 4, 5]);
    expect(leaks.check()).toEqual(none);
  });

  it('TestLargeAcquireDoesntStarve: a full-size acquire is served while small ones keep cycling', async () => {
    const n = 4;
    const sem = new Semaphore(n);
    let running = true;
    let cycles = 0;
    const workers = Array.from({ length: n }, async () => {
      let lock = await sem.acquire(1);
      while (running) {
        await flush();
        lock.release();
        lock = await sem.acquire(1);
        cycles++;
      }
      lock.release();
    });
    await flush();
    const big = await sem.acquire(n);
    running = false;
    big.release();
    await Promise.all(workers);
    expect(cycles).toBeLessThan(4 * n);
    expect(sem.available).toBe(n);
  });

  it('TestAllocCancelDoesntStarve: a small waiter behind a large head that aborts is served', async () => {
    using leaks = trackLeaks();
    const sem = new Semaphore(10);
    const reader = await sem.acquire(1);
    const ac = new AbortController();
    const writer = sem.acquire(10, { signal: ac.signal });
    let got = false;
    const second = sem.acquire(1).then((l) => {
      got = true;
      return l;
    });
    await flush();
    expect(got).toBe(false);
    ac.abort();
    await expect(writer).rejects.toMatchObject({ name: 'AbortError' });
    (await second).release();
    expect(got).toBe(true);
    reader.release();
    expect(sem.available).toBe(10);
    expect(leaks.check()).toEqual(none);
  });

  it('TestWeightedAcquireCanceled: an abort after the permits were granted changes nothing and leaks no permit', async () => {
    using leaks = trackLeaks();
    const sem = new Semaphore(2);
    const first = await sem.acquire(2);
    const ac = new AbortController();
    const waiting = sem.acquire(1, { signal: ac.signal });
    first.release(); // grants the waiter synchronously
    ac.abort(); // too late: it already holds its permit
    const lock = await waiting;
    expect(sem.available).toBe(1);
    lock.release();
    expect(sem.available).toBe(2);
    expect(leaks.check()).toEqual(none);
  });
});

describe('Semaphore', () => {
  it('serves waiters strictly in order: a large head holds back smaller waiters that would fit', async () => {
    const sem = new Semaphore(5);
    const order: string[] = [];
    const held = await sem.acquire(3);
    const big = sem.acquire(4).then((l) => {
      order.push('big');
      return l;
    });
    const small = sem.acquire(1).then((l) => {
      order.push('small');
      return l;
    });
    await flush();
    expect(order).toEqual([]);
    expect(sem.available).toBe(2);
    expect(sem.tryAcquire(1)).toBe(false);
    held.release();
    const [b, s] = await Promise.all([big, small]);
    expect(order).toEqual(['big', 'small']);
    b.release();
    s.release();
    expect(sem.available).toBe(5);
  });

  it('a Lock releases its weight once however often release or dispose is called', async () => {
    const sem = new Semaphore(3);
    const lock = await sem.acquire(2);
    lock.release();
    lock.release();
    lock[Symbol.dispose]();
    expect(sem.available).toBe(3);
    {
      using _l = await sem.acquire(3);
      expect(sem.available).toBe(0);
    }
    expect(sem.available).toBe(3);
  });

  it('weight 0 succeeds at once when nobody waits and queues behind waiters otherwise', async () => {
    const sem = new Semaphore(1);
    expect(sem.tryAcquire(0)).toBe(true);
    const held = await sem.acquire(1);
    const zeroNow = await sem.acquire(0);
    zeroNow.release();
    const one = sem.acquire(1);
    let zeroDone = false;
    const zero = sem.acquire(0).then((l) => {
      zeroDone = true;
      return l;
    });
    await flush();
    expect(zeroDone).toBe(false);
    held.release();
    (await one).release();
    (await zero).release();
    expect(zeroDone).toBe(true);
    expect(sem.available).toBe(1);
  });

  it('run calls a free slot synchronously and returns plain values, promises and errors as they are', async () => {
    const sem = new Semaphore(1);
    let called = false;
    const p = sem.run(() => {
      called = true;
      return 7;
    });
    expect(called).toBe(true);
    expect(sem.available).toBe(1);
    expect(await p).toBe(7);
    const boom = new Error('boom');
    await expect(
      sem.run(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    await expect(sem.run(() => Promise.reject(boom))).rejects.toBe(boom);
    expect(await sem.run(async () => 'async')).toBe('async');
    expect(sem.available).toBe(1);
  });

  it('queued runs start in order as permits free, each holding its weight until it settles', async () => {
    using leaks = trackLeaks();
    const sem = new Semaphore(3);
    const log: string[] = [];
    const task = (name: string, w: number) =>
      sem.run(
        async () => {
          log.push(`start ${name} (${sem.available} left)`);
          await flush();
          log.push(`end ${name}`);
          return name;
        },
        { weight: w },
      );
    const out = await Promise.all([task('a', 2), task('b', 2), task('c', 1), task('d', 3)]);
    expect(out).toEqual(['a', 'b', 'c', 'd']);
    expect(log).toEqual([
      'start a (1 left)',
      'end a',
      // b and c are granted together (their permits taken), then each starts in its caller's context.
      'start b (0 left)',
      'start c (0 left)',
      'end b',
      'end c',
      'start d (0 left)',
      'end d',
    ]);
    expect(leaks.check()).toEqual(none);
  });

  it('a run aborted while queued rejects with the reason and never calls fn', async () => {
    using leaks = trackLeaks();
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const ac = new AbortController();
    let called = false;
    const p = sem.run(
      () => {
        called = true;
      },
      { signal: ac.signal },
    );
    expect(sem.waiting).toBe(1);
    ac.abort('stop');
    await expect(p).rejects.toBe('stop');
    held.release();
    expect(called).toBe(false);
    expect(sem.available).toBe(1);
    expect(leaks.check()).toEqual(none);
  });

  it('a run whose signal aborts after fn started ends with fn’s outcome and holds its permit until then', async () => {
    using leaks = trackLeaks();
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const ac = new AbortController();
    let finish!: (v: string) => void;
    const p = sem.run(() => new Promise<string>((r) => (finish = r)), { signal: ac.signal });
    held.release();
    await flush(); // the granted run starts in its caller's continuation
    ac.abort();
    expect(sem.available).toBe(0);
    finish('done');
    expect(await p).toBe('done');
    expect(sem.available).toBe(1);
    expect(leaks.check()).toEqual(none);
  });

  it('an already-aborted signal rejects a call that would wait and lets one through that would not', async () => {
    using leaks = trackLeaks();
    const sem = new Semaphore(1);
    const signal = AbortSignal.abort('gone');
    const lock = await sem.acquire(1, { signal });
    await expect(sem.acquire(1, { signal })).rejects.toBe('gone');
    await expect(sem.run(() => 1, { signal })).rejects.toBe('gone');
    expect(sem.waiting).toBe(0);
    lock.release();
    expect(leaks.check()).toEqual(none);
  });

  it('many queued runs that return plain values are served in one loop without overflowing the stack', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const runs = Array.from({ length: 100_000 }, (_, i) => sem.run(() => i));
    held.release();
    const out = await Promise.all(runs);
    expect(out[99_999]).toBe(99_999);
    expect(sem.available).toBe(1);
  });

  it.each([
    ['without a signal', false],
    ['with a signal', true],
  ])(
    'queued runs %s end as their fn does: value, promise, thenable, throw or rejection, in turn',
    async (_name, withSignal) => {
      const sem = new Semaphore(1);
      const held = await sem.acquire();
      const signal = withSignal ? new AbortController().signal : undefined;
      const started: number[] = [];
      const fns: (() => unknown)[] = [
        () => 'plain',
        () => Promise.resolve('promise'),
        // Settles a few microtasks later: the next run must wait for it.
        () => ({
          // biome-ignore lint/suspicious/noThenProperty: the test needs a thenable that is not a promise
          then: (ok: (v: string) => void) => {
            void flush().then(() => {
              started.push(-2);
              ok('thenable');
            });
          },
        }),
        () => {
          throw new Error('thrown');
        },
        () => Promise.reject(new Error('rejected')),
        () => 'after',
      ];
      const runs = fns.map((fn, i) =>
        sem.run(
          () => {
            started.push(i);
            // One at a time: the permit of the run before has come back.
            expect(sem.available).toBe(0);
            return fn();
          },
          { signal },
        ),
      );
      expect(sem.waiting).toBe(6);
      held.release();
      const out = await Promise.allSettled(runs);
      expect(out.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
        'plain',
        'promise',
        'thenable',
        'thrown',
        'rejected',
        'after',
      ]);
      expect(started).toEqual([0, 1, 2, -2, 3, 4, 5]);
      expect(sem.available).toBe(1);
      expect(sem.waiting).toBe(0);
    },
  );

  it('1000 concurrent callers each hold a permit of 10 in turn and leave nothing behind', async () => {
    using leaks = trackLeaks();
    const sem = new Semaphore(10);
    let held = 0;
    let peak = 0;
    const ac = new AbortController();
    setMaxListeners(2000, ac.signal);
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        sem.run(
          async () => {
            peak = Math.max(peak, ++held);
            await flush();
            held--;
            return i;
          },
          { signal: ac.signal },
        ),
      ),
    );
    expect(peak).toBe(10);
    expect(sem.available).toBe(10);
    expect(leaks.check()).toEqual(none);
  });

  it('reports size, available and waiting', async () => {
    const sem = new Semaphore(4);
    expect([sem.size, sem.available, sem.waiting]).toEqual([4, 4, 0]);
    await sem.acquire(3);
    const p = sem.acquire(2);
    expect([sem.size, sem.available, sem.waiting]).toEqual([4, 1, 1]);
    sem.release(3);
    (await p).release();
    expect([sem.size, sem.available, sem.waiting]).toEqual([4, 4, 0]);
  });

  it('bad arguments throw at once, naming the operation and the value', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
    expect(() => new Semaphore(1.5)).toThrow(/Semaphore: `size`.*1\.5/);
    const sem = new Semaphore(2);
    expect(() => sem.acquire(-1)).toThrow(/Semaphore.acquire: `weight`/);
    expect(() => sem.acquire('1' as never)).toThrow(TypeError);
    expect(() => sem.tryAcquire(0.5)).toThrow(RangeError);
    expect(() => sem.release(Number.NaN)).toThrow(RangeError);
    expect(() => sem.run(42 as never)).toThrow(/Semaphore.run: `fn`/);
    expect(() => sem.acquire(1, { signal: {} as AbortSignal })).toThrow(TypeError);
    expect(new Semaphore(Number.POSITIVE_INFINITY).tryAcquire(1e9)).toBe(true);
  });
});
