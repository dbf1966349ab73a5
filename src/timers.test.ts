import { describe, expect, it } from 'vitest';
// `after` is renamed here because the linter takes a bare `after(…)` inside `describe` for a test hook.
import { Channel, recv, select, Ticker, after as timeAfter } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };

describe('after', () => {
  it('receives clock.now() once after ms, then is closed', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock(500);
    const ch = timeAfter(100, { clock });
    expect(ch.capacity).toBe(1);
    await clock.advance(99);
    expect(ch.tryRecv()).toBeUndefined();
    expect(ch.closed).toBe(false);
    await clock.advance(1);
    expect(ch.closed).toBe(true);
    expect(await ch.recv()).toEqual({ value: 600, done: false });
    expect(await ch.recv()).toEqual({ value: undefined, done: true });
    expect(leaks.check()).toEqual(none);
  });

  it('wakes a receiver that waits on it', async () => {
    const clock = new TestClock();
    const got = timeAfter(10, { clock }).recv();
    await clock.advance(10);
    expect(await got).toEqual({ value: 10, done: false });
  });

  it('fires on the next turn of the clock for ms 0', async () => {
    const clock = new TestClock();
    const ch = timeAfter(0, { clock });
    expect(ch.tryRecv()).toBeUndefined();
    await clock.advance(0);
    expect(ch.tryRecv()).toEqual({ value: 0, done: false });
  });

  it('times out a select when nothing else is ready', async () => {
    const clock = new TestClock();
    const never = new Channel<string>();
    const p = select([recv(never, () => 'value'), recv(timeAfter(1000, { clock }), (t) => `timeout at ${t}`)]);
    await clock.advance(1000);
    expect(await p).toBe('timeout at 1000');
    expect(never.trySend('late')).toBe(false);
  });

  it('stops its timer and closes without a value when its signal aborts', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const ac = new AbortController();
    const ch = timeAfter(100, { clock, signal: ac.signal });
    expect(leaks.check().timers).toBe(1);
    ac.abort();
    expect(clock.pending).toBe(0);
    expect(ch.tryRecv()).toEqual({ value: undefined, done: true });
    expect(leaks.check()).toEqual(none);
  });

  it('returns a closed channel and starts no timer for an already-aborted signal', () => {
    const clock = new TestClock();
    const ch = timeAfter(100, { clock, signal: AbortSignal.abort() });
    expect(clock.pending).toBe(0);
    expect(ch.tryRecv()).toEqual({ value: undefined, done: true });
  });

  it('removes its signal listener when it fires', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const ac = new AbortController();
    const ch = timeAfter(5, { clock, signal: ac.signal });
    await clock.advance(5);
    expect(ch.tryRecv()).toEqual({ value: 5, done: false });
    expect(leaks.check()).toEqual(none);
  });

  it('throws RangeError for a negative, NaN or infinite ms and TypeError for a non-number or bad clock', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => timeAfter(bad)).toThrow(RangeError);
    expect(() => timeAfter('5' as unknown as number)).toThrow(TypeError);
    expect(() => timeAfter(5, { clock: {} as TestClock })).toThrow(/`clock`/);
  });
});

