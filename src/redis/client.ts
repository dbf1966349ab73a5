/**
 * What every weft/redis primitive shares: the clients it accepts (node-redis
 * and ioredis, a single server or a Cluster), the options common to all of
 * them, and what happens when Redis does not answer: the failure policy
 * `onRedisError` and `RedisUnavailableError`.
 */
import { WeftError } from '../internal/errors.js';

/**
 * A node-redis client or cluster: what `createClient()` or `createCluster()`
 * from `redis` (v4 and later) return, once `connect()` was called.
 */
export interface NodeRedisClientLike {
  sendCommand(...args: any[]): Promise<unknown>;
  duplicate(...args: any[]): unknown;
  readonly isOpen: boolean;
}

/** An ioredis client or cluster: `new Redis()` or `new Cluster()` from `ioredis` (v5 and later). */
export interface IORedisClientLike {
  call(...args: any[]): Promise<unknown>;
  duplicate(...args: any[]): unknown;
  readonly status: string;
}

/**
 * A connected Redis client, of either library. weft sends its scripts on
 * it, and duplicates it for the connection that subscriptions need (opened
 * on the first wait that needs wake-ups, closed when the last one ends).
 * On a Cluster every key of one primitive lives in one slot (see the key
 * layout on `RedisOptions.prefix`).
 */
export type RedisClientLike = NodeRedisClientLike | IORedisClientLike;

/**
 * What a primitive does when Redis cannot decide (it is down, too slow,
 * paused, or answers with an error):
 * - `'fail-open'`: let the caller through, as if there were no limit;
 * - `'fail-closed'`: refuse (`allow` is false, a wait rejects with
 *   `RedisUnavailableError`);
 * - `'local'`: decide with an in-memory twin of the primitive in this
 *   process (`RateLimiter`, `Semaphore`, `CircuitBreaker`), until Redis
 *   answers again.
 *
 * Each primitive documents what the three mean for it, and its default.
 * After a call found Redis unreachable (no answer within `timeoutMs`, or a
 * broken connection), the calls of every primitive on that client decide by
 * their policy at once for `timeoutMs`; then one call at a time asks Redis
 * again, and the first answer brings all of them back.
 */
export type RedisErrorPolicy = 'fail-open' | 'fail-closed' | 'local';

/** The options every weft/redis primitive takes. */
export interface RedisOptions {
  /** A connected node-redis or ioredis client (or cluster). */
  redis: RedisClientLike;
  /**
   * The first part of every key (default `'weft'`). Keys are
   * `<prefix>:{<kind>:<name>}:<part>`, e.g. `weft:{rate:api}:tat`: the
   * braces keep one primitive's keys in one Redis Cluster slot. Processes
   * share a primitive when they use the same prefix, kind and name.
   */
  prefix?: string;
  /** What to do when Redis cannot decide; the default depends on the primitive. */
  onRedisError?: RedisErrorPolicy;
  /**
   * Milliseconds to wait for Redis's answer before deciding by
   * `onRedisError` (default 1000). No call waits on Redis longer.
   */
  timeoutMs?: number;
  /**
   * Called, synchronously, each time a call decided by `onRedisError`
   * because Redis could not (to log it, or count it): with the
   * `RedisUnavailableError` that says why; once for the `allow` calls of
   * one tick, which share one round trip. It runs in the async context
   * (AsyncLocalStorage) the primitive was made in. If it throws, the error
   * is reported as uncaught and the call still settles.
   */
  onFallback?: (err: RedisUnavailableError) => void;
}

/**
 * Redis could not decide in time: no answer within `timeoutMs`, a broken
 * or closed connection, or an error reply (`cause` holds it where there is
 * one). What a `'fail-closed'` primitive rejects with where it would
 * otherwise wait or grant. Match it on `code`.
 *
 * @example A closed client, fail-closed
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisRateLimiter } from 'weftjs/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const limiter = new RedisRateLimiter({ redis, key: 'doc:closed', rate: 1, burst: 1, onRedisError: 'fail-closed' });
 * await redis.close();
 * const err = await limiter.wait().catch((e) => e);
 * [err.name, err.code]; // => ['RedisUnavailableError', 'ERR_REDIS_UNAVAILABLE']
 * await limiter.allow(); // => false
 * ```
 * @see RedisErrorPolicy
 */
export class RedisUnavailableError extends WeftError {
  readonly code = 'ERR_REDIS_UNAVAILABLE' as const;
}
