/**
 * One consumer process of `npm run demo -- --redis`, forked by `redis.ts`.
 * It takes batches from the shared `RedisQueue` and handles them as the
 * workers of the local demo do (`handler.ts`), with the limits that must
 * hold for every process together kept in Redis: a `RedisRateLimiter` on
 * the downstream calls, and the `CircuitBreaker`'s state in a
 * `breakerStore`, so that when one process sees the downstream go down,
 * all of them stop calling it.
 *
 * A batch that gives up after its retries fails its delivery: the queue
 * delivers it again (to whichever consumer is free) and dead-letters it
 * after `maxDeliveries`. The process tells its counters to the demo over
 * IPC every 100 ms, and stops with its own `Shutdown` (SIGINT from the
 * terminal, SIGTERM from the demo): the consumer stops at once and hands
 * back the batches it holds, then the threads, connections and Redis
 * client close.
 */
import { createClient } from 'redis';
import { Shutdown } from 'weftjs/node';
import { breakerStore, RedisQueue, RedisRateLimiter } from 'weftjs/redis';
import { ThreadPool } from 'weftjs/threads';
import { DownstreamClient } from './client.js';
import { bump, createBreaker, createHandler, newCounters, type Tasks } from './handler.js';
import type { Batch } from './protocol.js';
import type { ConsumerMessage, ConsumerSetup } from './redis.js';

const setup = JSON.parse(process.argv[2] ?? '{}') as ConsumerSetup;
const { opts } = setup;
const tell = (message: ConsumerMessage, then?: () => void) => {
  if (process.connected && process.send) process.send(message, undefined, undefined, () => then?.());
  else then?.();
};

const shutdown = new Shutdown({ timeoutMs: 2_000, log: () => {} });
const redis = await createClient({ url: setup.url })
  .on('error', () => {})
  .connect();
const queue = new RedisQueue<Batch>({ redis, name: 'demo:batches', maxDeliveries: setup.maxDeliveries });
const limiter = new RedisRateLimiter({
  redis,
  key: 'demo:downstream',
  rate: opts.rate,
  burst: Math.max(1, Math.min(opts.workers, opts.rate)),
});
const breaker = createBreaker((from, to) => tell({ type: 'breaker', from, to, at: Date.now() }), breakerStore(redis));
const concurrency = Math.max(1, Math.ceil(opts.workers / opts.consumers));
const threads = new ThreadPool<Tasks>({ module: new URL('./tasks.ts', import.meta.url), threads: opts.threads });
const client = new DownstreamClient(setup.port, concurrency * 2);
const counters = newCounters();
const handle = createHandler({ client, limiter, breaker, threads, counters, rounds: opts.rounds });

const consumer = queue.consume(
  async (job, ctx) => {
    const outcome = await handle(job, ctx.signal);
    if (outcome.ok) return;
    if (ctx.deliveries >= setup.maxDeliveries) {
      // Its last delivery: the queue dead-letters it.
      counters.failed += job.items.length;
      counters.batchesFailed++;
      bump(counters.failedByKind, outcome.kind, job.items.length);
    }
    throw new Error(`batch ${job.batch}: ${outcome.kind}`);
  },
  // Stopped at once when the shutdown starts: the running batches' signals abort and go back to the queue.
  { concurrency, consumer: `demo-${setup.index}`, signal: shutdown.signal },
);

const report = () => {
  const s = threads.stats;
  tell({
    type: 'counters',
    counters,
    threads: { threads: s.threads, running: s.running, queued: s.queued, completed: s.completed },
    rss: process.memoryUsage.rss(),
  });
};
const timer = setInterval(report, 100);

// The consumer first: the batches it holds go back to the queue, for another consumer.
shutdown.add('consumer', () => consumer.done);
shutdown.add('thread pool', threads, { phase: 1 });
shutdown.add('connections', () => client.close(), { phase: 1 });
shutdown.add('redis client', () => redis.close(), { phase: 2 });
shutdown.add(
  'last counters',
  () => {
    clearInterval(timer);
    return new Promise<void>((resolve) => {
      const s = threads.stats;
      tell(
        {
          type: 'counters',
          counters,
          threads: { threads: s.threads, running: s.running, queued: s.queued, completed: s.completed },
          rss: process.memoryUsage.rss(),
        },
        resolve,
      );
    });
  },
  { phase: 3 },
);
process.on('disconnect', () => void shutdown.shutdown('the demo went away'));
tell({ type: 'ready', consumer: consumer.name });
