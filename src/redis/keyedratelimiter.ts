/**
 * Package redis's `RedisKeyedRateLimiter`: one Redis token bucket per key
 * (user, IP, tenant), each the `RedisRateLimiter` of its own, with nothing
 * kept in Redis for a key whose bucket is full.
 */

import { checkInt, checkNumber, checkRequiredOpts, checkString } from '../internal/validate.js';
import { KeyedRateLimiter } from '../keyedrate.js';
import type { RedisOptions } from './client.js';
import { checkN, Gcra } from './internal/gcra.js';
import { checkCommon, checkName } from './internal/options.js';

/**
 * Options of `RedisKeyedRateLimiter`: those of every weft/redis primitive,
 * the limiter's name, and the `rate` and `burst` of each key's bucket.
 *
 * @see RedisKeyedRateLimiter
 */
export interface RedisKeyedRateLimiterOptions extends RedisOptions {
  /** The limiter's name; the bucket of key `k` is `<prefix>:{keyedrate:<name>:<k>}:tat`. */
  name: string;
  /** Tokens added per second to each key's bucket; `Infinity`: no limit, 0: only the initial burst. */
  rate: number;
  /** Each bucket's size. */
  burst: number;
  /** Keys the local twin holds at most under `onRedisError: 'local'` (default 10_000): see `KeyedRateLimiter`'s `maxKeys`. */
  maxLocalKeys?: number;
}

/**
 * One Redis token bucket per key (user, IP, tenant), all with the same
 * `rate` and `burst`: each key gets what a `RedisRateLimiter` of its own
 * would give, shared by every process that uses the same Redis, `prefix`
 * and `name`. Each decision is one round trip, on Redis's clock; a key's
 * Redis key expires once its bucket is full again, so only the keys in use
 * take memory. Each key is a slot of its own on a Redis Cluster: the keys
 * spread over the cluster.
 *
 * **When Redis cannot decide** (`onRedisError`, default `'local'`): as
 * `RedisRateLimiter`: `'local'` decides with a `KeyedRateLimiter` of this
 * process (at most `maxLocalKeys` keys), `'fail-open'` lets every call
 * through, `'fail-closed'` refuses (`allow` false, `wait` rejects with
 * `RedisUnavailableError`).
 *
 * @throws TypeError if `opts` or a field has the wrong type, `name` or
 * `prefix` is empty, or `redis` is not a connected client.
 * @throws RangeError if `rate`, `burst`, `maxLocalKeys` or `timeoutMs` is out of range.
 * @example Per-user limits
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisKeyedRateLimiter } from 'weftjs/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const limits = new RedisKeyedRateLimiter({ redis, name: 'doc:users', rate: 1, burst: 2 });
 * [await limits.allow('ann'), await limits.allow('ann'), await limits.allow('ann')]; // => [true, true, false]
 * await limits.allow('bob'); // => true
 * await redis.exists('weft:{keyedrate:doc:users:ann}:tat'); // => 1
 * await redis.close();
 * ```
 * @see RedisRateLimiter
 */
export class RedisKeyedRateLimiter {
  /** The limiter's name, as given. */
  readonly name: string;
  readonly #g: Gcra;
  readonly #head: string;

  constructor(opts: RedisKeyedRateLimiterOptions) {
    const op = 'RedisKeyedRateLimiter';
    checkRequiredOpts(opts, op);
    const name = checkName(opts.name, op, 'name');
    const rate = checkNumber(opts.rate, op, 'rate');
    const burst = checkInt(opts.burst, op, 'burst');
    const maxKeys = opts.maxLocalKeys === undefined ? 10_000 : checkInt(opts.maxLocalKeys, op, 'maxLocalKeys', 1);
    const common = checkCommon(opts, op, 'local');
    this.name = name;
    // keyBase(prefix, 'keyedrate', `${name}:${key}`) without its closing brace, made once.
    this.#head = `${common.prefix}:{keyedrate:${name}:`;
    this.#g = new Gcra(common, rate, burst, op, () => {
      const twin = new KeyedRateLimiter({ rate, burst, maxKeys });
      return {
        allow: (key, n) => twin.allow(key, n),
        wait: (key, n, signal) => twin.wait(key, n, { signal }),
        reserve: () => {
          throw new Error('unreachable: RedisKeyedRateLimiter has no reserve');
        },
      };
    });
  }

  /** Tokens added per second to each key's bucket. */
  get rate(): number {
    return this.#g.rate;
  }

  /** Each bucket's size. */
  get burst(): number {
    return this.#g.burst;
  }

  #redisKey(key: string, op: string): string {
    if (typeof key !== 'string') checkString(key, op, 'key');
    return `${this.#head}${key}}:tat`;
  }

  /**
   * `RedisRateLimiter.allow` on `key`'s bucket: takes `n` tokens (default 1)
   * if they are there now, and resolves with whether it did. Never rejects.
   *
   * @throws TypeError if `key` is not a string.
   * @throws RangeError if `n` is not an integer >= 0.
   */
  allow(key: string, n?: number): Promise<boolean> {
    const op = 'RedisKeyedRateLimiter.allow';
    return this.#g.allow(this.#redisKey(key, op), checkN(n, op));
  }

  /**
   * `RedisRateLimiter.wait` on `key`'s bucket: waits until `n` tokens
   * (default 1) of that key are the caller's, one round trip and then a
   * timer, in the order the calls reached Redis.
   *
   * **Cancellation**: as `RedisRateLimiter.wait`: an abort gives back what
   * the wait took, then rejects with `signal.reason`, leaving no timer and
   * no listener.
   *
   * Rejects with `RedisUnavailableError` (`ERR_REDIS_UNAVAILABLE`) under
   * `'fail-closed'` when Redis cannot decide within `timeoutMs`, and with
   * `RateLimitExceededError` (`ERR_RATE_LIMIT_EXCEEDED`) at rate 0 once the
   * burst is spent.
   *
   * @throws TypeError if `key` is not a string, or `opts` has the wrong type.
   * @throws RangeError if `n` is not an integer >= 0 or exceeds `burst` at a finite rate.
   * @example Each key waits on its own
   * ```ts
   * import { createClient } from 'redis';
   * import { RedisKeyedRateLimiter } from 'weftjs/redis';
   * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
   * const limits = new RedisKeyedRateLimiter({ redis, name: 'doc:tenants', rate: 10, burst: 1 });
   * await limits.wait('acme');
   * const acme = limits.wait('acme', 1, { signal: AbortSignal.timeout(30) });
   * await limits.wait('globex'); // another key has a bucket of its own
   * await acme.catch((err) => err.name); // => 'TimeoutError'
   * await redis.close();
   * ```
   */
  wait(key: string, n?: number, opts?: { signal?: AbortSignal }): Promise<void> {
    const op = 'RedisKeyedRateLimiter.wait';
    return this.#g.wait(this.#redisKey(key, op), checkN(n, op), opts);
  }
}
