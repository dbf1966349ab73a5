import { describe, expect, expectTypeOf, it } from 'vitest';
import { CircuitBreaker, type PolicyNext, policy, RateLimiter, Semaphore, Singleflight, sleep } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };

/** A part that records when the call enters and leaves it. */
const trace =
  (log: string[], name: string) =>
  <T>(next: PolicyNext<T>, signal: AbortSignal | undefined): Promise<T> => {
    log.push(`> ${name}`);
    return next(signal).finally(() => log.push(`< ${name}`));
  };

describe('policy', () => {
  it('nests its parts in the order given, the first outermost', async () => {
    const log: string[] = [];
    const p = policy(trace(log, 'a'), trace(log, 'b'), trace(log, 'c'));
    expect(
      await p.execute(() => {
        log.push('work');
        return 42;
      }),
    ).toBe(42);
    expect(log).toEqual(['> a', '> b', '> c', 'work', '< c', '< b', '< a']);
    expect(p.parts).toHaveLength(3);
  });

  it('retries outside the limiter and the breaker: every attempt takes a token and is counted', async () => {
    const clock = new TestClock();
    const limiter = new RateLimiter({ rate: 10, burst: 1, clock });
    const breaker = new CircuitBreaker({ readyToTrip: (c) => c.consecutiveFailures >= 5, clock });
    const p = policy({ retry: { attempts: 3, backoff: { initial: 0, jitter: 'none' }, clock } }, limiter, breaker);
    const at: number[] = [];
    const done = p
      .execute(() => {
        at.push(clock.now());
        throw new Error('503');
      })
      .catch((e: Error) => e.message);
    await clock.runAll();
    expect(await done).toBe('503');
    expect(at).toEqual([0, 100, 200]); // a token each: 10 a second
    expect(breaker.counts.totalFailures).toBe(3);
  });

  it('bounds each attempt with the timeout, and the breaker counts an attempt that timed out', async () => {
    const clock = new TestClock();
    const breaker = new CircuitBreaker({ readyToTrip: (c) => c.consecutiveFailures >= 2, clock });
    const p = policy({ retry: { attempts: 2, backoff: { initial: 10, jitter: 'none' }, clock } }, breaker, {
      timeout: 50,
      clock,
    });
    const done = p.execute((signal) => sleep(1_000, { signal, clock })).catch((e: { code: string }) => e.code);
    await clock.runAll();
    expect(await done).toBe('ERR_DEADLINE_EXCEEDED');
    expect(clock.now()).toBe(110); // 50, a backoff of 10, 50: not one timeout for all
    expect(breaker.state).toBe('open');
  });

  it('stops at whatever layer the call is in when the caller aborts, and leaves nothing behind', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const limiter = new RateLimiter({ rate: 1, burst: 1, clock });
    const breaker = new CircuitBreaker({ readyToTrip: () => true, clock });
    const p = policy({ retry: { attempts: 5, backoff: { initial: 1_000, jitter: 'none' }, clock } }, limiter, breaker);
    limiter.allow(); // the token is gone: the call waits in the limiter
    const ac = new AbortController();
    let calls = 0;
    const done = p.execute(() => ++calls, { signal: ac.signal });
    await clock.advance(10);
    ac.abort(new Error('client left'));
    await expect(done).rejects.toThrow('client left');
    expect(calls).toBe(0);
    expect(breaker.counts).toMatchObject({ requests: 0, totalFailures: 0 });
    expect(leaks.check()).toEqual(none);
  });

  it('shares one run among the callers of a key through a Singleflight part, and needs the key', async () => {
    const sf = new Singleflight();
    const sem = new Semaphore(1);
    let runs = 0;
    const p = policy(sf, sem);
    const work = async () => {
      runs++;
      await Promise.resolve();
      return 'v';
    };
    expect(await Promise.all([p.execute(work, { key: 'k' }), p.execute(work, { key: 'k' })])).toEqual(['v', 'v']);
    expect(runs).toBe(1);
    await expect(p.execute(work)).rejects.toThrow('`key` is required by the Singleflight part');
  });

  it('refuses what is not a part, and bad execute arguments, at once', () => {
    expect(() => policy({} as never)).toThrow(/parts\[0\]/);
    expect(() => policy({ timeout: -1 })).toThrow(RangeError);
    expect(() => policy().execute(1 as never)).toThrow(TypeError);
    expect(() => policy().execute(() => 1, { key: 1 as never })).toThrow(TypeError);
  });

  it('types the result of the work through every part', () => {
    const p = policy(new Semaphore(2), { timeout: 100 });
    expectTypeOf(p.execute(async () => ({ id: 1 }))).toEqualTypeOf<Promise<{ id: number }>>();
    expectTypeOf(p.execute((signal) => signal.aborted)).toEqualTypeOf<Promise<boolean>>();
  });
});
