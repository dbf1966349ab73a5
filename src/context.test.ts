import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { afterFunc, sleep, withCancel, withDeadline, withTimeout } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';

// The abort listeners on a signal, as the platform holds them.
const listeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

let leaks: ReturnType<typeof trackLeaks>;
beforeEach(() => {
  leaks = trackLeaks();
});
afterEach(() => {
  leaks.stop();
});
const clean = { waiters: 0, timers: 0, listeners: 0, details: [] };

describe('withCancel', () => {
  it('aborts its signal with a CanceledError when cancelled without a reason', () => {
    const scope = withCancel();
    expect(scope.signal.aborted).toBe(false);
    scope.cancel();
    expect(scope.signal.aborted).toBe(true);
    expect(scope.signal.reason).toMatchObject({ name: 'CanceledError', code: 'ERR_CANCELED' });
    expect(scope.signal.reason).toBeInstanceOf(Error);
  });

  it('aborts with the reason given to cancel, and ignores later cancels', () => {
    const scope = withCancel();
    const reason = { why: 'first' };
    scope.cancel(reason);
    scope.cancel(new Error('second'));
    scope[Symbol.dispose]();
    expect(scope.signal.reason).toBe(reason);
  });

  it('is cancelled by using at the end of the block', () => {
    let signal: AbortSignal;
    {
      using scope = withCancel();
      signal = scope.signal;
    }
    expect(signal.reason.code).toBe('ERR_CANCELED');
  });

  it('follows its parent with the parent reason, through every generation', () => {
    const ac = new AbortController();
    const child = withCancel(ac.signal);
    const grandchild = withCancel(child.signal);
    const sibling = withCancel(ac.signal);
    const reason = new Error('shutdown');
    ac.abort(reason);
    expect(child.signal.reason).toBe(reason);
    expect(grandchild.signal.reason).toBe(reason);
    expect(sibling.signal.reason).toBe(reason);
    expect(leaks.check()).toEqual(clean);
  });

  it('does not abort its parent or siblings when cancelled', () => {
    const parent = withCancel();
    const a = withCancel(parent.signal);
    const b = withCancel(parent.signal);
    a.cancel();
    expect(parent.signal.aborted).toBe(false);
    expect(b.signal.aborted).toBe(false);
    parent.cancel();
    expect(b.signal.reason.code).toBe('ERR_CANCELED');
    expect(leaks.check()).toEqual(clean);
  });

  it('is aborted at once with the reason of an already-aborted parent, adding no listener', () => {
    const ac = new AbortController();
    ac.abort('gone');
    const child = withCancel(ac.signal);
    expect(child.signal.aborted).toBe(true);
    expect(child.signal.reason).toBe('gone');
    expect(listeners(ac.signal)).toBe(0);
    child.cancel();
    expect(child.signal.reason).toBe('gone');
    expect(leaks.check()).toEqual(clean);
  });

  it('leaves the parent as it found it after a million children are created and cancelled', {
    timeout: 300_000,
  }, async () => {
    const ac = new AbortController();
    const before = listeners(ac.signal);
    // An explicit reason spares a million stack captures; the listener path is the same. The loop gives the event
    // loop a turn every 50,000 scopes, so that the test runner's messages are answered while it runs.
    for (let i = 0; i < 1_000_000; i++) {
      withCancel(ac.signal).cancel(i);
      if (i % 50_000 === 49_999) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    expect(listeners(ac.signal)).toBe(before);
    expect(leaks.check()).toEqual(clean);
    const last = withCancel(ac.signal);
    ac.abort('end');
    expect(last.signal.reason).toBe('end');
  });

  it('cancels a chain of 10,000 scopes from its root without nesting a dispatch per level', () => {
    const root = new AbortController();
    const chain = [root.signal];
    for (let i = 0; i < 10_000; i++) chain.push(withCancel(chain.at(-1)).signal);
    root.abort('root');
    expect(chain.every((s) => s.reason === 'root')).toBe(true);
    expect(chain.every((s) => listeners(s) === 0)).toBe(true);
    expect(leaks.check()).toEqual(clean);
  });

  it('removes the listeners of many children held at once when they are cancelled in any order', () => {
    const ac = new AbortController();
    const scopes = Array.from({ length: 1000 }, () => withCancel(ac.signal));
    // One real listener on the parent however many children; each child is one tracked listener.
    expect(listeners(ac.signal)).toBe(1);
    expect(leaks.check().listeners).toBe(1000);
    for (let i = scopes.length - 1; i >= 0; i -= 2) scopes[i]!.cancel();
    for (let i = 0; i < scopes.length; i += 2) scopes[i]!.cancel();
    expect(listeners(ac.signal)).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('aborts the children of a parent in the order they were created', () => {
    const ac = new AbortController();
    const order: number[] = [];
    const scopes = Array.from({ length: 20 }, () => withCancel(ac.signal));
    scopes.forEach((s, i) => {
      s.signal.addEventListener('abort', () => order.push(i));
    });
    scopes[5]!.cancel();
    ac.abort();
    expect(order).toEqual([5, 0, 1, 2, 3, 4, ...Array.from({ length: 14 }, (_, i) => i + 6)]);
  });

  it('removes its listener from the parent when the parent aborts', () => {
    const ac = new AbortController();
    withCancel(ac.signal);
    expect(listeners(ac.signal)).toBe(1);
    ac.abort();
    expect(listeners(ac.signal)).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('runs the listeners of its signal after it has detached from the parent', () => {
    const ac = new AbortController();
    const child = withCancel(ac.signal);
    let seen: number | undefined;
    child.signal.addEventListener('abort', () => {
      seen = leaks.check().listeners;
    });
    child.cancel();
    expect(seen).toBe(0);
  });

  it('accepts null as no parent and rejects a parent that is not a signal', () => {
    expect(withCancel(null as unknown as undefined).signal.aborted).toBe(false);
    expect(() => withCancel({} as AbortSignal)).toThrow(TypeError);
    expect(() => withCancel('signal' as unknown as AbortSignal)).toThrow(/withCancel: `parent` must be an AbortSignal/);
  });
});

// A TestClock that records the delays asked of it, as a platform timer caps them.
function cappedClock(): { clock: TestClock; delays: number[] } {
  const clock = new TestClock();
  const delays: number[] = [];
  const set = clock.setTimeout.bind(clock);
  clock.setTimeout = (fn: () => void, ms: number) => {
    delays.push(ms);
    if (ms > 2 ** 31 - 1) throw new RangeError(`a platform timer fires ${ms} ms at once`);
    return set(fn, ms);
  };
  return { clock, delays };
}
const DAY = 86_400_000;

describe('withTimeout', () => {
  it('keeps a deadline beyond the platform timer limit (about 24.8 days) with several timers', async () => {
    using leaks = trackLeaks();
    const { clock, delays } = cappedClock();
    const scope = withTimeout(undefined, 30 * DAY, { clock });
    await clock.advance(30 * DAY - 1);
    expect(scope.signal.aborted).toBe(false);
    await clock.advance(1);
    expect(scope.signal.reason.code).toBe('ERR_DEADLINE_EXCEEDED');
    expect(delays).toEqual([2 ** 31 - 1, 30 * DAY - (2 ** 31 - 1)]);
    expect(leaks.check()).toEqual(clean);
  });

  it('aborts with a DeadlineExceededError when the time passes, and not before', async () => {
    const clock = new TestClock();
    const scope = withTimeout(undefined, 100, { clock });
    await clock.advance(99);
    expect(scope.signal.aborted).toBe(false);
    await clock.advance(1);
    expect(scope.signal.reason).toMatchObject({ name: 'DeadlineExceededError', code: 'ERR_DEADLINE_EXCEEDED' });
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('removes its parent listener when its timer fires', async () => {
    const clock = new TestClock();
    const ac = new AbortController();
    const scope = withTimeout(ac.signal, 10, { clock });
    expect(listeners(ac.signal)).toBe(1);
    expect(leaks.check()).toMatchObject({ timers: 1, listeners: 1 });
    await clock.advance(10);
    expect(scope.signal.aborted).toBe(true);
    expect(listeners(ac.signal)).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('clears its timer and parent listener when cancelled', () => {
    const clock = new TestClock();
    const ac = new AbortController();
    const scope = withTimeout(ac.signal, 1000, { clock });
    scope.cancel();
    expect(scope.signal.reason.code).toBe('ERR_CANCELED');
    expect(clock.pending).toBe(0);
    expect(listeners(ac.signal)).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('clears its timer when the parent aborts first, taking the parent reason', () => {
    const clock = new TestClock();
    const ac = new AbortController();
    const scope = withTimeout(ac.signal, 1000, { clock });
    ac.abort('parent');
    expect(scope.signal.reason).toBe('parent');
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('is aborted by its parent deadline when that comes first', async () => {
    const clock = new TestClock();
    const parent = withTimeout(undefined, 50, { clock });
    const child = withTimeout(parent.signal, 500, { clock });
    await clock.advance(50);
    expect(child.signal.reason).toBe(parent.signal.reason);
    expect(child.signal.reason.code).toBe('ERR_DEADLINE_EXCEEDED');
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('expires at once for 0 ms, scheduling nothing', () => {
    const clock = new TestClock();
    const scope = withTimeout(undefined, 0, { clock });
    expect(scope.signal.reason.code).toBe('ERR_DEADLINE_EXCEEDED');
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('schedules no timer for Infinity', async () => {
    const clock = new TestClock();
    const scope = withTimeout(undefined, Number.POSITIVE_INFINITY, { clock });
    expect(clock.pending).toBe(0);
    await clock.advance(1e12);
    expect(scope.signal.aborted).toBe(false);
    scope.cancel();
  });

  it('schedules no timer under an already-aborted parent', () => {
    const clock = new TestClock();
    const scope = withTimeout(AbortSignal.abort('early'), 10, { clock });
    expect(scope.signal.reason).toBe('early');
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('rejects negative, NaN and non-number durations, bad parents and bad clocks', () => {
    expect(() => withTimeout(undefined, -1)).toThrow(RangeError);
    expect(() => withTimeout(undefined, Number.NaN)).toThrow(/withTimeout: `ms`.*NaN/);
    expect(() => withTimeout(undefined, '10' as unknown as number)).toThrow(TypeError);
    expect(() => withTimeout(42 as unknown as AbortSignal, 10)).toThrow(/`parent`.*42/);
    expect(() => withTimeout(undefined, 10, { clock: {} as never })).toThrow(/`clock`/);
    expect(() => withTimeout(undefined, 10, 'x' as never)).toThrow(/`opts`/);
    expect(leaks.check()).toEqual(clean);
  });

  it('uses the system clock by default', async () => {
    const scope = withTimeout(undefined, 1);
    const reason = await new Promise((resolve) =>
      scope.signal.addEventListener('abort', () => resolve(scope.signal.reason)),
    );
    expect((reason as { code: string }).code).toBe('ERR_DEADLINE_EXCEEDED');
    expect(leaks.check()).toEqual(clean);
  });
});

describe('withDeadline', () => {
  it('compares a numeric deadline with clock.now()', async () => {
    const clock = new TestClock(10_000);
    const scope = withDeadline(undefined, 10_250, { clock });
    await clock.advance(249);
    expect(scope.signal.aborted).toBe(false);
    await clock.advance(1);
    expect(scope.signal.reason.code).toBe('ERR_DEADLINE_EXCEEDED');
    expect(leaks.check()).toEqual(clean);
  });

  it('accepts a Date as epoch milliseconds', async () => {
    const clock = new TestClock(Date.UTC(2030, 0, 1));
    const scope = withDeadline(undefined, new Date(Date.UTC(2030, 0, 1, 0, 0, 1)), { clock });
    await clock.advance(999);
    expect(scope.signal.aborted).toBe(false);
    await clock.advance(1);
    expect(scope.signal.aborted).toBe(true);
  });

  it('expires at once for a deadline in the past, on the system clock too', () => {
    expect(withDeadline(undefined, Date.now() - 1000).signal.reason.code).toBe('ERR_DEADLINE_EXCEEDED');
    expect(withDeadline(undefined, Number.NEGATIVE_INFINITY).signal.aborted).toBe(true);
    expect(leaks.check()).toEqual(clean);
  });

  it('has no deadline at Infinity', () => {
    const clock = new TestClock();
    const scope = withDeadline(undefined, Number.POSITIVE_INFINITY, { clock });
    expect(clock.pending).toBe(0);
    expect(scope.signal.aborted).toBe(false);
  });

  it('rejects an invalid Date, NaN and other types naming the deadline', () => {
    expect(() => withDeadline(undefined, new Date('nope'))).toThrow(RangeError);
    expect(() => withDeadline(undefined, new Date('nope'))).toThrow(/withDeadline: `deadline`.*Invalid Date/);
    expect(() => withDeadline(undefined, Number.NaN)).toThrow(RangeError);
    expect(() => withDeadline(undefined, '2030-01-01' as unknown as number)).toThrow(TypeError);
    expect(() => withDeadline({ aborted: 'no' } as unknown as AbortSignal, 1)).toThrow(/`parent`/);
  });
});

describe('afterFunc', () => {
  it('runs fn once, in a microtask after the abort, and removes its listener', async () => {
    const ac = new AbortController();
    let runs = 0;
    const stop = afterFunc(ac.signal, () => runs++);
    expect(listeners(ac.signal)).toBe(1);
    ac.abort();
    expect(runs).toBe(0);
    expect(listeners(ac.signal)).toBe(0);
    await Promise.resolve();
    expect(runs).toBe(1);
    expect(stop()).toBe(false);
    expect(leaks.check()).toEqual(clean);
  });

  it('runs fn for a signal that has already aborted, adding no listener', async () => {
    const signal = AbortSignal.abort();
    let runs = 0;
    afterFunc(signal, () => runs++);
    expect(leaks.check().listeners).toBe(0);
    await Promise.resolve();
    expect(runs).toBe(1);
  });

  it('stop before the abort prevents fn, removes the listener and answers true only once', async () => {
    const ac = new AbortController();
    let runs = 0;
    const stop = afterFunc(ac.signal, () => runs++);
    expect(stop()).toBe(true);
    expect(stop()).toBe(false);
    expect(listeners(ac.signal)).toBe(0);
    ac.abort();
    await Promise.resolve();
    expect(runs).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('stop after the abort but before fn starts still prevents it', async () => {
    const ac = new AbortController();
    let runs = 0;
    const stop = afterFunc(ac.signal, () => runs++);
    ac.abort();
    expect(stop()).toBe(true);
    await Promise.resolve();
    expect(runs).toBe(0);
  });

  it('runs the functions registered on one signal in registration order', async () => {
    const ac = new AbortController();
    const order: number[] = [];
    afterFunc(ac.signal, () => order.push(1));
    afterFunc(ac.signal, () => order.push(2));
    ac.abort();
    await Promise.resolve();
    expect(order).toEqual([1, 2]);
  });

  it('rejects a missing signal and a non-function', () => {
    expect(() => afterFunc(undefined as unknown as AbortSignal, () => {})).toThrow(/afterFunc: `signal`/);
    expect(() => afterFunc(new AbortController().signal, 1 as unknown as () => void)).toThrow(/afterFunc: `fn`/);
  });
});

describe('sleep', () => {
  it('sleeps beyond the platform timer limit with several timers, and can be aborted between them', async () => {
    using leaks = trackLeaks();
    const { clock, delays } = cappedClock();
    let woke = -1;
    const long = sleep(60 * DAY, { clock }).then(() => {
      woke = clock.now();
    });
    await clock.advance(60 * DAY);
    await long;
    expect(woke).toBe(60 * DAY);
    expect(delays).toEqual([2 ** 31 - 1, 2 ** 31 - 1, 60 * DAY - 2 * (2 ** 31 - 1)]);
    const ac = new AbortController();
    const cut = sleep(40 * DAY, { clock, signal: ac.signal });
    await clock.advance(30 * DAY);
    ac.abort('stop');
    await expect(cut).rejects.toBe('stop');
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('resolves after ms on the clock and leaves nothing behind', async () => {
    const clock = new TestClock();
    const ac = new AbortController();
    let woke: number | undefined;
    const p = sleep(300, { clock, signal: ac.signal }).then(() => {
      woke = clock.now();
    });
    expect(listeners(ac.signal)).toBe(1);
    expect(leaks.check()).toMatchObject({ waiters: 1, timers: 1 });
    await clock.advance(299);
    expect(woke).toBeUndefined();
    await clock.advance(1);
    await p;
    expect(woke).toBe(300);
    expect(listeners(ac.signal)).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('rejects with the signal reason on abort, clearing its timer and listener', async () => {
    const clock = new TestClock();
    const ac = new AbortController();
    const p = sleep(1000, { clock, signal: ac.signal });
    const reason = new Error('bye');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('rejects at once for an already-aborted signal, scheduling nothing', async () => {
    const clock = new TestClock();
    await expect(sleep(10, { clock, signal: AbortSignal.abort('no') })).rejects.toBe('no');
    await expect(sleep(0, { clock, signal: AbortSignal.abort('no') })).rejects.toBe('no');
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('resolves at once for 0 ms without a timer', async () => {
    const clock = new TestClock();
    const p = sleep(0, { clock });
    expect(clock.pending).toBe(0);
    await expect(p).resolves.toBeUndefined();
  });

  it('waits for the signal alone for Infinity ms', async () => {
    const clock = new TestClock();
    const ac = new AbortController();
    const p = sleep(Number.POSITIVE_INFINITY, { clock, signal: ac.signal });
    expect(clock.pending).toBe(0);
    ac.abort('done');
    await expect(p).rejects.toBe('done');
    expect(leaks.check()).toEqual(clean);
  });

  it('is bounded by a withTimeout scope', async () => {
    const clock = new TestClock();
    const scope = withTimeout(undefined, 50, { clock });
    const p = sleep(1000, { clock, signal: scope.signal });
    const settled = expect(p).rejects.toMatchObject({ code: 'ERR_DEADLINE_EXCEEDED' });
    await clock.advance(50);
    await settled;
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('throws at once on a bad duration or options', () => {
    expect(() => sleep(-5)).toThrow(/sleep: `ms`.*-5/);
    expect(() => sleep(Number.NaN)).toThrow(RangeError);
    expect(() => sleep('1' as unknown as number)).toThrow(TypeError);
    expect(() => sleep(1, { signal: 'x' as unknown as AbortSignal })).toThrow(/`signal`/);
    expect(() => sleep(1, { clock: 1 as never })).toThrow(/`clock`/);
  });
});

// Regression tests for issue 13, item 1: the `using` trap and the forms that cannot fall into it.
describe('Scope.run and the function forms of withCancel, withTimeout and withDeadline', () => {
  it('shows the trap: a using scope cancels a promise returned without await', async () => {
    const clock = new TestClock();
    const getJSON = (signal: AbortSignal) => sleep(10, { signal, clock }).then(() => 'body');
    const handler = () => {
      using s = withTimeout(undefined, 250, { clock });
      return getJSON(s.signal);
    };
    await expect(handler()).rejects.toMatchObject({ code: 'ERR_CANCELED' });
  });

  it('completes the work of a function form returned without await, then cancels the scope', async () => {
    const clock = new TestClock();
    let seen: AbortSignal | undefined;
    const getJSON = (signal: AbortSignal) => {
      seen = signal;
      return sleep(10, { signal, clock }).then(() => 'body');
    };
    const handler = (parent?: AbortSignal) => withTimeout(parent, 250, (signal) => getJSON(signal), { clock });
    const reply = handler(new AbortController().signal);
    await clock.advance(10);
    expect(await reply).toBe('body');
    expect(seen!.aborted).toBe(true);
    expect((seen!.reason as { code: string }).code).toBe('ERR_CANCELED');
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('rejects with the deadline when the work outlasts it, and with what fn throws', async () => {
    const clock = new TestClock();
    const slow = withTimeout(undefined, 100, (signal) => sleep(1_000, { signal, clock }), { clock });
    const rejected = expect(slow).rejects.toMatchObject({ code: 'ERR_DEADLINE_EXCEEDED' });
    await clock.advance(100);
    await rejected;
    await expect(
      withCancel(undefined, () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(withDeadline(undefined, clock.now() + 5, async () => 7, { clock })).resolves.toBe(7);
    expect(clock.pending).toBe(0);
  });

  it('Scope.run cancels at once for a plain value and follows the parent while it runs', async () => {
    const parent = new AbortController();
    const scope = withCancel(parent.signal);
    expect(await scope.run(() => 3)).toBe(3);
    expect(scope.signal.aborted).toBe(true);
    const running = withCancel(
      parent.signal,
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    );
    parent.abort('gone');
    await expect(running).rejects.toBe('gone');
    expect(() => withCancel().run(1 as never)).toThrow(TypeError);
  });
});
