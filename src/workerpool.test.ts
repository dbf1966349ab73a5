import { describe, expect, it } from 'vitest';
import { Flow, type JobContext, WorkerPool } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';
import { deferred, endless, flush as tick } from '../test/support.js';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function clean(leaks: ReturnType<typeof trackLeaks>) {
  expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
}

describe('WorkerPool', () => {
  it('runs at most `concurrency` jobs at once, each on a distinct worker slot below concurrency', async () => {
    const gates = Array.from({ length: 6 }, () => deferred());
    const active = new Set<number>();
    let maxActive = 0;
    const pool = new WorkerPool(
      async (i: number, ctx: JobContext) => {
        expect(active.has(ctx.worker)).toBe(false);
        expect(ctx.worker).toBeGreaterThanOrEqual(0);
        expect(ctx.worker).toBeLessThan(2);
        active.add(ctx.worker);
        maxActive = Math.max(maxActive, active.size);
        await gates[i]!.promise;
        active.delete(ctx.worker);
        return i;
      },
      { concurrency: 2 },
    );
    const results = [0, 1, 2, 3, 4, 5].map((i) => pool.submit(i));
    expect(pool.stats).toMatchObject({ running: 2, queued: 4 });
    for (const g of gates) {
      g.resolve();
      await tick();
    }
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(maxActive).toBe(2);
    expect(pool.stats).toEqual({ concurrency: 2, running: 0, queued: 0, completed: 6, failed: 0, canceled: 0 });
  });

  it('calls the work synchronously inside submit when a worker is free', async () => {
    const calls: number[] = [];
    const pool = new WorkerPool((n: number) => {
      calls.push(n);
      return n;
    });
    const p = pool.submit(1);
    expect(calls).toEqual([1]);
    expect(await p).toBe(1);
  });

  it('rejects with QueueFullError when maxQueue jobs are waiting, queueing nothing', async () => {
    const gate = deferred();
    const pool = new WorkerPool(() => gate.promise, { concurrency: 1, maxQueue: 1 });
    const a = pool.submit(1);
    const b = pool.submit(2);
    const err = await pool.submit(3).catch((e) => e);
    expect(err.code).toBe('ERR_QUEUE_FULL');
    expect(err.name).toBe('QueueFullError');
    expect(pool.stats.queued).toBe(1);
    gate.resolve();
    await Promise.all([a, b]);
  });

  it('takes an aborted queued job out of the queue and rejects it with the reason, leaving nothing', async () => {
    using leaks = trackLeaks();
    const gate = deferred();
    const ran: number[] = [];
    const pool = new WorkerPool(
      async (n: number) => {
        ran.push(n);
        await gate.promise;
      },
      { concurrency: 1 },
    );
    const first = pool.submit(1);
    const ac = new AbortController();
    const queued = pool.submit(2, { signal: ac.signal });
    expect(pool.stats.queued).toBe(1);
    ac.abort('nope');
    await expect(queued).rejects.toBe('nope');
    expect(pool.stats.queued).toBe(0);
    gate.resolve();
    await first;
    await pool.onIdle();
    expect(ran).toEqual([1]);
    clean(leaks);
  });

  it('aborts the ctx.signal of a running job whose signal aborts and rejects at once', async () => {
    using leaks = trackLeaks();
    let seen: AbortSignal | undefined;
    const gate = deferred();
    const pool = new WorkerPool(async (_: number, { signal }) => {
      seen = signal;
      await gate.promise;
      return 1;
    });
    const ac = new AbortController();
    const job = pool.submit(1, { signal: ac.signal });
    ac.abort(new Error('cancel'));
    await expect(job).rejects.toThrow('cancel');
    expect(seen!.aborted).toBe(true);
    expect(pool.stats.running).toBe(1); // the work has not returned yet
    gate.resolve();
    await pool.onIdle();
    expect(pool.stats.running).toBe(0);
    clean(leaks);
  });

  it('rejects at once a submit whose signal is already aborted', async () => {
    const pool = new WorkerPool((n: number) => n);
    await expect(pool.submit(1, { signal: AbortSignal.abort('early') })).rejects.toBe('early');
    expect(pool.stats.completed).toBe(0);
  });

  it('fails only the job whose work throws, synchronously or asynchronously', async () => {
    const pool = new WorkerPool(
      async (n: number) => {
        if (n === 1) throw new Error('async');
        return n;
      },
      { concurrency: 1 },
    );
    const syncPool = new WorkerPool((n: number) => {
      if (n === 1) throw new Error('sync');
      return n;
    });
    await expect(pool.submit(1)).rejects.toThrow('async');
    await expect(syncPool.submit(1)).rejects.toThrow('sync');
    expect(await pool.submit(2)).toBe(2);
    expect(await syncPool.submit(2)).toBe(2);
    expect(pool.stats).toMatchObject({ completed: 1, failed: 1 });
    expect(syncPool.stats).toMatchObject({ completed: 1, failed: 1 });
  });

  it('map yields in input order by default and in completion order with ordered: false', async () => {
    const clock = new TestClock();
    const pool = new WorkerPool((ms: number) => new Promise<number>((r) => clock.setTimeout(() => r(ms), ms)), {
      concurrency: 3,
    });
    const ordered = collect(pool.map([30, 10, 20]));
    const unordered = collect(pool.map([30, 10, 20], { ordered: false }));
    await clock.runAll();
    expect(await ordered).toEqual([30, 10, 20]);
    // The two maps share three workers: the second gets the slots the first frees.
    expect((await unordered).sort()).toEqual([10, 20, 30]);
  });

  it('map with ordered: false yields as jobs complete', async () => {
    const clock = new TestClock();
    const pool = new WorkerPool((ms: number) => new Promise<number>((r) => clock.setTimeout(() => r(ms), ms)), {
      concurrency: 3,
    });
    const out = collect(pool.map([30, 10, 20], { ordered: false }));
    await clock.runAll();
    expect(await out).toEqual([10, 20, 30]);
  });

  it('map pulls jobs only as workers free up and the consumer takes results', async () => {
    let pulled = 0;
    function* jobs() {
      for (let i = 0; i < 10_000; i++) {
        pulled++;
        yield i;
      }
    }
    const pool = new WorkerPool(async (n: number) => n, { concurrency: 4 });
    let taken = 0;
    let maxAhead = 0;
    for await (const n of pool.map(jobs())) {
      expect(n).toBe(taken);
      taken++;
      maxAhead = Math.max(maxAhead, pulled - taken);
    }
    expect(taken).toBe(10_000);
    expect(maxAhead).toBeLessThanOrEqual(8);
  });

  it('mapSettled reports every job, failed ones included, and does not stop', async () => {
    const pool = new WorkerPool((n: number) => {
      if (n % 2 === 0) throw new Error(`even ${n}`);
      return n;
    });
    const out = await collect(pool.mapSettled([1, 2, 3]));
    expect(out).toEqual([
      { ok: true, job: 1, value: 1 },
      { ok: false, job: 2, error: new Error('even 2') },
      { ok: true, job: 3, value: 3 },
    ]);
    expect(pool.stats).toMatchObject({ completed: 2, failed: 1 });
  });

  it('map rejects with the first job error, stops pulling and closes the source', async () => {
    let closed = false;
    const pool = new WorkerPool(
      async (n: number) => {
        if (n === 5) throw new Error('five');
        return n;
      },
      { concurrency: 2 },
    );
    await expect(collect(pool.map(endless(() => (closed = true))))).rejects.toThrow('five');
    expect(closed).toBe(true);
    await pool.onIdle();
  });

  it('map stops when its signal aborts: running jobs see the abort, the source is closed, nothing leaks', async () => {
    using leaks = trackLeaks();
    let closed = false;
    const signals: AbortSignal[] = [];
    async function* jobs() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const pool = new WorkerPool(
      (_: number, { signal }) =>
        new Promise((_, reject) => {
          signals.push(signal);
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
      { concurrency: 3 },
    );
    const ac = new AbortController();
    const run = collect(pool.map(jobs(), { signal: ac.signal }));
    while (signals.length < 3) await tick();
    ac.abort(new Error('stop'));
    await expect(run).rejects.toThrow('stop');
    await pool.onIdle();
    await tick();
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(closed).toBe(true);
    await pool.close();
    clean(leaks);
  });

  it('map cleans up when the consumer breaks early, without error', async () => {
    using leaks = trackLeaks();
    let closed = false;
    const pool = new WorkerPool(async (n: number) => n * 2, { concurrency: 4 });
    const got: number[] = [];
    for await (const n of pool.map(endless(() => (closed = true)))) {
      got.push(n);
      if (got.length === 3) break;
    }
    expect(got).toEqual([0, 2, 4]);
    expect(closed).toBe(true);
    await pool.onIdle();
    await pool.close();
    clean(leaks);
  });

  it('resize up starts queued jobs at once; resize down lets running ones finish and starts fewer', async () => {
    const gates: { resolve: () => void }[] = [];
    const pool = new WorkerPool(
      (_: number, ctx: JobContext) => {
        const g = deferred();
        gates.push(g);
        return g.promise.then(() => ctx.worker);
      },
      { concurrency: 1 },
    );
    const jobs = [1, 2, 3, 4, 5].map((n) => pool.submit(n));
    expect(pool.stats).toMatchObject({ running: 1, queued: 4 });
    pool.resize(3);
    expect(pool.stats).toMatchObject({ concurrency: 3, running: 3, queued: 2 });
    pool.resize(1);
    gates[0]!.resolve();
    await tick();
    expect(pool.stats).toMatchObject({ running: 2, queued: 2 });
    gates[1]!.resolve();
    gates[2]!.resolve();
    await tick();
    expect(pool.stats).toMatchObject({ running: 1, queued: 1 });
    gates[3]!.resolve();
    await tick();
    gates[4]!.resolve();
    const workers = await Promise.all(jobs);
    expect(workers.slice(3)).toEqual([0, 0]);
  });

  it('pause stops starting jobs until resume', async () => {
    const pool = new WorkerPool((n: number) => n + 1);
    pool.pause();
    const job = pool.submit(1);
    await tick();
    expect(pool.stats).toMatchObject({ running: 0, queued: 1, completed: 0 });
    pool.resume();
    expect(await job).toBe(2);
  });

  it('onIdle resolves once no job runs or waits, at once when idle', async () => {
    const pool = new WorkerPool(async (n: number) => n, { concurrency: 1 });
    await pool.onIdle();
    let idle = false;
    pool.submit(1);
    pool.submit(2);
    const p = pool.onIdle().then(() => (idle = true));
    expect(idle).toBe(false);
    await p;
    expect(pool.stats.completed).toBe(2);
  });

  it('close() drains queued jobs, then submit rejects with PoolClosedError', async () => {
    using leaks = trackLeaks();
    const pool = new WorkerPool(async (n: number) => n, { concurrency: 1 });
    const jobs = [1, 2, 3].map((n) => pool.submit(n));
    await pool.close();
    expect(await Promise.all(jobs)).toEqual([1, 2, 3]);
    const err = await pool.submit(4).catch((e) => e);
    expect(err.code).toBe('ERR_POOL_CLOSED');
    expect(err.name).toBe('PoolClosedError');
    clean(leaks);
  });

  it('close({ drain: false }) rejects queued and running jobs and aborts the running ones', async () => {
    using leaks = trackLeaks();
    let signal: AbortSignal | undefined;
    const gate = deferred();
    const pool = new WorkerPool(
      async (_: number, ctx) => {
        signal = ctx.signal;
        await gate.promise;
      },
      { concurrency: 1 },
    );
    const running = pool.submit(1).catch((e) => e.code);
    const queued = pool.submit(2).catch((e) => e.code);
    const closed = pool.close({ drain: false });
    expect(await running).toBe('ERR_POOL_CLOSED');
    expect(await queued).toBe('ERR_POOL_CLOSED');
    expect(signal!.aborted).toBe(true);
    expect((signal!.reason as Error & { code: string }).code).toBe('ERR_POOL_CLOSED');
    gate.resolve();
    await closed;
    expect(pool.stats.running).toBe(0);
    clean(leaks);
  });

  // A map's results read with `for await`, and by a terminal operation of its flow (a sink, no promise per result).
  const readers: [string, (results: Flow<number>, got: number[]) => Promise<void>][] = [
    [
      'for await',
      async (results, got) => {
        for await (const n of results) got.push(n);
      },
    ],
    [
      'forEach',
      (results, got) =>
        results.forEach((n) => {
          got.push(n);
        }),
    ],
  ];

  describe.each(readers)('a map read with %s', (_, read) => {
    it('close({ drain: false }) stops it with PoolClosedError', async () => {
      using leaks = trackLeaks();
      const pool = new WorkerPool(
        (_: number, { signal }) =>
          new Promise<number>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
        { concurrency: 2 },
      );
      const run = read(pool.map([1, 2, 3, 4]), []);
      await tick();
      await pool.close({ drain: false });
      await expect(run).rejects.toMatchObject({ code: 'ERR_POOL_CLOSED' });
      clean(leaks);
    });

    it('close() with drain lets it take its running jobs, then rejects it with PoolClosedError', async () => {
      const gate = deferred();
      const pool = new WorkerPool(
        async (n: number) => {
          await gate.promise;
          return n;
        },
        { concurrency: 2 },
      );
      const got: number[] = [];
      const run = read(pool.map([1, 2, 3, 4, 5]), got);
      await tick();
      const closed = pool.close();
      gate.resolve();
      await expect(run).rejects.toMatchObject({ code: 'ERR_POOL_CLOSED' });
      expect(got).toEqual([1, 2]);
      await closed;
    });

    it('on a closed pool rejects with PoolClosedError', async () => {
      const pool = new WorkerPool((n: number) => n);
      await pool.close();
      await expect(read(pool.map([1]), [])).rejects.toMatchObject({ code: 'ERR_POOL_CLOSED' });
    });
  });

  it('the pool signal aborting closes the pool without drain', async () => {
    using leaks = trackLeaks();
    const ac = new AbortController();
    const gate = deferred();
    const pool = new WorkerPool(() => gate.promise, { concurrency: 1, signal: ac.signal });
    const a = pool.submit(1).catch((e) => e.code);
    const b = pool.submit(2).catch((e) => e.code);
    ac.abort('bye');
    expect(await a).toBe('ERR_POOL_CLOSED');
    expect(await b).toBe('ERR_POOL_CLOSED');
    expect(await pool.submit(3).catch((e) => e.code)).toBe('ERR_POOL_CLOSED');
    gate.resolve();
    await pool.close();
    clean(leaks);
  });

  it('map and submit share the workers: a queued submit runs before a long map finishes', async () => {
    const order: string[] = [];
    const pool = new WorkerPool(
      async (job: string) => {
        await tick();
        order.push(job);
      },
      { concurrency: 1 },
    );
    const map = collect(pool.map(['m1', 'm2', 'm3', 'm4']));
    await tick();
    const sub = pool.submit('s');
    await Promise.all([map, sub]);
    expect(order.indexOf('s')).toBeLessThan(3);
  });

  it('a map waiting for its consumer holds no worker: a job submitted meanwhile runs at once', async () => {
    const leaks = trackLeaks();
    const calls: string[] = [];
    const pool = new WorkerPool(
      async (job: number | string) => {
        calls.push(String(job));
        return job;
      },
      { concurrency: 2 },
    );
    const it = pool.map(endless())[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(0);
    await tick();
    // The window (twice the concurrency) is full and the map's loops wait for room.
    expect(pool.stats.running).toBe(0);
    calls.length = 0;
    const job = pool.submit('now');
    expect(calls).toEqual(['now']);
    expect(await job).toBe('now');
    for (let i = 1; i < 50; i++) expect((await it.next()).value).toBe(i);
    await it.return?.();
    await pool.close();
    clean(leaks);
    leaks.stop();
  });

  it('resizing during an ordered map keeps input order, growing and shrinking its window', async () => {
    const leaks = trackLeaks();
    const pool = new WorkerPool(
      async (n: number) => {
        await tick();
        return n;
      },
      { concurrency: 1 },
    );
    const out: number[] = [];
    const input = Array.from({ length: 60 }, (_, i) => i);
    for await (const n of pool.map(input)) {
      out.push(n);
      if (n === 5) pool.resize(16);
      if (n === 30) pool.resize(1);
      if (n === 40) pool.resize(3);
    }
    expect(out).toEqual(input);
    expect(pool.stats).toMatchObject({ concurrency: 3, running: 0, completed: 60 });
    await pool.close();
    clean(leaks);
    leaks.stop();
  });

  it('throws on bad arguments at once, naming them', () => {
    expect(() => new WorkerPool(42 as never)).toThrow(TypeError);
    expect(() => new WorkerPool((n: number) => n, { concurrency: 0 })).toThrow(/concurrency/);
    expect(() => new WorkerPool((n: number) => n, { maxQueue: -1 })).toThrow(RangeError);
    const pool = new WorkerPool((n: number) => n);
    expect(() => pool.resize(1.5)).toThrow(RangeError);
    expect(() => pool.map(5 as never)).toThrow(/jobs/);
    expect(() => pool.submit(1, { signal: 'x' as never })).toThrow(TypeError);
    expect(() => pool.close({ drain: 'yes' as never })).toThrow(TypeError);
  });
});

describe('WorkerPool.map as a Flow', () => {
  it('is a Flow whose terminal operations take every result in input order, within the concurrency', async () => {
    let running = 0;
    let most = 0;
    const pool = new WorkerPool(
      async (n: number) => {
        running++;
        most = Math.max(most, running);
        await tick();
        running--;
        return n * 2;
      },
      { concurrency: 3 },
    );
    const jobs = Array.from({ length: 50 }, (_, i) => i);
    const mapped = pool.map(jobs);
    expect(mapped).toBeInstanceOf(Flow);
    const seen: number[] = [];
    await mapped.forEach((n) => {
      seen.push(n);
    });
    expect(seen).toEqual(jobs.map((n) => n * 2));
    expect(await pool.map(jobs, { ordered: false }).count()).toBe(50);
    expect(await pool.map(jobs).toArray()).toEqual(seen);
    expect(most).toBe(3);
    expect(pool.stats).toMatchObject({ running: 0, queued: 0, completed: 150, failed: 0 });
    const settled = await pool.mapSettled([1, 2]).toArray();
    expect(settled).toEqual([
      { ok: true, job: 1, value: 2 },
      { ok: true, job: 2, value: 4 },
    ]);
    await pool.close();
  });

  it('drain rejects with the first job error, closes the source and leaves nothing behind', async () => {
    using leaks = trackLeaks();
    let closed = false;
    const pool = new WorkerPool(
      async (n: number) => {
        if (n === 7) throw new Error('seven');
        return n;
      },
      { concurrency: 4 },
    );
    await expect(pool.map(endless(() => (closed = true))).drain()).rejects.toThrow('seven');
    expect(closed).toBe(true);
    await pool.onIdle();
    await pool.close();
    clean(leaks);
  });

  it('an error in a stage after the pool aborts the running jobs and closes the source, surfacing once', async () => {
    using leaks = trackLeaks();
    let closed = false;
    const signals: AbortSignal[] = [];
    const pool = new WorkerPool(
      (n: number, { signal }) => {
        if (n < 3) return n;
        signals.push(signal);
        return new Promise<number>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
      { concurrency: 2 },
    );
    const run = pool
      .map(endless(() => (closed = true)))
      .map((n) => {
        if (n === 2) throw new Error('downstream');
        return n;
      })
      .toArray();
    await expect(run).rejects.toThrow('downstream');
    await pool.onIdle();
    expect(signals.length).toBeGreaterThan(0);
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(closed).toBe(true);
    expect(pool.stats.running).toBe(0);
    await pool.close();
    clean(leaks);
  });

  it("forEach stops when the map's signal aborts, with the reason, and nothing leaks", async () => {
    using leaks = trackLeaks();
    let closed = false;
    const pool = new WorkerPool(
      (_: number, { signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      { concurrency: 3 },
    );
    const ac = new AbortController();
    const run = pool
      .map(
        endless(() => (closed = true)),
        { signal: ac.signal },
      )
      .forEach(() => {});
    await tick();
    expect(pool.stats.running).toBe(3);
    ac.abort(new Error('stop'));
    await expect(run).rejects.toThrow('stop');
    await pool.onIdle();
    expect(closed).toBe(true);
    await pool.close();
    clean(leaks);
  });

  it('first() takes one result and stops the map without error', async () => {
    using leaks = trackLeaks();
    let closed = false;
    const pool = new WorkerPool(async (n: number) => n + 100, { concurrency: 4 });
    expect(await pool.map(endless(() => (closed = true))).first()).toBe(100);
    expect(closed).toBe(true);
    await pool.onIdle();
    await pool.close();
    clean(leaks);
  });
});

// Issue 13, item 2: the caller's aborts are not the work's failures.
describe('WorkerPool stats and cancellation', () => {
  it('counts a job that fails after its signal aborted as canceled, not failed', async () => {
    const pool = new WorkerPool(
      (_: number, { signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('stopped')))),
    );
    const ac = new AbortController();
    const job = pool.submit(1, { signal: ac.signal });
    ac.abort('bye');
    await expect(job).rejects.toBe('bye');
    await pool.onIdle();
    expect(pool.stats).toMatchObject({ failed: 0, canceled: 1, completed: 0 });
    await pool.close();
  });

  it('counts the items a map stops under as canceled, its own failing item as failed', async () => {
    const pool = new WorkerPool(
      (n: number, { signal }) =>
        n === 0
          ? Promise.reject(new Error('boom'))
          : new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      { concurrency: 3 },
    );
    await expect(pool.map([1, 2, 0]).drain()).rejects.toThrow('boom');
    await pool.onIdle();
    expect(pool.stats).toMatchObject({ failed: 1, canceled: 2, completed: 0 });
    await pool.close();
  });
});
