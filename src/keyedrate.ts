/**
 * Package keyedrate provides `KeyedRateLimiter`: one token bucket per key
 * (user, IP, tenant), each giving what a `RateLimiter` of its own would,
 * with the keys that no longer matter forgotten lazily.
 */
import { type Clock, systemClock } from './clock.js';
import { lastUpdate } from './internal/hooks.js';
import { checkClock } from './internal/timer.js';
import { checkInt, checkMs, checkNumber, checkRequiredOpts, checkString } from './internal/validate.js';
import { RateLimiter, type RateLimiterOptions } from './rate.js';

/**
 * Options of `KeyedRateLimiter`: those of `RateLimiter`, applied to each
 * key, and the bounds on the keys held.
 *
 * @see KeyedRateLimiter
 */
export interface KeyedRateLimiterOptions extends RateLimiterOptions {
  /**
   * The most keys held at once (default `Infinity`). Past it, a new key
   * evicts an idle key, or failing one, the key held longest, which then
   * starts over with a full bucket.
   */
  maxKeys?: number;
  /**
   * Milliseconds after its last admitted event that a key is forgotten even
   * though its bucket is not full yet (default `Infinity`: only when full).
   */
  idleMs?: number;
}

// Keys examined from the oldest end on each insertion.
const SWEEP = 4;

/**
 * One token bucket per key (user, IP, tenant), all with the same `rate`
 * and `burst`: each key gets what a `RateLimiter` of its own would give.
 *
 * Keys cost memory only while they matter. A key is idle once its bucket
 * would be full again and nobody waits on it; forgetting it then changes no
 * answer, since a new key starts full. Idle keys are evicted lazily, a few
 * at each new key, oldest first; no timer runs. `idleMs` forgets keys
 * sooner, and `maxKeys` bounds how many are held at all.
 *
 * @example Per-user limits
 * ```ts
 * import { KeyedRateLimiter } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const limits = new KeyedRateLimiter({ rate: 1, burst: 2, clock });
 * [limits.allow('ann'), limits.allow('ann'), limits.allow('ann')]; // => [true, true, false]
 * limits.allow('bob'); // => true
 * await clock.advance(1000);
 * limits.allow('ann'); // => true
 * ```
 * @example Memory stays bounded
 * ```ts
 * import { KeyedRateLimiter } from 'weftjs';
 * const limits = new KeyedRateLimiter({ rate: 1, burst: 1, maxKeys: 100 });
 * for (let i = 0; i < 10_000; i++) limits.allow(`ip-${i}`);
 * limits.size; // => 100
 * ```
 * @see RateLimiter
 */
export class KeyedRateLimiter {
  #rate: number;
  #burst: number;
  #clock: Clock;
  #maxKeys: number;
  #idleMs: number;
  #keys = new Map<string, RateLimiter>();
  #cursor: MapIterator<[string, RateLimiter]> | undefined = undefined;

  /**
   * @throws TypeError if `opts` or a field has the wrong type.
   * @throws RangeError if `rate`, `burst`, `maxKeys` (an integer >= 1) or
   * `idleMs` is out of range.
   */
  constructor(opts: KeyedRateLimiterOptions) {
    const op = 'KeyedRateLimiter';
    checkRequiredOpts(opts, op);
    this.#rate = checkNumber(opts.rate, op, 'rate');
    this.#burst = checkInt(opts.burst, op, 'burst');
    this.#clock = checkClock(opts.clock, op, systemClock);
    this.#maxKeys =
      opts.maxKeys === undefined
        ? Number.POSITIVE_INFINITY
        : checkInt(opts.maxKeys, op, 'maxKeys', 1, Number.POSITIVE_INFINITY);
    this.#idleMs = opts.idleMs === undefined ? Number.POSITIVE_INFINITY : checkMs(opts.idleMs, op, 'idleMs', true);
  }

  /** Number of keys held now. */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * `RateLimiter.allow` on `key`'s bucket: takes `n` tokens (default 1) if
   * they are there now.
   *
   * @throws TypeError if `key` is not a string.
   * @throws RangeError if `n` is not an integer >= 0.
   */
  allow(key: string, n?: number): boolean {
    return this.#get(key, 'KeyedRateLimiter.allow').allow(n);
  }

  /**
   * `RateLimiter.wait` on `key`'s bucket: waits until `n` tokens (default 1)
   * of that key are the caller's, in call order per key.
   *
   * **Cancellation**: as `RateLimiter.wait`: an abort rejects with
   * `signal.reason`, gives back what it reserved and leaves nothing behind.
   *
   * @throws TypeError if `key` is not a string, or `opts` has the wrong type.
   * @throws RangeError if `n` is not an integer >= 0 or exceeds `burst` at a finite rate.
   * @example Each key waits on its own
   * ```ts
   * import { KeyedRateLimiter } from 'weftjs';
   * import { TestClock } from 'weftjs/testing';
   * const clock = new TestClock();
   * const limits = new KeyedRateLimiter({ rate: 10, burst: 1, clock });
   * await limits.wait('ann');
   * const next = limits.wait('ann').then(() => clock.now());
   * await limits.wait('bob'); // another key does not wait
   * await clock.advance(100);
   * await next; // => 100
   * ```
   */
  wait(key: string, n?: number, opts?: { signal?: AbortSignal }): Promise<void> {
    return this.#get(key, 'KeyedRateLimiter.wait').wait(n, opts);
  }

  #get(key: string, op: string): RateLimiter {
    const lim = this.#keys.get(key);
    if (lim !== undefined) return lim;
    checkString(key, op, 'key');
    this.#sweep();
    const fresh = new RateLimiter({ rate: this.#rate, burst: this.#burst, clock: this.#clock });
    this.#keys.set(key, fresh);
    return fresh;
  }

  // CLOCK-style sweep: a cursor goes round the keys in insertion order,
  // a few at each new key, dropping those that are idle. Past maxKeys the
  // key under the cursor goes whatever its state. A live Map iterator is
  // kept so that each sweep resumes where the last stopped, instead of
  // walking again over the holes that deletions leave at the front.
  #sweep(): void {
    const keys = this.#keys;
    if (keys.size === 0) return;
    const now = this.#clock.now();
    for (let budget = SWEEP; budget > 0; budget--) {
      const entry = this.#next();
      if (entry === undefined) break;
      if (this.#idle(entry[1], now)) keys.delete(entry[0]);
    }
    while (keys.size >= this.#maxKeys) keys.delete(this.#next()![0]);
  }

  #next(): [string, RateLimiter] | undefined {
    let r = this.#cursor?.next();
    if (r === undefined || r.done === true) {
      this.#cursor = this.#keys.entries();
      r = this.#cursor.next();
    }
    return r.done === true ? undefined : r.value;
  }

  #idle(lim: RateLimiter, now: number): boolean {
    if (lim.waiting !== 0) return false;
    if (lim.tokens() >= this.#burst) return true;
    return now - lim[lastUpdate]() >= this.#idleMs;
  }
}
