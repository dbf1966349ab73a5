// What Channel, select, after and Ticker leave behind after many aborted,
// closed and completed operations: nothing.

import { describe, expect, it } from 'vitest';
import { after, Channel, recv, select, send, Ticker } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };

/** A deterministic shuffle. */
function shuffled<T>(xs: T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = (i * 7919) % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('channel leaks', () => {
  it('10,000 receives and 10,000 sends aborted in random order leave nothing and lose no value', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>(3);
    for (let i = 0; i < 3; i++) ch.trySend(-1);
    const recvAcs = Array.from({ length: 10_000 }, () => new AbortController());
    const sendAcs = Array.from({ length: 10_000 }, () => new AbortController());
    const empty = new Channel<number>();
    const recvs = recvAcs.map((ac) => empty.recv({ signal: ac.signal }).catch(() => 'aborted'));
    const sends = sendAcs.map((ac, i) => ch.send(i, { signal: ac.signal }).catch(() => 'aborted'));
    expect(leaks.check().waiters).toBe(20_000);
    for (const ac of shuffled([...recvAcs, ...sendAcs])) ac.abort();
    expect(new Set(await Promise.all([...recvs, ...sends]))).toEqual(new Set(['aborted']));
    expect(leaks.check()).toEqual(none);
    expect(empty.trySend(1)).toBe(false);
    expect([ch.tryRecv(), ch.tryRecv(), ch.tryRecv(), ch.tryRecv()].map((r) => r?.value)).toEqual([
      -1,
      -1,
      -1,
      undefined,
    ]);
  });

  it('many operations that share one signal and complete remove every listener from it', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>();
    const ac = new AbortController();
    const recvs = Array.from({ length: 1000 }, () => ch.recv({ signal: ac.signal }));
    const sends = Array.from({ length: 1000 }, (_, i) => ch.send(i, { signal: ac.signal }));
    await Promise.all([...recvs, ...sends]);
    const more = Array.from({ length: 1000 }, (_, i) => ch.send(i, { signal: ac.signal }));
    for (let i = 0; i < 1000; i++) await ch.recv({ signal: ac.signal });
    await Promise.all(more);
    expect(leaks.check()).toEqual(none);
  });

  it('close with thousands of waiting receivers and senders leaves nothing', async () => {
    using leaks = trackLeaks();
    const ac = new AbortController();
    const a = new Channel<number>();
    const b = new Channel<number>(2);
    b.trySend(1);
    b.trySend(2);
    const recvs = Array.from({ length: 5000 }, () => a.recv({ signal: ac.signal }));
    const sends = Array.from({ length: 5000 }, (_, i) => b.send(i, { signal: ac.signal }).catch((e) => e.code));
    a.close();
    b.close();
    expect((await Promise.all(recvs)).every((r) => r.done)).toBe(true);
    expect(new Set(await Promise.all(sends))).toEqual(new Set(['ERR_CHANNEL_CLOSED']));
    expect(leaks.check()).toEqual(none);
  });

  it('iterators ended by return() while waiting leave nothing', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>();
    const its = Array.from({ length: 1000 }, () => ch[Symbol.asyncIterator]());
    const nexts = its.map((it) => it.next());
    for (const it of shuffled(its)) await it.return!();
    expect((await Promise.all(nexts)).every((r) => r.done)).toBe(true);
    expect(leaks.check()).toEqual(none);
    expect(ch.trySend(1)).toBe(false);
  });

  it('a loop that ranges until close leaves nothing', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>();
    const loop = (async () => {
      let n = 0;
      for await (const _ of ch) n++;
      return n;
    })();
    for (let i = 0; i < 100; i++) await ch.send(i);
    ch.close();
    expect(await loop).toBe(100);
    expect(leaks.check()).toEqual(none);
  });
});

describe('select leaks', () => {
  it('5,000 selects on 3 channels aborted in random order leave nothing queued on any channel', async () => {
    using leaks = trackLeaks();
    const chans = [new Channel<number>(), new Channel<number>(), new Channel<number>(1)];
    chans[2]!.trySend(0);
    const acs = Array.from({ length: 5000 }, () => new AbortController());
    const sels = acs.map((ac) =>
      select([recv(chans[0]), recv(chans[1]), send(chans[2], 1)], { signal: ac.signal }).catch(() => 'aborted'),
    );
    expect(leaks.check().waiters).toBe(5000);
    for (const ac of shuffled(acs)) ac.abort();
    expect(new Set(await Promise.all(sels))).toEqual(new Set(['aborted']));
    expect(leaks.check()).toEqual(none);
    expect(chans[0]!.trySend(1)).toBe(false);
    expect(chans[1]!.trySend(1)).toBe(false);
    expect(chans[2]!.tryRecv()?.value).toBe(0);
    expect(chans[2]!.tryRecv()).toBeUndefined();
  });

  it('selects that complete one by one take exactly one value each and leave nothing', async () => {
    using leaks = trackLeaks();
    const a = new Channel<number>();
    const b = new Channel<number>();
    const ac = new AbortController();
    const sels = Array.from({ length: 1000 }, () =>
      select([recv(a, (v) => v), recv(b, (v) => v)], { signal: ac.signal }),
    );
    for (let i = 0; i < 1000; i++) await (i % 2 ? a : b).send(i);
    expect((await Promise.all(sels)).sort((x, y) => (x as number) - (y as number))).toEqual(
      Array.from({ length: 1000 }, (_, i) => i),
    );
    expect(a.trySend(1) || b.trySend(1)).toBe(false);
    expect(leaks.check()).toEqual(none);
  });

  it('selects woken by close leave nothing on their other channels', async () => {
    using leaks = trackLeaks();
    const a = new Channel<number>();
    const b = new Channel<number>();
    const sels = Array.from({ length: 1000 }, () => select([recv(a, (_, ok) => ok), send(b, 1)]));
    a.close();
    expect(new Set(await Promise.all(sels))).toEqual(new Set([false]));
    expect(b.tryRecv()).toBeUndefined();
    expect(leaks.check()).toEqual(none);
  });
});

describe('timer leaks', () => {
  it('after with an aborted signal, and after that fired, leave no timer or listener', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const ac = new AbortController();
    const chans = Array.from({ length: 1000 }, (_, i) => after(i, { clock, signal: ac.signal }));
    await clock.advance(499);
    ac.abort();
    expect(clock.pending).toBe(0);
    expect(chans.filter((ch) => ch.length === 1)).toHaveLength(500);
    expect(leaks.check()).toEqual(none);
  });

  it('a thousand tickers stopped, some while iterated, leave no timer, waiter or listener', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const tickers = Array.from({ length: 1000 }, (_, i) => new Ticker(1 + (i % 7), { clock }));
    const loops = tickers.slice(0, 100).map(async (t) => {
      let n = 0;
      for await (const _ of t) n++;
      return n;
    });
    await clock.advance(20);
    for (const t of shuffled(tickers)) t.stop();
    expect((await Promise.all(loops)).every((n) => n > 0)).toBe(true);
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(none);
  });
});
