import { AsyncLocalStorage } from 'node:async_hooks';
import diagnostics from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { type Message, type OverflowEvent, PubSub } from 'weftjs';
import { diagnosticsChannels, enableDiagnostics } from 'weftjs/node';
import { TestClock, trackLeaks } from 'weftjs/testing';
import { deferred, flush as tick } from '../test/support.js';

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

describe('PubSub slow consumers (issue 13 item 5)', () => {
  it('reports lag exactly: what is buffered and not yet read', async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t', { buffer: 3 });
    expect(sub.lag).toBe(0);
    for (const n of [1, 2, 3, 4]) await ps.publish('t', n);
    expect(sub.lag).toBe(3);
    await sub.recv();
    expect(sub.lag).toBe(2);
    sub.unsubscribe();
    expect(sub.lag).toBe(0);
  });

  it('tells onOverflow of the subscription, then of the hub, what each policy lost', async () => {
    const order: string[] = [];
    const seen: OverflowEvent<number>[] = [];
    const ps = new PubSub<number>({
      onOverflow: (e) => {
        order.push('hub');
        seen.push(e);
      },
    });
    const own = (e: OverflowEvent<number>) => order.push(`own ${e.outcome} ${e.message.payload}`);
    const newest = ps.subscribe('t', { buffer: 1, onOverflow: own });
    const oldest = ps.subscribe('t', { buffer: 1, overflow: 'drop-oldest', onOverflow: own });
    const failing = ps.subscribe('t', { buffer: 1, overflow: 'error', onOverflow: own });
    await ps.publish('t', 1);
    expect(await ps.publish('t', 2)).toEqual({ delivered: 1, dropped: 3 });
    expect(order).toEqual(['own dropped 2', 'hub', 'own evicted 1', 'hub', 'own failed 2', 'hub']);
    expect(seen.map((e) => [e.subscription, e.policy, e.outcome, e.topic, e.message.payload, e.dropped])).toEqual([
      [newest, 'drop-newest', 'dropped', 't', 2, 1],
      [oldest, 'drop-oldest', 'evicted', 't', 1, 1],
      [failing, 'error', 'failed', 't', 2, 1],
    ]);
    expect(seen.every((e) => e.pubsub === ps && Object.isFrozen(e))).toBe(true);
  });

  it('reports a throwing onOverflow as uncaught, without disturbing the publish', async () => {
    const reported: (() => void)[] = [];
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((fn) => reported.push(fn));
    try {
      const ps = new PubSub<number>({
        onOverflow: () => {
          throw new Error('hook');
        },
      });
      ps.subscribe('t', { buffer: 0 });
      const other = ps.subscribe('t', { buffer: 1 });
      expect(await ps.publish('t', 1)).toEqual({ delivered: 1, dropped: 1 });
      expect(other.lag).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(reported).toHaveLength(1);
    expect(() => reported[0]!()).toThrow('hook');
  });

  it('publishes every overflow on weft:pubsub:overflow while it has subscribers', async () => {
    enableDiagnostics();
    const got: unknown[] = [];
    const onMessage = (m: unknown) => got.push(m);
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t', { buffer: 0 });
    await ps.publish('t', 1);
    diagnostics.subscribe(diagnosticsChannels.pubsubOverflow, onMessage);
    try {
      await ps.publish('t', 2);
    } finally {
      diagnostics.unsubscribe(diagnosticsChannels.pubsubOverflow, onMessage);
    }
    await ps.publish('t', 3);
    expect(diagnosticsChannels.pubsubOverflow).toBe('weft:pubsub:overflow');
    expect(got).toEqual([
      {
        pubsub: ps,
        subscription: sub,
        topic: 't',
        policy: 'drop-newest',
        outcome: 'dropped',
        message: { topic: 't', payload: 2 },
        dropped: 2,
      },
    ]);
  });

  it("'block' with blockMs: the publisher waits up to blockMs, then the newest message is dropped", async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const events: string[] = [];
    const ps = new PubSub<number>({ clock, onOverflow: (e) => events.push(`${e.outcome} ${e.message.payload}`) });
    const sub = ps.subscribe('t', { buffer: 1, overflow: 'block', blockMs: 50 });
    await ps.publish('t', 1);
    let settled: unknown;
    const second = ps.publish('t', 2).then((r) => (settled = r));
    await clock.advance(49);
    expect(settled).toBeUndefined();
    expect(clock.pending).toBe(1);
    await clock.advance(1);
    expect(await second).toEqual({ delivered: 0, dropped: 1 });
    expect(events).toEqual(['blocked 2', 'dropped 2']);
    expect([sub.lag, sub.dropped]).toEqual([1, 1]);
    // Room before the deadline: taken in, the timer stopped.
    const third = ps.publish('t', 3);
    expect((await sub.recv()).value?.payload).toBe(1);
    expect(await third).toEqual({ delivered: 1, dropped: 0 });
    expect(clock.pending).toBe(0);
    expect(leaks.check()).toEqual(clean);
    expect(await drain(ps, sub)).toEqual([3]);
  });

  it("'block' with blockMs: an abort of the publish stops its timers; blockMs 0 never waits", async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const ps = new PubSub<number>({ clock });
    const slow = ps.subscribe('t', { buffer: 0, overflow: 'block', blockMs: 1000 });
    const never = ps.subscribe('t', { buffer: 0, overflow: 'block', blockMs: 0 });
    const ac = new AbortController();
    const p = ps.publish('t', 1, { signal: ac.signal });
    expect(clock.pending).toBe(1);
    expect(never.dropped).toBe(1);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(clock.pending).toBe(0);
    expect(slow.dropped).toBe(0);
    expect(leaks.check()).toEqual(clean);
    ps.close();
  });

  it("'latest' keeps one message per key, the latest, in the order its key first arrived", async () => {
    const ps = new PubSub<string>();
    const byTopic = ps.subscribe('s.*', { overflow: 'latest' });
    const byPayload = ps.subscribe('s.*', { overflow: 'latest', buffer: 2, key: (m) => m.payload[0] });
    await ps.publish('s.a', 'a1');
    await ps.publish('s.b', 'b1');
    await ps.publish('s.a', 'a2');
    // A new key with the buffer full evicts the oldest one.
    await ps.publish('s.c', 'c1');
    expect([byTopic.lag, byTopic.dropped, byPayload.lag, byPayload.dropped]).toEqual([3, 1, 2, 2]);
    ps.close();
    expect(await drain(ps, byTopic)).toEqual(['a2', 'b1', 'c1']);
    expect(await drain(ps, byPayload)).toEqual(['b1', 'c1']);
  });

  it("'latest' hands a message straight to a waiting reader, and ends with the error of a throwing key", async () => {
    const ps = new PubSub<number>();
    const boom = new Error('key');
    const sub = ps.subscribe('t', {
      overflow: 'latest',
      key: (m) => {
        if (m.payload === 3) throw boom;
        return m.payload;
      },
    });
    const waiting = sub.recv();
    await ps.publish('t', 3);
    expect((await waiting).value?.payload).toBe(3);
    await ps.publish('t', 1);
    expect(await ps.publish('t', 3)).toEqual({ delivered: 0, dropped: 1 });
    expect(ps.subscribers).toBe(0);
    expect((await sub.recv()).value?.payload).toBe(1);
    await expect(sub.recv()).rejects.toBe(boom);
  });

  it('rejects options that do not go together, naming them', () => {
    const ps = new PubSub<number>();
    expect(() => ps.subscribe('t', { blockMs: 5 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => ps.subscribe('t', { overflow: 'block', blockMs: -1 })).toThrow(/blockMs/);
    expect(() => ps.subscribe('t', { key: (m) => m.topic })).toThrow(/`key` needs overflow 'latest'/);
    expect(() => ps.subscribe('t', { overflow: 'latest', key: 1 as never })).toThrow(TypeError);
    expect(() => ps.subscribe('t', { overflow: 'newest' as never })).toThrow(/'latest'/);
    expect(() => ps.subscribe('t', { onOverflow: 'x' as never })).toThrow(TypeError);
    expect(() => new PubSub({ clock: {} as never })).toThrow(/clock/);
    expect(() => new PubSub({ onOverflow: 1 as never })).toThrow(TypeError);
  });

  it('shows its state in util.inspect', async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe(['a', 'b.>'], { buffer: 2, overflow: 'drop-oldest' });
    await ps.publish('a', 1);
    expect(inspect(ps)).toBe('PubSub { subscribers: 1, handlers: 0, closed: false }');
    expect(inspect(sub)).toBe(
      "Subscription {\n  patterns: [ 'a', 'b.>' ],\n  overflow: 'drop-oldest',\n  buffer: 2,\n  lag: 1,\n  dropped: 0,\n  state: 'open'\n}",
    );
  });
});