describe('Ticker', () => {
  it('delivers clock.now() every period on a channel of capacity 1', async () => {
    const clock = new TestClock();
    using ticker = new Ticker(10, { clock });
    expect(ticker.channel.capacity).toBe(1);
    const got: number[] = [];
    for (let i = 0; i < 3; i++) {
      await clock.advance(10);
      got.push(ticker.channel.tryRecv()?.value as number);
    }
    expect(got).toEqual([10, 20, 30]);
  });

  it('drops ticks a slow receiver misses, keeping the first undelivered one', async () => {
    const clock = new TestClock();
    using ticker = new Ticker(10, { clock });
    await clock.advance(45);
    expect(ticker.channel.tryRecv()).toEqual({ value: 10, done: false });
    expect(ticker.channel.tryRecv()).toBeUndefined();
    await clock.advance(5);
    expect(ticker.channel.tryRecv()).toEqual({ value: 50, done: false });
  });

  it('counts the new period from the moment of reset and discards a stale tick', async () => {
    const clock = new TestClock();
    using ticker = new Ticker(10, { clock });
    await clock.advance(13);
    ticker.reset(30);
    expect(ticker.channel.tryRecv()).toBeUndefined();
    await clock.advance(29);
    expect(ticker.channel.tryRecv()).toBeUndefined();
    await clock.advance(1);
    expect(ticker.channel.tryRecv()).toEqual({ value: 43, done: false });
    await clock.advance(30);
    expect(ticker.channel.tryRecv()).toEqual({ value: 73, done: false });
  });

  it('leaves no timer after stop, delivers no tick after it, and discards a stale tick', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const ticker = new Ticker(10, { clock });
    await clock.advance(10);
    expect(leaks.check().timers).toBe(1);
    ticker.stop();
    ticker.stop();
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(none);
    await clock.advance(100);
    expect(ticker.channel.tryRecv()).toBeUndefined();
    expect(ticker.channel.closed).toBe(false);
  });

  it('starts again on reset after stop', async () => {
    const clock = new TestClock();
    using ticker = new Ticker(10, { clock });
    ticker.stop();
    await clock.advance(20);
    ticker.reset(5);
    await clock.advance(5);
    expect(ticker.channel.tryRecv()).toEqual({ value: 25, done: false });
  });

  it('stops when disposed by using', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    {
      using _ticker = new Ticker(10, { clock });
      expect(clock.pending).toBe(1);
    }
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(none);
  });

  it('iterates its ticks and ends the iteration when stopped, even while waiting', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const ticker = new Ticker(10, { clock });
    const seen: number[] = [];
    const loop = (async () => {
      for await (const t of ticker) seen.push(t);
    })();
    await clock.advance(30);
    expect(seen).toEqual([10, 20, 30]);
    ticker.stop();
    await loop;
    expect(leaks.check()).toEqual(none);
  });

  it('ends an iteration started after stop at once', async () => {
    const clock = new TestClock();
    const ticker = new Ticker(10, { clock });
    ticker.stop();
    const seen: number[] = [];
    for await (const t of ticker) seen.push(t);
    expect(seen).toEqual([]);
  });

  it('keeps running when an iteration breaks', async () => {
    const clock = new TestClock();
    using ticker = new Ticker(10, { clock });
    const loop = (async () => {
      for await (const _ of ticker) break;
    })();
    await clock.advance(10);
    await loop;
    await clock.advance(10);
    expect(ticker.channel.tryRecv()).toEqual({ value: 20, done: false });
  });

  it('keeps to the period grid when a timer fires late', async () => {
    // A clock whose timers fire 7 ms late once, as a busy event loop would.
    const clock = new TestClock();
    let lateOnce = true;
    const late = {
      now: () => clock.now(),
      setTimeout: (fn: () => void, ms: number) => {
        const extra = lateOnce ? 7 : 0;
        lateOnce = false;
        return clock.setTimeout(fn, ms + extra);
      },
      clearTimeout: (h: unknown) => clock.clearTimeout(h),
    };
    using ticker = new Ticker(10, { clock: late });
    await clock.advance(17);
    expect(ticker.channel.tryRecv()).toEqual({ value: 17, done: false });
    await clock.advance(3);
    expect(ticker.channel.tryRecv()).toEqual({ value: 20, done: false });
  });

  it('throws RangeError for a period that is not > 0 and finite, also on reset', () => {
    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new Ticker(bad)).toThrow(RangeError);
    }
    expect(() => new Ticker('1' as unknown as number)).toThrow(TypeError);
    const clock = new TestClock();
    using ticker = new Ticker(10, { clock });
    expect(() => ticker.reset(0)).toThrow(/`ms`/);
    expect(clock.pending).toBe(1);
  });
});
