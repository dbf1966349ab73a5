// RWMutex: the intent of Go's sync rwmutex_test.go (parallel readers,
// readers and writers excluding each other under a hammer, misuse), plus
// writer preference and reader batching.
import { describe, expect, it } from 'vitest';
import { RWMutex } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { flush } from '../test/support.js';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };

describe('RWMutex', () => {
  it('TestParallelReaders: many readers hold the lock at once', async () => {
    const rw = new RWMutex();
    const locks = await Promise.all(Array.from({ length: 5 }, () => rw.rLock()));
    expect(rw.readers).toBe(5);
    for (const l of locks) l.release();
    expect(rw.readers).toBe(0);
  });

  it('HammerRWMutex: a writer is alone and readers never see a write in progress', async () => {
    using leaks = trackLeaks();
    const rw = new RWMutex();
    let readers = 0;
    let writers = 0;
    const reader = async (loops: number) => {
      for (let i = 0; i < loops; i++) {
        await rw.runRead(async () => {
          readers++;
          expect(writers).toBe(0);
          await flush();
          expect(writers).toBe(0);
          readers--;
        });
      }
    };
    const writer = async (loops: number) => {
      for (let i = 0; i < loops; i++) {
        await rw.run(async () => {
          writers++;
          expect(writers).toBe(1);
          expect(readers).toBe(0);
          await null;
          writers--;
        });
      }
    };
    await Promise.all([reader(30), reader(30), writer(20), reader(30), writer(20)]);
    expect(rw.readers).toBe(0);
    expect(rw.locked).toBe(false);
    expect(leaks.check()).toEqual(none);
  });

  it('a waiting writer holds back new readers, so a stream of readers cannot starve it', async () => {
    const rw = new RWMutex();
    const r1 = await rw.rLock();
    const order: string[] = [];
    const w = rw.lock().then((l) => {
      order.push('writer');
      l.release();
    });
    expect(rw.tryRLock()).toBeUndefined();
    const r2 = rw.rLock().then((l) => {
      order.push('reader');
      l.release();
    });
    await flush();
    expect(order).toEqual([]);
    r1.release();
    await Promise.all([w, r2]);
    expect(order).toEqual(['writer', 'reader']);
  });

  it('readers that queued behind a writer go in together when it unlocks, before the next writer', async () => {
    const rw = new RWMutex();
    const w1 = await rw.lock();
    const log: string[] = [];
    const readers = [1, 2, 3].map((n) =>
      rw.rLock().then((l) => {
        log.push(`r${n}`);
        return l;
      }),
    );
    const w2 = rw.lock().then((l) => {
      log.push('w2');
      return l;
    });
    const r4 = rw.rLock().then((l) => {
      log.push('r4');
      return l;
    });
    w1.release();
    const held = await Promise.all(readers);
    expect(rw.readers).toBe(4);
    expect(log).toEqual(['r1', 'r2', 'r3', 'r4']);
    for (const l of held) l.release();
    (await r4).release();
    (await w2).release();
    expect(log).toEqual(['r1', 'r2', 'r3', 'r4', 'w2']);
  });

  it('a waiting writer that aborts lets the readers it held back in', async () => {
    using leaks = trackLeaks();
    const rw = new RWMutex();
    const r1 = await rw.rLock();
    const ac = new AbortController();
    const w = rw.lock({ signal: ac.signal });
    const r2 = rw.rLock();
    expect(rw.readers).toBe(1);
    ac.abort('no');
    await expect(w).rejects.toBe('no');
    (await r2).release();
    r1.release();
    expect(rw.readers).toBe(0);
    expect(leaks.check()).toEqual(none);
  });

  it('aborted read and write waits reject with the reason and leave nothing behind', async () => {
    using leaks = trackLeaks();
    const rw = new RWMutex();
    const w = await rw.lock();
    const ac = new AbortController();
    const calls = [
      rw.rLock({ signal: ac.signal }),
      rw.lock({ signal: ac.signal }),
      rw.runRead(() => 1, { signal: ac.signal }),
      rw.run(() => 1, { signal: ac.signal }),
    ];
    ac.abort('stop');
    for (const c of calls) await expect(c).rejects.toBe('stop');
    await expect(rw.rLock({ signal: ac.signal })).rejects.toBe('stop');
    w.release();
    expect(rw.tryLock()).toBeDefined();
    expect(leaks.check()).toEqual(none);
  });

  it('TestRWMutexMisuse: unlock and rUnlock of an unlocked RWMutex throw ERR_NOT_LOCKED', () => {
    const rw = new RWMutex();
    expect(() => rw.unlock()).toThrow(expect.objectContaining({ code: 'ERR_NOT_LOCKED' }));
    expect(() => rw.rUnlock()).toThrow(expect.objectContaining({ code: 'ERR_NOT_LOCKED' }));
    rw.tryRLock();
    expect(() => rw.unlock()).toThrow(expect.objectContaining({ code: 'ERR_NOT_LOCKED' }));
  });

  it('Lock handles release once, and a stale write Lock leaves a new holder alone', async () => {
    const rw = new RWMutex();
    const r = await rw.rLock();
    r.release();
    r.release();
    expect(rw.readers).toBe(0);
    const a = await rw.lock();
    rw.unlock();
    const b = await rw.lock();
    a.release();
    expect(rw.locked).toBe(true);
    b.release();
    expect(rw.locked).toBe(false);
  });

  it('run and runRead give the lock back when fn throws or rejects', async () => {
    const rw = new RWMutex();
    const boom = new Error('boom');
    await expect(
      rw.run(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    await expect(rw.runRead(() => Promise.reject(boom))).rejects.toBe(boom);
    const w = await rw.lock();
    const queued = rw.runRead(() => {
      throw boom;
    });
    w.release();
    await expect(queued).rejects.toBe(boom);
    expect(rw.readers).toBe(0);
    expect(rw.locked).toBe(false);
  });
});
