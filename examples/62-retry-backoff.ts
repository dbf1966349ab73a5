/**
 * retry with exponential backoff (no jitter, so the delays are exact): a
 * call that times out three times and then answers; then a call that is
 * stopped at once by a circuit breaker that opened. Runs on virtual time.
 */
import { CircuitBreaker, retry } from 'weftjs';
import { TestClock } from 'weftjs/testing';

const clock = new TestClock();
let last = 0;

const result = retry(
  async (attempt) => {
    console.log(`attempt ${attempt} at ${clock.now()} ms (waited ${clock.now() - last} ms)`);
    last = clock.now();
    if (attempt < 4) throw new Error(`timeout #${attempt}`);
    return 'payload';
  },
  { attempts: 5, backoff: { initial: 200, multiplier: 2, jitter: 'none' }, clock },
);
await clock.runAll();
console.log(`result: ${await result}`);

// With a breaker: retry outside, and stop when the breaker says it is open.
const breaker = new CircuitBreaker({ readyToTrip: (c) => c.consecutiveFailures >= 2, clock });
let calls = 0;
const stopped = retry(
  () =>
    breaker.execute(async () => {
      calls++;
      throw new Error('connection refused');
    }),
  {
    attempts: 10,
    backoff: { initial: 100, jitter: 'none' },
    retryIf: (err: any) => err.code !== 'ERR_CIRCUIT_OPEN',
    clock,
  },
).catch((err) => `${err.name} (${err.code}) after ${calls} calls`);
await clock.runAll();
console.log(`with a breaker: ${await stopped}`);
