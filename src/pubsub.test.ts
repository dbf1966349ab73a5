import { describe, expect, it } from 'vitest';
import { type Message, PubSub } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { flush as tick } from '../test/support.js';

const clean = { waiters: 0, timers: 0, listeners: 0, details: [] };

/** Everything buffered in `sub` after the hub closes. */
async function drain<M>(ps: PubSub<M>, sub: AsyncIterable<Message<M>>): Promise<M[]> {
  ps.close();
  const out: M[] = [];
  for await (const m of sub) out.push(m.payload);
  return out;
}

describe('PubSub topic matching', () => {
  // [pattern, topic, matches]
  const matrix: [string, string, boolean][] = [
    ['orders', 'orders', true],
    ['orders', 'orders.created', false],
    ['orders', 'order', false],
    ['orders.created', 'orders.created', true],
    ['orders.*', 'orders.created', true],
    ['orders.*', 'orders', false],
    ['orders.*', 'orders.eu.created', false],
    ['orders.>', 'orders.created', true],
    ['orders.>', 'orders.eu.created', true],
    ['orders.>', 'orders', false],
    ['*.created', 'orders.created', true],
    ['*.created', 'payments.created', true],
    ['*.created', 'orders.deleted', false],
    ['*.created', 'created', false],
    ['*', 'orders', true],
    ['*', 'orders.created', false],
    ['>', 'orders', true],
    ['>', 'orders.eu.created', true],
    ['*.*', 'a.b', true],
    ['*.*', 'a', false],
    ['*.*', 'a.b.c', false],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.b.d', false],
    ['a.*.>', 'a.b.c.d', true],
    ['a.*.>', 'a.b', false],
    ['*.b.>', 'a.b.c', true],
    ['*.b.>', 'x.y.c', false],
    ['a.b', 'a.b.c', false],
    ['foo*', 'foo*x', false],
    ['foo*', 'foo*', true],
  ];
  for (const [pattern, topic, want] of matrix) {
    it(`${want ? 'delivers' : 'does not deliver'} ${topic} to a subscription on ${pattern}`, async () => {
      const ps = new PubSub<string>();
      const sub = ps.subscribe(pattern);
      // A bystander on the literal topic keeps exact and wildcard paths both in play.
      ps.subscribe('zzz.other');
      const r = await ps.publish(topic, topic);
      expect(r).toEqual({ delivered: want ? 1 : 0, dropped: 0 });
      expect(await drain(ps, sub)).toEqual(want ? [topic] : []);
    });
  }

  it('delivers a message once to a subscription when several of its patterns match', async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe(['orders.created', 'orders.*', 'orders.>', '>', 'orders.created']);
    expect(await ps.publish('orders.created', 1)).toEqual({ delivered: 1, dropped: 0 });
    expect(await drain(ps, sub)).toEqual([1]);
  });

  it('keeps matching right as subscriptions come and go (the match cache is invalidated)', async () => {
    const ps = new PubSub<number>();
    const a = ps.subscribe('t.*');
    expect((await ps.publish('t.x', 1)).delivered).toBe(1);
    const b = ps.subscribe('t.x');
    expect((await ps.publish('t.x', 2)).delivered).toBe(2);
    a.unsubscribe();
    expect((await ps.publish('t.x', 3)).delivered).toBe(1);
    b.unsubscribe();
    expect((await ps.publish('t.x', 4)).delivered).toBe(0);
    const c = ps.subscribe('t.>');
    expect((await ps.publish('t.x', 5)).delivered).toBe(1);
    expect(await drain(ps, c)).toEqual([5]);
  });

  it('publishes to a great many distinct topics without mismatches', async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe('n.*', { buffer: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 10_000; i++) await ps.publish(`n.${i}`, i);
    expect((await drain(ps, sub)).length).toBe(10_000);
  });

  it('rejects malformed patterns and topics at once, naming the argument', () => {
    const ps = new PubSub<number>();
    for (const bad of ['', 'a..b', '.a', 'a.', 'a.>.b', '>.a']) {
      expect(() => ps.subscribe(bad)).toThrow(TypeError);
      expect(() => ps.subscribe(bad)).toThrow(/`topics`/);
    }
    expect(() => ps.subscribe(['ok', 'a..b'])).toThrow(/`topics\[1\]`/);
    expect(() => ps.subscribe(3 as any)).toThrow(TypeError);
    expect(() => ps.subscribe([])).toThrow(RangeError);
    for (const bad of ['', 'a..b', 'a.*', 'a.>', '*', '>']) {
      expect(() => ps.publish(bad, 1)).toThrow(/PubSub.publish: `topic`/);
    }
    expect(() => ps.publish(5 as any, 1)).toThrow(TypeError);
    expect(() => ps.subscribe('a', { buffer: -1 })).toThrow(RangeError);
    expect(() => ps.subscribe('a', { buffer: 1.5 })).toThrow(/`buffer`/);
    expect(() => ps.subscribe('a', { overflow: 'drop' as any })).toThrow(/`overflow`/);
    expect(() => ps.subscribe('a', { signal: 1 as any })).toThrow(TypeError);
    expect(ps.subscribers).toBe(0);
  });
});

