/**
 * weft/redis across real processes (test/redis/fixtures/worker.ts), with
 * node-redis and ioredis side by side on one server: a shared rate limit
 * holds its bound, a shared semaphore never has more holders than its size
 * and hands out increasing fencing tokens, and the leases of processes that
 * die or stop come back after `leaseMs`, no sooner.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisSemaphore } from 'weftjs/redis';
import { type Child, connect, fixture, type Server, sleep, startServer, stopAll } from './harness.js';

let server: Server;
let redis: any;
beforeAll(async () => {
  server = await startServer();
  redis = await connect('node-redis', server.url);
});
afterAll(stopAll);

const children: Child[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill();
});

function worker(...args: (string | number)[]): Child {
  const c = fixture('worker.ts', args.map(String));
  children.push(c);
  return c;
}

/** Redis's clock, in milliseconds. */
async function serverTime(): Promise<number> {
  const [s, us] = (await server.cli('time')).split('\n').map(Number);
  return s! * 1000 + us! / 1000;
}

async function go(key: string, all: Child[]): Promise<number> {
  await Promise.all(all.map((c) => c.line(/^ready$/)));
  const t0 = await serverTime();
  await redis.rPush(
    `${key}:go`,
    all.map(() => '1'),
  );
  return t0;
}

function fallbacks(all: Child[]): string[] {
  return all.flatMap((c) => c.lines.filter((l) => l.startsWith('fallback')));
}

