// The intent of sony/gobreaker v2's gobreaker_test.go, on virtual time.

import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState, type Counts } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';
import { deferred } from '../test/support.js';

const s = 1000;

function counts(requests: number, ts: number, tf: number, cs: number, cf: number): Counts {
  return {
    requests,
    totalSuccesses: ts,
    totalFailures: tf,
    consecutiveSuccesses: cs,
    consecutiveFailures: cf,
  };
}

const succeed = (cb: CircuitBreaker) => cb.execute(() => true);
/** Resolves with the error's code when the breaker refused, or 'ran' when fn ran and failed. */
const fail = (cb: CircuitBreaker) =>
  cb
    .execute(() => Promise.reject(new Error('fail')))
    .then(
      () => 'resolved',
      (e) => (e.message === 'fail' ? 'ran' : e.code),
    );
const refusal = (cb: CircuitBreaker) =>
  cb
    .execute(() => true)
    .then(
      () => 'ran',
      (e) => e.code,
    );

function custom(clock: TestClock, changes: string[] = [], extra: CircuitBreakerOptions = {}) {
  return new CircuitBreaker({
    name: 'cb',
    maxRequests: 3,
    interval: 30 * s,
    timeout: 90 * s,
    readyToTrip: (c) => c.requests >= 3 && c.totalFailures / c.requests >= 0.6,
    onStateChange: (name, from, to) => changes.push(`${name} ${from}->${to}`),
    clock,
    ...extra,
  });
}

