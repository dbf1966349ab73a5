import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Case, Channel, recv, select, send } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.restoreAllMocks();
});

describe('select with a ready case', () => {
  it('commits the ready case and resolves with what its then returns', async () => {
    const a = new Channel<number>(1);
    const b = new Channel<number>(1);
    b.trySend(7);
    expect(await select([recv(a, (v) => `a${v}`), recv(b, (v) => `b${v}`)])).toBe('b7');
    expect(b.length).toBe(0);
  });

  it('passes ok false and value undefined to a receive case on a closed, drained channel', async () => {
    const ch = new Channel<number>();
    ch.close();
    expect(await select([recv(ch, (v, ok) => ({ v, ok }))])).toEqual({ v: undefined, ok: false });
  });

  it('sends with a send case when a receiver waits, and runs its then', async () => {
    const ch = new Channel<string>();
    const got = ch.recv();
    expect(await select([send(ch, 'x', () => 'sent')])).toBe('sent');
    expect(await got).toEqual({ value: 'x', done: false });
  });

  it('resolves with undefined for a case without then', async () => {
    const ch = new Channel<number>(1);
    ch.trySend(1);
    expect(await select([recv(ch)])).toBeUndefined();
    expect(await select([send(ch, 2)])).toBeUndefined();
    expect(ch.tryRecv()).toEqual({ value: 2, done: false });
  });

  it('resolves with the awaited value when then returns a promise', async () => {
    const ch = new Channel<number>(1);
    ch.trySend(1);
    expect(await select([recv(ch, async (v) => (v as number) + 1)])).toBe(2);
  });

  it('does not run default when a case is ready', async () => {
    const ch = new Channel<number>(1);
    ch.trySend(1);
    const fallback = vi.fn(() => 'default');
    expect(await select([recv(ch, (v) => v)], { default: fallback })).toBe(1);
    expect(fallback).not.toHaveBeenCalled();
  });

  it('picks the ready case at the index Math.random points to among the ready ones', async () => {
    const chans = [0, 1, 2, 3].map(() => new Channel<number>(1));
    chans[0]!.trySend(0);
    chans[2]!.trySend(2);
    chans[3]!.trySend(3);
    const cases = chans.map((ch) => recv(ch, (v) => v));
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // second of three ready cases
    expect(await select(cases)).toBe(2);
    vi.spyOn(Math, 'random').mockReturnValue(0.99);
    expect(await select(cases)).toBe(3);
    expect(await select(cases)).toBe(0);
  });

  it('chooses each of 4 ready cases about a quarter of the time', async () => {
    const chans = [0, 1, 2, 3].map(() => new Channel<number>(1));
    const cases = chans.map((ch, i) => recv(ch, () => i));
    const counts = [0, 0, 0, 0];
    const trials = 8000;
    for (let t = 0; t < trials; t++) {
      for (const ch of chans) if (ch.length === 0) ch.trySend(t);
      counts[await select(cases)]!++;
    }
    // Expected 2000 each, standard deviation about 39: a bound of 300 is over 7 deviations.
    for (const c of counts) expect(Math.abs(c - trials / 4)).toBeLessThan(300);
  });

  it('runs then synchronously for a ready case', () => {
    const ch = new Channel<number>(1);
    ch.trySend(1);
    let ran = false;
    void select([
      recv(ch, () => {
        ran = true;
      }),
    ]);
    expect(ran).toBe(true);
  });
});

