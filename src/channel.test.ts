import { describe, expect, it } from 'vitest';
import { Channel } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Records when a promise settles, and how. */
function watch<T>(p: Promise<T>): { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: any } {
  const w: { state: 'pending' | 'resolved' | 'rejected'; value?: T; error?: any } = { state: 'pending' };
  p.then(
    (value) => {
      w.state = 'resolved';
      w.value = value;
    },
    (error) => {
      w.state = 'rejected';
      w.error = error;
    },
  );
  return w;
}

describe('Channel construction', () => {
  it('is unbuffered by default and reports capacity, length and closed', () => {
    const ch = new Channel<number>();
    expect(ch.capacity).toBe(0);
    expect(ch.length).toBe(0);
    expect(ch.closed).toBe(false);
    expect(new Channel(5).capacity).toBe(5);
  });

  it('rejects a negative, fractional, NaN or infinite capacity with a RangeError naming capacity', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new Channel(bad)).toThrow(RangeError);
      expect(() => new Channel(bad)).toThrow(/`capacity`/);
    }
  });

  it('rejects a capacity that is not a number with a TypeError naming capacity', () => {
    expect(() => new Channel('3' as unknown as number)).toThrow(TypeError);
    expect(() => new Channel(null as unknown as number)).toThrow(/`capacity`.*null/);
  });

  it('rejects a signal that is not an AbortSignal with a TypeError', () => {
    const ch = new Channel<number>(1);
    expect(() => ch.send(1, { signal: 'no' as unknown as AbortSignal })).toThrow(TypeError);
    expect(() => ch.recv({ signal: {} as AbortSignal })).toThrow(/`signal`/);
  });
});

describe('Channel unbuffered', () => {
  it('completes a send only when a receiver takes the value', async () => {
    const ch = new Channel<string>();
    const sent = watch(ch.send('a'));
    await turn();
    expect(sent.state).toBe('pending');
    expect(ch.length).toBe(0);
    expect(await ch.recv()).toEqual({ value: 'a', done: false });
    await turn();
    expect(sent.state).toBe('resolved');
  });

  it('hands a value straight to a waiting receiver', async () => {
    const ch = new Channel<number>();
    const got = ch.recv();
    expect(ch.trySend(1)).toBe(true);
    expect(await got).toEqual({ value: 1, done: false });
  });

  it('trySend returns false and tryRecv undefined when no partner is waiting', () => {
    const ch = new Channel<number>();
    expect(ch.trySend(1)).toBe(false);
    expect(ch.tryRecv()).toBeUndefined();
  });

  it('tryRecv takes the value of a waiting sender and completes its send', async () => {
    const ch = new Channel<number>();
    const sent = watch(ch.send(9));
    expect(ch.tryRecv()).toEqual({ value: 9, done: false });
    await turn();
    expect(sent.state).toBe('resolved');
  });
});

describe('Channel buffered', () => {
  it('buffers sends up to capacity, then makes senders wait', async () => {
    const ch = new Channel<number>(2);
    await ch.send(1);
    expect(ch.trySend(2)).toBe(true);
    expect(ch.length).toBe(2);
    expect(ch.trySend(3)).toBe(false);
    const third = watch(ch.send(3));
    await turn();
    expect(third.state).toBe('pending');
    expect(await ch.recv()).toEqual({ value: 1, done: false });
    await turn();
    expect(third.state).toBe('resolved');
    expect(ch.length).toBe(2);
    expect([ch.tryRecv(), ch.tryRecv(), ch.tryRecv()]).toEqual([
      { value: 2, done: false },
      { value: 3, done: false },
      undefined,
    ]);
  });

  it('returns an already-resolved promise for a send that needs no wait', async () => {
    const ch = new Channel<number>(1);
    const p = watch(ch.send(1));
    await Promise.resolve();
    expect(p.state).toBe('resolved');
  });

  it('returns a fresh result object for every value received', async () => {
    const ch = new Channel<number>(2);
    ch.trySend(1);
    ch.trySend(1);
    const a = ch.tryRecv();
    const b = await ch.recv({});
    expect(a).not.toBe(b);
    expect(a).toEqual(b);
  });
});

