// Mutex: the intent of Go's sync mutex_test.go (mutual exclusion under a
// hammer, TryLock, misuse panics), plus FIFO handoff, Lock handles, run and
// abort.
import { describe, expect, it } from 'vitest';
import { Mutex } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { flush } from '../test/support.js';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };

describe('Mutex', () => {
  it('HammerMutex: many tasks incrementing across awaits never interleave', async () => {
    using leaks = trackLeaks();
    const mu = new Mutex();
    let inside = 0;
    let counter = 0;
    const hammer = async (loops: number) => {
      for (let i = 0; i < loops; i++) {
        const lock = await mu.lock();
        expect(++inside).toBe(1);
        const c = counter;
        if (i % 3 === 0) await flush();
        else await null;
        counter = c + 1;
        inside--;
        lock.release();
      }
    };
    await Promise.all(Array.from({ length: 10 }, () => hammer(100)));
    expect(counter).toBe(1000);
    expect(mu.locked).toBe(false);
    expect(leaks.check()).toEqual(none);
  });

  it('TestMutexMisuse: unlock of an unlocked mutex throws ERR_NOT_LOCKED', async () => {
    const mu = new Mutex();
    expect(() => mu.unlock()).toThrow(expect.objectContaining({ code: 'ERR_NOT_LOCKED', name: 'NotLockedError' }));
    await mu.lock();
    mu.unlock();
    expect(() => mu.unlock()).toThrow(expect.objectContaining({ code: 'ERR_NOT_LOCKED' }));
  });

  it('TryLock succeeds only when the mutex is free and nobody waits', async () => {
    const mu = new Mutex();
    const a = mu.tryLock();
    expect(a).toBeDefined();
    expect(mu.tryLock()).toBeUndefined();
    const waiting = mu.lock();
    a!.release();
    // handed to the waiter: still locked, and no barging
    expect(mu.locked).toBe(true);
    expect(mu.tryLock()).toBeUndefined();
    (await waiting).release();
    expect(mu.tryLock()).toBeDefined();
  });

  it('hands the lock to waiters in the order they came, ahead of newcomers', async () => {
    const mu = new Mutex();
    const order: number[] = [];
    const first = await mu.lock();
    const waits = [1, 2, 3].map((n) => mu.run(() => void order.push(n)));
    first.release();
    const late = mu.run(() => void order.push(4));
    await Promise.all([...waits, late]);
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('a stale Lock does not release a mutex that another holder has since locked', async () => {
    const mu = new Mutex();
    const a = await mu.lock();
    mu.unlock();
    const b = await mu.lock();
    a.release();
    expect(mu.locked).toBe(true);
    b.release();
    b.release();
    expect(mu.locked).toBe(false);
  });

  it('run unlocks when fn returns, resolves, throws or rejects', async () => {
    const mu = new Mutex();
    expect(await mu.run(() => 1)).toBe(1);
    expect(await mu.run(async () => 2)).toBe(2);
    const boom = new Error('boom');
    await expect(
      mu.run(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    await expect(mu.run(() => Promise.reject(boom))).rejects.toBe(boom);
    expect(mu.locked).toBe(false);
  });

  it('an aborted lock leaves the queue, rejects with the reason, and the next waiter still gets the mutex', async () => {
    using leaks = trackLeaks();
    const mu = new Mutex();
    const held = await mu.lock();
    const ac = new AbortController();
    const aborted = mu.lock({ signal: ac.signal });
    const abortedRun = mu.run(() => 'never', { signal: ac.signal });
    const next = mu.lock();
    ac.abort('cancelled');
    await expect(aborted).rejects.toBe('cancelled');
    await expect(abortedRun).rejects.toBe('cancelled');
    held.release();
    (await next).release();
    expect(mu.locked).toBe(false);
    expect(leaks.check()).toEqual(none);
  });

  it('an already-aborted signal rejects only a call that would wait', async () => {
    const mu = new Mutex();
    const signal = AbortSignal.abort('late');
    const lock = await mu.lock({ signal });
    await expect(mu.lock({ signal })).rejects.toBe('late');
    lock.release();
  });

  it('1000 concurrent run callers are served one at a time and leave nothing behind', async () => {
    using leaks = trackLeaks();
    const mu = new Mutex();
    let inside = 0;
    let peak = 0;
    const out = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        mu.run(async () => {
          peak = Math.max(peak, ++inside);
          await null;
          inside--;
          return i;
        }),
      ),
    );
    expect(out[999]).toBe(999);
    expect(peak).toBe(1);
    expect(leaks.check()).toEqual(none);
  });

  it('rejects bad arguments at once', () => {
    const mu = new Mutex();
    expect(() => mu.run('x' as never)).toThrow(TypeError);
    expect(() => mu.lock({ signal: 1 } as never)).toThrow(TypeError);
  });
});