describe('Subscription.forEach', () => {
  it('calls a synchronous handler with every message in order, never before forEach returns, and resolves on close', async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t');
    await ps.publish('t', 0);
    const seen: number[] = [];
    const done = sub.forEach((m) => {
      seen.push(m.payload);
    });
    expect(seen).toEqual([]);
    for (let i = 1; i < 250; i++) await ps.publish('t', i);
    ps.close();
    await done;
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(sub.lag).toBe(0);
  });

  it('delivers to a handler with buffer 0 as to a waiting receiver', async () => {
    const ps = new PubSub<number>();
    const seen: number[] = [];
    const done = ps.subscribe('t', { buffer: 0 }).forEach((m) => {
      seen.push(m.payload);
    });
    await tick();
    for (let i = 0; i < 5; i++) expect(await ps.publish('t', i)).toEqual({ delivered: 1, dropped: 0 });
    await ps[Symbol.asyncDispose]();
    await done;
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it("holds 'block' publishers back while the handler's promise is pending", async () => {
    using leaks = trackLeaks();
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t', { buffer: 1, overflow: 'block' });
    const gates: ReturnType<typeof deferred<void>>[] = [];
    const seen: number[] = [];
    const done = sub.forEach((m) => {
      seen.push(m.payload);
      const d = deferred();
      gates.push(d);
      return d.promise;
    });
    await tick();
    await ps.publish('t', 1); // taken by the handler
    await tick();
    await ps.publish('t', 2); // buffered
    let third = false;
    const p3 = ps.publish('t', 3).then(() => (third = true));
    await tick();
    expect([seen, sub.lag, third]).toEqual([[1], 1, false]);
    gates[0]!.resolve();
    await tick();
    expect([seen, third]).toEqual([[1, 2], true]);
    await p3;
    gates[1]!.resolve();
    await tick();
    gates[2]!.resolve();
    ps.close();
    await done;
    expect(seen).toEqual([1, 2, 3]);
    expect(leaks.check()).toEqual(clean);
  });

  it('ends the subscription and rejects once when the handler throws or rejects', async () => {
    using leaks = trackLeaks();
    const ps = new PubSub<number>();
    const boom = new Error('boom');
    const sync = ps.subscribe('t');
    const async = ps.subscribe('t');
    const calls = [0, 0];
    const a = sync.forEach((m) => {
      calls[0]!++;
      if (m.payload === 1) throw boom;
    });
    const b = async.forEach(async (m) => {
      calls[1]!++;
      if (m.payload === 1) throw boom;
    });
    for (const n of [0, 1, 2, 3]) await ps.publish('t', n);
    await expect(a).rejects.toBe(boom);
    await expect(b).rejects.toBe(boom);
    expect(calls).toEqual([2, 2]);
    expect(ps.subscribers).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it("yields an 'error' subscription's buffered messages to the handler, then rejects", async () => {
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t', { buffer: 2, overflow: 'error' });
    for (const n of [1, 2, 3]) await ps.publish('t', n);
    const seen: number[] = [];
    await expect(sub.forEach((m) => void seen.push(m.payload))).rejects.toMatchObject({
      code: 'ERR_SUBSCRIBER_OVERFLOW',
    });
    expect(seen).toEqual([1, 2]);
  });

  it('an abort rejects with the reason at once, ends the subscription and leaves nothing behind', async () => {
    using leaks = trackLeaks();
    const ps = new PubSub<number>();
    const sub = ps.subscribe('t');
    const ac = new AbortController();
    const hang = deferred();
    const done = sub.forEach(() => hang.promise, { signal: ac.signal });
    await ps.publish('t', 1);
    await tick();
    ac.abort(new Error('bye'));
    await expect(done).rejects.toThrow('bye');
    expect(ps.subscribers).toBe(0);
    hang.resolve();
    await ps[Symbol.asyncDispose]();
    expect(leaks.check()).toEqual(clean);
  });

  it('rejects an already-aborted signal and a second forEach; a bad handler throws at once', async () => {
    const ps = new PubSub<number>();
    const first = ps.subscribe('t');
    const reason = new Error('early');
    await expect(first.forEach(() => {}, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(ps.subscribers).toBe(0);
    const sub = ps.subscribe('t');
    const running = sub.forEach(() => {});
    await expect(sub.forEach(() => {})).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    expect(() => sub.forEach(1 as never)).toThrow(TypeError);
    sub.unsubscribe();
    await running;
  });

  it('runs each handler in the async context of its forEach caller, not the publisher’s', async () => {
    const als = new AsyncLocalStorage<string>();
    const ps = new PubSub<number>();
    const seen: string[] = [];
    const done = ['a', 'b', 'c'].map((id) =>
      als.run(id, () =>
        ps.subscribe('t', { overflow: 'block', buffer: 2 }).forEach(async (m) => {
          seen.push(`${als.getStore()}${m.payload}`);
          await null;
          seen.push(`${als.getStore()}${m.payload}`);
        }),
      ),
    );
    await als.run('publisher', async () => {
      for (let i = 0; i < 4; i++) await ps.publish('t', i);
    });
    await ps[Symbol.asyncDispose]();
    await Promise.all(done);
    expect(seen.sort()).toEqual(['a', 'b', 'c'].flatMap((id) => [0, 0, 1, 1, 2, 2, 3, 3].map((n) => `${id}${n}`)));
  });

  it('runs a synchronous handler in its forEach caller’s context too, batch after batch', async () => {
    const als = new AsyncLocalStorage<number>();
    const ps = new PubSub<number>();
    const seen = new Map<number, number[]>();
    const done = [1, 2].map((id) =>
      als.run(id, () =>
        ps.subscribe('t', { buffer: 3, overflow: 'block' }).forEach((m) => {
          const store = als.getStore()!;
          seen.set(store, [...(seen.get(store) ?? []), m.payload]);
        }),
      ),
    );
    await als.run(99, async () => {
      for (let i = 0; i < 20; i++) await ps.publish('t', i);
      void ps.publish('t', 20); // not awaited: handled in a batch of its own
    });
    await ps[Symbol.asyncDispose]();
    await Promise.all(done);
    const all = Array.from({ length: 21 }, (_, i) => i);
    expect(Object.fromEntries(seen)).toEqual({ 1: all, 2: all });
  });

  it("conflates under 'latest' while the handler is busy", async () => {
    const ps = new PubSub<{ id: string; v: number }>();
    const seen: string[] = [];
    const gate = deferred<void>();
    const sub = ps.subscribe('s', { overflow: 'latest', key: (m) => m.payload.id });
    const done = sub.forEach(async (m) => {
      seen.push(`${m.payload.id}${m.payload.v}`);
      if (m.payload.v === 0) await gate.promise;
    });
    await ps.publish('s', { id: 'a', v: 0 });
    await tick(); // the handler holds a0
    for (const [id, v] of [
      ['a', 1],
      ['b', 1],
      ['a', 2],
      ['b', 2],
    ] as const)
      await ps.publish('s', { id, v });
    expect([sub.lag, sub.dropped]).toEqual([2, 2]);
    gate.resolve();
    await ps[Symbol.asyncDispose]();
    await done;
    expect(seen).toEqual(['a0', 'a2', 'b2']);
  });

  it('asyncDispose closes the hub and waits for every handler to settle', async () => {
    const ps = new PubSub<number>();
    const d = deferred();
    let finished = false;
    ps.subscribe('t').forEach(async () => {
      await d.promise;
      finished = true;
    });
    await ps.publish('t', 1);
    let disposed = false;
    const disposing = ps[Symbol.asyncDispose]().then(() => (disposed = true));
    expect(ps.closed).toBe(true);
    await tick();
    expect(disposed).toBe(false);
    d.resolve();
    await disposing;
    expect(finished).toBe(true);
  });
});
