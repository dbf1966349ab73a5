// The intent of golang.org/x/time/rate's rate_test.go, on virtual time.

import { describe, expect, it } from 'vitest';
import { type Clock, every, RateLimiter, type Reservation } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';

const d = 100; // x/time's tests step time by d = 100ms

/** A clock the test moves by hand, synchronously (AllowN(t, n) in Go). */
function manual(): Clock & { t: number } {
  return {
    t: 0,
    now() {
      return this.t;
    },
    setTimeout: () => {
      throw new Error('no timer expected');
    },
    clearTimeout: () => {},
  };
}

type Step = [t: number, n: number, ok: boolean];

function run(lim: RateLimiter, clock: { t: number }, steps: Step[]): void {
  steps.forEach(([t, n, ok], i) => {
    clock.t = t * d;
    expect(lim.allow(n), `step ${i}: allow(t${t}, ${n})`).toBe(ok);
  });
}

/** Reserves n at t (in units of d); checks ok and the time to act (in units of d). */
function reserveAt(lim: RateLimiter, clock: { t: number }, t: number, n: number, act: number, ok = true): Reservation {
  clock.t = t * d;
  const r = lim.reserve(n);
  expect(r.ok, `reserve(t${t}, ${n}).ok`).toBe(ok);
  if (ok) expect((clock.t + r.delay) / d, `reserve(t${t}, ${n}) acts at`).toBeCloseTo(act, 9);
  return r;
}

describe('every', () => {
  it('converts an interval in ms to events per second', () => {
    expect(every(0)).toBe(Number.POSITIVE_INFINITY);
    expect(every(1e-6)).toBeCloseTo(1e9);
    expect(every(1)).toBe(1000);
    expect(every(10)).toBe(100);
    expect(every(100)).toBe(10);
    expect(every(1000)).toBe(1);
    expect(every(2000)).toBe(0.5);
    expect(every(2500)).toBe(0.4);
    expect(every(10_000)).toBe(0.1);
    expect(every(Number.POSITIVE_INFINITY)).toBe(0);
  });

  it('rejects a negative or NaN interval with a RangeError', () => {
    expect(() => every(-1)).toThrow(RangeError);
    expect(() => every(Number.NaN)).toThrow(RangeError);
    expect(() => every('1' as never)).toThrow(TypeError);
  });
});

describe('RateLimiter.allow', () => {
  it('with burst 1 allows one event per interval and never n above the burst (TestLimiterBurst1)', () => {
    const clock = manual();
    run(new RateLimiter({ rate: 10, burst: 1, clock }), clock, [
      [0, 1, true],
      [0, 1, false],
      [0, 1, false],
      [1, 1, true],
      [1, 1, false],
      [1, 1, false],
      [2, 2, false],
      [2, 1, true],
      [2, 1, false],
    ]);
  });

  it('with burst 3 refills one token per interval up to the burst (TestLimiterBurst3)', () => {
    const clock = manual();
    run(new RateLimiter({ rate: 10, burst: 3, clock }), clock, [
      [0, 2, true],
      [0, 2, false],
      [0, 1, true],
      [0, 1, false],
      [1, 4, false],
      [2, 1, true],
      [3, 1, true],
      [4, 1, true],
      [4, 1, true],
      [4, 1, false],
      [4, 1, false],
      [9, 3, true],
      [9, 0, true],
    ]);
  });

  it('has no truncation error at an awkward rate (golang.org/issues/34861)', () => {
    expect(new RateLimiter({ rate: 0.7692307692307693, burst: 1 }).allow()).toBe(true);
  });

  it('admits exactly the burst of simultaneous requests (TestSimultaneousRequests)', () => {
    const lim = new RateLimiter({ rate: 1, burst: 5, clock: manual() });
    const ok = Array.from({ length: 15 }, () => lim.allow()).filter(Boolean).length;
    expect(ok).toBe(5);
  });

  it('admits burst + rate * elapsed over a long run (TestLongRunningQPS on virtual time)', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 100, burst: 100, clock });
    let ok = 0;
    for (clock.t = 0; clock.t < 5000; clock.t += 2) if (lim.allow()) ok++;
    const elapsed = 4998;
    const ideal = 100 + (100 * elapsed) / 1000;
    expect(ok).toBeLessThanOrEqual(Math.floor(ideal) + 1);
    expect(ok).toBeGreaterThanOrEqual(Math.floor(0.999 * ideal));
  });

  it('with rate 0 allows the initial burst and then nothing (TestZeroLimit)', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 0, burst: 1, clock });
    expect(lim.allow()).toBe(true);
    clock.t = 1e9;
    expect(lim.allow()).toBe(false);
    expect(lim.tokens()).toBe(0);
  });

  it('with rate Infinity allows everything, even with burst 0', () => {
    const lim = new RateLimiter({ rate: Number.POSITIVE_INFINITY, burst: 0, clock: manual() });
    expect([lim.allow(), lim.allow(1000)]).toEqual([true, true]);
    expect(lim.tokens()).toBe(Number.POSITIVE_INFINITY);
  });

  it('takes nothing when it answers false', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 10, burst: 3, clock });
    expect(lim.allow(2)).toBe(true);
    expect(lim.allow(2)).toBe(false);
    expect(lim.tokens()).toBe(1);
  });

  it('rejects a bad n at once', () => {
    const lim = new RateLimiter({ rate: 1, burst: 1 });
    expect(() => lim.allow(-1)).toThrow(RangeError);
    expect(() => lim.allow(1.5)).toThrow(/RateLimiter.allow: `n` must be an integer >= 0, got 1.5/);
    expect(() => lim.allow('2' as never)).toThrow(TypeError);
  });
});

