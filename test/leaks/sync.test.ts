// What the sync primitives and Semaphore leave behind after many aborted,
// completed and failed waits: nothing (no waiter, no listener), and every
// permit or lock given back.
import { setMaxListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Cond, Mutex, RWMutex, Semaphore, WaitGroup } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { flush } from '../support.js';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };
const shuffled = <T>(xs: T[], seed = 7): T[] => {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

describe('sync and Semaphore leaks', () => {
  it('10,000 Semaphore acquires and runs aborted in random order leave nothing and give every permit back', async () => {
    using leaks = trackLeaks();
    const sem = new Semaphore(3);
    const held = await sem.acquire(3);
    const acs = Array.from({ length: 10_000 }, () => new AbortController());
    const calls = acs.map((ac, i) =>
      (i % 2 === 0
        ? sem.acquire(1 + (i % 3), { signal: ac.signal })
        : sem.run(() => 'ran', { signal: ac.signal })
      ).catch(() => 'aborted'),
    );
    expect(leaks.check().waiters).toBe(10_000);
    expect(leaks.check().listeners).toBe(10_000);
    for (const ac of shuffled(acs)) ac.abort();
    expect(await Promise.all(calls)).toEqual(Array(10_000).fill('aborted'));
    held.release();
    expect(sem.available).toBe(3);
    expect(sem.waiting).toBe(0);
    expect(leaks.check()).toEqual(none);
  });

  it('1000 concurrent callers sharing one signal, on every primitive, complete and remove their listeners', async () => {
    using leaks = trackLeaks();
    const ac = new AbortController();
    setMaxListeners(10_000, ac.signal);
    const signal = ac.signal;
    const sem = new Semaphore(7);
    const mu = new Mutex();
    const rw = new RWMutex();
    const wg = new WaitGroup();
    const work = () => flush();
    wg.add(1);
    const waits = Array.from({ length: 1000 }, () => wg.wait({ signal }));
    await Promise.all([
      ...Array.from({ length: 1000 }, () => sem.run(work, { signal })),
      ...Array.from({ length: 1000 }, () => mu.run(work, { signal })),
      ...Array.from({ length: 1000 }, (_, i) =>
        i % 10 === 0 ? rw.run(work, { signal }) : rw.runRead(work, { signal }),
      ),
      ...Array.from({ length: 1000 }, () => sem.acquire(2, { signal }).then((l) => flush().then(() => l.release()))),
    ]);
    wg.done();
    await Promise.all(waits);
    expect([sem.available, mu.locked, rw.locked, rw.readers]).toEqual([7, false, false, 0]);
    expect(leaks.check()).toEqual(none);
  });

  it('aborted Mutex, RWMutex, WaitGroup and Cond waits leave nothing behind and the primitives stay usable', async () => {
    using leaks = trackLeaks();
    const mu = new Mutex();
    const rw = new RWMutex();
    const wg = new WaitGroup();
    const cmu = new Mutex();
    const cond = new Cond(cmu);
    const lock = await mu.lock();
    const wlock = await rw.lock();
    wg.add(1);
    const acs = Array.from({ length: 1000 }, () => new AbortController());
    const calls = acs.flatMap((ac) => [
      mu.lock({ signal: ac.signal }),
      mu.run(() => 1, { signal: ac.signal }),
      rw.rLock({ signal: ac.signal }),
      rw.lock({ signal: ac.signal }),
      rw.runRead(() => 1, { signal: ac.signal }),
      wg.wait({ signal: ac.signal }),
    ]);
    const condWaits = acs.slice(0, 100).map((ac) => cmu.run(() => cond.wait({ signal: ac.signal })));
    await flush();
    expect(cond.waiting).toBe(100);
    for (const ac of shuffled(acs, 3)) ac.abort('gone');
    const settled = await Promise.allSettled([...calls, ...condWaits]);
    expect(settled.every((s) => s.status === 'rejected' && s.reason === 'gone')).toBe(true);
    lock.release();
    wlock.release();
    wg.done();
    expect([mu.locked, rw.locked, rw.readers, cmu.locked, cond.waiting]).toEqual([false, false, 0, false, 0]);
    expect(await mu.run(() => 'ok')).toBe('ok');
    expect(await rw.run(() => 'ok')).toBe('ok');
    expect(leaks.check()).toEqual(none);
  });

  it('failed runs give back what they held and leave nothing behind', async () => {
    using leaks = trackLeaks();
    const sem = new Semaphore(2);
    const mu = new Mutex();
    const ac = new AbortController();
    setMaxListeners(2000, ac.signal);
    const fail = () => Promise.reject(new Error('x'));
    const throwSync = () => {
      throw new Error('y');
    };
    const results = await Promise.allSettled(
      Array.from({ length: 500 }, (_, i) => [
        sem.run(i % 2 ? fail : throwSync, { signal: ac.signal }),
        mu.run(i % 2 ? fail : throwSync, { signal: ac.signal }),
      ]).flat(),
    );
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect([sem.available, mu.locked]).toEqual([2, false]);
    expect(leaks.check()).toEqual(none);
  });
});
