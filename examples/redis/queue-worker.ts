/**
 * One of the three consumer processes of examples/81-redis-queue.ts:
 * `node --import tsx examples/redis/queue-worker.ts <redis url> <id> <concurrency>`.
 * It runs the jobs of the `demo:jobs` queue, `concurrency` at a time: each
 * waits a millisecond (the I/O of real work) and records its result with
 * SADD, which is idempotent, so a job that runs twice (its first consumer
 * died before acknowledging it) records it once. On SIGTERM, weft/node's
 * Shutdown closes the consumer (running jobs finish, the rest go back) and
 * the process prints what it did as one JSON line.
 */
import { createClient } from 'redis';
import { Shutdown } from 'weftjs/node';
import { RedisQueue } from 'weftjs/redis';

const [url, id, concurrency] = process.argv.slice(2) as [string, string, string];
const redis = await createClient({ url })
  .on('error', (err) => console.error(err))
  .connect();
const queue = new RedisQueue<{ n: number }>({ redis, name: 'demo:jobs', visibilityMs: 2000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const consumer = queue.consume(
  async (job) => {
    await sleep(1);
    await redis.multi().sAdd('demo:done', String(job.n)).incr('demo:completions').exec();
  },
  { concurrency: Number(concurrency), consumer: `consumer-${id}` },
);

const shutdown = new Shutdown({ log: () => {} });
shutdown.add('jobs', consumer, { timeoutMs: 5000 });
shutdown.add('report', () => console.log(JSON.stringify({ id, ...consumer.stats })), { phase: 1 });
shutdown.add('redis', () => redis.close(), { phase: 2 });
console.log('ready');
