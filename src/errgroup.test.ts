import { describe, expect, it } from 'vitest';
import { ErrGroup } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { flush as tick } from '../test/support.js';

/** A task that stays pending until `release()` is called. */
function gate() {
  let release!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    release = res;
    reject = rej;
  });
  return { promise, release, reject, task: () => promise };
}

describe('ErrGroup', () => {
  it('wait returns the first error after every prefix of results, as Go TestZeroGroup', async () => {
    const err1 = new Error('errgroup_test: 1');
    const err2 = new Error('errgroup_test: 2');
    const cases: (Error | null)[][] = [[], [null], [err1], [err1, null], [err1, null, err2]];
    for (const errs of cases) {
      const g = new ErrGroup();
      let first: Error | null = null;
      for (const err of errs) {
        g.go(() => (err ? Promise.reject(err) : Promise.resolve()));
        if (first === null && err !== null) first = err;
        const got = await g.wait().then(
          () => null,
          (e) => e,
        );
        expect(got).toBe(first);
      }
    }
  });

  it('aborts its signal once wait settles, with the first error or a CanceledError, as Go TestWithContext/TestCancelCause', async () => {
    const doom = new Error('group_test: doomed');
    const cases: { errs: (Error | null)[]; want: Error | null }[] = [
      { errs: [], want: null },
      { errs: [null], want: null },
      { errs: [doom], want: doom },
      { errs: [doom, null], want: doom },
    ];
    for (const { errs, want } of cases) {
      using leaks = trackLeaks();
      const parent = new AbortController();
      const g = new ErrGroup({ signal: parent.signal });
      for (const err of errs) expect(g.tryGo(() => (err ? Promise.reject(err) : undefined))).toBe(true);
      const got = await g.wait().then(
        () => null,
        (e) => e,
      );
      expect(got).toBe(want);
      expect(g.signal.aborted).toBe(true);
      if (want) expect(g.signal.reason).toBe(want);
      else {
        expect(g.signal.reason.code).toBe('ERR_CANCELED');
        expect(g.signal.reason.name).toBe('CanceledError');
      }
      expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
    }
  });

  it('aborts its signal with the first error at once, while other tasks still run', async () => {
    const g = new ErrGroup();
    const slow = gate();
    g.go(slow.task);
    const boom = new Error('boom');
    g.go(() => Promise.reject(boom));
    await tick();
    expect(g.signal.aborted).toBe(true);
    expect(g.signal.reason).toBe(boom);
    let settled = false;
    const w = g.wait().catch((e) => {
      settled = true;
      return e;
    });
    await tick();
    expect(settled).toBe(false);
    slow.release();
    expect(await w).toBe(boom);
  });

  it('keeps the first error when a later task fails too', async () => {
    const g = new ErrGroup();
    const a = gate();
    const b = gate();
    g.go(a.task);
    g.go(b.task);
    b.reject(new Error('second'));
    await tick();
    a.reject(new Error('third'));
    await expect(g.wait()).rejects.toThrow('second');
    expect(g.signal.reason.message).toBe('second');
  });

  it('counts a task that throws synchronously as failing with that error, and go still resolves', async () => {
    const g = new ErrGroup();
    const err = new TypeError('sync');
    await expect(
      g.go(() => {
        throw err;
      }),
    ).resolves.toBeUndefined();
    expect(g.signal.reason).toBe(err);
    await expect(g.wait()).rejects.toBe(err);
  });

  it('treats a rejection with undefined as a failure', async () => {
    const g = new ErrGroup();
    g.go(() => Promise.reject(undefined));
    await expect(g.wait().then(() => 'resolved')).rejects.toBeUndefined();
  });

  it('passes its signal to every task', async () => {
    const g = new ErrGroup();
    const seen: AbortSignal[] = [];
    g.go((s) => void seen.push(s));
    g.tryGo((s) => void seen.push(s));
    await g.wait();
    expect(seen).toEqual([g.signal, g.signal]);
  });

  it('aborts with the parent reason when the parent aborts, and removes its listener', async () => {
    using leaks = trackLeaks();
    const parent = new AbortController();
    const g = new ErrGroup({ signal: parent.signal });
    expect(leaks.check().listeners).toBe(1);
    const reasons: unknown[] = [];
    g.go(
      (s) =>
        new Promise<void>((resolve) =>
          s.addEventListener('abort', () => {
            reasons.push(s.reason);
            resolve();
          }),
        ),
    );
    const reason = new Error('parent gone');
    parent.abort(reason);
    expect(g.signal.reason).toBe(reason);
    expect(leaks.check().listeners).toBe(0);
    // The parent's abort is not a task error: wait resolves.
    await expect(g.wait()).resolves.toBeUndefined();
    expect(reasons).toEqual([reason]);
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('starts with an aborted signal when the parent is already aborted, and adds no listener', () => {
    using leaks = trackLeaks();
    const g = new ErrGroup({ signal: AbortSignal.abort('gone') });
    expect(g.signal.aborted).toBe(true);
    expect(g.signal.reason).toBe('gone');
    expect(leaks.check().listeners).toBe(0);
  });

  it('still runs a task given to go after the signal aborted, as Go does', async () => {
    const g = new ErrGroup();
    await g.wait();
    let ran = false;
    await g.go((s) => {
      ran = s.aborted;
    });
    expect(ran).toBe(true);
    await g.wait();
  });

  it('removes the parent listener when wait settles without error', async () => {
    using leaks = trackLeaks();
    const parent = new AbortController();
    const g = new ErrGroup({ signal: parent.signal });
    g.go(async () => {});
    await g.wait();
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
    parent.abort();
    expect(g.signal.reason.code).toBe('ERR_CANCELED');
  });

  it('never runs more than the limit at once, as Go TestGoLimit', async () => {
    const limit = 10;
    const g = new ErrGroup({ limit });
    let active = 0;
    let most = 0;
    for (let i = 0; i <= 1 << 10; i++) {
      g.go(async () => {
        active++;
        most = Math.max(most, active);
        if (active > limit) throw new Error(`saw ${active} active tasks; want <= ${limit}`);
        await tick();
        active--;
      });
    }
    await g.wait();
    expect(most).toBe(limit);
  });

  it('resolves go only once its task has started, in the order the calls were made', async () => {
    using leaks = trackLeaks();
    const g = new ErrGroup({ limit: 1 });
    const gates = [gate(), gate(), gate()];
    const started: number[] = [];
    const gos = gates.map((x, i) =>
      g.go(() => {
        started.push(i);
        return x.promise;
      }),
    );
    const resolved: number[] = [];
    gos.forEach((p, i) => {
      p.then(() => resolved.push(i));
    });
    await tick();
    expect(started).toEqual([0]);
    expect(resolved).toEqual([0]);
    expect(leaks.check().waiters).toBe(2);
    gates[0]!.release();
    await tick();
    expect(started).toEqual([0, 1]);
    expect(resolved).toEqual([0, 1]);
    gates[1]!.release();
    gates[2]!.release();
    await g.wait();
    expect(started).toEqual([0, 1, 2]);
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('waits for tasks still queued for a slot as well as running ones', async () => {
    const g = new ErrGroup({ limit: 1 });
    const order: number[] = [];
    for (let i = 0; i < 5; i++) {
      g.go(async () => {
        await tick();
        order.push(i);
      });
    }
    await g.wait();
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('runs a long queue of synchronous tasks without deep recursion', async () => {
    const g = new ErrGroup({ limit: 1 });
    const blocker = gate();
    g.go(blocker.task);
    let n = 0;
    for (let i = 0; i < 100_000; i++) g.go(() => void n++);
    blocker.release();
    await g.wait();
    expect(n).toBe(100_000);
  });

  it('tryGo respects the limit and queued calls, as Go TestTryGo', async () => {
    const g = new ErrGroup();
    const n = 42;
    g.setLimit(n);
    const gates: ReturnType<typeof gate>[] = [];
    const fn = () => {
      const x = gate();
      gates.push(x);
      return x.promise;
    };
    for (let i = 0; i < n; i++) expect(g.tryGo(fn)).toBe(true);
    expect(g.tryGo(fn)).toBe(false);
    for (const x of gates.splice(0)) x.release();
    await g.wait();

    expect(g.tryGo(fn)).toBe(true);
    gates.pop()!.release();
    await g.wait();

    g.setLimit(1);
    expect(g.tryGo(fn)).toBe(true);
    expect(g.tryGo(fn)).toBe(false);
    gates.pop()!.release();
    await g.wait();

    g.setLimit(0);
    for (let i = 0; i < 1 << 10; i++) expect(g.tryGo(fn)).toBe(false);
    await g.wait();
  });

  it('tryGo fails while a go call waits for a slot, so the queue keeps its order', async () => {
    const g = new ErrGroup({ limit: 1 });
    const a = gate();
    g.go(a.task);
    const queued = g.go(() => {});
    a.release();
    expect(g.tryGo(() => {})).toBe(false);
    await queued;
    await g.wait();
  });

  it('setLimit throws an error with a code while tasks run, and not once they are done', async () => {
    const g = new ErrGroup();
    const a = gate();
    g.go(a.task);
    let err: any;
    try {
      g.setLimit(3);
    } catch (e) {
      err = e;
    }
    expect(err.code).toBe('ERR_ERRGROUP_ACTIVE');
    expect(err.name).toBe('ErrGroupActiveError');
    a.release();
    await g.wait();
    expect(() => g.setLimit(3)).not.toThrow();
  });

  it('a negative or infinite limit means no limit', async () => {
    for (const n of [-1, Number.POSITIVE_INFINITY]) {
      const g = new ErrGroup({ limit: 1 });
      g.setLimit(n);
      const gates = Array.from({ length: 50 }, gate);
      for (const x of gates) expect(g.tryGo(x.task)).toBe(true);
      for (const x of gates) x.release();
      await g.wait();
    }
  });

  it('setLimit raised from 0 starts the go calls that were waiting', async () => {
    using leaks = trackLeaks();
    const g = new ErrGroup({ limit: 0 });
    const started: number[] = [];
    const gos = [0, 1, 2].map((i) => g.go(() => void started.push(i)));
    await tick();
    expect(started).toEqual([]);
    g.setLimit(2);
    await Promise.all(gos);
    expect(started).toEqual([0, 1, 2]);
    await g.wait();
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('settles every concurrent wait call together', async () => {
    const g = new ErrGroup();
    const a = gate();
    g.go(a.task);
    const waits = [g.wait(), g.wait(), g.wait()];
    a.release();
    await expect(Promise.all(waits)).resolves.toEqual([undefined, undefined, undefined]);
  });

  it('accepts a thenable that is not a native promise', async () => {
    const g = new ErrGroup();
    const err = new Error('thenable');
    // biome-ignore lint/suspicious/noThenProperty: the test needs a thenable that is not a promise
    g.go(() => ({ then: (_ok: unknown, fail: (e: unknown) => void) => fail(err) }));
    await expect(g.wait()).rejects.toBe(err);
  });

  it('rejects bad arguments at once, naming them', () => {
    expect(() => new ErrGroup({ limit: 1.5 })).toThrow(RangeError);
    expect(() => new ErrGroup({ limit: '2' as any })).toThrow(/`limit`/);
    expect(() => new ErrGroup({ signal: {} as any })).toThrow(TypeError);
    expect(() => new ErrGroup(5 as any)).toThrow(TypeError);
    const g = new ErrGroup();
    expect(() => g.go(null as any)).toThrow(/ErrGroup.go: `fn` must be a function/);
    expect(() => g.tryGo(1 as any)).toThrow(TypeError);
    expect(() => g.setLimit(Number.NaN)).toThrow(RangeError);
  });
});
