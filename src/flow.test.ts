import { describe, expect, it } from 'vitest';
import { Channel, Flow, fanOut, flow, merge, orDone, RateLimiter, tee } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';
import { flush as tick } from '../test/support.js';

function clean(leaks: ReturnType<typeof trackLeaks>) {
  expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
}

/** An endless source that records what was pulled and whether it was closed. */
function counted(async = false) {
  const state = { pulled: 0, closed: false };
  function* sync() {
    try {
      for (let i = 0; ; i++) {
        state.pulled++;
        yield i;
      }
    } finally {
      state.closed = true;
    }
  }
  async function* asyncGen() {
    try {
      for (let i = 0; ; i++) {
        state.pulled++;
        yield i;
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, source: async ? asyncGen() : sync() };
}

describe('flow', () => {
  it('is lazy: nothing is pulled until the flow is iterated', async () => {
    const { state, source } = counted();
    const f = flow(source)
      .map((n) => n * 2)
      .filter((n) => n > 0);
    await tick();
    expect(state.pulled).toBe(0);
    expect(await f.take(2).toArray()).toEqual([2, 4]);
    expect(state.closed).toBe(true);
  });

  it('accepts arrays, sets, strings, generators, async generators and channels', async () => {
    async function* ag() {
      yield 1;
      yield 2;
    }
    const ch = new Channel<number>(2);
    await ch.send(5);
    await ch.send(6);
    ch.close();
    expect(await flow([1, 2]).toArray()).toEqual([1, 2]);
    expect(await flow(new Set([3])).toArray()).toEqual([3]);
    expect(await flow('ab').toArray()).toEqual(['a', 'b']);
    expect(await flow(ag()).toArray()).toEqual([1, 2]);
    expect(await flow(ch).toArray()).toEqual([5, 6]);
  });

  it('adapts a ReadableStream-like source that only has getReader()', async () => {
    const stream = new ReadableStream<number>({
      start(c) {
        c.enqueue(1);
        c.enqueue(2);
        c.close();
      },
    });
    const readerOnly = { getReader: () => stream.getReader(), cancel: () => stream.cancel() };
    expect(await flow(readerOnly as unknown as AsyncIterable<number>).toArray()).toEqual([1, 2]);
  });

  it('map runs at most `concurrency` calls at once and keeps input order', async () => {
    const clock = new TestClock();
    let active = 0;
    let max = 0;
    const out = flow([50, 10, 40, 20, 30])
      .map(
        async (ms) => {
          active++;
          max = Math.max(max, active);
          await new Promise<void>((r) => clock.setTimeout(() => r(), ms));
          active--;
          return ms;
        },
        { concurrency: 2 },
      )
      .toArray();
    await clock.runAll();
    expect(await out).toEqual([50, 10, 40, 20, 30]);
    expect(max).toBe(2);
  });

  it('map with ordered: false yields in completion order', async () => {
    const clock = new TestClock();
    const out = flow([30, 10, 20])
      .map((ms) => new Promise<number>((r) => clock.setTimeout(() => r(ms), ms)), { concurrency: 3, ordered: false })
      .toArray();
    await clock.runAll();
    expect(await out).toEqual([10, 20, 30]);
  });

  it('filter keeps order with concurrency', async () => {
    const clock = new TestClock();
    const out = flow([5, 1, 4, 2, 3])
      .filter((n) => new Promise<boolean>((r) => clock.setTimeout(() => r(n % 2 === 1), n)), { concurrency: 3 })
      .toArray();
    await clock.runAll();
    expect(await out).toEqual([5, 1, 3]);
  });

  it('flatMap flattens iterables, async iterables and promises of iterables', async () => {
    async function* two(n: number) {
      yield n;
      yield n;
    }
    expect(
      await flow([1, 2, 3])
        .flatMap((n) => (n === 1 ? [n] : n === 2 ? two(n) : Promise.resolve([n, n, n])))
        .toArray(),
    ).toEqual([1, 2, 2, 3, 3, 3]);
  });

  it('tap sees every item and passes it on; drop skips; take stops the source', async () => {
    const seen: number[] = [];
    const { state, source } = counted();
    const out = await flow(source)
      .tap((n) => {
        seen.push(n);
      })
      .drop(2)
      .take(3)
      .toArray();
    expect(out).toEqual([2, 3, 4]);
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(state.closed).toBe(true);
  });

  it('batch groups by size, and by maxWaitMs on the clock for a slow source', async () => {
    using leaks = trackLeaks();
    expect(await flow([1, 2, 3, 4, 5]).batch(2).toArray()).toEqual([[1, 2], [3, 4], [5]]);
    const clock = new TestClock();
    const ch = new Channel<number>(10);
    const batches: number[][] = [];
    const done = flow(ch, { clock })
      .batch(3, { maxWaitMs: 100 })
      .forEach((b) => {
        batches.push(b);
      });
    await ch.send(1);
    await ch.send(2);
    await clock.advance(99);
    expect(batches).toEqual([]);
    await clock.advance(1);
    expect(batches).toEqual([[1, 2]]);
    for (const n of [3, 4, 5, 6]) await ch.send(n);
    await tick();
    expect(batches).toEqual([
      [1, 2],
      [3, 4, 5],
    ]);
    ch.close();
    await done;
    expect(batches).toEqual([[1, 2], [3, 4, 5], [6]]);
    expect(clock.pending).toBe(0);
    clean(leaks);
  });

  it('buffer reads ahead of a slow consumer, at most n items', async () => {
    const { state, source } = counted();
    const it = flow(source).buffer(3)[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ value: 0, done: false });
    await tick();
    expect(state.pulled).toBeLessThanOrEqual(4);
    expect(state.pulled).toBeGreaterThanOrEqual(3);
    await it.return?.();
    expect(state.closed).toBe(true);
  });

  it('throttle lets items through at the limiter’s rate', async () => {
    const clock = new TestClock();
    const limiter = new RateLimiter({ rate: 10, burst: 1, clock });
    const out = flow([1, 2, 3]).throttle(limiter).toArray();
    await clock.runAll();
    expect(await out).toEqual([1, 2, 3]);
    expect(clock.now()).toBe(200);
  });

  it('terminal operations: forEach, reduce, count, first, drain', async () => {
    let sum = 0;
    await flow([1, 2, 3]).forEach(
      async (n) => {
        sum += n;
      },
      { concurrency: 2 },
    );
    expect(sum).toBe(6);
    expect(await flow([1, 2, 3]).reduce(async (a, n) => a + n, 10)).toBe(16);
    expect(await flow([1, 2, 3]).count()).toBe(3);
    const { state, source } = counted();
    expect(await flow(source).first()).toBe(0);
    expect(state.closed).toBe(true);
    expect(await flow([]).first()).toBeUndefined();
    const seen: number[] = [];
    await flow([1, 2])
      .map((n) => seen.push(n))
      .drain();
    expect(seen).toEqual([1, 2]);
  });

  it('toChannel sends every item then closes the channel', async () => {
    const ch = flow([1, 2, 3]).toChannel();
    const got: number[] = [];
    for await (const n of ch) got.push(n);
    expect(got).toEqual([1, 2, 3]);
    expect(ch.closed).toBe(true);
  });

  it('an error thrown synchronously by a stage function surfaces once and closes the source', async () => {
    const { state, source } = counted();
    const it = flow(source)
      .map((n) => {
        if (n === 3) throw new Error('three');
        return n;
      })
      [Symbol.asyncIterator]();
    const got: number[] = [];
    let error: unknown;
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) break;
        got.push(r.value);
      }
    } catch (err) {
      error = err;
    }
    expect((error as Error).message).toBe('three');
    // What was computed before the error may be dropped with it, never reordered.
    expect([0, 1, 2].slice(0, got.length)).toEqual(got);
    expect(state.closed).toBe(true);
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it('an error in a middle stage aborts the upstream stages’ signals and reaches the consumer once', async () => {
    using leaks = trackLeaks();
    const { state, source } = counted(true);
    const signals: AbortSignal[] = [];
    const never = (signal: AbortSignal) =>
      new Promise<number>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    const run = flow(source)
      .map(
        (n, signal) => {
          if (n < 2) return n;
          signals.push(signal);
          return never(signal);
        },
        { concurrency: 4 },
      )
      .map(async (n) => {
        // Fail once the first stage has started jobs that only an abort ends.
        while (n === 1 && signals.length < 2) await tick();
        if (n === 1) throw new Error('middle');
        return n;
      })
      .toArray();
    await expect(run).rejects.toThrow('middle');
    await tick();
    expect(signals.length).toBeGreaterThan(0);
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(state.closed).toBe(true);
    clean(leaks);
  });

  it('a consumer break stops every stage and closes the source without error', async () => {
    using leaks = trackLeaks();
    const { state, source } = counted(true);
    const got: number[] = [];
    for await (const n of flow(source)
      .map(async (n) => n + 1, { concurrency: 3 })
      .filter((n) => n % 2 === 0)
      .batch(2)) {
      got.push(...n);
      if (got.length >= 4) break;
    }
    expect(got).toEqual([2, 4, 6, 8]);
    await tick();
    expect(state.closed).toBe(true);
    clean(leaks);
  });

  it('the flow signal aborting mid-stream rejects with its reason and leaves nothing behind', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>();
    const ac = new AbortController();
    const got: number[] = [];
    const run = flow(ch, { signal: ac.signal })
      .map(async (n) => n * 2, { concurrency: 2 })
      .forEach((n) => {
        got.push(n);
      });
    await ch.send(1);
    await ch.send(2);
    await tick();
    ac.abort(new Error('halt'));
    await expect(run).rejects.toThrow('halt');
    expect(got).toEqual([2, 4]);
    clean(leaks);
  });

  it('a flow whose signal is already aborted rejects before pulling', async () => {
    const { state, source } = counted();
    await expect(
      flow(source, { signal: AbortSignal.abort('early') })
        .map((n) => n)
        .toArray(),
    ).rejects.toBe('early');
    expect(state.pulled).toBe(0);
  });

  it('merge interleaves sources, keeping each one’s order', async () => {
    async function* slow(prefix: string) {
      for (let i = 0; i < 3; i++) {
        await tick();
        yield `${prefix}${i}`;
      }
    }
    const out = await merge(slow('a'), slow('b'), ['c0', 'c1']).toArray();
    expect(out.length).toBe(8);
    for (const p of ['a', 'b', 'c']) {
      const mine = out.filter((s) => s.startsWith(p));
      expect(mine).toEqual([...mine].sort());
    }
  });

  it('merge stops and closes every source when one fails', async () => {
    const { state, source } = counted(true);
    async function* bad() {
      // Microtasks only: the endless source never lets a macrotask (setImmediate) run.
      for (let i = 0; i < 5; i++) await Promise.resolve();
      yield -1;
      throw new Error('bad source');
    }
    await expect(merge(source, bad()).drain()).rejects.toThrow('bad source');
    await tick();
    expect(state.closed).toBe(true);
  });

  it('fanOut gives each item to exactly one consumer', async () => {
    const flows = fanOut(
      Array.from({ length: 100 }, (_, i) => i),
      4,
    );
    const parts = await Promise.all(flows.map((f) => f.map(async (n) => n).toArray()));
    expect(parts.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('tee gives every consumer every item, the fastest at most a bounded lag ahead', async () => {
    const { state, source } = counted();
    const [a, b] = tee(source, 2);
    const ita = a[Symbol.asyncIterator]();
    const itb = b[Symbol.asyncIterator]();
    const first: number[] = [];
    for (let i = 0; i < 16; i++) first.push(((await ita.next()) as IteratorResult<number>).value);
    expect(first).toEqual(Array.from({ length: 16 }, (_, i) => i));
    // a is 16 ahead of b: its next read waits for b.
    let extra = false;
    const pending = ita.next().then(() => (extra = true));
    await tick();
    expect(extra).toBe(false);
    expect(state.pulled).toBe(16);
    expect(await itb.next()).toEqual({ value: 0, done: false });
    await pending;
    expect(extra).toBe(true);
    await ita.return?.();
    await itb.return?.();
    expect(state.closed).toBe(true);
  });

  it('orDone ends quietly when its signal aborts, even while waiting, and closes the source', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>();
    const ac = new AbortController();
    const got: number[] = [];
    const run = (async () => {
      for await (const n of orDone(ch, ac.signal)) got.push(n);
    })();
    await ch.send(1);
    await tick();
    ac.abort();
    await run;
    expect(got).toEqual([1]);
    clean(leaks);
  });

  it('a Flow can be iterated twice over a re-iterable source', async () => {
    const f = flow([1, 2]).map((n) => n * 3);
    expect(await f.toArray()).toEqual([3, 6]);
    expect(await f.toArray()).toEqual([3, 6]);
    expect(f).toBeInstanceOf(Flow);
  });

  it('drain takes results as they are ready: behind a slow first item the others fill the window, then the loops go on', async () => {
    const clock = new TestClock();
    const leaks = trackLeaks();
    let pulled = 0;
    function* source() {
      for (let i = 0; i < 20; i++) {
        pulled++;
        yield i;
      }
    }
    const done: number[] = [];
    const run = flow(source())
      .map(
        async (n) => {
          await new Promise<void>((r) => clock.setTimeout(r, n === 0 ? 100 : 1));
          done.push(n);
        },
        { concurrency: 2 },
      )
      .drain();
    await clock.advance(50);
    // Item 0 still runs; 1, 2 and 3 are done and wait behind it: a window of 4, and nothing more is pulled.
    expect(done).toEqual([1, 2, 3]);
    expect(pulled).toBe(4);
    await clock.runAll();
    await run;
    expect(done.length).toBe(20);
    expect(pulled).toBe(20);
    clean(leaks);
    leaks.stop();
  });

  it('forEach of synchronous work over an endless synchronous source lets other callbacks run: a signal aborted from one stops it', async () => {
    const leaks = trackLeaks();
    const { state, source } = counted();
    const ac = new AbortController();
    let seen = 0;
    const err = await flow(source, { signal: ac.signal })
      .forEach(
        (n) => {
          seen++;
          if (n === 1000) queueMicrotask(() => ac.abort(new Error('enough')));
        },
        { concurrency: 4 },
      )
      .catch((e) => e);
    expect(err.message).toBe('enough');
    expect(seen).toBeGreaterThan(1000);
    expect(seen).toBeLessThan(1100);
    expect(state.closed).toBe(true);
    clean(leaks);
    leaks.stop();
  });

  it('map runs at the full concurrency again once a consumer that paused takes the results waiting', async () => {
    const clock = new TestClock();
    let running = 0;
    let most = 0;
    const it = flow(Array.from({ length: 40 }, (_, i) => i))
      .map(
        async (n) => {
          running++;
          most = Math.max(most, running);
          await new Promise<void>((r) => clock.setTimeout(r, 10));
          running--;
          return n;
        },
        { concurrency: 4 },
      )
      [Symbol.asyncIterator]();
    const first = it.next();
    await clock.advance(100);
    expect((await first).value).toBe(0);
    // The consumer paused: the window (8) is full and nothing runs.
    expect(running).toBe(0);
    most = 0;
    const out = [0];
    for (;;) {
      const r = it.next();
      await clock.advance(10);
      const { value, done } = await r;
      if (done) break;
      out.push(value);
    }
    expect(out).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(most).toBe(4);
  });

  it('drain and forEach reject with the first error of the function and leave nothing behind', async () => {
    const leaks = trackLeaks();
    const { state, source } = counted();
    const boom = new Error('boom');
    const f = (n: number) => (n === 5 ? Promise.reject(boom) : Promise.resolve(n));
    expect(
      await flow(source)
        .map(f, { concurrency: 3 })
        .drain()
        .catch((e) => e),
    ).toBe(boom);
    expect(state.closed).toBe(true);
    const again = counted();
    expect(
      await flow(again.source)
        .forEach(f, { concurrency: 3 })
        .catch((e) => e),
    ).toBe(boom);
    expect(again.state.closed).toBe(true);
    await tick();
    clean(leaks);
    leaks.stop();
  });

  it('throws on bad arguments at once, naming them', () => {
    expect(() => flow(42 as never)).toThrow(/source/);
    expect(() => flow([1], { signal: 1 as never })).toThrow(TypeError);
    expect(() => flow([1]).map('x' as never)).toThrow(/fn/);
    expect(() => flow([1]).map((x) => x, { concurrency: 0 })).toThrow(RangeError);
    expect(() => flow([1]).take(-1)).toThrow(RangeError);
    expect(() => flow([1]).batch(0)).toThrow(RangeError);
    expect(() => flow([1]).batch(2, { maxWaitMs: -5 })).toThrow(RangeError);
    expect(() => flow([1]).buffer(0)).toThrow(RangeError);
    expect(() => flow([1]).throttle({} as never)).toThrow(/limiter/);
    expect(() => fanOut([1], 0)).toThrow(RangeError);
    expect(() => tee([1], 0)).toThrow(RangeError);
    expect(() => merge([1], null as never)).toThrow(/sources\[1\]/);
    expect(() => orDone([1] as never, new AbortController().signal)).toThrow(TypeError);
  });
});

// Regression tests for issue 13 C: one flow, one answer for a source of promises.
describe('flow over a synchronous source of promises', () => {
  const later = <T>(v: T, ms: number) => new Promise<T>((r) => setTimeout(r, ms, v));

  it('hands every stage the awaited values, as the consumer sees them', async () => {
    const src = () => [Promise.resolve(5), 6, later(7, 5)];
    expect(await flow(src()).toArray()).toEqual([5, 6, 7]);
    expect(
      await flow(src())
        .filter(() => true)
        .toArray(),
    ).toEqual([5, 6, 7]);
    expect(
      await flow(src())
        .map((n) => n * 2, { concurrency: 3 })
        .toArray(),
    ).toEqual([10, 12, 14]);
    const tapped: unknown[] = [];
    await flow(src())
      .tap((n) => tapped.push(n))
      .take(3)
      .drain();
    expect(tapped).toEqual([5, 6, 7]);
    const seen: unknown[] = [];
    await flow(src()).forEach((n) => void seen.push(n));
    expect(seen).toEqual([5, 6, 7]);
    expect(await flow(src()).batch(2).toArray()).toEqual([[5, 6], [7]]);
    expect((await merge(src(), [1]).toArray()).sort()).toEqual([1, 5, 6, 7]);
    const [a, b] = tee(src());
    expect(await Promise.all([a.toArray(), b.toArray()])).toEqual([
      [5, 6, 7],
      [5, 6, 7],
    ]);
  });

  it('keeps input order in a concurrent ordered map when an early promise settles last', async () => {
    const out = await flow([later('slow', 20), 'fast', later('mid', 5)])
      .map((s) => s.toUpperCase(), { concurrency: 3 })
      .toArray();
    expect(out).toEqual(['SLOW', 'FAST', 'MID']);
  });

  it('fails the flow with the reason of an element that rejects, and closes the source', async () => {
    using leaks = trackLeaks();
    let closed = false;
    function* src() {
      try {
        yield 1;
        yield Promise.reject(new Error('bad element'));
        yield 3;
      } finally {
        closed = true;
      }
    }
    const calls: number[] = [];
    await expect(
      flow(src())
        .map((n) => calls.push(n))
        .drain(),
    ).rejects.toThrow('bad element');
    expect(calls).toEqual([1]);
    expect(closed).toBe(true);
    await expect(
      flow([Promise.reject(new Error('x'))])
        .tap(() => {})
        .toArray(),
    ).rejects.toThrow('x');
    await tick();
    clean(leaks);
  });
});

describe('Flow.forEach and reduce as sinks of a concurrent stage (issue 14)', () => {
  it('a synchronous callback that throws rejects forEach once, with its error, and closes the source', async () => {
    using leaks = trackLeaks();
    const src = counted();
    const calls: number[] = [];
    const run = flow(src.source)
      .map(async (n) => n, { concurrency: 4 })
      .forEach((n) => {
        calls.push(n);
        if (n === 5) throw new Error('bad item');
      });
    await expect(run).rejects.toThrow('bad item');
    expect(calls).toEqual([0, 1, 2, 3, 4, 5]);
    expect(src.state.closed).toBe(true);
    await tick();
    clean(leaks);
  });

  it('an async callback that rejects stops the flow and aborts the other callbacks’ signal', async () => {
    const signals: AbortSignal[] = [];
    const run = flow([1, 2, 3, 4])
      .map((n) => n, { concurrency: 2 })
      .forEach(
        (n, signal) => {
          signals.push(signal);
          return n === 2 ? Promise.reject(new Error('two')) : new Promise(() => {});
        },
        { concurrency: 3 },
      );
    await expect(run).rejects.toThrow('two');
    expect(signals.length).toBeGreaterThanOrEqual(2);
    expect(signals.every((s) => s.aborted)).toBe(true);
  });

  it('reduce folds in order after a map, with a sync or an async fn', async () => {
    const src = () => flow([1, 2, 3, 4]).map(async (n) => n, { concurrency: 3 });
    expect(await src().reduce((acc, n) => acc + n, 0)).toBe(10);
    expect(await src().reduce(async (acc, n) => `${acc}${n}`, '')).toBe('1234');
    await expect(
      src().reduce(() => {
        throw new Error('no');
      }, 0),
    ).rejects.toThrow('no');
  });
});
