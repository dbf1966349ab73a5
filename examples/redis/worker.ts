/**
 * One of the three processes of examples/80-redis-shared-limits.ts:
 * `node --import tsx examples/redis/worker.ts <redis url> <id>`. It shares
 * a rate limit (20 requests a second, bursts of 5) and a semaphore (2
 * exports at a time) with its siblings through Redis, works for 1.5 s once
 * told to start, and prints what it got as one JSON line.
 */
import { createClient } from 'redis';
import { RedisRateLimiter, RedisSemaphore } from 'weftjs/redis';

const [url, id] = process.argv.slice(2) as [string, string];
const redis = await createClient({ url })
  .on('error', (err) => console.error(err))
  .connect();
const requests = new RedisRateLimiter({ redis, key: 'demo:provider', rate: 20, burst: 5 });
const exports = new RedisSemaphore({ redis, key: 'demo:exports', size: 2, leaseMs: 5_000 });

// Start together: each process takes one item of a list the parent fills.
const start = await redis
  .duplicate()
  .on('error', (err) => console.error(err))
  .connect();
console.log('ready');
await start.blPop('demo:start', 0);
await start.destroy();

const until = Date.now() + 1500;
let admitted = 0;
let exported = 0;
const tokens: number[] = [];

async function callProvider(): Promise<void> {
  while (Date.now() < until) {
    await requests.wait(); // sleeps until this process's turn, across all three
    await redis.incr('demo:admitted');
    admitted++;
  }
}

async function runExports(): Promise<void> {
  while (Date.now() < until) {
    await exports.run(async (_signal, lock) => {
      const running = await redis.incr('demo:running');
      if (running > exports.size) await redis.incr('demo:too-many');
      tokens.push(lock.fencingToken);
      await new Promise((r) => setTimeout(r, 40)); // the export
      await redis.decr('demo:running');
      exported++;
    });
  }
}

await Promise.all([callProvider(), callProvider(), runExports()]);
const increasing = tokens.every((t, i) => i === 0 || t > tokens[i - 1]!);
console.log(JSON.stringify({ id: Number(id), admitted, exported, increasing }));
await redis.close();
