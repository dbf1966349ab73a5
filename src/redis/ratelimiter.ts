/**
 * Package redis's `RedisRateLimiter`: one token bucket shared by every
 * process that uses the same Redis, prefix and key, with the meaning of
 * `rate` and `burst` of the in-memory `RateLimiter`, decided by one Lua
 * script per call on Redis's clock.
 */
import { checkInt, checkNumber, checkRequiredOpts } from '../internal/validate.js';
import { RateLimiter, type Reservation } from '../rate.js';
import type { RedisOptions } from './client.js';
import { checkN, Gcra } from './internal/gcra.js';
import { keysOf } from './internal/keys.js';
import { checkCommon, checkName } from './internal/options.js';

/**
 * Options of `RedisRateLimiter`: those of every weft/redis primitive, the
 * bucket's name and its two numbers, which every process sharing the key
 * must give alike.
 *
 * @see RedisRateLimiter
 */
export interface RedisRateLimiterOptions extends RedisOptions {
  /** The bucket's name; its Redis key is `<prefix>:{rate:<key>}:tat`. */
  key: string;
  /** Tokens added per second, across all processes; `Infinity`: no limit (Redis is not asked), 0: only the initial burst. */
  rate: number;
  /** Bucket size: the most tokens one call can take, and the tokens of a bucket nobody used for a while. */
  burst: number;
}

/**
 * What `RedisRateLimiter.reserve` resolves with: `RateLimiter`'s
 * `Reservation`, whose `cancel()` gives the tokens back in Redis and
 * resolves once it did (it never rejects: if Redis cannot be reached the
 * tokens stay taken).
 *
 * @see RedisRateLimiter.reserve
 */
export interface RedisReservation extends Reservation {
  cancel(): Promise<void>;
}

/**
 * A token bucket in Redis: `rate` tokens per second, at most `burst`,
 * shared by every process that uses the same Redis, `prefix` and `key`. It
 * means what `RateLimiter` means, across the processes: over any interval
 * of `t` seconds they are granted at most `burst + rate * t` tokens in all.
 *
 * Each decision is one round trip: one Lua script (GCRA, the generic cell
 * rate algorithm) reads the time from Redis (`TIME`), so the clocks of the
 * processes play no part, and takes the tokens or refuses, atomically. The
 * key expires once the bucket is full again: an idle limiter leaves nothing
 * in Redis. A fixed-window counter (rate-limiter-flexible's default) lets
 * through up to twice the limit around a window's edge; this does not.
 *
 * The same three ways as `RateLimiter`, each a promise here:
 * - `allow(n)` resolves with whether it took the tokens: to drop or reject.
 * - `wait(n)` resolves when the tokens are the caller's: to slow down.
 * - `reserve(n)` takes them now and says how long to wait before acting.
 *
 * `wait` and `reserve` take their tokens when called, into debt if need
 * be, as `RateLimiter` does: waiters are served in the order their calls
 * reached Redis, across processes, and a large one is never starved by
 * small ones; `allow` is refused while the bucket is in debt.
 *
 * **When Redis cannot decide** (`onRedisError`, default `'local'`): with
 * `'local'` each process falls back to a `RateLimiter` of the same `rate`
 * and `burst` of its own (so N processes let through up to N times the
 * rate) until Redis answers again; `'fail-open'` lets every call through;
 * `'fail-closed'` refuses: `allow` is false, `reserve` is not `ok`, `wait`
 * rejects with `RedisUnavailableError`. `'local'` is the default because a
 * limit usually protects a dependency: with Redis gone it still holds per
 * process, and the service stays up. A call that timed out may still take
 * its tokens when Redis gets it, which only errs on the safe side.
 *
 * @throws TypeError if `opts` or a field has the wrong type, `key` or
 * `prefix` is empty, or `redis` is not a connected client.
 * @throws RangeError if `rate` is negative or NaN, `burst` not an integer
 * >= 0, or `timeoutMs` not an integer >= 1.
 * @example Five requests a second across every process
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisRateLimiter } from 'weftjs/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const limiter = new RedisRateLimiter({ redis, key: 'doc:payments', rate: 5, burst: 2 });
 * const other = new RedisRateLimiter({ redis, key: 'doc:payments', rate: 5, burst: 2 }); // another process
 * [await limiter.allow(), await other.allow(), await limiter.allow()]; // => [true, true, false]
 * await redis.close();
 * ```
 * @example With ioredis
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisRateLimiter } from 'weftjs/redis';
 * const redis = new Redis(process.env.REDIS_URL!);
 * const limiter = new RedisRateLimiter({ redis, key: 'doc:ioredis', rate: 1, burst: 1 });
 * [await limiter.allow(), await limiter.allow()]; // => [true, false]
 * await redis.quit();
 * ```
 * @see RedisKeyedRateLimiter
 */
export class RedisRateLimiter {
  /** The bucket's name, as given. */
  readonly key: string;
  readonly #g: Gcra;
  readonly #redisKey: string;

