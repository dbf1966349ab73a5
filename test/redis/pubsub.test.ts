/**
 * RedisPubSub on a real redis-server, with both clients: topics and
 * patterns across connections, the subscriber-side overflow policies, what
 * at-most-once means (nothing before the subscription, nothing while
 * disconnected), listening again after Redis restarts, and bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisPubSub } from 'weftjs/redis';
import { trackLeaks } from 'weftjs/testing';
import { CLIENT_KINDS, connect, type Server, sleep, startServer, stopAll, until } from './harness.js';

let server: Server;
beforeAll(async () => {
  server = await startServer();
});
afterAll(stopAll);

let n = 0;
const fresh = (what: string) => `${what}-${++n}`;

async function take<M>(sub: AsyncIterable<{ topic: string; payload: M }>, count: number): Promise<[string, M][]> {
  const out: [string, M][] = [];
  if (count === 0) return out;
  for await (const m of sub) {
    out.push([m.topic, m.payload]);
    if (out.length === count) break;
  }
  return out;
}

describe.each(CLIENT_KINDS)('RedisPubSub on %s', (kind) => {
  let a: any;
  let b: any;
  beforeAll(async () => {
    a = await connect(kind, server.url);
    b = await connect(kind, server.url);
  });

  it('delivers to matching subscriptions of every process on the bus, its own included, once each', async () => {
    const name = fresh('bus');
    const pub = new RedisPubSub<{ n: number }>({ redis: a, name });
    const sub = new RedisPubSub<{ n: number }>({ redis: b, name });
    const other = new RedisPubSub<{ n: number }>({ redis: b, name: fresh('elsewhere') });
    const eu = sub.subscribe(['orders.eu.*', 'orders.>']); // both match orders.eu.new: delivered once
    const all = sub.subscribe('>');
    const mine = pub.subscribe('orders.us.*');
    const elsewhere = other.subscribe('>');
    await Promise.all([sub.ready(), pub.ready(), other.ready()]);
    expect(sub.subscribers).toBe(2);
    expect(await pub.publish('orders.eu.new', { n: 1 })).toEqual({ delivered: 2, dropped: 0 });
    await pub.publish('orders.us.new', { n: 2 });
    await pub.publish('invoices.new', { n: 3 });
    await pub.publish('orders', { n: 4 });
    expect(await take(eu, 2)).toEqual([
      ['orders.eu.new', { n: 1 }],
      ['orders.us.new', { n: 2 }],
    ]);
    expect((await take(all, 4)).map(([t]) => t)).toEqual(['orders.eu.new', 'orders.us.new', 'invoices.new', 'orders']);
    expect(await take(mine, 1)).toEqual([['orders.us.new', { n: 2 }]]);
    await sleep(20);
    expect(elsewhere.dropped).toBe(0);
    const none = await Promise.race([elsewhere.recv(), sleep(30).then(() => 'nothing')]);
    expect(none).toBe('nothing');
    for (const bus of [pub, sub, other]) bus.close();
  });

  it('is at most once: nothing published before the subscription is in place reaches it', async () => {
    const name = fresh('late');
    const pub = new RedisPubSub<number>({ redis: a, name });
    const sub = new RedisPubSub<number>({ redis: b, name });
    expect(await pub.publish('t', 1)).toEqual({ delivered: 0, dropped: 0 });
    const s = sub.subscribe('t');
    await sub.ready();
    await pub.publish('t', 2);
    expect(await take(s, 1)).toEqual([['t', 2]]);
    pub.close();
    sub.close();
  });

  it('applies each overflow policy in the subscribing process', async () => {
    const name = fresh('overflow');
    const pub = new RedisPubSub<number>({ redis: a, name });
    const sub = new RedisPubSub<number>({ redis: b, name });
    const newest = sub.subscribe('x', { buffer: 2, overflow: 'drop-newest' });
    const oldest = sub.subscribe('x', { buffer: 2, overflow: 'drop-oldest' });
    const failing = sub.subscribe('x', { buffer: 2, overflow: 'error' });
    const roomy = sub.subscribe('x', { buffer: 10 });
    await sub.ready();
    for (let i = 1; i <= 5; i++) await pub.publish('x', i);
    await until(() => newest.dropped === 3 && oldest.dropped === 3);
    expect((await take(newest, 2)).map((m) => m[1])).toEqual([1, 2]);
    expect((await take(oldest, 2)).map((m) => m[1])).toEqual([4, 5]);
    expect((await take(roomy, 5)).map((m) => m[1])).toEqual([1, 2, 3, 4, 5]);
    expect(await failing.recv()).toMatchObject({ value: { payload: 1 } });
    expect(await failing.recv()).toMatchObject({ value: { payload: 2 } });
    const err = await failing.recv().catch((e) => e);
    expect(err.code).toBe('ERR_SUBSCRIBER_OVERFLOW');
    pub.close();
    sub.close();
  });

  it('listens again by itself after Redis restarts; what was published meanwhile is lost', async () => {
    const own = await startServer();
    const pc = await connect(kind, own.url);
    const sc = await connect(kind, own.url);
    const pub = new RedisPubSub<number>({ redis: pc, name: 'restart', timeoutMs: 300 });
    const sub = new RedisPubSub<number>({ redis: sc, name: 'restart' });
    const s = sub.subscribe('t');
    await sub.ready();
    await pub.publish('t', 1);
    expect((await s.recv()).value?.payload).toBe(1);
    await own.restart();
    // Published until the subscriber is back: each publish says how many listened.
    let i = 2;
    await until(async () => {
      try {
        return (await pub.publish('t', i++)).delivered === 1;
      } catch {
        return false;
      }
    });
    expect((await s.recv()).value?.payload).toBe(i - 1);
    pub.close();
    sub.close();
    await own.stop();
  });

  it('close() leaves the channel and ends subscriptions once drained; later calls fail', async () => {
    const name = fresh('close');
    const pub = new RedisPubSub<string>({ redis: a, name });
    const sub = new RedisPubSub<string>({ redis: b, name });
    const s = sub.subscribe('t');
    await sub.ready();
    await pub.publish('t', 'last');
    await until(async () => (await s.recv().then((r) => r.value?.payload)) === 'last');
    await pub.publish('t', 'buffered');
    await sleep(20);
    sub.close();
    expect((await s.recv()).value?.payload).toBe('buffered');
    expect((await s.recv()).done).toBe(true);
    await until(async () => (await pub.publish('t', 'x')).delivered === 0);
    const err = await sub.publish('t', 'y').catch((e) => e);
    expect(err.code).toBe('ERR_PUBSUB_CLOSED');
    expect(() => sub.subscribe('t')).toThrow(expect.objectContaining({ code: 'ERR_PUBSUB_CLOSED' }));
    await sub.ready(); // resolves at once once closed
    pub.close();
  });

  it('drops a message it cannot read and tells onError', async () => {
    const name = fresh('garbage');
    const errors: unknown[] = [];
    const sub = new RedisPubSub<number>({ redis: b, name, onError: (e) => errors.push(e) });
    const s = sub.subscribe('t');
    await sub.ready();
    const channel = `weft:{pubsub:${name}}`;
    await a.publish(channel, 'no format');
    const pub = new RedisPubSub<number>({ redis: a, name });
    await pub.publish('t', 1);
    expect(await take(s, 1)).toEqual([['t', 1]]);
    expect(errors).toHaveLength(1);
    pub.close();
    sub.close();
  });

  it('a subscription ended by its signal, a ready() wait and a closed bus leave no listener or timer', async () => {
    using leaks = trackLeaks();
    const name = fresh('leaks');
    const bus = new RedisPubSub<number>({ redis: b, name });
    const ac = new AbortController();
    const s = bus.subscribe('t', { signal: ac.signal });
    await bus.ready({ signal: ac.signal });
    const recv = new AbortController();
    const pending = s.recv({ signal: recv.signal });
    recv.abort(new Error('gave up'));
    await expect(pending).rejects.toThrow('gave up');
    ac.abort();
    expect(bus.subscribers).toBe(0);
    expect((await s.recv()).done).toBe(true);
    await expect(bus.ready({ signal: AbortSignal.abort(new Error('early')) })).rejects.toThrow('early');
    bus.close();
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('rejects bad input synchronously', () => {
    const bus = new RedisPubSub<any>({ redis: a, name: fresh('bad') });
    expect(() => bus.subscribe('t', { overflow: 'block' as never })).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => bus.subscribe('')).toThrow(TypeError);
    expect(() => bus.publish('a.*', 1)).toThrow(TypeError);
    expect(() => bus.publish('a..b', 1)).toThrow(TypeError);
    expect(() => bus.publish('a', 10n)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => new RedisPubSub({ redis: a, name: '' })).toThrow(TypeError);
    expect(() => new RedisPubSub({ redis: {} as never })).toThrow(TypeError);
    bus.close();
  });
});
