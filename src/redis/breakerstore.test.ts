import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitBreakerOptions } from 'weftjs';
import { breakerStore } from 'weftjs/redis';
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
const down = () => Promise.reject(new Error('down'));

describe.each(CLIENT_KINDS)('breakerStore on %s', (kind) => {
  let redis: any;
  let other: any;
  beforeAll(async () => {
    redis = await connect(kind, server.url);
    other = await connect(kind, server.url);
  });
  // Two breakers of one name on two clients: two processes, as Redis sees them.
  const pair = (opts: Partial<CircuitBreakerOptions> = {}, probeLeaseMs?: number) => {
    const name = fresh('breaker');
    const changes: string[] = [];
    const make = (client: any, tag: string) =>
      new CircuitBreaker({
        name,
        store: breakerStore(client, { onFallback, probeLeaseMs }),
        readyToTrip: (c) => c.consecutiveFailures >= 2,
        onStateChange: (_n, from, to) => changes.push(`${tag} ${from}->${to}`),
        ...opts,
      });
    return { name, here: make(redis, 'here'), there: make(other, 'there'), changes };
  };

  it('failures in two processes add up and trip the breaker for both, seen on the next call', async () => {
    const { here, there, changes } = pair({ timeout: 10_000 });
    await expect(here.execute(down)).rejects.toThrow('down');
    expect(here.counts.consecutiveFailures).toBe(1);
    await expect(there.execute(down)).rejects.toThrow('down');
    expect(there.state).toBe('open');
    expect(here.state).toBe('closed'); // as of its last answer
    let called = false;
    const err = await here.execute(() => (called = true)).catch((e) => e);
    expect(err).toMatchObject({ code: 'ERR_CIRCUIT_OPEN' });
    expect(err.retryAfter).toBeGreaterThan(9000);
    expect(err.retryAfter).toBeLessThanOrEqual(10_000);
    expect(called).toBe(false);
    expect(changes).toEqual(['there closed->open', 'here closed->open']);
  });

  it('half-open admits one prober across processes; its success closes the breaker for all', async () => {
    const { here, there } = pair({ timeout: 200 });
    await here.execute(down).catch(() => {});
    await here.execute(down).catch(() => {});
    await sleep(220);
    let finish!: (v: string) => void;
    const probe = here.execute(() => new Promise<string>((r) => (finish = r)));
    await sleep(20);
    await expect(there.execute(() => 'second')).rejects.toMatchObject({ code: 'ERR_TOO_MANY_REQUESTS' });
    expect(there.state).toBe('half-open');
    finish('up');
    expect(await probe).toBe('up');
    expect(here.state).toBe('closed');
    expect(await there.execute(() => 'ok')).toBe('ok');
    expect(there.state).toBe('closed');
  });

  it('a prober that never reports frees its place after probeLeaseMs', async () => {
    const { here, there } = pair({ timeout: 100 }, 300);
    await here.execute(down).catch(() => {});
    await here.execute(down).catch(() => {});
    await sleep(120);
    void here.execute(() => new Promise(() => {})); // hangs: a dead process
    await sleep(30);
    await expect(there.execute(() => 1)).rejects.toMatchObject({ code: 'ERR_TOO_MANY_REQUESTS' });
    await sleep(320);
    expect(await there.execute(() => 2)).toBe(2);
    expect(there.state).toBe('closed');
  });

  it('a failed trial re-opens it for both, with the open time multiplied by the backoff', async () => {
    const { here, there } = pair({ timeout: 200, backoff: { multiplier: 3, maxTimeout: 10_000 } });
    await here.execute(down).catch(() => {});
    await here.execute(down).catch(() => {});
    await sleep(220);
    await expect(there.execute(down)).rejects.toThrow('down');
    const err = await here.execute(() => 1).catch((e) => e);
    expect(err.code).toBe('ERR_CIRCUIT_OPEN');
    expect(err.retryAfter).toBeGreaterThan(400);
    expect(err.retryAfter).toBeLessThanOrEqual(600);
  });

  it('a caller that aborts gives its half-open trial back, counted as neither', async () => {
    const { here, there } = pair({ timeout: 100 });
    await here.execute(down).catch(() => {});
    await here.execute(down).catch(() => {});
    await sleep(120);
    const ac = new AbortController();
    const call = here.execute(
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      { signal: ac.signal },
    );
    await sleep(20);
    ac.abort(new Error('client left'));
    await expect(call).rejects.toThrow('client left');
    expect(here.state).toBe('half-open');
    expect(await there.execute(() => 'trial')).toBe('trial');
    expect(there.state).toBe('closed');
  });

  it('an error isSuccessful accepts counts as a success but still rejects', async () => {
    const { here, there } = pair({ isSuccessful: (e: any) => e?.status === 404 });
    await expect(here.execute(() => Promise.reject({ status: 404 }))).rejects.toEqual({ status: 404 });
    await there.execute(() => 1);
    expect(there.counts).toEqual({
      requests: 2,
      totalSuccesses: 2,
      totalFailures: 0,
      consecutiveSuccesses: 2,
      consecutiveFailures: 0,
    });
  });

  it('with interval, the shared counts start over each interval', async () => {
    const { here, there } = pair({ interval: 200, readyToTrip: (c) => c.consecutiveFailures >= 3 });
    await here.execute(down).catch(() => {});
    await there.execute(down).catch(() => {});
    expect(there.counts.consecutiveFailures).toBe(2);
    await sleep(220);
    await here.execute(down).catch(() => {});
    expect(here.counts.consecutiveFailures).toBe(1);
    expect(here.state).toBe('closed');
  });

  it('keeps a breaker in <prefix>:{breaker:<name>}:state and :probes, which expire', async () => {
    const { name, here } = pair({ timeout: 100 });
    await here.execute(() => 1);
    const ttl = Number(await server.cli('pttl', `weft:{breaker:${name}}:state`));
    expect(ttl).toBeGreaterThan(3_000_000);
    await here.execute(down).catch(() => {});
    await here.execute(down).catch(() => {});
    await sleep(120);
    let finish!: () => void;
    const probe = here.execute(() => new Promise<void>((r) => (finish = r)));
    await sleep(20);
    expect(await server.cli('zcard', `weft:{breaker:${name}}:probes`)).toBe('1');
    finish();
    await probe;
    expect(await server.cli('exists', `weft:{breaker:${name}}:probes`)).toBe('0');
  });

  it('runs fn in the async context of the caller of execute', async () => {
    const als = new AsyncLocalStorage<string>();
    const { here } = pair();
    expect(await als.run('req-1', () => here.execute(() => als.getStore()))).toBe('req-1');
  });

  it('after SCRIPT FLUSH the next call loads the scripts again', async () => {
    const { here, there } = pair({ timeout: 10_000 });
    await here.execute(down).catch(() => {});
    await server.cli('script', 'flush');
    await there.execute(down).catch(() => {});
    expect(there.state).toBe('open');
  });

  it('a trip judged on an older generation is ignored', async () => {
    const { name, here } = pair({ readyToTrip: () => true });
    const store = breakerStore(redis, { onFallback });
    const settings = { name, maxRequests: 1, interval: 0, timeout: 60_000, multiplier: 1, maxTimeout: 60_000 };
    const first = await store.admit(settings);
    if (typeof first !== 'object' || first instanceof Error) throw new Error('expected a shared answer');
    await store.trip(settings, first.generation - 1);
    expect(await here.execute(() => 'still closed')).toBe('still closed');
    const tripped = await store.trip(settings, first.generation);
    expect(tripped?.state).toBe('open');
  });
});

describe('breakerStore rejects bad options', () => {
  it('names the option and the value it got', async () => {
    const redis = await connect('node-redis', server.url);
    expect(() => breakerStore(redis, { probeLeaseMs: 0 })).toThrow(
      /breakerStore: `probeLeaseMs` must be an integer from 1/,
    );
    expect(() => breakerStore(redis, { prefix: '' })).toThrow(/`prefix`/);
    expect(() => breakerStore({} as never)).toThrow(/breakerStore: `redis` must be/);
    expect(() => breakerStore(redis, 5 as never)).toThrow(TypeError);
    expect(() => new CircuitBreaker({ store: breakerStore(redis) })).toThrow(
      /`name` must be a non-empty string when `store` is given/,
    );
  });
});
