/**
 * Every way a flow or a pool map can end (normal end, flow signal aborting
 * mid-stream, consumer break, an error in a middle stage, a pool closed
 * without drain) leaves no waiter, timer or listener behind, and closes the
 * source exactly once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Channel, type Flow, flow, merge, tee, WorkerPool } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';
import { flush as tick } from '../support.js';

function source(kind: 'sync' | 'async') {
  const state = { pulled: 0, closes: 0 };
  function* s() {
    try {
      for (let i = 0; ; i++) {
        state.pulled++;
        yield i;
      }
    } finally {
      state.closes++;
    }
  }
  async function* a() {
    try {
      for (let i = 0; ; i++) {
        state.pulled++;
        await Promise.resolve();
        yield i;
      }
    } finally {
      state.closes++;
    }
  }
  return { state, it: kind === 'sync' ? s() : a() };
}

type Ending = 'break' | 'abort' | 'error';

/** A pipeline of every kind of stage, with a timer-backed map so that aborts find work in flight. */
function pipeline(
  src: AsyncIterable<number> | Iterable<number>,
  clock: TestClock,
  signal: AbortSignal,
  failAt: number,
) {
  // biome-ignore lint/complexity/noFlatMapIdentity: Flow has no flat(); its flatMap stage is under test
  return flow(src, { signal, clock })
    .map(
      (n, s) =>
        new Promise<number>((resolve, reject) => {
          const onAbort = () => {
            clock.clearTimeout(h);
            reject(s.reason);
          };
          const h = clock.setTimeout(() => {
            s.removeEventListener('abort', onAbort);
            resolve(n);
          }, n % 3);
          s.addEventListener('abort', onAbort);
        }),
      { concurrency: 3 },
    )
    .filter((n) => n % 5 !== 4, { concurrency: 2 })
    .tap((n) => {
      if (n === failAt) throw new Error('stage failed');
    })
    .batch(2, { maxWaitMs: 10 })
    .flatMap((b) => b)
    .buffer(2);
}

async function run(f: Flow<number>, ending: Ending, stopAt: number, ac: AbortController, clock: TestClock) {
  const got: number[] = [];
  const it = f[Symbol.asyncIterator]();
  const drive = (async () => {
    for (;;) {
      const r = await it.next();
      if (r.done) return 'done';
      got.push(r.value);
      if (got.length === stopAt) {
        if (ending === 'break') {
          await it.return?.();
          return 'break';
        }
        if (ending === 'abort') ac.abort(new Error('aborted'));
      }
    }
  })();
  const outcome = drive.then(
    (v) => v,
    (e: Error) => e.message,
  );
  for (let i = 0; i < 200; i++) {
    await clock.runAll();
    const settled = await Promise.race([outcome, tick().then(() => undefined)]);
    if (settled !== undefined) return { outcome: settled, got };
  }
  return { outcome: 'hung', got };
}

describe('flow leaks', () => {
  it('every ending of a many-stage flow leaves nothing behind and closes the source once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Ending>('break', 'abort', 'error'),
        fc.constantFrom<'sync' | 'async'>('sync', 'async'),
        fc.integer({ min: 1, max: 12 }),
        async (ending, kind, stopAt) => {
          using leaks = trackLeaks();
          const clock = new TestClock();
          const ac = new AbortController();
          const { state, it } = source(kind);
          // The filter drops n % 5 === 4: fail on an item that reaches the tap.
          const failAt = ending === 'error' ? (stopAt % 5 === 4 ? stopAt + 1 : stopAt) : -1;
          const { outcome } = await run(pipeline(it, clock, ac.signal, failAt), ending, stopAt, ac, clock);
          await tick();
          await clock.runAll();
          await tick();
          const want = ending === 'break' ? 'break' : ending === 'abort' ? 'aborted' : 'stage failed';
          expect(outcome).toBe(want);
          expect(state.closes).toBe(1);
          expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a flow over a channel that never sends, aborted, leaves no waiter on the channel or the flow', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>();
    const ac = new AbortController();
    const run = flow(ch, { signal: ac.signal })
      .map((n) => n, { concurrency: 4 })
      .take(3)
      .toArray();
    await tick();
    ac.abort('gone');
    await expect(run).rejects.toBe('gone');
    await tick();
    // The flow called return() on the channel's iterator, which ends its waiting recv too.
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('a merge and a tee stopped early leave nothing behind', async () => {
    using leaks = trackLeaks();
    const a = source('async');
    const b = source('sync');
    const got = await merge(a.it, b.it).take(10).toArray();
    expect(got.length).toBe(10);
    await tick();
    expect(a.state.closes + b.state.closes).toBe(2);
    const c = source('sync');
    const [x, y] = tee(c.it, 2);
    expect(await Promise.all([x.take(5).toArray(), y.take(3).toArray()])).toEqual([
      [0, 1, 2, 3, 4],
      [0, 1, 2],
    ]);
    expect(c.state.closes).toBe(1);
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('a pool closed without drain during a map leaves nothing behind and closes the source', async () => {
    using leaks = trackLeaks();
    const { state, it } = source('async');
    const pool = new WorkerPool(
      (_: number, { signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      { concurrency: 3 },
    );
    const run = (async () => {
      for await (const _ of pool.map(it));
    })();
    await tick();
    expect(pool.stats.running).toBe(3);
    await pool.close({ drain: false });
    await expect(run).rejects.toMatchObject({ code: 'ERR_POOL_CLOSED' });
    await tick();
    expect(state.closes).toBe(1);
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });
});
