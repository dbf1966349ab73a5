// What RateLimiter, KeyedRateLimiter and retry leave behind after many
// aborted, completed and failed operations: nothing.

import { describe, expect, it } from 'vitest';
import { KeyedRateLimiter, RateLimiter, retry } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };

describe('rate and retry leaks', () => {
  it('10,000 waits aborted latest first leave no waiter, timer or listener, and give every token back', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const lim = new RateLimiter({ rate: 100, burst: 10, clock });
    lim.allow(10);
    const acs = Array.from({ length: 10_000 }, () => new AbortController());
    const waits = acs.map((ac) => lim.wait(1, { signal: ac.signal }).catch(() => 'aborted'));
    expect(leaks.check().waiters).toBe(10_000);
    expect(clock.pending).toBe(1);
    for (const ac of acs.reverse()) ac.abort();
    expect(await Promise.all(waits)).toEqual(Array(10_000).fill('aborted'));
    expect(lim.waiting).toBe(0);
    expect(lim.tokens()).toBeCloseTo(0, 6);
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(none);
  });

  it('waits that share one signal and complete remove their listeners from it', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const lim = new RateLimiter({ rate: 1000, burst: 1, clock });
    const ac = new AbortController();
    const waits = Array.from({ length: 1000 }, () => lim.wait(1, { signal: ac.signal }));
    expect(leaks.check().waiters).toBe(999);
    await clock.advance(1000);
    await Promise.all(waits);
    expect(leaks.check()).toEqual(none);
  });

  it('aborting waits in random order leaves nothing behind and the next wait is served', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const lim = new RateLimiter({ rate: 10, burst: 2, clock });
    const acs = Array.from({ length: 500 }, () => new AbortController());
    const waits = acs.map((ac) => lim.wait(1, { signal: ac.signal }).catch(() => {}));
    for (let i = acs.length - 1; i > 0; i--) {
      const j = (i * 7919) % (i + 1);
      [acs[i], acs[j]] = [acs[j]!, acs[i]!];
    }
    for (const ac of acs) ac.abort();
    await Promise.all(waits);
    expect(leaks.check()).toEqual(none);
    const next = lim.wait();
    await clock.runAll();
    await next;
    expect(leaks.check()).toEqual(none);
  });

  it('a KeyedRateLimiter under a million keys holds at most maxKeys buckets and leaks nothing', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const lim = new KeyedRateLimiter({ rate: 1, burst: 1, maxKeys: 10_000, clock });
    for (let i = 0; i < 1_000_000; i++) lim.allow(`user-${i}`);
    expect(lim.size).toBe(10_000);
    const ac = new AbortController();
    const waits = Array.from({ length: 100 }, (_, i) => lim.wait(`user-${999_999 - i}`, 1, { signal: ac.signal }));
    ac.abort();
    await Promise.allSettled(waits);
    expect(leaks.check()).toEqual(none);
  });

  it('idle keys are dropped as new ones arrive, so steady traffic keeps the map small', async () => {
    const clock = new TestClock();
    const lim = new KeyedRateLimiter({ rate: 10, burst: 1, clock });
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 100; i++) lim.allow(`r${round}-${i}`);
      await clock.advance(100);
    }
    // Keys full again after 100 ms are swept four per insertion: about one round is held.
    expect(lim.size).toBeLessThanOrEqual(200);
  });

  it('1,000 retries aborted during their delay leave no timer, waiter or listener', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const ac = new AbortController();
    const runs = Array.from({ length: 1000 }, () =>
      retry(() => Promise.reject(new Error('down')), { attempts: 5, signal: ac.signal, clock }).catch((e) => e),
    );
    await clock.advance(0);
    expect(leaks.check().timers).toBe(1000);
    ac.abort('stop');
    expect(new Set(await Promise.all(runs))).toEqual(new Set(['stop']));
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(none);
  });

  it('retries that succeed or run out leave nothing behind', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const ac = new AbortController();
    const runs = Array.from({ length: 100 }, (_, i) =>
      retry((attempt) => (attempt > i % 4 ? 'ok' : Promise.reject(new Error('no'))), {
        attempts: 3,
        signal: ac.signal,
        clock,
      }).catch(() => 'gave up'),
    );
    await clock.runAll();
    const results = await Promise.all(runs);
    expect(results.filter((r) => r === 'gave up').length).toBe(25);
    expect(leaks.check()).toEqual(none);
  });
});
