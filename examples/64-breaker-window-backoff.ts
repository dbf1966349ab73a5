/**
 * A circuit breaker that trips on the failure rate over a sliding 10 s
 * window (at least 10 requests, half of them failing), and whose open time
 * doubles each time a trial finds the service still down, up to 8 s.
 * Runs on virtual time.
 */
import { CircuitBreaker } from 'weftjs';
import { TestClock } from 'weftjs/testing';

const clock = new TestClock();
const breaker = new CircuitBreaker({
  name: 'search',
  timeout: 1_000,
  readyToTrip: () => false, // only the window trips
  window: { ms: 10_000, buckets: 10, minRequests: 10, failureRate: 0.5 },
  backoff: { multiplier: 2, maxTimeout: 8_000 },
  onStateChange: (name, from, to) => console.log(`${String(clock.now()).padStart(5)} ms  ${name}: ${from} -> ${to}`),
  clock,
});

// One request every 100 ms; from 1 s on, every other one fails, and from
// 2 s to 12 s every one does.
const healthy = (t: number) => t < 1_000 || (t < 2_000 && t % 200 === 0) || t >= 12_000;
let refused = 0;
for (let t = 0; t < 20_000; t += 100) {
  if (t > 0) await clock.advance(100);
  await breaker
    .execute(() => (healthy(t) ? Promise.resolve('ok') : Promise.reject(new Error('500'))))
    .catch((err) => {
      if (err.code) refused++;
    });
}
console.log(`refused without calling the service: ${refused} of 200`);
console.log(`final state: ${breaker.state}`);
