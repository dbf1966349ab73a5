import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeyedRateLimiter, RedisRateLimiter } from 'weftjs/redis';
import { trackLeaks } from 'weftjs/testing';
import { CLIENT_KINDS, connect, type Server, sleep, startServer, stopAll } from '../../test/redis/harness.js';

let server: Server;
beforeAll(async () => {
  server = await startServer();
});
afterAll(stopAll);

// Every limiter here reports its fallbacks: a test passes only if Redis decided every call.
const fallbacks: unknown[] = [];
const onFallback = (err: unknown) => fallbacks.push(err);
afterEach(() => {
  expect(fallbacks.splice(0)).toEqual([]);
});

let n = 0;
const fresh = (what: string) => `${what}-${++n}`;

/** How many scripts the server ran so far (EVALSHA and EVAL). */
async function scriptCalls(): Promise<number> {
  const stats = await server.cli('info', 'commandstats');
  let total = 0;
  for (const m of stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) total += Number(m[1]);
  return total;
}

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };

describe.each(CLIENT_KINDS)('RedisRateLimiter on %s', (kind) => {
  let redis: any;
  beforeAll(async () => {
    redis = await connect(kind, server.url);
  });
  const limiter = (key: string, rate: number, burst: number, extra: object = {}) =>
    new RedisRateLimiter({ redis, key, rate, burst, onFallback, ...extra });

  it('admits the burst, then refuses until the rate brings a token back', async () => {
    const lim = limiter(fresh('burst'), 20, 3);
    const first = [];
    for (let i = 0; i < 4; i++) first.push(await lim.allow());
    expect(first).toEqual([true, true, true, false]);
    await sleep(60);
    expect(await lim.allow()).toBe(true);
    expect(await lim.allow()).toBe(false);
  });

  it('two limiters with one key (two processes) share one bucket', async () => {
    const key = fresh('shared');
    const other = await connect(kind, server.url);
    const a = limiter(key, 1, 2);
    const b = new RedisRateLimiter({ redis: other, key, rate: 1, burst: 2, onFallback });
    expect([await a.allow(), await b.allow(), await a.allow(), await b.allow()]).toEqual([true, true, false, false]);
  });

  it('keeps the bucket in <prefix>:{rate:<key>}:tat, which expires once the bucket is full again', async () => {
    const key = fresh('layout');
    const lim = limiter(key, 10, 2);
    await lim.allow(2);
    const ttl = Number(await server.cli('pttl', `weft:{rate:${key}}:tat`));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(200);
    await sleep(ttl + 20);
    expect(await server.cli('exists', `weft:{rate:${key}}:tat`)).toBe('0');
    await limiter(key, 10, 2, { prefix: 'app' }).allow();
    expect(await server.cli('exists', `app:{rate:${key}}:tat`)).toBe('1');
  });

  it('answers allow(0), n above the burst and rate Infinity without a round trip', async () => {
    const before = await scriptCalls();
    const lim = limiter(fresh('local'), 5, 2);
    expect(await lim.allow(0)).toBe(true);
    expect(await lim.allow(3)).toBe(false);
    expect((await lim.reserve(3)).ok).toBe(false);
    const open = limiter(fresh('open'), Number.POSITIVE_INFINITY, 0);
    expect(await Promise.all([open.allow(), open.allow(100), open.wait(5)])).toEqual([true, true, undefined]);
    expect((await open.reserve(7)).delay).toBe(0);
    expect(await scriptCalls()).toBe(before);
  });

  it('rate 0 grants the initial burst once; wait then rejects with ERR_RATE_LIMIT_EXCEEDED', async () => {
    const lim = limiter(fresh('zero'), 0, 3);
    expect(await lim.allow(2)).toBe(true);
    expect(await lim.allow(2)).toBe(false);
    await lim.wait(1);
    expect(await lim.wait(1).catch((e) => e.code)).toBe('ERR_RATE_LIMIT_EXCEEDED');
    expect((await lim.reserve()).ok).toBe(false);
  });

  it('decides the allow() calls of one tick in one script, in call order', async () => {
    const lim = limiter(fresh('batch'), 0.001, 3);
    const before = await scriptCalls();
    expect(await Promise.all([lim.allow(2), lim.allow(2), lim.allow(1), lim.allow(1)])).toEqual([
      true,
      false,
      true,
      false,
    ]);
    expect(await scriptCalls()).toBe(before + 1);
    // A batch holds at most 512 calls: 1,100 take three scripts.
    const big = limiter(fresh('big-batch'), 0.001, 1000);
    const before2 = await scriptCalls();
    const many = await Promise.all(Array.from({ length: 1100 }, () => big.allow()));
    expect(await scriptCalls()).toBe(before2 + 3);
    expect(many.filter(Boolean)).toHaveLength(1000);
    expect(many.slice(0, 1000).every(Boolean)).toBe(true);
  });

  it('200 concurrent allow() calls admit exactly the burst', async () => {
    const lim = limiter(fresh('concurrent'), 0.001, 50);
    const answers = await Promise.all(Array.from({ length: 200 }, () => lim.allow()));
    expect(answers.filter(Boolean)).toHaveLength(50);
  });

  it('wait spaces calls of two limiters (two processes) out at the rate', async () => {
    const key = fresh('spaced');
    const other = await connect(kind, server.url);
    const a = limiter(key, 20, 1);
    const b = new RedisRateLimiter({ redis: other, key, rate: 20, burst: 1, onFallback });
    const start = performance.now();
    const times = await Promise.all(
      [a.wait(), b.wait(), a.wait(), b.wait()].map((p) => p.then(() => performance.now() - start)),
    );
    times.sort((x, y) => x - y);
    // One token at once, then one every 50 ms.
    expect(times[3]!).toBeGreaterThanOrEqual(140);
    expect(times[3]!).toBeLessThan(1500);
  });

  it('a large wait is not overtaken by a smaller one made after it', async () => {
    const lim = limiter(fresh('order'), 50, 3);
    await lim.allow(3);
    const order: string[] = [];
    const big = lim.wait(3).then(() => order.push('big'));
    await sleep(5);
    const small = lim.wait(1).then(() => order.push('small'));
    await Promise.all([big, small]);
    expect(order).toEqual(['big', 'small']);
  });

  it('an aborted wait rejects with the reason, gives its tokens back and leaves no timer or listener', async () => {
    using leaks = trackLeaks();
    const lim = limiter(fresh('abort'), 2, 1);
    expect(await lim.allow()).toBe(true);
    const ac = new AbortController();
    const reason = new Error('gave up');
    const wait = lim.wait(1, { signal: ac.signal });
    await sleep(50);
    expect(leaks.check().timers).toBeGreaterThan(0);
    ac.abort(reason);
    await expect(wait).rejects.toBe(reason);
    expect(leaks.check()).toEqual(none);
    // Its token came back: the next one is due in under 500 ms, not in about 950.
    const next = await lim.reserve();
    expect(next.delay).toBeLessThan(700);
    await next.cancel();
  });

  it('an already-aborted signal rejects at once and takes nothing', async () => {
    const lim = limiter(fresh('aborted'), 1, 1);
    const before = await scriptCalls();
    const reason = new Error('already');
    await expect(lim.wait(1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(await scriptCalls()).toBe(before);
    expect(await lim.allow()).toBe(true);
  });

  it('waits that complete leave no timer or listener on their signal', async () => {
    using leaks = trackLeaks();
    const lim = limiter(fresh('complete'), 100, 1);
    const ac = new AbortController();
    await Promise.all(Array.from({ length: 5 }, () => lim.wait(1, { signal: ac.signal })));
    expect(leaks.check()).toEqual(none);
  });

  it('reserve takes the tokens into debt; cancel gives back those no later reservation counts on', async () => {
    const lim = limiter(fresh('reserve'), 10, 2);
    expect((await lim.reserve(2)).delay).toBe(0);
    const r1 = await lim.reserve(2);
    expect(r1.delay).toBeGreaterThan(150);
    expect(r1.delay).toBeLessThanOrEqual(200);
    const r2 = await lim.reserve(1);
    expect(r2.delay).toBeGreaterThan(250);
    await r1.cancel(); // r2 counts on r1's tokens: at most 1 of r1's 2 comes back
    const r3 = await lim.reserve(1);
    expect(r3.delay).toBeGreaterThan(250);
    await r3.cancel();
    await r2.cancel();
    // Left reserved: the first 2 tokens and 1 of r1's; r4 is due after 3 + 1 - 2 tokens.
    const r4 = await lim.reserve(1);
    expect(r4.delay).toBeGreaterThan(100);
    expect(r4.delay).toBeLessThan(250);
  });

  it('cancel of a reservation that is due does nothing', async () => {
    const lim = limiter(fresh('due'), 1, 1);
    const r = await lim.reserve();
    expect(r.delay).toBe(0);
    await r.cancel();
    expect(await lim.allow()).toBe(false);
  });

  it('after SCRIPT FLUSH the next call loads the script again, with no fallback', async () => {
    const lim = limiter(fresh('flush'), 1, 2);
    expect(await lim.allow()).toBe(true);
    await server.cli('script', 'flush');
    expect(await lim.allow()).toBe(true);
    expect(await lim.allow()).toBe(false);
  });

  it('wait(n) above the burst throws a RangeError at once; bad n throws', () => {
    const lim = limiter(fresh('range'), 1, 2);
    expect(() => lim.wait(3)).toThrow(RangeError);
    expect(() => lim.allow(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => lim.allow(1.5)).toThrow(RangeError);
    expect(() => lim.reserve('1' as never)).toThrow(TypeError);
    expect(() => lim.wait(1, { signal: 'no' as never })).toThrow(TypeError);
  });
});

describe.each(CLIENT_KINDS)('RedisKeyedRateLimiter on %s', (kind) => {
  let redis: any;
  beforeAll(async () => {
    redis = await connect(kind, server.url);
  });

  it('gives each key a bucket of its own, in its own slot-tagged key', async () => {
    const name = fresh('users');
    const lim = new RedisKeyedRateLimiter({ redis, name, rate: 1, burst: 2, onFallback });
    expect([await lim.allow('ann'), await lim.allow('ann'), await lim.allow('ann')]).toEqual([true, true, false]);
    expect(await lim.allow('bob', 2)).toBe(true);
    expect(await server.cli('exists', `weft:{keyedrate:${name}:ann}:tat`)).toBe('1');
    expect(await server.cli('exists', `weft:{keyedrate:${name}:bob}:tat`)).toBe('1');
  });

  it('waits per key: a key in debt does not hold back another', async () => {
    const lim = new RedisKeyedRateLimiter({ redis, name: fresh('tenants'), rate: 5, burst: 1, onFallback });
    await lim.wait('acme');
    const ac = new AbortController();
    const acme = lim.wait('acme', 1, { signal: ac.signal });
    await lim.wait('globex');
    expect(await lim.allow('globex')).toBe(false);
    ac.abort(new Error('stop'));
    await expect(acme).rejects.toThrow('stop');
  });

  it('many keys at once: each admits its burst exactly', async () => {
    const lim = new RedisKeyedRateLimiter({ redis, name: fresh('many'), rate: 0.001, burst: 3, onFallback });
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    const answers = await Promise.all(keys.flatMap((k) => [1, 2, 3, 4, 5].map(() => lim.allow(k))));
    expect(answers.filter(Boolean)).toHaveLength(60);
  });

  it('throws on a key that is not a string, and on n out of range', () => {
    const lim = new RedisKeyedRateLimiter({ redis, name: fresh('bad'), rate: 1, burst: 1 });
    expect(() => lim.allow(5 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => lim.wait('k', 2)).toThrow(RangeError);
    expect(() => lim.allow('k', -1)).toThrow(RangeError);
  });
});

describe('the rate limiters reject bad options at construction', () => {
  it('names the option and the value it got', async () => {
    const redis = await connect('node-redis', server.url);
    const ok = { redis, key: 'k', rate: 1, burst: 1 };
    const cases: [object, string, RegExp][] = [
      [{ ...ok, rate: -1 }, 'ERR_OUT_OF_RANGE', /`rate` must be a number >= 0, got -1/],
      [{ ...ok, rate: Number.NaN }, 'ERR_OUT_OF_RANGE', /`rate`/],
      [{ ...ok, rate: '5' }, 'ERR_INVALID_ARG_TYPE', /`rate` must be a number, got "5"/],
      [{ ...ok, burst: 1.5 }, 'ERR_OUT_OF_RANGE', /`burst` must be an integer >= 0, got 1.5/],
      [{ ...ok, burst: -1 }, 'ERR_OUT_OF_RANGE', /`burst`/],
      [{ ...ok, key: '' }, 'ERR_INVALID_ARG_VALUE', /`key` must be a non-empty string/],
      [{ ...ok, key: 7 }, 'ERR_INVALID_ARG_TYPE', /`key` must be a string, got 7/],
      [{ ...ok, prefix: '' }, 'ERR_INVALID_ARG_VALUE', /`prefix`/],
      [
        { ...ok, onRedisError: 'retry' },
        'ERR_INVALID_ARG_VALUE',
        /`onRedisError` must be one of 'fail-open', 'fail-closed', 'local', got "retry"/,
      ],
      [{ ...ok, timeoutMs: 0 }, 'ERR_OUT_OF_RANGE', /`timeoutMs` must be an integer from 1/],
      [{ ...ok, onFallback: 1 }, 'ERR_INVALID_ARG_TYPE', /`onFallback` must be a function/],
      [{ ...ok, redis: {} }, 'ERR_INVALID_ARG_TYPE', /`redis` must be a node-redis client or cluster .* got an object/],
      [{ ...ok, redis: null }, 'ERR_INVALID_ARG_TYPE', /`redis`.*got null/],
    ];
    for (const [opts, code, message] of cases) {
      let err: any;
      try {
        new RedisRateLimiter(opts as never);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(Object.keys(opts))).toMatchObject({ code });
      expect(err.message).toMatch(/^RedisRateLimiter: /);
      expect(err.message).toMatch(message);
    }
    expect(() => new RedisRateLimiter(undefined as never)).toThrow(TypeError);
    expect(() => new RedisKeyedRateLimiter({ redis, name: 'n', rate: 1, burst: 1, maxLocalKeys: 0 })).toThrow(
      RangeError,
    );
    expect(() => new RedisKeyedRateLimiter({ redis, name: '', rate: 1, burst: 1 })).toThrow(/`name`/);
  });

  it('refuses a client that is not connected: node-redis before connect(), after close(); ioredis after quit()', async () => {
    const { createClient } = await import('redis');
    const { Redis } = await import('ioredis');
    const never = createClient({ url: server.url });
    expect(() => new RedisRateLimiter({ redis: never, key: 'k', rate: 1, burst: 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/not connected/) }),
    );
    const closed = await createClient({ url: server.url }).connect();
    await closed.close();
    expect(() => new RedisRateLimiter({ redis: closed, key: 'k', rate: 1, burst: 1 })).toThrow(/not connected/);
    const io = new Redis(server.url);
    const ended = new Promise((resolve) => io.once('end', resolve));
    await io.quit();
    await ended;
    expect(() => new RedisRateLimiter({ redis: io, key: 'k', rate: 1, burst: 1 })).toThrow(/not connected/);
  });
});
