// Cond: the intent of Go's cond_test.go (Signal wakes one, Broadcast wakes
// all, waiters woken in order, the lock held again on return), plus abort.
import { describe, expect, it } from 'vitest';
import { Cond, Mutex } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { flush } from '../test/support.js';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };

describe('Cond', () => {
  it('TestCondSignal: signal wakes exactly one waiter, which holds the lock again', async () => {
    const mu = new Mutex();
    const c = new Cond(mu);
    let woken = 0;
    const waiters = [1, 2, 3].map(() =>
      mu.run(async () => {
        await c.wait();
        expect(mu.locked).toBe(true);
        woken++;
      }),
    );
    await flush();
    expect(c.waiting).toBe(3);
    for (let i = 1; i <= 3; i++) {
      c.signal();
      await flush();
      expect(woken).toBe(i);
    }
    await Promise.all(waiters);
    c.signal(); // nobody waits: nothing happens
    expect(mu.locked).toBe(false);
  });

  it('TestCondSignalStealing / FIFO: waiters are woken in the order they waited', async () => {
    const mu = new Mutex();
    const c = new Cond(mu);
    const order: number[] = [];
    const waits = [1, 2, 3, 4].map((n) =>
      mu.run(async () => {
        await c.wait();
        order.push(n);
      }),
    );
    await flush();
    c.signal();
    c.signal();
    await flush();
    c.broadcast();
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('TestCondBroadcast: broadcast wakes every waiter, and a newcomer does not barge ahead of them', async () => {
    const mu = new Mutex();
    const c = new Cond(mu);
    const order: string[] = [];
    const waits = [1, 2, 3].map((n) =>
      mu.run(async () => {
        await c.wait();
        order.push(`w${n}`);
      }),
    );
    await flush();
    c.broadcast();
    const late = mu.run(() => void order.push('late'));
    await Promise.all([...waits, late]);
    expect(order).toEqual(['w1', 'w2', 'w3', 'late']);
  });

  it('the caller’s own Lock still releases the mutex after wait', async () => {
    const mu = new Mutex();
    const c = new Cond(mu);
    let ready = false;
    const waiter = (async () => {
      const lock = await mu.lock();
      while (!ready) await c.wait();
      lock.release();
    })();
    await flush();
    await mu.run(() => {
      ready = true;
      c.signal();
    });
    await waiter;
    expect(mu.locked).toBe(false);
  });

  it('an aborted wait rejects with the reason only once it holds the mutex again', async () => {
    using leaks = trackLeaks();
    const mu = new Mutex();
    const c = new Cond(mu);
    const ac = new AbortController();
    let heldWhenRejected: boolean | undefined;
    const waiter = mu.run(() =>
      c.wait({ signal: ac.signal }).catch((reason) => {
        heldWhenRejected = mu.locked;
        return reason;
      }),
    );
    await flush();
    const other = await mu.lock(); // the waiter released the mutex while waiting
    ac.abort('stop');
    await flush();
    expect(heldWhenRejected).toBeUndefined(); // cannot reject: the mutex is ours
    other.release();
    expect(await waiter).toBe('stop');
    expect(heldWhenRejected).toBe(true);
    expect(mu.locked).toBe(false);
    expect(c.waiting).toBe(0);
    expect(leaks.check()).toEqual(none);
  });

  it('wait without holding the mutex throws ERR_NOT_LOCKED; an already-aborted signal rejects with the mutex still held', async () => {
    const mu = new Mutex();
    const c = new Cond(mu);
    expect(() => c.wait()).toThrow(expect.objectContaining({ code: 'ERR_NOT_LOCKED' }));
    const lock = await mu.lock();
    await expect(c.wait({ signal: AbortSignal.abort('x') })).rejects.toBe('x');
    expect(mu.locked).toBe(true);
    lock.release();
    expect(() => new Cond({} as Mutex)).toThrow(TypeError);
  });
});
