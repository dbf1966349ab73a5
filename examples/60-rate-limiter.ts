/**
 * A token bucket of 10 requests a second with bursts of 5, in front of 20
 * requests that all arrive at once: the first 5 go at once, the rest one
 * every 100 ms, in the order they arrived. Runs on virtual time.
 */
import { RateLimiter } from 'weftjs';
import { TestClock } from 'weftjs/testing';

const clock = new TestClock();
const limiter = new RateLimiter({ rate: 10, burst: 5, clock });

const requests = Array.from({ length: 20 }, async (_, i) => {
  await limiter.wait();
  console.log(`request ${String(i + 1).padStart(2)} at ${String(clock.now()).padStart(4)} ms`);
});
await clock.runAll();
await Promise.all(requests);

console.log(`allow() now: ${limiter.allow()} (the bucket is empty)`);
await clock.advance(100);
console.log(`allow() 100 ms later: ${limiter.allow()}`);