describe('Channel order', () => {
  it('serves waiting senders first come, first served', async () => {
    const ch = new Channel<number>();
    const sends = [1, 2, 3, 4].map((v) => ch.send(v));
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await ch.recv()).value);
    await Promise.all(sends);
    expect(got).toEqual([1, 2, 3, 4]);
  });

  it('serves waiting receivers first come, first served', async () => {
    const ch = new Channel<string>(1);
    const recvs = [ch.recv(), ch.recv(), ch.recv()];
    for (const v of ['a', 'b', 'c']) await ch.send(v);
    expect((await Promise.all(recvs)).map((r) => r.value)).toEqual(['a', 'b', 'c']);
  });

  it('keeps the order of a full buffer followed by waiting senders', async () => {
    const ch = new Channel<number>(2);
    const sends = [1, 2, 3, 4, 5].map((v) => ch.send(v));
    const got = [];
    for (let i = 0; i < 5; i++) got.push(ch.tryRecv()?.value);
    await Promise.all(sends);
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('Channel close', () => {
  it('rejects a send on a closed channel with ChannelClosedError, handing the value back', async () => {
    const ch = new Channel<number>(3);
    ch.close();
    const err = await ch.send(42).catch((e) => e);
    expect(err.code).toBe('ERR_CHANNEL_CLOSED');
    expect(err.name).toBe('ChannelClosedError');
    expect(err.value).toBe(42);
  });

  it('makes trySend throw ChannelClosedError on a closed channel', () => {
    const ch = new Channel<number>(3);
    ch.close();
    expect(() => ch.trySend(1)).toThrow(expect.objectContaining({ code: 'ERR_CHANNEL_CLOSED', value: 1 }));
  });

  it('throws ChannelClosedError on a second close', () => {
    const ch = new Channel();
    ch.close();
    expect(ch.closed).toBe(true);
    expect(() => ch.close()).toThrow(expect.objectContaining({ code: 'ERR_CHANNEL_CLOSED' }));
  });

  it('lets receivers drain the buffer before they see done', async () => {
    const ch = new Channel<number>(3);
    ch.trySend(1);
    ch.trySend(2);
    ch.close();
    expect(ch.length).toBe(2);
    expect(await ch.recv()).toEqual({ value: 1, done: false });
    expect(ch.tryRecv()).toEqual({ value: 2, done: false });
    expect(await ch.recv()).toEqual({ value: undefined, done: true });
    expect(ch.tryRecv()).toEqual({ value: undefined, done: true });
  });

  it('wakes every waiting receiver with done', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>();
    const waiting = [ch.recv(), ch.recv(), ch.recv()];
    ch.close();
    expect(await Promise.all(waiting)).toEqual(Array(3).fill({ value: undefined, done: true }));
    expect(leaks.check()).toEqual(none);
  });

  it('rejects every waiting sender with ChannelClosedError, keeping the buffered values', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>(1);
    ch.trySend(1);
    const ac = new AbortController();
    const waiting = [ch.send(2), ch.send(3, { signal: ac.signal })].map((p) => p.catch((e) => [e.code, e.value]));
    ch.close();
    expect(await Promise.all(waiting)).toEqual([
      ['ERR_CHANNEL_CLOSED', 2],
      ['ERR_CHANNEL_CLOSED', 3],
    ]);
    expect(ch.tryRecv()).toEqual({ value: 1, done: false });
    expect(ch.tryRecv()).toEqual({ value: undefined, done: true });
    expect(leaks.check()).toEqual(none);
  });
});