describe('RateLimiter.reserve', () => {
  it('goes into debt and tells when to act (TestSimpleReserve)', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 10, burst: 2, clock });
    reserveAt(lim, clock, 0, 2, 0);
    reserveAt(lim, clock, 0, 2, 2);
    reserveAt(lim, clock, 3, 2, 4);
  });

  it('mixes with allow: debt makes allow refuse (TestMix)', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 10, burst: 2, clock });
    reserveAt(lim, clock, 0, 3, 0, false);
    reserveAt(lim, clock, 0, 2, 0);
    run(lim, clock, [[1, 2, false]]);
    reserveAt(lim, clock, 1, 2, 2);
    run(lim, clock, [[1, 1, false]]);
    run(lim, clock, [[3, 1, true]]);
  });

  it('a reservation that is not ok has an infinite delay and its cancel gives nothing (TestCancelInvalid)', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 10, burst: 2, clock });
    reserveAt(lim, clock, 0, 2, 0);
    const r = reserveAt(lim, clock, 0, 3, 3, false);
    expect(r.delay).toBe(Number.POSITIVE_INFINITY);
    r.cancel();
    reserveAt(lim, clock, 0, 2, 2);
  });

  it('cancelling the last reservation gives its tokens back (TestCancelLast)', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 10, burst: 2, clock });
    reserveAt(lim, clock, 0, 2, 0);
    const r = reserveAt(lim, clock, 0, 2, 2);
    clock.t = 1 * d;
    r.cancel();
    reserveAt(lim, clock, 1, 2, 2);
  });

  it('cancelling after the time to act gives nothing back (TestCancelTooLate)', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 10, burst: 2, clock });
    reserveAt(lim, clock, 0, 2, 0);
    const r = reserveAt(lim, clock, 0, 2, 2);
    clock.t = 3 * d;
    r.cancel();
    reserveAt(lim, clock, 3, 2, 4);
  });

  it('cancelling gives back nothing that a later reservation counts on (TestCancel0Tokens)', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 10, burst: 2, clock });
    reserveAt(lim, clock, 0, 2, 0);
    const r = reserveAt(lim, clock, 0, 1, 1);
    reserveAt(lim, clock, 0, 1, 2);
    r.cancel();
    reserveAt(lim, clock, 0, 1, 3);
  });

  it('cancelling gives back the part no later reservation counts on (TestCancel1Token)', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 10, burst: 2, clock });
    reserveAt(lim, clock, 0, 2, 0);
    const r = reserveAt(lim, clock, 0, 2, 2);
    reserveAt(lim, clock, 0, 1, 3);
    clock.t = 2 * d;
    r.cancel();
    reserveAt(lim, clock, 2, 2, 4);
  });

  it('cancelling several reservations gives back as if the later ones were never made (TestCancelMulti)', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 10, burst: 4, clock });
    reserveAt(lim, clock, 0, 4, 0);
    const a = reserveAt(lim, clock, 0, 3, 3);
    reserveAt(lim, clock, 0, 1, 4);
    const c = reserveAt(lim, clock, 0, 1, 5);
    clock.t = 1 * d;
    c.cancel();
    a.cancel();
    reserveAt(lim, clock, 1, 3, 5);
  });

  it('cancelling twice gives back once', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 10, burst: 2, clock });
    reserveAt(lim, clock, 0, 2, 0);
    const r = reserveAt(lim, clock, 0, 2, 2);
    r.cancel();
    r.cancel();
    expect(lim.tokens()).toBe(0);
  });

  it('setRate brings the bucket up to date at the old rate first (TestReserveSetLimit)', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 5, burst: 2, clock });
    reserveAt(lim, clock, 0, 2, 0);
    reserveAt(lim, clock, 0, 2, 4);
    clock.t = 2 * d;
    lim.setRate(10);
    expect(lim.rate).toBe(10);
    reserveAt(lim, clock, 2, 1, 4);
  });

  it('setBurst brings the bucket up to date first and lets larger requests through (TestReserveSetBurst)', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 5, burst: 2, clock });
    reserveAt(lim, clock, 0, 2, 0);
    reserveAt(lim, clock, 0, 2, 4);
    clock.t = 3 * d;
    lim.setBurst(4);
    expect(lim.burst).toBe(4);
    // -0.5 tokens at t3, 4 more take 4.5 tokens at 5/s: 900ms.
    reserveAt(lim, clock, 3, 4, 12);
  });

  it('cancel after setRate gives back at the rate of the reservation (TestReserveSetLimitCancel)', () => {
    const clock = manual();
    const lim = new RateLimiter({ rate: 5, burst: 2, clock });
    reserveAt(lim, clock, 0, 2, 0);
    const r = reserveAt(lim, clock, 0, 2, 4);
    clock.t = 2 * d;
    lim.setRate(10);
    r.cancel();
    reserveAt(lim, clock, 2, 2, 3);
  });

  it('setBurst below the tokens held cuts them to the new burst', () => {
    const lim = new RateLimiter({ rate: 1, burst: 10, clock: manual() });
    lim.setBurst(3);
    expect(lim.tokens()).toBe(3);
    expect(lim.allow(4)).toBe(false);
  });

  it('at rate Infinity is always ok with no delay, whatever n', () => {
    const lim = new RateLimiter({ rate: Number.POSITIVE_INFINITY, burst: 1, clock: manual() });
    const r = lim.reserve(50);
    expect([r.ok, r.delay]).toEqual([true, 0]);
    r.cancel();
  });

  it('at rate 0 is not ok once the burst is spent', () => {
    const lim = new RateLimiter({ rate: 0, burst: 2, clock: manual() });
    expect(lim.reserve(2).ok).toBe(true);
    expect(lim.reserve(1).ok).toBe(false);
  });

  it('schedules no timer: the delay is computed from the clock', async () => {
    const clock = new TestClock();
    const lim = new RateLimiter({ rate: 10, burst: 1, clock });
    lim.allow();
    const r = lim.reserve(1);
    expect(clock.pending).toBe(0);
    await clock.advance(40);
    expect(r.delay).toBe(60);
    await clock.advance(100);
    expect(r.delay).toBe(0);
  });
});

