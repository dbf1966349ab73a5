/**
 * weft/redis on a Redis Cluster of three masters (redis-server
 * --cluster-enabled, joined with redis-cli --cluster create), with
 * node-redis's createCluster and ioredis's Cluster: every primitive works,
 * each one's keys share one slot (a script touches all of them without a
 * CROSSSLOT error), different primitives spread over the masters, and the
 * semaphore's wake-ups arrive through the cluster's pub/sub.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CircuitBreaker } from 'weftjs';
import { breakerStore, RedisKeyedRateLimiter, RedisRateLimiter, RedisSemaphore } from 'weftjs/redis';
import { CLIENT_KINDS, type ClusterHandle, connectCluster, sleep, startCluster, stopAll } from './harness.js';

let cluster: ClusterHandle;
beforeAll(async () => {
  cluster = await startCluster();
}, 60_000);
afterAll(stopAll);

const fallbacks: unknown[] = [];
const onFallback = (err: unknown) => fallbacks.push(err);
afterEach(() => {
  expect(fallbacks.splice(0)).toEqual([]);
});

async function slotOf(key: string): Promise<number> {
  return Number(await cluster.nodes[0]!.cli('cluster', 'keyslot', key));
}

/** Which masters hold keys matching `pattern`. */
async function holders(pattern: string): Promise<number> {
  let n = 0;
  for (const node of cluster.nodes) if ((await node.cli('--scan', '--pattern', pattern)) !== '') n++;
  return n;
}

describe.each(CLIENT_KINDS)('weft/redis on a 3-master cluster, with %s', (kind) => {
  let redis: any;
  let other: any;
  beforeAll(async () => {
    redis = await connectCluster(kind, cluster);
    other = await connectCluster(kind, cluster);
  });

  it('rate limiters of many names work, and spread over the masters', async () => {
    const lims = Array.from(
      { length: 12 },
      (_, i) => new RedisRateLimiter({ redis, key: `${kind}:lim${i}`, rate: 10, burst: 2, onFallback }),
    );
    for (const lim of lims) {
      expect([await lim.allow(), await lim.allow(), await lim.allow()]).toEqual([true, true, false]);
      const r = await lim.reserve();
      expect(r.delay).toBeGreaterThan(0);
      await r.cancel();
    }
    await lims[0]!.wait();
    expect(await holders(`weft:{rate:${kind}:lim*`)).toBeGreaterThan(1);
    const keyed = new RedisKeyedRateLimiter({ redis, name: `${kind}:users`, rate: 1, burst: 1, onFallback });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => keyed.allow(`user${i % 15}`)));
    expect(answers.filter(Boolean)).toHaveLength(15);
  });

  it("a semaphore's six keys share one slot; a release wakes the other client's waiter by pub/sub", async () => {
    const key = `${kind}:sem`;
    const here = new RedisSemaphore({ redis, key, size: 2, leaseMs: 3000, onFallback });
    const there = new RedisSemaphore({ redis: other, key, size: 2, leaseMs: 3000, onFallback });
    const held = await here.acquire(2);
    const waiting = there.acquire(1);
    await sleep(300); // queued and subscribed
    const parts = ['holders', 'queue', 'qexp', 'weights', 'tokens', 'state'];
    const slots = new Set(await Promise.all(parts.map((p) => slotOf(`weft:{sem:${key}}:${p}`))));
    expect(slots.size).toBe(1);
    const start = performance.now();
    await held.release();
    const lock = await waiting;
    // A renewal would have found it only after leaseMs / 3 = 1000 ms.
    expect(performance.now() - start).toBeLessThan(800);
    expect(lock.fencingToken).toBeGreaterThan(held.fencingToken);
    await lock.release();
    const runs = await Promise.all([1, 2, 3, 4].map((n) => (n % 2 ? here : there).run(async () => n)));
    expect(runs).toEqual([1, 2, 3, 4]);
  });

  it('a breaker store trips the breaker for both clients', async () => {
    const name = `${kind}:breaker`;
    const make = (client: any) =>
      new CircuitBreaker({
        name,
        store: breakerStore(client, { onFallback }),
        readyToTrip: (c) => c.consecutiveFailures >= 2,
      });
    const a = make(redis);
    const b = make(other);
    await a.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    await b.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    expect(await a.execute(() => 1).catch((e) => e.code)).toBe('ERR_CIRCUIT_OPEN');
    expect(await slotOf(`weft:{breaker:${name}}:state`)).toBe(await slotOf(`weft:{breaker:${name}}:probes`));
  });
});
