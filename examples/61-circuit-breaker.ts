/**
 * A circuit breaker in front of a service that is down from 1 s to 8.5 s:
 * three failures in a row open the breaker, requests are refused at once
 * while it is open, a trial after 5 s finds the service still down and
 * opens it again, and two successful trials close it. Runs on virtual time.
 */
import { CircuitBreaker } from 'weftjs';
import { TestClock } from 'weftjs/testing';

const clock = new TestClock();
const at = () => `${String(clock.now()).padStart(5)} ms`;

const breaker = new CircuitBreaker({
  name: 'inventory',
  timeout: 5_000,
  maxRequests: 2,
  readyToTrip: (counts) => counts.consecutiveFailures >= 3,
  onStateChange: (name, from, to) => console.log(`${at()}  ${name}: ${from} -> ${to}`),
  clock,
});

async function inventory(): Promise<string> {
  const now = clock.now();
  if (now >= 1_000 && now < 8_500) throw new Error('503 Service Unavailable');
  return '42 in stock';
}

for (let t = 0; t <= 15_000; t += 1_000) {
  if (t > 0) await clock.advance(1_000);
  try {
    console.log(`${at()}  ok: ${await breaker.execute(inventory)}`);
  } catch (err: any) {
    console.log(`${at()}  ${err.code ? `refused: ${err.code}` : `failed: ${err.message}`}`);
  }
}
console.log(`final state: ${breaker.state}`);
