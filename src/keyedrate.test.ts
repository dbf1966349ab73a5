import { describe, expect, it } from 'vitest';
import { KeyedRateLimiter } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';

describe('KeyedRateLimiter', () => {
  it('gives each key a bucket of its own', async () => {
    const clock = new TestClock();
    const lim = new KeyedRateLimiter({ rate: 1, burst: 2, clock });
    expect([lim.allow('a'), lim.allow('a'), lim.allow('a')]).toEqual([true, true, false]);
    expect([lim.allow('b', 2), lim.allow('b')]).toEqual([true, false]);
    await clock.advance(1000);
    expect([lim.allow('a'), lim.allow('a')]).toEqual([true, false]);
  });

  it('waits per key, in call order, and an aborted wait leaves nothing behind', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const lim = new KeyedRateLimiter({ rate: 10, burst: 1, clock });
    await lim.wait('a');
    const ac = new AbortController();
    const aborted = lim.wait('a', 1, { signal: ac.signal });
    await lim.wait('b');
    ac.abort('stop');
    await expect(aborted).rejects.toBe('stop');
    const next = lim.wait('a').then(() => clock.now());
    await clock.advance(100);
    expect(await next).toBe(100);
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('forgets keys whose bucket is full again, without changing any answer', async () => {
    const clock = new TestClock();
    const lim = new KeyedRateLimiter({ rate: 10, burst: 1, clock });
    for (let i = 0; i < 100; i++) lim.allow(`k${i}`);
    expect(lim.size).toBe(100);
    expect(lim.allow('k0')).toBe(false);
    await clock.advance(100);
    for (let i = 0; i < 10; i++) lim.allow(`n${i}`);
    expect(lim.size).toBeLessThan(100);
    expect(lim.allow('k0')).toBe(true);
  });

  it('keeps a key that still has waits queued', async () => {
    const clock = new TestClock();
    const lim = new KeyedRateLimiter({ rate: 1, burst: 1, clock, idleMs: 0 });
    lim.allow('busy');
    const pending = lim.wait('busy');
    for (let i = 0; i < 20; i++) lim.allow(`other${i}`);
    // A new wait on the same key queues behind the first: the bucket was kept.
    const second = lim.wait('busy').then(() => clock.now());
    await clock.advance(2000);
    await pending;
    expect(await second).toBe(2000);
  });

  it('bounds the keys held by maxKeys, a million keys or not', () => {
    const lim = new KeyedRateLimiter({ rate: 1, burst: 1, maxKeys: 1000, clock: new TestClock() });
    for (let i = 0; i < 1_000_000; i++) lim.allow(`ip-${i}`);
    expect(lim.size).toBe(1000);
  });

  it('forgets keys unused for idleMs even when their bucket is not full', async () => {
    const clock = new TestClock();
    const lim = new KeyedRateLimiter({ rate: 0.001, burst: 1, idleMs: 1000, clock });
    for (let i = 0; i < 10; i++) lim.allow(`k${i}`);
    await clock.advance(1000);
    for (let i = 0; i < 10; i++) lim.allow(`n${i}`);
    expect(lim.allow('k9')).toBe(true);
  });

  it('rejects bad arguments at once', () => {
    expect(() => new KeyedRateLimiter({ rate: 1, burst: 1, maxKeys: 0 })).toThrow(RangeError);
    expect(() => new KeyedRateLimiter({ rate: 1, burst: 1, idleMs: -1 })).toThrow(RangeError);
    const lim = new KeyedRateLimiter({ rate: 1, burst: 1 });
    expect(() => lim.allow(1 as never)).toThrow(TypeError);
    expect(() => lim.wait('a', 2)).toThrow(RangeError);
  });
});