describe('Channel cancellation', () => {
  it('rejects an aborted recv with the signal reason as is and consumes no value', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>();
    const ac = new AbortController();
    const reason = { why: 'stop' };
    const first = ch.recv({ signal: ac.signal });
    const second = ch.recv();
    ac.abort(reason);
    await expect(first).rejects.toBe(reason);
    await ch.send(1);
    expect(await second).toEqual({ value: 1, done: false });
    expect(leaks.check()).toEqual(none);
  });

  it('never delivers the value of an aborted send', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<string>();
    const ac = new AbortController();
    const aborted = ch.send('lost', { signal: ac.signal });
    const kept = ch.send('kept');
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    expect(await ch.recv()).toEqual({ value: 'kept', done: false });
    await kept;
    expect(ch.tryRecv()).toBeUndefined();
    expect(leaks.check()).toEqual(none);
  });

  it('never delivers the value of an aborted send to a full buffer', async () => {
    const ch = new Channel<number>(1);
    ch.trySend(1);
    const ac = new AbortController();
    const aborted = ch.send(2, { signal: ac.signal }).catch(() => 'aborted');
    ac.abort();
    expect(await aborted).toBe('aborted');
    expect(ch.tryRecv()).toEqual({ value: 1, done: false });
    expect(ch.tryRecv()).toBeUndefined();
  });

  it('rejects at once with an already-aborted signal when the operation would wait, queueing nothing', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>();
    const signal = AbortSignal.abort('gone');
    await expect(ch.send(1, { signal })).rejects.toBe('gone');
    await expect(ch.recv({ signal })).rejects.toBe('gone');
    expect(ch.trySend(1)).toBe(false);
    expect(leaks.check()).toEqual(none);
  });

  it('completes an operation that needs no wait even when its signal has aborted', async () => {
    const ch = new Channel<number>(1);
    const signal = AbortSignal.abort();
    await ch.send(1, { signal });
    expect(await ch.recv({ signal })).toEqual({ value: 1, done: false });
  });

  it('removes the listener of a recv that completes normally', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>();
    const ac = new AbortController();
    const got = ch.recv({ signal: ac.signal });
    expect(leaks.check().waiters).toBe(1);
    await ch.send(5, { signal: ac.signal });
    expect(await got).toEqual({ value: 5, done: false });
    expect(leaks.check()).toEqual(none);
  });
});

describe('Channel iteration', () => {
  it('ranges over the values until the channel is closed and drained', async () => {
    const ch = new Channel<number>();
    const producer = (async () => {
      for (let i = 1; i <= 5; i++) await ch.send(i);
      ch.close();
    })();
    const got: number[] = [];
    for await (const v of ch) got.push(v);
    await producer;
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });

  it('does not close the channel when the loop breaks, and leaves the rest in it', async () => {
    const ch = new Channel<number>(4);
    for (const v of [1, 2, 3]) ch.trySend(v);
    for await (const v of ch) if (v === 2) break;
    expect(ch.closed).toBe(false);
    expect(ch.tryRecv()).toEqual({ value: 3, done: false });
  });

  it('ends a pending next() with done on return(), consuming nothing and leaving nothing queued', async () => {
    using leaks = trackLeaks();
    const ch = new Channel<number>();
    const it = ch[Symbol.asyncIterator]();
    const pending = it.next();
    expect(leaks.check().waiters).toBe(1);
    expect(await it.return!()).toEqual({ value: undefined, done: true });
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(await it.next()).toEqual({ value: undefined, done: true });
    expect(ch.trySend(1)).toBe(false);
    expect(leaks.check()).toEqual(none);
  });

  it('lets several loops share a channel, each value going to exactly one', async () => {
    const ch = new Channel<number>(2);
    const seen: number[][] = [[], [], []];
    const loops = seen.map(async (mine) => {
      for await (const v of ch) mine.push(v);
    });
    for (let i = 0; i < 30; i++) await ch.send(i);
    ch.close();
    await Promise.all(loops);
    expect(seen.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    for (const mine of seen) expect(mine).toEqual([...mine].sort((a, b) => a - b));
  });
});

describe('Channel under load', () => {
  it('moves every value once between 1000 concurrent senders and 1000 concurrent receivers', async () => {
    using leaks = trackLeaks();
    for (const capacity of [0, 7]) {
      const ch = new Channel<number>(capacity);
      const receivers = Array.from({ length: 1000 }, () => ch.recv());
      const senders = Array.from({ length: 1000 }, (_, i) => ch.send(i));
      // And as many again with the senders first.
      const senders2 = Array.from({ length: 1000 }, (_, i) => ch.send(1000 + i));
      const receivers2 = Array.from({ length: 1000 }, () => ch.recv());
      await Promise.all([...senders, ...senders2]);
      const got = (await Promise.all([...receivers, ...receivers2])).map((r) => r.value as number);
      expect(got).toEqual(Array.from({ length: 2000 }, (_, i) => i));
      expect(ch.length).toBe(0);
    }
    expect(leaks.check()).toEqual(none);
  });
});
