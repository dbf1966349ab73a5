import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker, retry } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';

/** An fn that fails `failures` times, recording each attempt's number and time. */
function flaky(clock: TestClock, failures: number, log: [number, number][] = []) {
  const fn = (attempt: number) => {
    log.push([attempt, clock.now()]);
    if (attempt <= failures) return Promise.reject(new Error(`fail ${attempt}`));
    return Promise.resolve(`ok ${attempt}`);
  };
  return { fn, log };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('retry', () => {
  it('resolves with the first success and numbers attempts from 1', async () => {
    const clock = new TestClock();
    const { fn, log } = flaky(clock, 2);
    const p = retry(fn, { backoff: { jitter: 'none' }, clock });
    await clock.runAll();
    expect(await p).toBe('ok 3');
    expect(log.map(([a]) => a)).toEqual([1, 2, 3]);
  });

  it('waits min(max, initial * multiplier^(k-1)) before attempt k+1 without jitter', async () => {
    const clock = new TestClock();
    const { fn, log } = flaky(clock, 5);
    const p = retry(fn, { attempts: 6, backoff: { initial: 100, multiplier: 3, max: 2000, jitter: 'none' }, clock });
    await clock.runAll();
    await p;
    // delays 100, 300, 900, 2000 (capped), 2000
    expect(log.map(([, t]) => t)).toEqual([0, 100, 400, 1300, 3300, 5300]);
  });

  it('uses the defaults initial 100, multiplier 2, max 30 s', async () => {
    const clock = new TestClock();
    const { fn, log } = flaky(clock, 10);
    const p = retry(fn, { attempts: 11, backoff: { jitter: 'none' }, clock });
    await clock.runAll();
    await p;
    const delays = log.slice(1).map(([, t], i) => t - log[i]![1]);
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000]);
  });

  it("draws 'full' jitter uniformly from 0..d and 'equal' from d/2..d", async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.25);
    for (const [jitter, want] of [
      ['full', [0, 25, 75]],
      ['equal', [0, 62.5, 187.5]],
    ] as const) {
      const clock = new TestClock();
      const { fn, log } = flaky(clock, 2);
      const p = retry(fn, { backoff: { jitter }, clock });
      await clock.runAll();
      await p;
      expect(log.map(([, t]) => t)).toEqual(want);
    }
  });

  it("defaults to 'full' jitter", async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const clock = new TestClock();
    const { fn, log } = flaky(clock, 1);
    const p = retry(fn, { clock });
    await clock.runAll();
    await p;
    expect(log.map(([, t]) => t)).toEqual([0, 50]);
  });

  it('rejects with the last error as it is after the last attempt, and leaves nothing behind', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const errors: Error[] = [];
    const p = retry(
      () => {
        const e = new Error(`e${errors.length + 1}`);
        errors.push(e);
        throw e;
      },
      { attempts: 3, clock },
    );
    const outcome = p.catch((e) => e);
    await clock.runAll();
    expect(await outcome).toBe(errors[2]);
    expect(errors.length).toBe(3);
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('stops when retryIf returns false, passing it the error and the attempt', async () => {
    const clock = new TestClock();
    const seen: [string, number][] = [];
    const { fn, log } = flaky(clock, 10);
    const outcome = retry(fn, {
      attempts: 10,
      retryIf: (err, attempt) => {
        seen.push([(err as Error).message, attempt]);
        return attempt < 2;
      },
      clock,
    }).catch((e) => e.message);
    await clock.runAll();
    expect(await outcome).toBe('fail 2');
    expect(seen).toEqual([
      ['fail 1', 1],
      ['fail 2', 2],
    ]);
    expect(log.length).toBe(2);
  });

  it('does not call retryIf after the last attempt', async () => {
    const retryIf = vi.fn(() => true);
    const clock = new TestClock();
    const outcome = retry(() => Promise.reject(new Error('x')), { attempts: 2, retryIf, clock }).catch(() => {});
    await clock.runAll();
    await outcome;
    expect(retryIf).toHaveBeenCalledTimes(1);
  });

  it('an abort during a delay rejects with the reason at once and clears the timer', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const ac = new AbortController();
    const { fn, log } = flaky(clock, 10);
    const outcome = retry(fn, {
      attempts: 10,
      backoff: { initial: 1000, jitter: 'none' },
      signal: ac.signal,
      clock,
    }).catch((e) => e);
    await clock.advance(500);
    expect(clock.pending).toBe(1);
    const reason = new Error('stop');
    ac.abort(reason);
    expect(await outcome).toBe(reason);
    expect(clock.pending).toBe(0);
    expect(log.length).toBe(1);
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('an abort during an attempt rejects with the reason instead of retrying', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const ac = new AbortController();
    let calls = 0;
    const outcome = retry(
      (_attempt, signal) => {
        calls++;
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted fetch'))));
      },
      { signal: ac.signal, clock },
    ).catch((e) => e);
    await clock.advance(0);
    ac.abort('bye');
    expect(await outcome).toBe('bye');
    expect(calls).toBe(1);
    expect(clock.pending).toBe(0);
    expect(leaks.check().timers).toBe(0);
  });

  it('rejects an already-aborted signal before the first attempt', async () => {
    let calls = 0;
    await expect(retry(() => calls++, { signal: AbortSignal.abort('early') })).rejects.toBe('early');
    expect(calls).toBe(0);
  });

  it("passes fn the caller's signal, or a signal of its own that never aborts", async () => {
    const ac = new AbortController();
    const seen: AbortSignal[] = [];
    await retry((_a, signal) => seen.push(signal), { signal: ac.signal });
    await retry((_a, signal) => seen.push(signal));
    expect(seen[0]).toBe(ac.signal);
    expect(seen[1]).toBeInstanceOf(AbortSignal);
    expect(seen[1]!.aborted).toBe(false);
  });

  it('retries a synchronous throw like a rejection', async () => {
    const clock = new TestClock();
    const p = retry(
      (attempt) => {
        if (attempt === 1) throw new Error('sync');
        return attempt;
      },
      { clock },
    );
    await clock.runAll();
    expect(await p).toBe(2);
  });

  it('with attempts Infinity keeps trying until fn succeeds, the delay capped at max', async () => {
    const clock = new TestClock();
    const { fn, log } = flaky(clock, 30);
    const p = retry(fn, {
      attempts: Number.POSITIVE_INFINITY,
      backoff: { initial: 10, max: 50, jitter: 'none' },
      clock,
    });
    await clock.runAll();
    expect(await p).toBe('ok 31');
    expect(log.at(-1)![1] - log.at(-2)![1]).toBe(50);
  });

  it('with attempts 1 calls fn once and schedules nothing', async () => {
    const clock = new TestClock();
    const err = new Error('once');
    const p = retry(() => Promise.reject(err), { attempts: 1, clock });
    await expect(p).rejects.toBe(err);
    expect(clock.pending).toBe(0);
  });

  it('with a breaker, stops at ERR_CIRCUIT_OPEN through retryIf', async () => {
    const clock = new TestClock();
    const cb = new CircuitBreaker({ readyToTrip: (c) => c.consecutiveFailures >= 3, clock });
    let calls = 0;
    const outcome = retry(
      () =>
        cb.execute(() => {
          calls++;
          return Promise.reject(new Error('down'));
        }),
      { attempts: 10, retryIf: (e: any) => e.code !== 'ERR_CIRCUIT_OPEN', clock },
    ).catch((e) => e.code);
    await clock.runAll();
    expect(await outcome).toBe('ERR_CIRCUIT_OPEN');
    expect(calls).toBe(3);
  });

  it('with a breaker, waits out the open time when the backoff is long enough', async () => {
    const clock = new TestClock();
    const cb = new CircuitBreaker({ readyToTrip: (c) => c.consecutiveFailures >= 2, timeout: 1000, clock });
    let calls = 0;
    const p = retry(
      () =>
        cb.execute(() => {
          calls++;
          return calls <= 2 ? Promise.reject(new Error('down')) : Promise.resolve('up');
        }),
      { attempts: 5, backoff: { initial: 600, jitter: 'none' }, clock },
    );
    await clock.runAll();
    // Attempt 1 at 0 fails; 2 at 600 fails and trips (open until 1600); 3 at 1800 is the half-open trial.
    expect(await p).toBe('up');
    expect(calls).toBe(3);
    expect(cb.state).toBe('closed');
  });

  it('rejects bad arguments at once', () => {
    expect(() => retry(1 as never)).toThrow(TypeError);
    expect(() => retry(() => 1, { attempts: 0 })).toThrow(RangeError);
    expect(() => retry(() => 1, { backoff: { initial: -1 } })).toThrow(RangeError);
    expect(() => retry(() => 1, { backoff: { multiplier: 0.5 } })).toThrow(RangeError);
    expect(() => retry(() => 1, { backoff: { jitter: 'some' as never } })).toThrow(
      /retry: `backoff.jitter` must be one of 'full', 'equal', 'none', got "some"/,
    );
    expect(() => retry(() => 1, { retryIf: 'x' as never })).toThrow(TypeError);
    expect(() => retry(() => 1, { signal: {} as never })).toThrow(TypeError);
  });
});
