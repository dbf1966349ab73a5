/**
 * RedisQueue (and RedisPubSub) on a Redis Cluster of three masters, with
 * node-redis's createCluster and ioredis's Cluster: every script of a queue
 * touches its stream, dead-letter stream, errors and idempotency keys in
 * one slot (no CROSSSLOT error, BullMQ #459), queues of different names
 * spread over the masters, and the blocking read follows the queue's slot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisPubSub, RedisQueue } from 'weftjs/redis';
import { CLIENT_KINDS, type ClusterHandle, connectCluster, sleep, startCluster, stopAll, until } from './harness.js';

let cluster: ClusterHandle;
beforeAll(async () => {
  cluster = await startCluster();
}, 60_000);
afterAll(stopAll);

/** Which masters hold keys matching `pattern`. */
async function holders(pattern: string): Promise<number> {
  let n = 0;
  for (const node of cluster.nodes) if ((await node.cli('--scan', '--pattern', pattern)) !== '') n++;
  return n;
}

describe.each(CLIENT_KINDS)('RedisQueue on a 3-master cluster, with %s', (kind) => {
  let redis: any;
  beforeAll(async () => {
    redis = await connectCluster(kind, cluster);
  });

  it('queues of many names add, process, retry, dead-letter and count, each in its own slot', async () => {
    const names = Array.from({ length: 6 }, (_, i) => `c-${kind}-${i}`);
    await Promise.all(
      names.map(async (name) => {
        const queue = new RedisQueue<number>({ redis, name, maxDeliveries: 2, retryDelayMs: 0 });
        await queue.addMany(Array.from({ length: 300 }, (_, i) => i));
        const once = await queue.add(-1, { idempotencyKey: 'k' });
        expect(await queue.add(-1, { idempotencyKey: 'k' })).toBe(once);
        const seen = new Set<number>();
        const ac = new AbortController();
        const work = (job: number) => {
          if (job === 7) throw new Error('seven');
          seen.add(job);
        };
        const consumers = [queue.process(work, { signal: ac.signal }), queue.process(work, { signal: ac.signal })];
        await until(async () => seen.size === 300 && (await queue.stats()).deadLettered === 1, 15_000);
        // A job added while every consumer waits in its blocking read arrives through it.
        await sleep(20);
        await queue.add(1000);
        await until(() => seen.has(1000), 15_000);
        ac.abort();
        await Promise.all(consumers);
        expect(await queue.stats()).toEqual({ waiting: 0, inFlight: 0, deadLettered: 1, consumers: [] });
        expect((await queue.deadLetters())[0]?.error).toBe('Error: seven');
      }),
    );
    expect(await holders(`weft:{queue:c-${kind}-*}:*`)).toBeGreaterThan(1);
  });
});

describe.each(CLIENT_KINDS)('RedisPubSub on a 3-master cluster, with %s', (kind) => {
  it('delivers across the cluster to subscribers of another client', async () => {
    const a = await connectCluster(kind, cluster);
    const b = await connectCluster(kind, cluster);
    const pub = new RedisPubSub<number>({ redis: a, name: `ps-${kind}` });
    const sub = new RedisPubSub<number>({ redis: b, name: `ps-${kind}` });
    const s = sub.subscribe('orders.>');
    await sub.ready();
    // Every message once, each topic's in the order published. Across topics the order can differ on a Cluster
    // (seen with both clients: the messages of one topic came in a run before the other's), so it is not asserted.
    const want: [string, number][] = [];
    for (let i = 0; i < 30; i++) {
      const topic = ['orders.eu', 'other', 'orders.us.west'][i % 3]!;
      await pub.publish(topic, i);
      if (topic !== 'other') want.push([topic, i]);
    }
    const got: [string, number][] = [];
    for await (const m of s) {
      got.push([m.topic, m.payload]);
      if (got.length === want.length) break;
    }
    const byTopic = (list: [string, number][], topic: string) => list.filter(([t]) => t === topic).map(([, n]) => n);
    for (const topic of ['orders.eu', 'orders.us.west']) expect(byTopic(got, topic)).toEqual(byTopic(want, topic));
    pub.close();
    sub.close();
  });
});
