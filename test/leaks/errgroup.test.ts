/**
 * ErrGroup leaves nothing on the parent signal, whichever way the group
 * ends: wait() after success, the first error, the parent's abort, a
 * synchronous throw, or tasks that were still queued for a slot.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ErrGroup } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { flush as tick } from '../support.js';

const clean = { waiters: 0, timers: 0, listeners: 0, details: [] };

describe('ErrGroup leaks', () => {
  it('10,000 groups on one parent, each waited for, leave the parent as they found it', async () => {
    using leaks = trackLeaks();
    const parent = new AbortController();
    for (let i = 0; i < 10_000; i++) {
      const g = new ErrGroup({ signal: parent.signal, limit: 2 });
      g.go(async () => {});
      g.go(() => {});
      g.go(async () => {});
      await g.wait();
    }
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('the first error removes the parent listener before wait is even called', async () => {
    using leaks = trackLeaks();
    const parent = new AbortController();
    const g = new ErrGroup({ signal: parent.signal });
    g.go(() => Promise.reject(new Error('x')));
    await tick();
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
    await expect(g.wait()).rejects.toThrow('x');
    expect(leaks.check()).toEqual(clean);
  });

  it('a synchronous throw under a limit, with calls queued, leaves no waiter once wait settles', async () => {
    using leaks = trackLeaks();
    const parent = new AbortController();
    const g = new ErrGroup({ signal: parent.signal, limit: 1 });
    let release!: () => void;
    g.go(() => new Promise<void>((r) => (release = r)));
    const queued = [
      g.go(() => {
        throw new Error('sync');
      }),
      g.go((s) => (s.aborted ? undefined : Promise.reject(new Error('not told')))),
    ];
    expect(leaks.check().waiters).toBe(2);
    release();
    await Promise.all(queued);
    await expect(g.wait()).rejects.toThrow('sync');
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
    expect(leaks.check()).toEqual(clean);
  });

  it("the parent's abort ends tasks that listen to the group signal, and nothing is left", async () => {
    using leaks = trackLeaks();
    const parent = new AbortController();
    const g = new ErrGroup({ signal: parent.signal, limit: 3 });
    for (let i = 0; i < 10; i++) {
      g.go(
        (s) =>
          new Promise<void>((_resolve, reject) => {
            if (s.aborted) return reject(s.reason);
            s.addEventListener('abort', () => reject(s.reason), { once: true });
          }),
      );
    }
    const reason = new Error('shutdown');
    parent.abort(reason);
    await expect(g.wait()).rejects.toBe(reason);
    expect(g.signal.reason).toBe(reason);
    expect(leaks.check()).toEqual(clean);
  });

  it('a group whose wait is never called keeps its one listener until its signal aborts', async () => {
    using leaks = trackLeaks();
    const parent = new AbortController();
    const g = new ErrGroup({ signal: parent.signal });
    g.go(async () => {});
    await tick();
    expect(leaks.check().listeners).toBe(1);
    await g.wait();
    expect(leaks.check()).toEqual(clean);
  });
});