describe('RateLimiter.wait', () => {
  it('rejects an aborted signal, a request above the burst, and acts now or later (TestWaitSimple)', async () => {
    const clock = new TestClock();
    const lim = new RateLimiter({ rate: 10, burst: 3, clock });
    const reason = new Error('gone');
    await expect(lim.wait(1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(() => lim.wait(4)).toThrow(RangeError);
    await lim.wait(2);
    expect(clock.now()).toBe(0);
    let at = -1;
    const later = lim.wait(3).then(() => (at = clock.now()));
    await clock.advance(199);
    expect(at).toBe(-1);
    await clock.advance(1);
    await later;
    expect(at).toBe(2 * d);
  });

  it('an aborted wait gives its tokens back and leaves nothing behind (TestWaitCancel)', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const lim = new RateLimiter({ rate: 10, burst: 3, clock });
    await lim.wait(2);
    const ac = new AbortController();
    const p = lim.wait(3, { signal: ac.signal });
    expect(lim.waiting).toBe(1);
    expect(clock.pending).toBe(1);
    await clock.advance(d);
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(DOMException);
    expect(lim.tokens()).toBe(2);
    expect(lim.waiting).toBe(0);
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
    await lim.wait(2);
    expect(clock.now()).toBe(d);
  });

  it('a wait whose signal aborts before its time rejects with the reason (TestWaitTimeout)', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const lim = new RateLimiter({ rate: 10, burst: 3, clock });
    const ac = new AbortController();
    clock.setTimeout(() => ac.abort('deadline'), d);
    await lim.wait(2, { signal: ac.signal });
    const p = lim.wait(3, { signal: ac.signal });
    const outcome = expect(p).rejects.toBe('deadline');
    await clock.advance(d);
    await outcome;
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('at rate Infinity ignores the burst (TestWaitInf)', async () => {
    const lim = new RateLimiter({ rate: Number.POSITIVE_INFINITY, burst: 0 });
    await expect(lim.wait(3)).resolves.toBeUndefined();
  });

  it('at rate 0 rejects with ERR_RATE_LIMIT_EXCEEDED once the burst is spent', async () => {
    const lim = new RateLimiter({ rate: 0, burst: 2, clock: new TestClock() });
    await lim.wait(2);
    await expect(lim.wait(1)).rejects.toMatchObject({
      code: 'ERR_RATE_LIMIT_EXCEEDED',
      name: 'RateLimitExceededError',
    });
  });

  it('serves waits in call order, so a large request is not starved by small ones', async () => {
    const clock = new TestClock();
    const lim = new RateLimiter({ rate: 10, burst: 5, clock });
    lim.allow(5);
    const order: string[] = [];
    const all = [lim.wait(5).then(() => order.push(`big@${clock.now()}`))];
    for (let i = 0; i < 5; i++) all.push(lim.wait(1).then(() => order.push(`small@${clock.now()}`)));
    await clock.advance(1000);
    await Promise.all(all);
    expect(order).toEqual(['big@500', 'small@600', 'small@700', 'small@800', 'small@900', 'small@1000']);
  });

  it('keeps one timer however many waits are queued', async () => {
    const clock = new TestClock();
    const lim = new RateLimiter({ rate: 10, burst: 1, clock });
    lim.allow();
    const all = Array.from({ length: 50 }, () => lim.wait());
    expect(clock.pending).toBe(1);
    await clock.advance(5000);
    await Promise.all(all);
    expect(clock.pending).toBe(0);
  });

  it('aborting the first of several waits lets the next keep its time and frees the abandoned tokens', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const lim = new RateLimiter({ rate: 10, burst: 1, clock });
    lim.allow();
    const ac = new AbortController();
    const first = lim.wait(1, { signal: ac.signal });
    const times: number[] = [];
    const second = lim.wait(1).then(() => times.push(clock.now()));
    ac.abort();
    await expect(first).rejects.toBeInstanceOf(DOMException);
    // The second keeps its reservation (200); the first's token is not given back: the second counts on it.
    await clock.advance(1000);
    await second;
    expect(times).toEqual([200]);
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('admits exactly 10,000 + burst in 10 s at 1,000/s with 100 concurrent waiters', async () => {
    const clock = new TestClock();
    const burst = 20;
    const lim = new RateLimiter({ rate: 1000, burst, clock });
    const ac = new AbortController();
    let admitted = 0;
    const loops = Array.from({ length: 100 }, async () => {
      for (;;) {
        await lim.wait(1, { signal: ac.signal });
        admitted++;
      }
    });
    await clock.advance(10_000);
    expect(admitted).toBe(10_000 + burst);
    ac.abort();
    await Promise.allSettled(loops);
    expect(clock.pending).toBe(0);
  });

  it('rejects bad arguments at once', () => {
    const lim = new RateLimiter({ rate: 1, burst: 1 });
    expect(() => lim.wait(-1)).toThrow(RangeError);
    expect(() => lim.wait(2)).toThrow(/RateLimiter.wait: `n` must be at most the burst 1, got 2/);
    expect(() => lim.wait(1, { signal: 'x' as never })).toThrow(TypeError);
  });
});

describe('RateLimiter construction', () => {
  it('starts full and exposes rate and burst', () => {
    const lim = new RateLimiter({ rate: 3, burst: 7, clock: manual() });
    expect([lim.rate, lim.burst, lim.tokens(), lim.waiting]).toEqual([3, 7, 7, 0]);
  });

  it('rejects bad options with a message naming the field', () => {
    expect(() => new RateLimiter(undefined as never)).toThrow(TypeError);
    expect(() => new RateLimiter({ rate: -1, burst: 1 })).toThrow(/RateLimiter: `rate` must be a number >= 0, got -1/);
    expect(() => new RateLimiter({ rate: 1, burst: 1.5 })).toThrow(RangeError);
    expect(() => new RateLimiter({ rate: 1, burst: 1, clock: {} as never })).toThrow(TypeError);
    const lim = new RateLimiter({ rate: 1, burst: 1 });
    expect(() => lim.setRate(Number.NaN)).toThrow(RangeError);
    expect(() => lim.setBurst(-2)).toThrow(RangeError);
  });
});