describe('select with default', () => {
  it('runs default when no case is ready, committing nothing', async () => {
    using leaks = trackLeaks();
    const a = new Channel<number>();
    const b = new Channel<number>(1);
    b.trySend(1);
    expect(await select([recv(a, () => 'a'), send(b, 2, () => 'b')], { default: () => 'none' })).toBe('none');
    expect(a.trySend(1)).toBe(false);
    expect(b.tryRecv()).toEqual({ value: 1, done: false });
    expect(leaks.check()).toEqual(none);
  });

  it('runs default for an empty case list and for nil channels', async () => {
    expect(await select([], { default: () => 1 })).toBe(1);
    expect(await select([recv(null), send(undefined, 1)], { default: () => 2 })).toBe(2);
  });

  it('rejects with the error default throws', async () => {
    const boom = new Error('boom');
    await expect(
      select([], {
        default: () => {
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
  });
});

describe('select that waits', () => {
  it('resolves with the first case that can proceed and leaves the other channels untouched', async () => {
    using leaks = trackLeaks();
    const a = new Channel<string>();
    const b = new Channel<string>();
    const c = new Channel<string>(1);
    c.trySend('full');
    const winner = select([recv(a, (v) => `a:${v}`), recv(b, (v) => `b:${v}`), send(c, 'more', () => 'c')]);
    await turn();
    await b.send('hi');
    expect(await winner).toBe('b:hi');
    // No receiver is left on a, and the send case on c is gone.
    expect(a.trySend('late')).toBe(false);
    expect(c.tryRecv()).toEqual({ value: 'full', done: false });
    expect(c.tryRecv()).toBeUndefined();
    expect(leaks.check()).toEqual(none);
  });

  it('completes a send case when a receiver comes, and a recv case of a buffered channel when a value comes', async () => {
    const out = new Channel<number>();
    const sent = select([send(out, 1, () => 'sent')]);
    expect(await out.recv()).toEqual({ value: 1, done: false });
    expect(await sent).toBe('sent');
    const buf = new Channel<number>(2);
    const got = select([recv(buf, (v) => v)]);
    buf.trySend(5);
    expect(await got).toBe(5);
    expect(buf.length).toBe(0);
  });

  it('takes a send case that waits on a full buffer when a receiver makes room', async () => {
    const ch = new Channel<number>(1);
    ch.trySend(1);
    const sent = select([send(ch, 2, () => 'sent')]);
    expect(ch.tryRecv()).toEqual({ value: 1, done: false });
    expect(await sent).toBe('sent');
    expect(ch.tryRecv()).toEqual({ value: 2, done: false });
  });

  it('matches a waiting send case with another select receive case', async () => {
    const ch = new Channel<number>();
    const other = new Channel<number>();
    const sender = select([send(ch, 42, () => 'sent'), recv(other, () => 'other')]);
    expect(await select([recv(ch, (v) => v)])).toBe(42);
    expect(await sender).toBe('sent');
    expect(other.trySend(1)).toBe(false);
  });

  it('wakes a waiting receive case with ok false when its channel closes', async () => {
    const ch = new Channel<number>();
    const got = select([recv(ch, (v, ok) => [v, ok])]);
    ch.close();
    expect(await got).toEqual([undefined, false]);
  });

  it('rejects with ChannelClosedError when a send case is chosen on a closed channel', async () => {
    const ch = new Channel<number>();
    ch.close();
    const err = await select([send(ch, 3)]).catch((e) => e);
    expect(err.code).toBe('ERR_CHANNEL_CLOSED');
    expect(err.value).toBe(3);
  });

  it('rejects a waiting send case with ChannelClosedError when its channel closes, leaving its other cases', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>();
    const other = new Channel<number>();
    const p = select([send(ch, 3), recv(other)]);
    ch.close();
    await expect(p).rejects.toMatchObject({ code: 'ERR_CHANNEL_CLOSED' });
    expect(other.trySend(1)).toBe(false);
    expect(leaks.check()).toEqual(none);
  });

  it('rejects with the error then throws, after committing the case', async () => {
    const ch = new Channel<number>();
    const boom = new Error('boom');
    const p = select([
      recv(ch, () => {
        throw boom;
      }),
    ]);
    expect(ch.trySend(1)).toBe(true);
    await expect(p).rejects.toBe(boom);
    const ready = new Channel<number>(1);
    ready.trySend(1);
    await expect(
      select([
        recv(ready, () => {
          throw boom;
        }),
      ]),
    ).rejects.toBe(boom);
    expect(ready.length).toBe(0);
  });

  // Go's runtime test TestPseudoRandomSend; regression test for issue 13 B.
  it('chooses uniformly between two send cases on one channel that become ready together', async () => {
    const c = new Channel<number>();
    const got: number[] = [];
    const reader = (async () => {
      for (let i = 0; i < 100; i++) got.push((await c.recv()).value!);
    })();
    for (let i = 0; i < 100; i++) await select([send(c, 1), send(c, 0)]);
    await reader;
    const ones = got.filter((v) => v === 1).length;
    expect(ones).toBeGreaterThan(10);
    expect(100 - ones).toBeGreaterThan(10);
  });

  it('chooses uniformly between two receive cases on one channel when a sender comes', async () => {
    const c = new Channel<number>();
    let first = 0;
    for (let i = 0; i < 100; i++) {
      const chosen = select([recv(c, () => 'a'), recv(c, () => 'b')]);
      await c.send(i);
      if ((await chosen) === 'a') first++;
    }
    expect(first).toBeGreaterThan(10);
    expect(100 - first).toBeGreaterThan(10);
  });

  it('never proceeds on a nil channel case', async () => {
    const ch = new Channel<number>();
    const p = select([recv(null, () => 'nil'), recv(ch, () => 'ch')]);
    await turn();
    await ch.send(1);
    expect(await p).toBe('ch');
  });
});

describe('select cancellation', () => {
  it('leaves nothing queued on any channel after an abort, rejecting with the reason as is', async () => {
    using leaks = trackLeaks();
    const a = new Channel<number>();
    const b = new Channel<number>();
    const ac = new AbortController();
    const p = select([recv(a), send(b, 1), recv(a)], { signal: ac.signal });
    await turn();
    ac.abort('cancelled');
    await expect(p).rejects.toBe('cancelled');
    expect(a.trySend(1)).toBe(false);
    expect(b.tryRecv()).toBeUndefined();
    expect(leaks.check()).toEqual(none);
  });

  it('waits forever with no cases until its signal aborts, like select {}', async () => {
    using leaks = trackLeaks();
    const ac = new AbortController();
    const p = select([], { signal: ac.signal });
    const q = select([recv(null), send(null, 1)], { signal: ac.signal });
    await turn();
    expect(leaks.check().waiters).toBe(2);
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    await expect(q).rejects.toMatchObject({ name: 'AbortError' });
    expect(leaks.check()).toEqual(none);
  });

  it('rejects at once when the signal has aborted and no case is ready', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>();
    await expect(select([recv(ch)], { signal: AbortSignal.abort('no') })).rejects.toBe('no');
    expect(ch.trySend(1)).toBe(false);
    expect(leaks.check()).toEqual(none);
  });

  it('removes its signal listener when a case completes', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>();
    const ac = new AbortController();
    const p = select([recv(ch, (v) => v)], { signal: ac.signal });
    ch.trySend(3);
    expect(await p).toBe(3);
    expect(leaks.check()).toEqual(none);
  });
});

describe('select arguments', () => {
  it('throws TypeError for cases that are not an array of cases', () => {
    expect(() => select('x' as unknown as Case<unknown>[])).toThrow(TypeError);
    expect(() => select([{} as Case<unknown>])).toThrow(/cases\[0\]/);
  });

  it('throws TypeError for a bad channel, then, default or signal', () => {
    expect(() => recv({} as Channel<number>)).toThrow(/`ch`/);
    expect(() => send(new Channel<number>(), 1, 'x' as unknown as () => void)).toThrow(/`then`/);
    expect(() => select([], { default: 1 as unknown as () => void })).toThrow(/`default`/);
    expect(() => select([], { signal: 'x' as unknown as AbortSignal })).toThrow(/`signal`/);
  });

  it('lets a case be reused, and a case is not a thenable', async () => {
    const ch = new Channel<number>(1);
    const c = recv(ch, (v) => v);
    ch.trySend(1);
    expect(await select([c])).toBe(1);
    ch.trySend(2);
    expect(await select([c])).toBe(2);
    expect(await Promise.resolve(c)).toBe(c);
  });

  it('infers the union of the results of cases of different types', async () => {
    const a = new Channel<number>(1);
    a.trySend(1);
    const r: number | string = await select([recv(a, (v) => v as number), recv(null, () => 'x')]);
    expect(r).toBe(1);
    const d: number | string | boolean = await select([recv(a, (v) => v as number), recv(null, () => 'x')], {
      default: () => true,
    });
    expect(d).toBe(true);
  });
});
