/**
 * weft/redis when Redis misbehaves, with both clients: a paused server
 * (`CLIENT PAUSE`), a server killed and started again empty, and killed
 * connections (`CLIENT KILL`). Every call decides by its policy within a
 * bounded time, held leases end as documented, and once Redis answers
 * again the primitives use it again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitBreaker } from 'weftjs';
import { breakerStore, RedisRateLimiter, RedisSemaphore } from 'weftjs/redis';
import { CLIENT_KINDS, connect, type Server, sleep, startServer, stopAll } from './harness.js';

afterAll(stopAll);

const TIMEOUT = 200;
// What "bounded" means here: the per-call timeout, and the slack of a loaded machine.
const BOUND = TIMEOUT + 800;

/** Resolves with [outcome, ms] of a call, its rejection as `{ rejected: code }`. */
async function timed<T>(p: Promise<T>): Promise<[unknown, number]> {
  const start = performance.now();
  const out = await p.then(
    (v) => v,
    (e) => ({ rejected: e?.code ?? String(e) }),
  );
  return [out, performance.now() - start];
}

const pause = (server: Server, ms: number) => server.cli('client', 'pause', String(ms), 'all');

describe.each(CLIENT_KINDS)('weft/redis under faults, on %s', (kind) => {
  let server: Server;
  let redis: any;
  let n = 0;
  const fresh = (what: string) => `${what}-${++n}`;
  beforeAll(async () => {
    server = await startServer();
    redis = await connect(kind, server.url);
  });

  const limiters = (key: string) => {
    const falls: string[] = [];
    const make = (onRedisError: 'fail-open' | 'fail-closed' | 'local') =>
      new RedisRateLimiter({
        redis,
        key: `${key}-${onRedisError}`,
        rate: 1,
        burst: 2,
        onRedisError,
        timeoutMs: TIMEOUT,
        onFallback: (e) => falls.push(e.code),
      });
    return { open: make('fail-open'), closed: make('fail-closed'), local: make('local'), falls };
  };

  it('CLIENT PAUSE: the limiter policies decide within timeoutMs, then Redis decides again', async () => {
    const { open, closed, local, falls } = limiters(fresh('pause'));
    await pause(server, 1200);
    const [answers, ms] = await timed(Promise.all([open.allow(), closed.allow(), local.allow()]));
    expect(answers).toEqual([true, false, true]);
    expect(ms).toBeLessThan(BOUND);
    // While down, the calls decide at once, without waiting on Redis.
    const [waits, ms2] = await timed(Promise.all([open.wait(), closed.wait().catch((e) => e.code), local.wait()]));
    expect(waits).toEqual([undefined, 'ERR_REDIS_UNAVAILABLE', undefined]);
    expect(ms2).toBeLessThan(BOUND);
    // The local twin has the limiter's burst of 2, which the two calls above took.
    expect(await local.allow()).toBe(false);
    expect((await closed.reserve()).ok).toBe(false);
    expect((await open.reserve()).delay).toBe(0);
    expect(falls.every((c) => c === 'ERR_REDIS_UNAVAILABLE')).toBe(true);
    await sleep(1300);
    const before = falls.length;
    // Back: Redis decides (the calls that timed out were run after the pause, so the buckets are in use).
    await open.allow();
    expect(falls.length).toBe(before);
    expect(await server.cli('exists', `weft:{rate:${open.key}}:tat`)).toBe('1');
  });

  it('CLIENT PAUSE: the semaphore policies decide within timeoutMs; a lease not renewed for leaseMs aborts', async () => {
    const key = fresh('sem-pause');
    const make = (onRedisError: 'fail-open' | 'fail-closed' | 'local') =>
      new RedisSemaphore({
        redis,
        key: `${key}-${onRedisError}`,
        size: 1,
        leaseMs: 600,
        onRedisError,
        timeoutMs: TIMEOUT,
      });
    const closed = make('fail-closed');
    const open = make('fail-open');
    const local = make('local');
    const held = await closed.acquire();
    await pause(server, 1500);
    const [outcomes, ms] = await timed(
      Promise.all([
        closed.acquire().catch((e) => e.code),
        closed.tryAcquire(),
        open.acquire().then((l) => l.fencingToken),
        local.acquire().then((l) => l.fencingToken),
      ]),
    );
    expect(outcomes).toEqual(['ERR_REDIS_UNAVAILABLE', undefined, 0, 0]);
    expect(ms).toBeLessThan(BOUND);
    // The local twin holds its size: a second local grant waits for the first.
    expect(await local.tryAcquire()).toBeUndefined();
    const reason = await new Promise<any>((resolve) =>
      held.signal.addEventListener('abort', () => resolve(held.signal.reason)),
    );
    expect(reason.code).toBe('ERR_LEASE_LOST');
    await sleep(1200);
    // Back: the late acquires were undone, the lost lease released; nothing is left.
    const lock = await closed.acquire();
    expect(lock.fencingToken).toBeGreaterThan(held.fencingToken);
    await lock.release();
    await sleep(50);
    expect(await server.cli('--scan', '--pattern', `weft:{sem:${key}-*`)).toBe('');
  });

  it('CLIENT PAUSE: the breaker store policies decide within timeoutMs', async () => {
    const make = (onRedisError: 'fail-open' | 'fail-closed' | 'local') =>
      new CircuitBreaker({
        name: fresh(`breaker-${onRedisError}`),
        readyToTrip: (c) => c.consecutiveFailures >= 1,
        store: breakerStore(redis, { onRedisError, timeoutMs: TIMEOUT }),
      });
    const open = make('fail-open');
    const closed = make('fail-closed');
    const local = make('local');
    await pause(server, 1000);
    const down = () => Promise.reject(new Error('down'));
    const [outcomes, ms] = await timed(
      Promise.all([
        open.execute(() => 'ran'),
        closed.execute(() => 'ran').catch((e) => e.code),
        local.execute(down).catch((e) => e.message),
      ]),
    );
    expect(outcomes).toEqual(['ran', 'ERR_REDIS_UNAVAILABLE', 'down']);
    expect(ms).toBeLessThan(BOUND);
    expect(local.state).toBe('open'); // its own state machine tripped
    expect(await local.execute(() => 1).catch((e) => e.code)).toBe('ERR_CIRCUIT_OPEN');
    await sleep(1100);
    expect(await closed.execute(() => 'back')).toBe('back');
  });

  it('Redis killed and started again: nothing hangs, leases are lost, tokens still increase, scripts reload', async () => {
    const key = fresh('restart');
    const lim = new RedisRateLimiter({
      redis,
      key,
      rate: 1,
      burst: 1,
      onRedisError: 'fail-closed',
      timeoutMs: TIMEOUT,
    });
    const sem = new RedisSemaphore({ redis, key, size: 1, leaseMs: 600, timeoutMs: TIMEOUT });
    expect(await lim.allow()).toBe(true);
    const held = await sem.acquire();
    const waiter = sem.acquire();
    await sleep(30);
    await server.stop();
    const [answers, ms] = await timed(Promise.all([lim.allow(), lim.wait().catch((e) => e.code), sem.tryAcquire()]));
    expect(answers).toEqual([false, 'ERR_REDIS_UNAVAILABLE', undefined]);
    expect(ms).toBeLessThan(BOUND);
    // The waiter's place could not be renewed: fail-closed rejects it.
    const [waited, wms] = await timed(waiter);
    expect(waited).toEqual({ rejected: 'ERR_REDIS_UNAVAILABLE' });
    expect(wms).toBeLessThan(600 + BOUND);
    await server.start();
    const reason = await new Promise<any>((resolve) =>
      held.signal.addEventListener('abort', () => resolve(held.signal.reason)),
    );
    expect(reason.code).toBe('ERR_LEASE_LOST');
    // Redis is empty again: the bucket is full, the fence starts from the clock.
    let allowed = false;
    const until = Date.now() + 5000;
    while (!allowed && Date.now() < until) {
      allowed = await lim.allow();
      if (!allowed) await sleep(100);
    }
    expect(allowed).toBe(true);
    const next = await sem.acquire();
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    await next.release();
  });

  it('CLIENT KILL: clients reconnect, a held lease survives, a waiter still gets its grant', async () => {
    const other = await connect(kind, server.url);
    const key = fresh('kill');
    const here = new RedisSemaphore({ redis, key, size: 1, leaseMs: 900, timeoutMs: TIMEOUT });
    const there = new RedisSemaphore({ redis: other, key, size: 1, leaseMs: 900, timeoutMs: TIMEOUT });
    const held = await here.acquire();
    const waiting = there.acquire();
    await sleep(50);
    await server.cli('client', 'kill', 'type', 'normal');
    await server.cli('client', 'kill', 'type', 'pubsub');
    await sleep(1000); // past a lease: it lives only if it was renewed after the reconnect
    expect(held.signal.aborted).toBe(false);
    await server.cli('client', 'kill', 'type', 'pubsub'); // the wake-up may be lost: the renewal finds the grant
    await held.release();
    const [lock, ms] = await timed(waiting);
    expect(ms).toBeLessThan(900 / 3 + BOUND);
    expect((lock as any).fencingToken).toBeGreaterThan(held.fencingToken);
    await (lock as any).release();
    const lim = new RedisRateLimiter({ redis: other, key, rate: 1000, burst: 10, timeoutMs: TIMEOUT });
    await server.cli('client', 'kill', 'type', 'normal');
    const [answer, lms] = await timed(lim.allow());
    expect(answer).toBe(true);
    expect(lms).toBeLessThan(BOUND);
  });
});