  constructor(opts: RedisRateLimiterOptions) {
    const op = 'RedisRateLimiter';
    checkRequiredOpts(opts, op);
    const key = checkName(opts.key, op, 'key');
    const rate = checkNumber(opts.rate, op, 'rate');
    const burst = checkInt(opts.burst, op, 'burst');
    const common = checkCommon(opts, op, 'local');
    this.key = key;
    this.#redisKey = keysOf(common.prefix, 'rate', key, ['tat'])[0]!;
    this.#g = new Gcra(common, rate, burst, op, () => {
      const twin = new RateLimiter({ rate, burst });
      return {
        allow: (_key, n) => twin.allow(n),
        wait: (_key, n, signal) => twin.wait(n, { signal }),
        reserve: (_key, n) => twin.reserve(n),
      };
    });
  }

  /** Tokens added per second, across all processes. */
  get rate(): number {
    return this.#g.rate;
  }

  /** The bucket size. */
  get burst(): number {
    return this.#g.burst;
  }

  /**
   * Takes `n` tokens (default 1) if the shared bucket has them now, and
   * resolves with whether it did, after one round trip. Takes nothing on
   * false. `allow(0)` and a rate of `Infinity` resolve true, and `n` above
   * `burst` false, without asking Redis.
   *
   * By the policy when Redis cannot decide within `timeoutMs`: true
   * (`'fail-open'`), false (`'fail-closed'`), or the local twin's answer
   * (`'local'`). It never rejects.
   *
   * @throws RangeError if `n` is not an integer >= 0.
   * @example Refusing what exceeds the limit
   * ```ts
   * import { createClient } from 'redis';
   * import { RedisRateLimiter } from 'weftjs/redis';
   * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
   * const limiter = new RedisRateLimiter({ redis, key: 'doc:allow', rate: 1, burst: 3 });
   * await limiter.allow(2); // => true
   * await limiter.allow(2); // => false
   * await limiter.allow(4); // => false
   * await limiter.allow(1); // => true
   * await redis.close();
   * ```
   * @see wait
   */
  allow(n?: number): Promise<boolean> {
    return this.#g.allow(this.#redisKey, checkN(n, 'RedisRateLimiter.allow'));
  }

  /**
   * Takes `n` tokens (default 1) now, going into debt if need be, and
   * resolves with when the caller may act: after `delay` ms, or never if
   * the reservation is not `ok` (`n` above `burst`, or rate 0 and too few
   * tokens left). A caller that will not act calls `cancel()`, which gives
   * back the tokens that no later reservation counts on, as x/time/rate's
   * `Cancel`.
   *
   * By the policy when Redis cannot decide within `timeoutMs`: due at once
   * (`'fail-open'`), not `ok` (`'fail-closed'`), or the local twin's
   * reservation (`'local'`). It never rejects.
   *
   * @throws RangeError if `n` is not an integer >= 0.
   * @example Acting later, or giving the tokens back
   * ```ts
   * import { createClient } from 'redis';
   * import { RedisRateLimiter } from 'weftjs/redis';
   * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
   * const limiter = new RedisRateLimiter({ redis, key: 'doc:reserve', rate: 1, burst: 1 });
   * (await limiter.reserve()).delay; // => 0
   * const later = await limiter.reserve();
   * later.delay > 900; // => true
   * await later.cancel();
   * (await limiter.reserve(2)).ok; // => false
   * await redis.close();
   * ```
   * @see wait
   */
  reserve(n?: number): Promise<RedisReservation> {
    return this.#g.reserve(this.#redisKey, checkN(n, 'RedisRateLimiter.reserve')) as Promise<RedisReservation>;
  }

  /**
   * Waits until `n` tokens (default 1) are the caller's. One round trip
   * takes them (into debt if need be) and says when they are due; the call
   * then sleeps that long on a timer and resolves: it never polls Redis.
   * Waits are served in the order they reached Redis, across processes.
   *
   * **Cancellation**: when `opts.signal` aborts, the wait gives back the
   * tokens it took (those no later wait counts on), then rejects with
   * `signal.reason`; it leaves no timer and no listener. An already-aborted
   * signal rejects at once, taking nothing.
   *
   * Rejects with `RedisUnavailableError` (`ERR_REDIS_UNAVAILABLE`) under
   * `'fail-closed'` when Redis cannot decide within `timeoutMs`
   * (`'fail-open'` resolves at once; `'local'` waits on the local twin), and
   * with `RateLimitExceededError` (`ERR_RATE_LIMIT_EXCEEDED`) when the rate
   * is 0 and fewer than `n` tokens are left.
   *
   * @throws RangeError (synchronously) if `n` is not an integer >= 0, or
   * exceeds `burst` while the rate is finite.
   * @throws TypeError if `opts` or `opts.signal` has the wrong type.
   * @example Spacing out calls across processes
   * ```ts
   * import { createClient } from 'redis';
   * import { RedisRateLimiter } from 'weftjs/redis';
   * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
   * const limiter = new RedisRateLimiter({ redis, key: 'doc:wait', rate: 20, burst: 1 });
   * const start = performance.now();
   * await Promise.all([limiter.wait(), limiter.wait(), limiter.wait()]);
   * performance.now() - start >= 90; // => true
   * await redis.close();
   * ```
   * @example Giving up gives the tokens back
   * ```ts
   * import { createClient } from 'redis';
   * import { RedisRateLimiter } from 'weftjs/redis';
   * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
   * const limiter = new RedisRateLimiter({ redis, key: 'doc:abort', rate: 1, burst: 1 });
   * await limiter.wait();
   * const wait = limiter.wait(1, { signal: AbortSignal.timeout(50) });
   * await wait.catch((err) => err.name); // => 'TimeoutError'
   * await redis.pTTL('weft:{rate:doc:abort}:tat') <= 1000; // => true
   * await redis.close();
   * ```
   * @see allow
   * @see reserve
   */
  wait(n?: number, opts?: { signal?: AbortSignal }): Promise<void> {
    return this.#g.wait(this.#redisKey, checkN(n, 'RedisRateLimiter.wait'), opts);
  }
}
