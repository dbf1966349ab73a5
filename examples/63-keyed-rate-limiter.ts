/**
 * One token bucket per client: 2 requests a second with bursts of 3 each.
 * A noisy client is held back while a quiet one is not; keys whose bucket
 * is full again are forgotten as new ones arrive. Runs on virtual time.
 */
import { KeyedRateLimiter } from 'weftjs';
import { TestClock } from 'weftjs/testing';

const clock = new TestClock();
const limits = new KeyedRateLimiter({ rate: 2, burst: 3, clock });

const tally = (key: string, n: number) => Array.from({ length: n }, () => (limits.allow(key) ? '+' : '-')).join('');

console.log(`noisy, 6 requests: ${tally('noisy', 6)}`);
console.log(`quiet, 2 requests: ${tally('quiet', 2)}`);
await clock.advance(1_000);
console.log(`1 s later, noisy, 3 requests: ${tally('noisy', 3)}`);
console.log(`keys held: ${limits.size}`);
await clock.advance(10_000);
for (let i = 0; i < 10; i++) limits.allow(`new-${i}`);
console.log(`after 10 s and 10 new keys, keys held: ${limits.size}`);
