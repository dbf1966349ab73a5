import { describe, expect, it } from 'vitest';
import { sleep, withCancel, withTimeout } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';

describe('trackLeaks', () => {
  it('counts the waiters, timers and listeners weft holds, with one detail line each', () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const parent = new AbortController();
    const scope = withTimeout(parent.signal, 100, { clock });
    const napping = sleep(Number.POSITIVE_INFINITY, { clock }).catch(() => {});
    const report = leaks.check();
    expect(report).toMatchObject({ waiters: 1, timers: 1, listeners: 1 });
    expect(report.details).toHaveLength(3);
    expect(report.details.map((d) => d.split(' ').slice(0, 2).join(' ')).sort()).toEqual([
      'listener withTimeout',
      'timer withTimeout',
      'waiter sleep',
    ]);
    scope.cancel();
    expect(leaks.check()).toMatchObject({ waiters: 1, timers: 0, listeners: 0 });
    void napping;
  });

  it('says where each leaked entry was created: a line of the caller’s code, not weft’s (issue 13, 6)', () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const napping = sleep(Number.POSITIVE_INFINITY, { clock }).catch(() => {});
    const [detail] = leaks.check().details;
    expect(detail).toMatch(/^waiter sleep at .*leaks\.test\.ts:\d+:\d+/);
    void napping;
  });

  it('does not see what was created before it started', () => {
    const ac = new AbortController();
    const early = withCancel(ac.signal);
    using leaks = trackLeaks();
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
    early.cancel();
    expect(leaks.check().listeners).toBe(0);
  });

  it('stops seeing new entries once stopped, and stop is idempotent', () => {
    const leaks = trackLeaks();
    leaks.stop();
    leaks.stop();
    const scope = withCancel(new AbortController().signal);
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
    scope.cancel();
  });

  it('two trackers see the same entries, and one stopping leaves the other working', () => {
    const a = trackLeaks();
    using b = trackLeaks();
    const ac = new AbortController();
    const s1 = withCancel(ac.signal);
    expect(a.check().listeners).toBe(1);
    expect(b.check().listeners).toBe(1);
    a[Symbol.dispose]();
    const s2 = withCancel(ac.signal);
    expect(b.check().listeners).toBe(2);
    s1.cancel();
    s2.cancel();
    expect(b.check().listeners).toBe(0);
  });
});
