/**
 * What context leaves behind on its parent signals and clocks, whichever way
 * a scope ends (cancel, dispose, the parent's abort, its own deadline, an
 * already-aborted parent), and after sleeps and afterFunc registrations end:
 * nothing.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { afterFunc, sleep, withCancel, withDeadline, withTimeout } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';

const clean = { waiters: 0, timers: 0, listeners: 0, details: [] };
const listeners = (s: AbortSignal) => getEventListeners(s, 'abort').length;

describe('context leaks', () => {
  it('100,000 timed scopes cancelled before their deadline leave no listener on the parent and no timer', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const parent = new AbortController();
    for (let i = 0; i < 100_000; i++) {
      const s =
        i % 2 === 0 ? withTimeout(parent.signal, 1000, { clock }) : withDeadline(parent.signal, 5000, { clock });
      s.cancel(i);
      // A turn of the event loop now and then, so that the test runner's messages are answered while it runs.
      if (i % 10_000 === 9_999) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    expect(listeners(parent.signal)).toBe(0);
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('10,000 scopes that reach their deadline together leave nothing on the parent or the clock', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const parent = new AbortController();
    const scopes = Array.from({ length: 10_000 }, () => withTimeout(parent.signal, 50, { clock }));
    // One real listener (the parent's hub) carries the 10,000 children.
    expect(listeners(parent.signal)).toBe(1);
    expect(leaks.check().listeners).toBe(10_000);
    await clock.advance(50);
    expect(scopes.every((s) => s.signal.reason?.code === 'ERR_DEADLINE_EXCEEDED')).toBe(true);
    expect(listeners(parent.signal)).toBe(0);
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('40,000 children of one parent cancelled newest first leave it as it was, and Node does not warn', async () => {
    using leaks = trackLeaks();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const parent = new AbortController();
    const scopes = Array.from({ length: 40_000 }, () => withCancel(parent.signal));
    for (let i = scopes.length - 1; i >= 0; i--) scopes[i]!.cancel(i);
    expect(listeners(parent.signal)).toBe(0);
    expect(leaks.check()).toEqual(clean);
    // Node emits its MaxListenersExceededWarning on a later tick.
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    expect(warnings).toEqual([]);
  });

  it('a deep chain aborted at the root leaves no listener at any level and no timer', () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const root = new AbortController();
    const chain: AbortSignal[] = [root.signal];
    for (let i = 0; i < 1000; i++) {
      const parent = chain.at(-1)!;
      chain.push((i % 3 === 0 ? withTimeout(parent, 10_000 + i, { clock }) : withCancel(parent)).signal);
    }
    root.abort('root');
    expect(chain.every((s) => s.reason === 'root')).toBe(true);
    expect(chain.map(listeners).every((n) => n === 0)).toBe(true);
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('a wide tree whose children end in every way leaves the root as it found it', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const root = new AbortController();
    const mid = withCancel(root.signal);
    const kids = Array.from({ length: 300 }, (_, i) =>
      i % 3 === 0 ? withCancel(mid.signal) : withTimeout(mid.signal, i % 3 === 1 ? 10 : 10_000, { clock }),
    );
    for (let i = 0; i < kids.length; i += 3) kids[i]!.cancel();
    await clock.advance(10);
    mid[Symbol.dispose]();
    expect(kids.every((k) => k.signal.aborted)).toBe(true);
    expect(listeners(root.signal)).toBe(0);
    expect(listeners(mid.signal)).toBe(0);
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('scopes under an already-aborted parent add nothing, and cancelling them changes nothing', () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const parent = AbortSignal.abort('done');
    for (let i = 0; i < 1000; i++) withTimeout(parent, 5, { clock }).cancel();
    expect(listeners(parent)).toBe(0);
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('10,000 sleeps, half completed and half aborted, leave no timer, waiter or listener', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const acs = Array.from({ length: 5000 }, () => new AbortController());
    const aborted = acs.map((ac) => sleep(1000, { clock, signal: ac.signal }).catch((e) => e));
    const shared = new AbortController();
    const completed = Array.from({ length: 5000 }, (_, i) => sleep(1 + (i % 10), { clock, signal: shared.signal }));
    for (const ac of acs) ac.abort('stop');
    expect(await Promise.all(aborted)).toEqual(acs.map(() => 'stop'));
    await clock.advance(10);
    await Promise.all(completed);
    expect(listeners(shared.signal)).toBe(0);
    expect(acs.every((ac) => listeners(ac.signal) === 0)).toBe(true);
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('afterFunc registrations that fire or are stopped leave no listener', async () => {
    using leaks = trackLeaks();
    const ac = new AbortController();
    let ran = 0;
    const stops = Array.from({ length: 1000 }, () => afterFunc(ac.signal, () => ran++));
    for (let i = 0; i < stops.length; i += 2) expect(stops[i]!()).toBe(true);
    expect(listeners(ac.signal)).toBe(1);
    expect(leaks.check().listeners).toBe(500);
    ac.abort();
    expect(listeners(ac.signal)).toBe(0);
    await Promise.resolve();
    expect(ran).toBe(500);
    expect(leaks.check()).toEqual(clean);
  });
});
