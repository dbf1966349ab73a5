// What PubSub leaves behind after many aborted, unsubscribed and closed
// operations of every kind (recv waits, blocked publishes with and without
// blockMs, forEach readers, subscription signals): nothing.
import { describe, expect, it } from 'vitest';
import { PubSub } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';
import { flush } from '../support.js';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };

describe('pubsub leaks', () => {
  it('1,000 blocked publishes with blockMs, aborted, timed out or taken in, leave no timer, waiter or listener', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const ps = new PubSub<number>({ clock });
    const sub = ps.subscribe('t', { buffer: 0, overflow: 'block', blockMs: 100 });
    const acs = Array.from({ length: 1000 }, () => new AbortController());
    const outcomes = acs.map((ac, i) =>
      ps.publish('t', i, { signal: ac.signal }).then(
        (r) => (r.delivered === 1 ? 'taken' : 'timed out'),
        () => 'aborted',
      ),
    );
    expect(clock.pending).toBe(1000);
    for (let i = 0; i < 1000; i += 3) acs[i]!.abort();
    for (let i = 0; i < 50; i++) await sub.recv();
    await clock.advance(100);
    const counts = (await Promise.all(outcomes)).reduce<Record<string, number>>((acc, o) => {
      acc[o] = (acc[o] ?? 0) + 1;
      return acc;
    }, {});
    expect(counts).toEqual({ aborted: 334, taken: 50, 'timed out': 616 });
    expect(sub.dropped).toBe(616);
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(none);
    ps.close();
  });

  it('1,000 forEach readers ended by abort, unsubscribe, a throw or the close leave nothing', async () => {
    using leaks = trackLeaks();
    const ps = new PubSub<number>();
    const ends: Promise<string>[] = [];
    const acs: AbortController[] = [];
    for (let i = 0; i < 1000; i++) {
      const ac = new AbortController();
      acs.push(ac);
      const sub = ps.subscribe('t', { signal: i % 4 === 1 ? ac.signal : undefined, overflow: 'block', buffer: 1 });
      ends.push(
        sub
          .forEach(
            (m) => {
              if (i % 4 === 2 && m.payload === 1) throw new Error('handler');
              if (i % 4 === 3) return Promise.resolve();
              return undefined;
            },
            { signal: i % 4 === 0 ? ac.signal : undefined },
          )
          .then(
            () => 'ok',
            (e) => (e as Error).message,
          ),
      );
    }
    expect(leaks.check().waiters).toBe(1000);
    for (let n = 0; n < 3; n++) await ps.publish('t', n);
    for (const ac of acs) ac.abort(new Error('aborted'));
    await flush();
    await ps[Symbol.asyncDispose]();
    const counts = (await Promise.all(ends)).reduce<Record<string, number>>((acc, o) => {
      acc[o] = (acc[o] ?? 0) + 1;
      return acc;
    }, {});
    expect(counts).toEqual({ aborted: 250, ok: 500, handler: 250 });
    expect(ps.subscribers).toBe(0);
    expect(leaks.check()).toEqual(none);
  });

  it('recv waits with signals, aborted or ended by unsubscribe and close, leave nothing', async () => {
    using leaks = trackLeaks();
    const ps = new PubSub<number>();
    const subs = Array.from({ length: 100 }, () => ps.subscribe('t'));
    const acs = subs.map(() => new AbortController());
    const waits = subs.flatMap((s, i) => [s.recv({ signal: acs[i]!.signal }).catch(() => 'aborted'), s.recv()]);
    for (let i = 0; i < 100; i += 2) acs[i]!.abort();
    for (let i = 1; i < 100; i += 4) subs[i]!.unsubscribe();
    ps.close();
    await Promise.all(waits);
    expect(leaks.check()).toEqual(none);
  });
});
