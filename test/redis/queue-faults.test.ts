/**
 * RedisQueue when Redis goes away, with both clients: a server killed and
 * started again mid-run (with its data, from the append-only file, and
 * empty) while consumers run. The consumers reconnect and resume by
 * themselves: nobody restarts them (BullMQ #648, #2466, #3185).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { RedisQueue } from 'weftjs/redis';
import { CLIENT_KINDS, connect, sleep, startServer, stopAll, until } from './harness.js';

afterAll(stopAll);

describe.each(CLIENT_KINDS)('RedisQueue under faults, on %s', (kind) => {
  it('Redis restarted mid-run with its data: the consumers resume and every job is done', {
    timeout: 40_000,
  }, async () => {
    const server = await startServer(['--appendonly', 'yes', '--appendfsync', 'always']);
    const redis = await connect(kind, server.url);
    const queue = new RedisQueue<number>({ redis, name: 'restart', visibilityMs: 3000 });
    const total = 3000;
    await queue.addMany(Array.from({ length: total }, (_, i) => i));
    const done = new Set<number>();
    const ac = new AbortController();
    // Two consumers on one client, as two services of one process would.
    const run = () =>
      queue.process(
        async (job) => {
          await sleep(1);
          done.add(job);
        },
        { concurrency: 10, signal: ac.signal, onError: () => {} },
      );
    const consumers = [run(), run()];
    await until(() => done.size >= total / 3, 20_000);
    await server.restart();
    const atRestart = done.size;
    // Jobs added after the restart are done too.
    await until(async () => {
      try {
        await queue.add(total, { idempotencyKey: 'after-restart' });
        return true;
      } catch {
        return false;
      }
    }, 10_000);
    await until(() => done.size === total + 1, 30_000);
    expect(atRestart).toBeLessThan(total); // the restart came mid-run
    await until(async () => {
      const s = await queue.stats();
      return s.waiting === 0 && s.inFlight === 0;
    }, 10_000);
    ac.abort();
    await Promise.all(consumers);
    await server.stop();
  });

  it('Redis restarted empty: the consumers make the group again and take new jobs', { timeout: 30_000 }, async () => {
    const server = await startServer();
    const redis = await connect(kind, server.url);
    const queue = new RedisQueue<number>({ redis, name: 'empty', visibilityMs: 1000 });
    const seen: number[] = [];
    const ac = new AbortController();
    const consumer = queue.process((job) => void seen.push(job), { signal: ac.signal, onError: () => {} });
    await queue.add(1);
    await until(() => seen.length === 1, 10_000);
    await server.restart();
    await until(async () => {
      try {
        await queue.add(2, { idempotencyKey: 'after-restart' });
        return true;
      } catch {
        return false;
      }
    }, 10_000);
    await until(() => seen.length === 2, 10_000);
    expect(seen).toEqual([1, 2]);
    ac.abort();
    await consumer;
    await server.stop();
  });
});