describe('weft/redis across processes', { timeout: 60_000 }, () => {
  it('four processes sharing one limiter admit at most burst + rate * t in all', async () => {
    const key = 'proc:limit';
    const [rate, burst, ms] = [40, 10, 2000];
    const all = [
      worker('limit', server.url, 'node-redis', key, rate, burst, ms, 'allow'),
      worker('limit', server.url, 'ioredis', key, rate, burst, ms, 'allow'),
      worker('limit', server.url, 'node-redis', key, rate, burst, ms, 'wait'),
      worker('limit', server.url, 'ioredis', key, rate, burst, ms, 'wait'),
    ];
    const t0 = await go(key, all);
    const done = await Promise.all(all.map((c) => c.line(/^done \d+$/, 30_000)));
    const t1 = await serverTime();
    const admitted = Number(await redis.get(`${key}:admitted`));
    expect(done.reduce((sum, l) => sum + Number(l.split(' ')[1]), 0)).toBe(admitted);
    expect(admitted).toBeLessThanOrEqual(Math.floor(burst + (rate * (t1 - t0)) / 1000));
    // Not starved either: the processes ran for `ms` each, together.
    expect(admitted).toBeGreaterThanOrEqual(burst + (rate * ms * 0.8) / 1000);
    expect(fallbacks(all)).toEqual([]);
  });

  it('four processes contending for a semaphore of 2 never have more than 2 holders', async () => {
    const key = 'proc:sem';
    const all = ['node-redis', 'ioredis', 'node-redis', 'ioredis'].map((k) =>
      worker('contend', server.url, k, key, 2, 2000),
    );
    await go(key, all);
    const done = await Promise.all(all.map((c) => c.line(/^done /, 30_000)));
    expect(await redis.get(`${key}:violations`)).toBeNull();
    expect(await redis.get(`${key}:holding`)).toBe('0');
    const tokens = (await redis.lRange(`${key}:tokens`, 0, -1)).map(Number);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(tokens.length).toBeGreaterThan(40);
    expect(done.every((l) => l.endsWith(' increasing'))).toBe(true);
    expect(fallbacks(all)).toEqual([]);
    expect(await server.cli('--scan', '--pattern', 'weft:{sem:proc:sem}:*')).toBe('');
  });

  it('with a size of 1, the fencing tokens of successive holders strictly increase', async () => {
    const key = 'proc:mutex';
    const all = ['node-redis', 'ioredis', 'ioredis'].map((k) => worker('contend', server.url, k, key, 1, 1500));
    await go(key, all);
    await Promise.all(all.map((c) => c.line(/^done /, 30_000)));
    const tokens = (await redis.lRange(`${key}:tokens`, 0, -1)).map(Number);
    expect(tokens.length).toBeGreaterThan(20);
    expect(tokens.every((t: number, i: number) => i === 0 || t > tokens[i - 1]!)).toBe(true);
    expect(await redis.get(`${key}:violations`)).toBeNull();
  });

  it('a holder SIGKILLed before renewing gives its weight back leaseMs after its grant, no sooner', async () => {
    const key = 'proc:kill';
    const holder = worker('hold', server.url, 'ioredis', key, 1, 1000, 1);
    await holder.line(/^held \d+$/);
    const held = performance.now();
    holder.kill();
    const sem = new RedisSemaphore({ redis, key, size: 1, leaseMs: 1000 });
    let got = 0;
    const lock = sem.acquire().then((l) => {
      got = performance.now() - held;
      return l;
    });
    await sleep(700);
    expect(got).toBe(0);
    await (await lock).release();
    expect(got).toBeGreaterThanOrEqual(850);
    expect(got).toBeLessThan(2500);
  });

  it('a holder that renewed, then was SIGKILLed, holds until leaseMs after its last renewal', async () => {
    const key = 'proc:kill-late';
    const holder = worker('hold', server.url, 'node-redis', key, 1, 900, 1);
    await holder.line(/^held \d+$/);
    await sleep(1000); // renewed at about 300, 600 and 900 ms
    const sem = new RedisSemaphore({ redis, key, size: 1, leaseMs: 900 });
    expect(await sem.tryAcquire()).toBeUndefined();
    holder.kill();
    const killed = performance.now();
    const lock = await sem.acquire();
    const after = performance.now() - killed;
    await lock.release();
    expect(after).toBeGreaterThanOrEqual(500); // at least leaseMs - leaseMs / 3, and then some
    expect(after).toBeLessThan(2500);
  });

  it('a holder SIGSTOPped past its lease sees its signal abort when resumed, and its token is stale', async () => {
    const key = 'proc:stop';
    const holder = worker('hold', server.url, 'node-redis', key, 1, 600, 1);
    const token = Number((await holder.line(/^held \d+$/)).split(' ')[1]);
    process.kill(holder.pid, 'SIGSTOP');
    try {
      const sem = new RedisSemaphore({ redis, key, size: 1, leaseMs: 600 });
      const lock = await sem.acquire();
      expect(lock.fencingToken).toBeGreaterThan(token);
      process.kill(holder.pid, 'SIGCONT');
      expect(await holder.line(/^lost /)).toBe(`lost ERR_LEASE_LOST ${token}`);
      await sleep(300); // the resumed process must not take the lease back
      expect(lock.signal.aborted).toBe(false);
      expect(await server.cli('zcard', `weft:{sem:${key}}:holders`)).toBe('1');
      await lock.release();
    } finally {
      process.kill(holder.pid, 'SIGCONT');
    }
  });

  it('a waiter that died loses its place: the ones behind it are served within two leases', async () => {
    const key = 'proc:dead-waiter';
    const sem = new RedisSemaphore({ redis, key, size: 1, leaseMs: 600 });
    const first = await sem.acquire();
    const waiter = worker('hold', server.url, 'ioredis', key, 1, 600, 1);
    const queued = async (n: number) => {
      while (Number(await server.cli('zcard', `weft:{sem:${key}}:queue`)) < n) await sleep(20);
    };
    await queued(1);
    const behind = sem.acquire();
    await queued(2);
    waiter.kill();
    await waiter.exited;
    const start = performance.now();
    await first.release();
    const lock = await behind;
    expect(performance.now() - start).toBeLessThan(2 * 600 + 1500);
    await lock.release();
  });
});