describe('CircuitBreaker', () => {
  it('has gobreaker defaults: unnamed, closed, zero counts (TestNewCircuitBreaker)', () => {
    const cb = new CircuitBreaker();
    expect(cb.name).toBe('');
    expect(cb.state).toBe('closed');
    expect(cb.counts).toEqual(counts(0, 0, 0, 0, 0));
  });

  it('trips after more than 5 consecutive failures and recovers after the timeout (TestDefaultCircuitBreaker)', async () => {
    const clock = new TestClock();
    const cb = new CircuitBreaker({ clock });
    for (let i = 0; i < 5; i++) expect(await fail(cb)).toBe('ran');
    expect(cb.state).toBe('closed');
    expect(cb.counts).toEqual(counts(5, 0, 5, 0, 5));

    await succeed(cb);
    expect(cb.counts).toEqual(counts(6, 1, 5, 1, 0));
    expect(await fail(cb)).toBe('ran');
    expect(cb.counts).toEqual(counts(7, 1, 6, 0, 1));

    // closed -> open
    for (let i = 0; i < 5; i++) expect(await fail(cb)).toBe('ran');
    expect(cb.state).toBe('open');
    expect(cb.counts).toEqual(counts(0, 0, 0, 0, 0));
    expect(await refusal(cb)).toBe('ERR_CIRCUIT_OPEN');
    expect(await fail(cb)).toBe('ERR_CIRCUIT_OPEN');
    expect(cb.counts).toEqual(counts(0, 0, 0, 0, 0));

    await clock.advance(59 * s);
    expect(cb.state).toBe('open');
    // open -> half-open
    await clock.advance(1 * s);
    expect(cb.state).toBe('half-open');
    // half-open -> open
    expect(await fail(cb)).toBe('ran');
    expect(cb.state).toBe('open');
    expect(cb.counts).toEqual(counts(0, 0, 0, 0, 0));
    // open -> half-open -> closed
    await clock.advance(60 * s);
    expect(cb.state).toBe('half-open');
    await succeed(cb);
    expect(cb.state).toBe('closed');
    expect(cb.counts).toEqual(counts(0, 0, 0, 0, 0));
    expect(clock.pending).toBe(0);
  });

  it('resets counts each interval, trips on a custom rule and closes after maxRequests successes (TestCustomCircuitBreaker)', async () => {
    const clock = new TestClock();
    const changes: string[] = [];
    const cb = custom(clock, changes);
    expect(cb.name).toBe('cb');
    for (let i = 0; i < 5; i++) {
      await succeed(cb);
      await fail(cb);
    }
    expect(cb.state).toBe('closed');
    expect(cb.counts).toEqual(counts(10, 5, 5, 0, 1));

    await clock.advance(29 * s);
    await succeed(cb);
    expect(cb.counts).toEqual(counts(11, 6, 5, 1, 0));

    await clock.advance(1 * s); // the interval is over
    await fail(cb);
    expect(cb.state).toBe('closed');
    expect(cb.counts).toEqual(counts(1, 0, 1, 0, 1));

    // closed -> open: 2 failures of 3 >= 0.6
    await succeed(cb);
    await fail(cb);
    expect(cb.state).toBe('open');
    expect(changes.at(-1)).toBe('cb closed->open');

    await clock.advance(90 * s);
    expect(cb.state).toBe('half-open');
    expect(changes.at(-1)).toBe('cb open->half-open');

    await succeed(cb);
    await succeed(cb);
    expect(cb.state).toBe('half-open');
    expect(cb.counts).toEqual(counts(2, 2, 0, 2, 0));

    // The third trial is admitted and is slow; a fourth is refused.
    const slow = deferred<boolean>();
    const third = cb.execute(() => slow.promise);
    expect(cb.counts).toEqual(counts(3, 2, 0, 2, 0));
    expect(await refusal(cb)).toBe('ERR_TOO_MANY_REQUESTS');
    slow.resolve(true);
    expect(await third).toBe(true);
    expect(cb.state).toBe('closed');
    expect(cb.counts).toEqual(counts(0, 0, 0, 0, 0));
    expect(changes).toEqual(['cb closed->open', 'cb open->half-open', 'cb half-open->closed']);
  });

  it('ignores a result that arrives after its generation ended', async () => {
    const clock = new TestClock();
    const cb = new CircuitBreaker({ readyToTrip: (c) => c.consecutiveFailures >= 1, timeout: 1000, clock });
    const slow = deferred<string>();
    const late = cb.execute(() => slow.promise);
    await fail(cb);
    expect(cb.state).toBe('open');
    slow.reject(new Error('late'));
    await expect(late).rejects.toThrow('late');
    // The late failure did not count in the open generation (and could not re-open or extend it).
    await clock.advance(1000);
    expect(cb.state).toBe('half-open');
    expect(cb.counts).toEqual(counts(0, 0, 0, 0, 0));
  });

  it('ignores a success that arrives after the interval started a new generation', async () => {
    const clock = new TestClock();
    const cb = new CircuitBreaker({ interval: 1000, clock });
    const slow = deferred<string>();
    const late = cb.execute(() => slow.promise);
    await clock.advance(1000);
    await succeed(cb);
    slow.resolve('x');
    await late;
    expect(cb.counts).toEqual(counts(1, 1, 0, 1, 0));
  });

  it('admits at most maxRequests while half-open and re-opens on any failure', async () => {
    const clock = new TestClock();
    const cb = new CircuitBreaker({ maxRequests: 2, timeout: 10, readyToTrip: () => true, clock });
    await fail(cb);
    await clock.advance(10);
    const a = deferred<number>();
    const b = deferred<number>();
    let ran = 0;
    const pa = cb.execute(() => {
      ran++;
      return a.promise;
    });
    const pb = cb.execute(() => {
      ran++;
      return b.promise;
    });
    expect(await refusal(cb)).toBe('ERR_TOO_MANY_REQUESTS');
    expect(ran).toBe(2);
    a.reject(new Error('no'));
    await pa.catch(() => {});
    expect(cb.state).toBe('open');
    b.resolve(1);
    await pb;
    expect(cb.state).toBe('open');
  });

  it('rejects with the error of fn even when isSuccessful counts it a success', async () => {
    const cb = new CircuitBreaker({ isSuccessful: (e) => (e as Error).message === 'not found' });
    const err = new Error('not found');
    await expect(cb.execute(() => Promise.reject(err))).rejects.toBe(err);
    expect(cb.counts).toEqual(counts(1, 1, 0, 1, 0));
  });

  it('counts a synchronous throw as a failure and rejects with it', async () => {
    const cb = new CircuitBreaker();
    const err = new Error('sync');
    const p = cb.execute(() => {
      throw err;
    });
    expect(cb.counts).toEqual(counts(1, 0, 1, 0, 1));
    await expect(p).rejects.toBe(err);
  });

  it('counts a synchronous value at once and resolves with it', async () => {
    const cb = new CircuitBreaker();
    const p = cb.execute(() => 7);
    expect(cb.counts).toEqual(counts(1, 1, 0, 1, 0));
    expect(await p).toBe(7);
  });

  it('fails fast while open: fn is not called, no timer, and retryAfter tells the time left', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const cb = new CircuitBreaker({ readyToTrip: () => true, timeout: 5000, clock });
    await fail(cb);
    await clock.advance(1200);
    let called = false;
    const err = await cb
      .execute(() => {
        called = true;
      })
      .catch((e) => e);
    expect(called).toBe(false);
    expect(err).toMatchObject({ name: 'CircuitOpenError', code: 'ERR_CIRCUIT_OPEN', retryAfter: 3800 });
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('names itself in its errors', async () => {
    const cb = new CircuitBreaker({ name: 'payments', readyToTrip: () => true, clock: new TestClock() });
    await fail(cb);
    await expect(cb.execute(() => 1)).rejects.toThrow('circuit breaker "payments" is open');
  });

  it('calls onStateChange with the name and both states, once per change', async () => {
    const clock = new TestClock();
    const seen: [string, CircuitState, CircuitState][] = [];
    const cb = new CircuitBreaker({
      name: 'x',
      timeout: 1,
      readyToTrip: () => true,
      onStateChange: (...args) => seen.push(args),
      clock,
    });
    await fail(cb);
    await clock.advance(1);
    void cb.state;
    void cb.state;
    expect(seen).toEqual([
      ['x', 'closed', 'open'],
      ['x', 'open', 'half-open'],
    ]);
  });

  it('a throwing onStateChange rejects the call that caused the change, and the change stands', async () => {
    const boom = new Error('listener');
    const cb = new CircuitBreaker({
      readyToTrip: () => true,
      onStateChange: () => {
        throw boom;
      },
      clock: new TestClock(),
    });
    await expect(cb.execute(() => Promise.reject(new Error('down')))).rejects.toBe(boom);
    expect(cb.state).toBe('open');
    await expect(cb.execute(() => 1)).rejects.toMatchObject({ code: 'ERR_CIRCUIT_OPEN' });
  });

  it('a throwing readyToTrip or isSuccessful rejects the call instead of throwing from execute', async () => {
    const bad = new Error('callback');
    const cb = new CircuitBreaker({
      isSuccessful: () => {
        throw bad;
      },
    });
    let p: Promise<unknown> | undefined;
    expect(() => {
      p = cb.execute(() => {
        throw new Error('fn');
      });
    }).not.toThrow();
    await expect(p).rejects.toBe(bad);
  });

  describe('window', () => {
    it('trips on the failure rate once minRequests are in the window', async () => {
      const clock = new TestClock();
      const cb = new CircuitBreaker({
        readyToTrip: () => false,
        window: { ms: 10_000, minRequests: 10, failureRate: 0.5 },
        clock,
      });
      for (let i = 0; i < 4; i++) await fail(cb);
      for (let i = 0; i < 5; i++) await succeed(cb);
      expect(cb.state).toBe('closed'); // 9 requests < minRequests
      await fail(cb); // 5 of 10
      expect(cb.state).toBe('open');
    });

    it('forgets outcomes older than the window, bucket by bucket', async () => {
      const clock = new TestClock();
      const cb = new CircuitBreaker({
        readyToTrip: () => false,
        window: { ms: 10_000, buckets: 10, minRequests: 4, failureRate: 0.5 },
        clock,
      });
      await fail(cb);
      await fail(cb);
      await fail(cb);
      await clock.advance(10_000); // those three fell out of the window
      await succeed(cb);
      await succeed(cb);
      await succeed(cb);
      await fail(cb); // 1 of 4
      expect(cb.state).toBe('closed');
      await clock.advance(5_000);
      await fail(cb); // 2 of 5
      expect(cb.state).toBe('closed');
      await fail(cb); // 3 of 6
      expect(cb.state).toBe('open');
    });

    it('starts empty again when the breaker closes', async () => {
      const clock = new TestClock();
      const cb = new CircuitBreaker({
        readyToTrip: () => false,
        timeout: 100,
        window: { ms: 60_000, minRequests: 2, failureRate: 0.5 },
        clock,
      });
      await fail(cb);
      await fail(cb);
      expect(cb.state).toBe('open');
      await clock.advance(100);
      await succeed(cb);
      expect(cb.state).toBe('closed');
      await fail(cb); // 1 request in the new window: below minRequests
      expect(cb.state).toBe('closed');
    });
  });

  describe('backoff', () => {
    it('multiplies the open time at each re-trip from half-open, up to maxTimeout, and resets it on close', async () => {
      const clock = new TestClock();
      const cb = new CircuitBreaker({
        timeout: 1000,
        readyToTrip: () => true,
        backoff: { multiplier: 2, maxTimeout: 3000 },
        clock,
      });
      const openFor = async () => {
        const start = clock.now();
        while (cb.state === 'open') await clock.advance(100);
        return clock.now() - start;
      };
      await fail(cb);
      expect(await openFor()).toBe(1000);
      await fail(cb);
      expect(await openFor()).toBe(2000);
      await fail(cb);
      expect(await openFor()).toBe(3000);
      await fail(cb);
      expect(await openFor()).toBe(3000);
      await succeed(cb);
      expect(cb.state).toBe('closed');
      await fail(cb);
      expect(await openFor()).toBe(1000);
    });
  });

  it('rejects bad options with a message naming the field', () => {
    expect(() => new CircuitBreaker({ maxRequests: 0 })).toThrow(/`maxRequests` must be an integer >= 1, got 0/);
    expect(() => new CircuitBreaker({ timeout: -1 })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ interval: Number.NaN })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ readyToTrip: 1 as never })).toThrow(TypeError);
    expect(() => new CircuitBreaker({ name: 1 as never })).toThrow(TypeError);
    expect(() => new CircuitBreaker({ window: { ms: 0, failureRate: 0.5 } })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ window: { ms: 10, failureRate: 2 } })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ window: { ms: 10, buckets: 0, failureRate: 0.5 } })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ backoff: { multiplier: 0.5, maxTimeout: 1e6 } })).toThrow(RangeError);
    expect(() => new CircuitBreaker({ timeout: 10, backoff: { multiplier: 2, maxTimeout: 5 } })).toThrow(RangeError);
    expect(() => new CircuitBreaker().execute(1 as never)).toThrow(TypeError);
  });
});

