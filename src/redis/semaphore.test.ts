import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isWeftError } from 'weftjs';
import { type RedisLock, RedisSemaphore } from 'weftjs/redis';
import { trackLeaks } from 'weftjs/testing';
import { CLIENT_KINDS, connect, type Server, sleep, startServer, stopAll } from '../../test/redis/harness.js';

let server: Server;
beforeAll(async () => {
  server = await startServer();
});
afterAll(stopAll);

const fallbacks: unknown[] = [];
const onFallback = (err: unknown) => fallbacks.push(err);
afterEach(() => {
  expect(fallbacks.splice(0)).toEqual([]);
});

let n = 0;
const fresh = (what: string) => `${what}-${++n}`;
const none = { waiters: 0, timers: 0, listeners: 0, details: [] };

async function keysOf(key: string): Promise<string[]> {
  const out = await server.cli('--scan', '--pattern', `weft:{sem:${key}}:*`);
  return out === '' ? [] : out.split('\n').sort();
}

describe.each(CLIENT_KINDS)('RedisSemaphore on %s', (kind) => {
  let redis: any;
  let other: any;
  beforeAll(async () => {
    redis = await connect(kind, server.url);
    other = await connect(kind, server.url);
  });
  // `here` and `there` stand for two processes: two clients, two instances, one key.
  const pair = (size: number, leaseMs = 3000) => {
    const key = fresh('sem');
    return {
      key,
      here: new RedisSemaphore({ redis, key, size, leaseMs, onFallback }),
      there: new RedisSemaphore({ redis: other, key, size, leaseMs, onFallback }),
    };
  };

  it('grants at once when free, each grant with a fencing token larger than the one before', async () => {
    const { here, there } = pair(3);
    const a = await here.acquire();
    const b = await there.acquire(2);
    expect([a.weight, b.weight]).toEqual([1, 2]);
    expect(b.fencingToken).toBeGreaterThan(a.fencingToken);
    await a.release();
    const c = await here.acquire();
    expect(c.fencingToken).toBeGreaterThan(b.fencingToken);
    expect(Number.isSafeInteger(c.fencingToken)).toBe(true);
    await Promise.all([b.release(), c.release()]);
  });

  it('holds at most size across instances; a release hands the weight to the other instance waiting', async () => {
    const { here, there } = pair(2);
    const held = await here.acquire(2);
    expect(await there.tryAcquire()).toBeUndefined();
    let got: RedisLock | undefined;
    const waiting = there.acquire().then((l) => (got = l));
    await sleep(30);
    expect(got).toBeUndefined();
    expect(there.waiting).toBe(1);
    await held.release();
    const lock = await waiting;
    expect(lock.fencingToken).toBeGreaterThan(held.fencingToken);
    expect([there.waiting, there.held]).toEqual([0, 1]);
    await lock.release();
  });

  it('serves waiters first-in first-out across instances: a large waiter holds back smaller ones', async () => {
    const { here, there } = pair(10);
    const first = await here.acquire(6);
    const order: string[] = [];
    const big = there.acquire(10).then(async (l) => {
      order.push('big');
      await l.release();
    });
    await sleep(20);
    const small = here.acquire(1).then(async (l) => {
      order.push('small');
      await l.release();
    });
    await sleep(20);
    expect(await there.tryAcquire(1)).toBeUndefined();
    await first.release();
    await Promise.all([big, small]);
    expect(order).toEqual(['big', 'small']);
  });

  it('an aborted waiter leaves the Redis queue; the one behind it is then served if it fits', async () => {
    const { key, here, there } = pair(3);
    const held = await here.acquire(2);
    const ac = new AbortController();
    const reason = new Error('too slow');
    const head = there.acquire(2, { signal: ac.signal });
    await sleep(20);
    let got = false;
    const behind = here.acquire(1).then((l) => {
      got = true;
      return l;
    });
    await sleep(20);
    expect(got).toBe(false); // it fits, but the head waits first
    expect(await server.cli('zcard', `weft:{sem:${key}}:queue`)).toBe('2');
    ac.abort(reason);
    await expect(head).rejects.toBe(reason);
    const lock = await behind;
    expect(await server.cli('zcard', `weft:{sem:${key}}:queue`)).toBe('0');
    await Promise.all([lock.release(), held.release()]);
  });

  it('leaves nothing behind: no key in Redis, no timer, no listener, after grants, releases and aborts', async () => {
    using leaks = trackLeaks();
    const { key, here, there } = pair(1, 600);
    const ac = new AbortController();
    const held = await here.acquire(1, { signal: ac.signal });
    const aborted = there.acquire(1, { signal: ac.signal });
    const served = here.acquire(1, { signal: new AbortController().signal });
    await sleep(250); // past a renewal
    expect(leaks.check().listeners).toBeGreaterThan(0);
    ac.abort(new Error('stop'));
    await aborted.catch(() => {});
    await held.release();
    await (await served).release();
    expect(leaks.check()).toEqual(none);
    expect(await keysOf(key)).toEqual([]);
  });

  it('an already-aborted signal rejects at once without asking Redis', async () => {
    const { here } = pair(1);
    const reason = new Error('already');
    await expect(here.acquire(1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(here.run(() => 1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(here.waiting).toBe(0);
  });

  it('release is idempotent; using releases without waiting, await using waits for Redis', async () => {
    const { key, here } = pair(1);
    const lock = await here.acquire();
    const p1 = lock.release();
    expect(lock.release()).toBe(p1);
    await p1;
    {
      await using second = await here.acquire();
      expect(await server.cli('zcard', `weft:{sem:${key}}:holders`)).toBe('1');
      expect(second.signal.aborted).toBe(false);
    }
    expect(await keysOf(key)).toEqual([]);
    {
      using _third = await here.acquire();
    }
    expect((await here.acquire()).weight).toBe(1);
  });

  it('run gives fn the lock signal and the lock, and releases however fn ends', async () => {
    const { key, here } = pair(2);
    const seen = await here.run((signal, lock) => [signal === lock.signal, lock.weight], { weight: 2 });
    expect(seen).toEqual([true, 2]);
    await expect(
      here.run(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(here.run(() => Promise.reject(new Error('late boom')), { weight: 2 })).rejects.toThrow('late boom');
    expect(await keysOf(key)).toEqual([]);
  });

  it('run calls fn in the async context of its caller, also when the grant came by pub/sub', async () => {
    const als = new AsyncLocalStorage<string>();
    const { here, there } = pair(1);
    const held = await there.acquire();
    const result = als.run('request-7', () => here.run(() => als.getStore()));
    await sleep(30);
    expect(here.waiting).toBe(1);
    await held.release();
    expect(await result).toBe('request-7');
  });

  it('100 concurrent runs on a size of 3 never hold more than 3 at once, and all complete', async () => {
    const { here, there } = pair(3);
    let running = 0;
    let peak = 0;
    const work = async () => {
      peak = Math.max(peak, ++running);
      await sleep(1);
      running--;
    };
    await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? here : there).run(work)));
    expect(peak).toBe(3);
    expect(running).toBe(0);
  });

  it('renews a held lease: it outlives leaseMs, and its signal stays quiet', async () => {
    const { key, here, there } = pair(1, 300);
    const lock = await here.acquire();
    await sleep(900);
    expect(lock.signal.aborted).toBe(false);
    expect(await there.tryAcquire()).toBeUndefined();
    expect(Number(await server.cli('zcard', `weft:{sem:${key}}:holders`))).toBe(1);
    await lock.release();
    expect((await there.tryAcquire())?.weight).toBe(1);
  });

  it('a lease that Redis lost aborts the lock signal with ERR_LEASE_LOST at the next renewal', async () => {
    const { key, here } = pair(1, 300);
    const lock = await here.acquire();
    await server.cli('del', `weft:{sem:${key}}:holders`);
    const reason = await new Promise<any>((resolve) =>
      lock.signal.addEventListener('abort', () => resolve(lock.signal.reason)),
    );
    expect(reason).toMatchObject({ name: 'LeaseLostError', code: 'ERR_LEASE_LOST' });
    expect(isWeftError(reason, 'ERR_LEASE_LOST')).toBe(true);
    expect(reason.message).toMatch(/expired in Redis/);
    await lock.release();
    expect(here.held).toBe(0);
  });

  it('fencing tokens keep increasing when the keys are deleted or the data is flushed', async () => {
    const { key, here } = pair(1);
    const a = await here.acquire();
    await a.release();
    expect(await keysOf(key)).toEqual([]);
    const b = await here.acquire();
    await server.cli('flushall');
    const c = await here.acquire();
    expect(b.fencingToken).toBeGreaterThan(a.fencingToken);
    expect(c.fencingToken).toBeGreaterThan(b.fencingToken);
    await b.release();
    await c.release();
  });

  it('after SCRIPT FLUSH acquire, wait and release keep working, with no fallback', async () => {
    const { here, there } = pair(1);
    const a = await here.acquire();
    await server.cli('script', 'flush');
    const waiting = there.acquire();
    await sleep(20);
    await server.cli('script', 'flush');
    await a.release();
    await (await waiting).release();
  });

  it('weight 0 is granted without taking anything; weight above size rejects with RangeError', async () => {
    const { here } = pair(2);
    const all = await here.acquire(2);
    const zero = await here.acquire(0);
    expect(zero.weight).toBe(0);
    await expect(here.acquire(3)).rejects.toThrow(RangeError);
    await expect(here.run(() => 1, { weight: 3 })).rejects.toThrow(RangeError);
    expect(await here.tryAcquire(3)).toBeUndefined();
    await Promise.all([all.release(), zero.release()]);
  });

  it('throws at once on a bad weight, signal or fn', () => {
    const { here } = pair(2);
    expect(() => here.acquire(1.5)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => here.acquire(-1)).toThrow(RangeError);
    expect(() => here.tryAcquire('1' as never)).toThrow(TypeError);
    expect(() => here.acquire(1, { signal: {} as never })).toThrow(TypeError);
    expect(() => here.run('fn' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => here.run(() => 1, { weight: 0.5 })).toThrow(RangeError);
  });
});

describe('RedisSemaphore rejects bad options at construction', () => {
  it('names the option and the value it got', async () => {
    const redis = await connect('ioredis', server.url);
    const ok = { redis, key: 'k', size: 2 };
    expect(() => new RedisSemaphore({ ...ok, size: 0 })).toThrow(
      /RedisSemaphore: `size` must be an integer >= 1, got 0/,
    );
    expect(() => new RedisSemaphore({ ...ok, size: 1.5 })).toThrow(RangeError);
    expect(() => new RedisSemaphore({ ...ok, leaseMs: 29 })).toThrow(/`leaseMs` must be an integer from 30/);
    expect(() => new RedisSemaphore({ ...ok, key: '' })).toThrow(/`key` must be a non-empty string/);
    expect(() => new RedisSemaphore({ ...ok, onRedisError: 'open' as never })).toThrow(/`onRedisError`/);
    expect(() => new RedisSemaphore({ ...ok, redis: 'redis://x' as never })).toThrow(/`redis` must be/);
    const s = new RedisSemaphore(ok);
    expect([s.key, s.size, s.leaseMs, s.waiting, s.held]).toEqual(['k', 2, 10_000, 0, 0]);
  });
});