describe('PubSub delivery', () => {
  it('hands a message straight to a waiting recv, and buffers it otherwise, in publish order', async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t');
    const first = sub.recv();
    await ps.publish('t', 1);
    expect(await first).toEqual({ done: false, value: { topic: 't', payload: 1 } });
    await ps.publish('t', 2);
    await ps.publish('t', 3);
    expect(await drain(ps, sub)).toEqual([2, 3]);
  });

  it('resolves publish at once with the counts when nobody has to wait', async () => {
    const ps = new PubSub<number>();
    ps.subscribe('t');
    ps.subscribe('t');
    let resolved = false;
    ps.publish('t', 1).then(() => {
      resolved = true;
    });
    await Promise.resolve();
    expect(resolved).toBe(true);
    expect(await ps.publish('nobody', 1)).toEqual({ delivered: 0, dropped: 0 });
  });

  it('counts live subscriptions', () => {
    const ps = new PubSub<number>();
    const a = ps.subscribe('a');
    ps.subscribe(['b', 'c']);
    expect(ps.subscribers).toBe(2);
    a.unsubscribe();
    a.unsubscribe();
    expect(ps.subscribers).toBe(1);
    ps.close();
    expect(ps.subscribers).toBe(0);
  });

  it("drops the newest message under 'drop-newest' (the default), counting it", async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t', { buffer: 2 });
    const results = [];
    for (let i = 1; i <= 4; i++) results.push(await ps.publish('t', i));
    expect(results.map((r) => r.dropped)).toEqual([0, 0, 1, 1]);
    expect(results.map((r) => r.delivered)).toEqual([1, 1, 0, 0]);
    expect(sub.dropped).toBe(2);
    expect(await drain(ps, sub)).toEqual([1, 2]);
  });

  it('buffers 100 messages by default', async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t');
    for (let i = 0; i < 101; i++) await ps.publish('t', i);
    expect(sub.dropped).toBe(1);
    expect((await drain(ps, sub)).length).toBe(100);
  });

  it("evicts the oldest message under 'drop-oldest', counting it", async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t', { buffer: 2, overflow: 'drop-oldest' });
    const results = [];
    for (let i = 1; i <= 4; i++) results.push(await ps.publish('t', i));
    expect(results).toEqual([
      { delivered: 1, dropped: 0 },
      { delivered: 1, dropped: 0 },
      { delivered: 1, dropped: 1 },
      { delivered: 1, dropped: 1 },
    ]);
    expect(sub.dropped).toBe(2);
    expect(await drain(ps, sub)).toEqual([3, 4]);
  });

  it('with buffer 0 delivers only to a waiting recv', async () => {
    for (const overflow of ['drop-newest', 'drop-oldest'] as const) {
      const ps = new PubSub<number>();
      const sub = ps.subscribe('t', { buffer: 0, overflow });
      expect(await ps.publish('t', 1)).toEqual({ delivered: 0, dropped: 1 });
      const r = sub.recv();
      expect(await ps.publish('t', 2)).toEqual({ delivered: 1, dropped: 0 });
      expect((await r).value?.payload).toBe(2);
      expect(sub.dropped).toBe(1);
    }
  });

  it("ends an 'error' subscription on overflow, after its buffered messages have been read (issue 13 item 5)", async () => {
    using leaks = trackLeaks();
    const ps = new PubSub<number>();
    const ac = new AbortController();
    const sub = ps.subscribe('t', { buffer: 2, overflow: 'error', signal: ac.signal });
    const other = ps.subscribe('t', { buffer: 10 });
    await ps.publish('t', 1);
    await ps.publish('t', 2);
    expect(await ps.publish('t', 3)).toEqual({ delivered: 1, dropped: 1 });
    expect(sub.dropped).toBe(1);
    expect(sub.lag).toBe(2);
    expect(ps.subscribers).toBe(1);
    // It gets nothing more, and its signal listener is gone.
    expect(await ps.publish('t', 4)).toEqual({ delivered: 1, dropped: 0 });
    const got: number[] = [];
    const err = await (async () => {
      for await (const m of sub) got.push(m.payload);
    })().catch((e) => e);
    expect(got).toEqual([1, 2]);
    expect(err.code).toBe('ERR_SUBSCRIBER_OVERFLOW');
    expect(err.name).toBe('SubscriberOverflowError');
    await expect(sub.recv()).rejects.toBe(err);
    sub.unsubscribe();
    await expect(sub.recv()).rejects.toBe(err);
    expect(leaks.check()).toEqual(clean);
    expect(await drain(ps, other)).toEqual([1, 2, 3, 4]);
  });

  it("rejects a recv pending on an 'error' subscription with buffer 0 that overflows", async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t', { buffer: 0, overflow: 'error' });
    expect(await ps.publish('t', 1)).toEqual({ delivered: 0, dropped: 1 });
    await expect(sub.recv()).rejects.toMatchObject({ code: 'ERR_SUBSCRIBER_OVERFLOW' });
  });

  it("makes the publisher wait for room under 'block', and keeps the order", async () => {
    using leaks = trackLeaks();
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t', { buffer: 1, overflow: 'block' });
    const free = ps.subscribe('t', { buffer: 10 });
    expect(await ps.publish('t', 1)).toEqual({ delivered: 2, dropped: 0 });
    const settled: number[] = [];
    const p2 = ps.publish('t', 2).then((r) => {
      settled.push(2);
      return r;
    });
    const p3 = ps.publish('t', 3).then((r) => {
      settled.push(3);
      return r;
    });
    await tick();
    expect(settled).toEqual([]);
    expect(leaks.check().waiters).toBe(2);
    expect((await sub.recv()).value?.payload).toBe(1);
    expect(await p2).toEqual({ delivered: 2, dropped: 0 });
    expect(settled).toEqual([2]);
    expect((await sub.recv()).value?.payload).toBe(2);
    expect(await p3).toEqual({ delivered: 2, dropped: 0 });
    // A publish that finds room again resolves at once.
    expect((await sub.recv()).value?.payload).toBe(3);
    expect(await ps.publish('t', 4)).toEqual({ delivered: 2, dropped: 0 });
    expect(await drain(ps, sub)).toEqual([4]);
    expect(await drain(ps, free)).toEqual([1, 2, 3, 4]);
    expect(leaks.check()).toEqual(clean);
  });

  it("waits for every full 'block' subscriber before resolving a publish", async () => {
    const ps = new PubSub<number>();
    const a = ps.subscribe('t', { buffer: 1, overflow: 'block' });
    const b = ps.subscribe('t', { buffer: 1, overflow: 'block' });
    await ps.publish('t', 1);
    let result: unknown;
    const p = ps.publish('t', 2).then((r) => {
      result = r;
    });
    await a.recv();
    await tick();
    expect(result).toBeUndefined();
    await b.recv();
    await p;
    expect(result).toEqual({ delivered: 2, dropped: 0 });
    expect(await drain(ps, a)).toEqual([2]);
    expect(await drain(ps, b)).toEqual([2]);
  });

  it("hands a blocked message straight to recv under 'block' with buffer 0", async () => {
    const ps = new PubSub<string>();
    const sub = ps.subscribe('t', { buffer: 0, overflow: 'block' });
    const p = ps.publish('t', 'x');
    expect((await sub.recv()).value?.payload).toBe('x');
    expect(await p).toEqual({ delivered: 1, dropped: 0 });
    const r = sub.recv();
    expect(await ps.publish('t', 'y')).toEqual({ delivered: 1, dropped: 0 });
    expect((await r).value?.payload).toBe('y');
  });

  it('stops a blocked publish from waiting for a subscription that unsubscribes, counting it in neither figure', async () => {
    using leaks = trackLeaks();
    const ps = new PubSub<number>();
    const slow = ps.subscribe('t', { buffer: 1, overflow: 'block' });
    ps.subscribe('t', { buffer: 10 });
    await ps.publish('t', 1);
    const p = ps.publish('t', 2);
    slow.unsubscribe();
    expect(await p).toEqual({ delivered: 1, dropped: 0 });
    expect(await slow.recv()).toEqual({ done: true, value: undefined });
    expect(leaks.check()).toEqual(clean);
  });

  it('rejects a blocked publish whose signal aborts, and takes its message back from full subscribers only', async () => {
    using leaks = trackLeaks();
    const ps = new PubSub<number>();
    const a = ps.subscribe('t', { buffer: 1, overflow: 'block' });
    const b = ps.subscribe('t', { buffer: 1, overflow: 'block' });
    await ps.publish('t', 1);
    await b.recv();
    const ac = new AbortController();
    const p = ps.publish('t', 2, { signal: ac.signal });
    expect(leaks.check().waiters).toBe(1);
    const reason = new Error('publisher gave up');
    ac.abort(reason);
    await expect(p).rejects.toBe(reason);
    expect(leaks.check()).toEqual(clean);
    expect(await drain(ps, a)).toEqual([1]);
    expect(await drain(ps, b)).toEqual([2]);
  });

  it('rejects a publish at once with an already-aborted signal, delivering nothing', async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t');
    await expect(ps.publish('t', 1, { signal: AbortSignal.abort('no') })).rejects.toBe('no');
    expect(await drain(ps, sub)).toEqual([]);
  });

  it('ends a pending recv and releases a blocked publish when closed, draining what was buffered', async () => {
    using leaks = trackLeaks();
    const ps = new PubSub<number>();
    const idle = ps.subscribe('idle');
    const pending = idle.recv();
    const full = ps.subscribe('t', { buffer: 1, overflow: 'block' });
    const other = ps.subscribe('t');
    await ps.publish('t', 1);
    const blocked = ps.publish('t', 2);
    expect(leaks.check().waiters).toBe(2);
    ps.close();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(await blocked).toEqual({ delivered: 1, dropped: 0 });
    expect(await drain(ps, full)).toEqual([1]);
    expect(await drain(ps, other)).toEqual([1, 2]);
    expect(leaks.check()).toEqual(clean);
  });

  it('rejects publish and throws on subscribe after close, with a code', async () => {
    const ps = new PubSub<number>();
    ps.close();
    ps.close();
    await expect(ps.publish('t', 1)).rejects.toMatchObject({ code: 'ERR_PUBSUB_CLOSED', name: 'PubSubClosedError' });
    expect(() => ps.subscribe('t')).toThrow(expect.objectContaining({ code: 'ERR_PUBSUB_CLOSED' }));
  });

  it('unsubscribes when the subscription signal aborts: a pending recv ends and nothing is left', async () => {
    using leaks = trackLeaks();
    const ps = new PubSub<number>();
    const ac = new AbortController();
    const sub = ps.subscribe('t', { signal: ac.signal });
    await ps.publish('t', 1);
    expect((await sub.recv()).value?.payload).toBe(1);
    const pending = sub.recv();
    expect(leaks.check()).toMatchObject({ waiters: 1, listeners: 1 });
    ac.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(ps.subscribers).toBe(0);
    expect((await ps.publish('t', 2)).delivered).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('returns an ended subscription for an already-aborted signal', async () => {
    using leaks = trackLeaks();
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t', { signal: AbortSignal.abort() });
    expect(ps.subscribers).toBe(0);
    expect(await sub.recv()).toEqual({ done: true, value: undefined });
    expect(leaks.check()).toEqual(clean);
  });

  it('discards the buffer on unsubscribe and on dispose', async () => {
    const ps = new PubSub<number>();
    {
      using sub = ps.subscribe('t');
      await ps.publish('t', 1);
      expect(ps.subscribers).toBe(1);
      void sub;
    }
    expect(ps.subscribers).toBe(0);
    const sub = ps.subscribe('t');
    await ps.publish('t', 1);
    sub.unsubscribe();
    expect(await sub.recv()).toEqual({ done: true, value: undefined });
  });

  it('rejects a recv whose signal aborts, leaving the subscription and no listener', async () => {
    using leaks = trackLeaks();
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t');
    const ac = new AbortController();
    const r = sub.recv({ signal: ac.signal });
    ac.abort('stop');
    await expect(r).rejects.toBe('stop');
    expect(leaks.check()).toEqual(clean);
    await ps.publish('t', 7);
    // An aborted signal does not stop a recv that has something to take.
    expect((await sub.recv({ signal: ac.signal })).value?.payload).toBe(7);
    await expect(sub.recv({ signal: ac.signal })).rejects.toBe('stop');
  });

  it('unsubscribes when a for await loop breaks early', async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t');
    for (let i = 0; i < 3; i++) await ps.publish('t', i);
    for await (const m of sub) if (m.payload === 1) break;
    expect(ps.subscribers).toBe(0);
  });

  it('gives every subscriber the same message object', async () => {
    const ps = new PubSub<{ n: number }>();
    const a = ps.subscribe('t');
    const b = ps.subscribe('t');
    const payload = { n: 1 };
    await ps.publish('t', payload);
    const [ma, mb] = [(await a.recv()).value, (await b.recv()).value];
    expect(ma).toBe(mb);
    expect(ma?.payload).toBe(payload);
  });
});