// Regression tests for issue 13, item 2: a caller's own abort is not the service's failure.
describe('CircuitBreaker and the caller’s signal', () => {
  const tripOnFirst = { readyToTrip: (c: Counts) => c.consecutiveFailures >= 1 };

  it('hands fn the caller’s signal, or one that never aborts', async () => {
    const cb = new CircuitBreaker();
    const ac = new AbortController();
    expect(await cb.execute((signal) => signal === ac.signal, { signal: ac.signal })).toBe(true);
    expect(await cb.execute((signal) => signal instanceof AbortSignal && !signal.aborted)).toBe(true);
  });

  it('counts an error raised after the caller aborted neither as a success nor as a failure', async () => {
    const cb = new CircuitBreaker(tripOnFirst);
    const ac = new AbortController();
    const work = deferred<string>();
    const call = cb.execute(() => work.promise, { signal: ac.signal });
    ac.abort(new Error('client went away'));
    work.reject(new Error('socket hang up')); // what the work throws once its caller left
    await expect(call).rejects.toThrow('socket hang up');
    expect(cb.state).toBe('closed');
    expect(cb.counts).toEqual(counts(0, 0, 0, 0, 0));
  });

  it('gives the half-open trial back when the prober’s caller aborts, so another may probe', async () => {
    const clock = new TestClock();
    const cb = new CircuitBreaker({ ...tripOnFirst, timeout: 10, clock });
    await cb.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    await clock.advance(10);
    expect(cb.state).toBe('half-open');
    const ac = new AbortController();
    const probe = cb.execute(
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      { signal: ac.signal },
    );
    await expect(cb.execute(() => 1)).rejects.toMatchObject({ code: 'ERR_TOO_MANY_REQUESTS' });
    ac.abort('bye');
    await expect(probe).rejects.toBe('bye');
    expect(await cb.execute(() => 'ok')).toBe('ok');
    expect(cb.state).toBe('closed');
  });

  it('lets isSuccessful still count an aborted call as a success', async () => {
    const cb = new CircuitBreaker({ isSuccessful: (err) => err === 'fine' });
    const ac = new AbortController();
    ac.abort('fine');
    // Already aborted: rejected at once, fn not called, nothing counted.
    let called = false;
    await expect(cb.execute(() => (called = true), { signal: ac.signal })).rejects.toBe('fine');
    expect(called).toBe(false);
    const ac2 = new AbortController();
    const call = cb.execute(() => Promise.reject('fine'), { signal: ac2.signal });
    ac2.abort('x');
    await expect(call).rejects.toBe('fine');
    expect(cb.counts.totalSuccesses).toBe(1);
  });

  it('still counts a failure of a call whose signal did not abort', async () => {
    const cb = new CircuitBreaker(tripOnFirst);
    await expect(
      cb.execute(() => Promise.reject(new Error('500')), { signal: new AbortController().signal }),
    ).rejects.toThrow('500');
    expect(cb.state).toBe('open');
  });
});
