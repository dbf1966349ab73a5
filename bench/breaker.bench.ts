/**
 * CircuitBreaker.execute: the overhead per successful call of a trivial
 * async function, closed breaker, against a direct call, a minimal
 * hand-written breaker (floor), cockatiel@3 (ConsecutiveBreaker(5)) and
 * opossum@9 (with its per-call timeout on, its default, and off). Each run
 * awaits 1,000 calls one after another.
 */
import { ConsecutiveBreaker, circuitBreaker, handleAll } from 'cockatiel';
// @ts-expect-error opossum@9 ships no type declarations
import Opossum from 'opossum';
import { CircuitBreaker } from 'weftjs';
import { compare } from './lib.js';

/** The floor: the least a consecutive-failures breaker does per call. */
class FloorBreaker {
  failures = 0;
  openUntil = 0;
  async execute<T>(fn: () => Promise<T>): Promise<T> {
    if (this.openUntil !== 0) {
      if (performance.now() < this.openUntil) throw new Error('open');
      this.openUntil = 0;
    }
    try {
      const value = await fn();
      this.failures = 0;
      return value;
    } catch (err) {
      if (++this.failures >= 5) this.openUntil = performance.now() + 60_000;
      throw err;
    }
  }
}

const CALLS = 1000;

const work = async () => 1;

function run(call: () => Promise<unknown>): () => Promise<number> {
  return async () => {
    let n = 0;
    for (let i = 0; i < CALLS; i++) n += (await call()) as number;
    return n;
  };
}

export default async function bench(): Promise<void> {
  const weft = new CircuitBreaker();
  const weftWindow = new CircuitBreaker({ window: { ms: 10_000, minRequests: 20, failureRate: 0.5 } });
  const floor = new FloorBreaker();
  const cockatiel = circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) });
  const opossumTimeout = new Opossum(work, { timeout: 3000 });
  const opossumNoTimeout = new Opossum(work, { timeout: false });

  await compare('CircuitBreaker.execute, closed, trivial async fn (1,000 calls per run)', {
    ops: CALLS,
    unit: 'calls',
    cases: {
      'weft (window off)': run(() => weft.execute(work)),
      'weft (window on)': run(() => weftWindow.execute(work)),
      'direct call (no breaker)': run(work),
      'floor (hand-written)': run(() => floor.execute(work)),
      'cockatiel@3 ConsecutiveBreaker': run(() => cockatiel.execute(work)),
      'opossum@9 (timeout on)': run(() => opossumTimeout.fire()),
      'opossum@9 (timeout off)': run(() => opossumNoTimeout.fire()),
    },
    weft: 'weft (window off)',
    targets: [
      { vs: 'floor', atMost: 1.1 },
      { contender: 'weft (window on)', vs: 'floor', atMost: 1.5 },
      { vs: 'cockatiel@3 ConsecutiveBreaker', atLeast: 1 },
      { vs: ['opossum@9 (timeout on)', 'opossum@9 (timeout off)'], atLeast: 6 },
    ],
  });
  opossumTimeout.shutdown();
  opossumNoTimeout.shutdown();
}
