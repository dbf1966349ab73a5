/**
 * Package redis's `RedisSemaphore`: a weighted semaphore shared by every
 * process that uses the same Redis, prefix and key, with leases that end
 * when their holder dies, waiters served first-in first-out across the
 * processes and woken by Redis pub/sub, and a fencing token on every grant.
 */

import { signalOf } from '../internal/abort.js';
import { WeftError } from '../internal/errors.js';
import { checkFn, checkInt, checkOpts, checkRequiredOpts, rangeError } from '../internal/validate.js';
import type { Lock } from '../lock.js';
import { Semaphore } from '../semaphore.js';
import type { RedisOptions } from './client.js';
import { keyBase, keysOf } from './internal/keys.js';
import { SemCore } from './internal/leases.js';
import { checkCommon, checkName } from './internal/options.js';

/**
 * Options of `RedisSemaphore`: those of every weft/redis primitive, the
 * semaphore's name, its size and the length of a lease, which every
 * process sharing the key must give alike.
 *
 * @see RedisSemaphore
 */
export interface RedisSemaphoreOptions extends RedisOptions {
  /** The semaphore's name; its keys are `<prefix>:{sem:<key>}:<part>`. */
  key: string;
  /** The number of permits, across all processes. */
  size: number;
  /**
   * Milliseconds a grant lasts unless its holder renews it (default
   * 10_000, at least 30): a live holder renews every `leaseMs / 3`; the
   * weight of one that died comes back `leaseMs` after its last renewal.
   * Keep it well above the round trip to Redis and above the pauses of the
   * process (a garbage collection, a stopped VM).
   */
  leaseMs?: number;
}

/**
 * What `RedisSemaphore.acquire` grants: a `Lock` whose `release()` gives
 * the weight back in Redis, with the grant's fencing token and a signal
 * that aborts if the lease is lost.
 *
 * `fencingToken` is larger than the token of every grant before it of this
 * semaphore: hand it to the resource the lock guards, which refuses a
 * token lower than the highest it has seen (Kleppmann's fencing), so that a
 * holder that was paused past its lease can do no harm. It is 0 for a
 * grant made without Redis (`onRedisError: 'fail-open'` or `'local'`),
 * which such a resource refuses as well.
 *
 * `signal` aborts, with a `LeaseLostError`, when the lease is lost while
 * held: Redis let it expire (the process was stopped or too slow to renew,
 * or Redis lost its data), or no renewal got through for `leaseMs`. The
 * holder should stop then: another may hold the weight. It never aborts
 * after `release()`, nor for a grant without a lease.
 *
 * `release()` is idempotent, stops the renewals at once and resolves when
 * Redis has the weight back; it never rejects (if Redis cannot be reached,
 * the weight comes back when the lease ends). `await using` releases and
 * waits; `using` releases without waiting.
 *
 * @example Fencing a write
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisSemaphore } from 'weftjs/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const mutex = new RedisSemaphore({ redis, key: 'doc:fence', size: 1 });
 * const first = await mutex.acquire();
 * await first.release();
 * {
 *   await using second = await mutex.acquire();
 *   second.fencingToken > first.fencingToken; // => true
 *   second.signal.aborted; // => false
 * }
 * await redis.close();
 * ```
 * @see RedisSemaphore.acquire
 */
export interface RedisLock extends Lock {
  /** Increases with every grant of this semaphore; 0 for a grant without Redis. */
  readonly fencingToken: number;
  /** Aborts with a `LeaseLostError` if the lease is lost while held. */
  readonly signal: AbortSignal;
  /** The weight held. */
  readonly weight: number;
  /** Gives the weight back (once); resolves when Redis has it. Never rejects. */
  release(): Promise<void>;
  /** Same as `release()`, for `using` (without waiting for Redis). */
  [Symbol.dispose](): void;
  /** Same as `release()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The reason a `RedisLock`'s signal aborts with when its lease is lost:
 * another process may now hold the weight, and the lock's fencing token is
 * stale. `code` is `'ERR_LEASE_LOST'`.
 *
 * @example A lease that Redis no longer has
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisSemaphore } from 'weftjs/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const sem = new RedisSemaphore({ redis, key: 'doc:lost', size: 1, leaseMs: 300 });
 * const lock = await sem.acquire();
 * await redis.del('weft:{sem:doc:lost}:holders'); // as if it had expired while this process was stopped
 * const reason = await new Promise<any>((resolve) => lock.signal.addEventListener('abort', () => resolve(lock.signal.reason)));
 * [reason.name, reason.code]; // => ['LeaseLostError', 'ERR_LEASE_LOST']
 * await redis.close();
 * ```
 * @see RedisLock
 */
export class LeaseLostError extends WeftError {
  readonly code = 'ERR_LEASE_LOST' as const;
}

/** Options of `RedisSemaphore.run`. */
export interface RedisSemaphoreRunOptions {
  /** The weight `fn` runs under (default 1). */
  weight?: number;
  /** Stops the wait for the weight; once `fn` has started, the run ends with `fn`'s outcome. */
  signal?: AbortSignal;
}

/**
 * A weighted semaphore in Redis, shared by every process that uses the
 * same Redis, `prefix` and `key`: `size` permits across all of them, taken
 * by weight and given back when done, as `Semaphore` in one process.
 *
 * Waiters are served first-in first-out across the processes, in the order
 * their calls reached Redis: a large waiter at the head holds back smaller
 * ones behind it, so none starves, and `tryAcquire` fails while anyone
 * waits. A release grants the head of the queue what now fits, in the same
 * script, and publishes the grant: the waiter wakes by Redis pub/sub, in
 * about one round trip, never by polling. Renewals (every `leaseMs / 3`)
 * are the fallback of a lost wake-up, and a waiter looks again when a lease
 * ends in Redis.
 *
 * Every grant is a lease of `leaseMs`, renewed by its process while the
 * lock is held, on an unref'd timer: a holder that dies gives its weight
 * back `leaseMs` after its last renewal, no sooner; a waiter that dies
 * loses its place after `leaseMs`. Each grant carries a `fencingToken`
 * larger than every one before it (see `RedisLock`).
 *
 * **When Redis cannot decide** (`onRedisError`, default `'fail-closed'`):
 * `'fail-closed'` rejects `acquire` and `run` with `RedisUnavailableError`
 * and resolves `tryAcquire` with `undefined`, also for a waiter whose place
 * could not be renewed; `'fail-open'` grants at once, without a lease
 * (token 0); `'local'` waits on a `Semaphore` of `size` in this process
 * (token 0): N processes may then hold up to N times `size`. `'fail-closed'`
 * is the default because a semaphore usually guards what must not be
 * exceeded. A lease already held is not ended by an outage, but its signal
 * aborts once no renewal got through for `leaseMs`.
 *
 * @throws TypeError if `opts` or a field has the wrong type, `key` or
 * `prefix` is empty, or `redis` is not a connected client.
 * @throws RangeError if `size` is not an integer >= 1, `leaseMs` not an
 * integer >= 30, or `timeoutMs` not an integer >= 1.
 * @example At most two exports at a time, across processes
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisSemaphore } from 'weftjs/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const exports = new RedisSemaphore({ redis, key: 'doc:exports', size: 2, leaseMs: 5_000 });
 * let running = 0;
 * let peak = 0;
 * const work = async (n: number) => {
 *   peak = Math.max(peak, ++running);
 *   await new Promise((r) => setTimeout(r, 20));
 *   running--;
 *   return n * 10;
 * };
 * const results = await Promise.all([1, 2, 3, 4, 5].map((n) => exports.run(() => work(n))));
 * results; // => [10, 20, 30, 40, 50]
 * peak; // => 2
 * await redis.close();
 * ```
 * @example A large waiter holds back smaller ones
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisSemaphore } from 'weftjs/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const sem = new RedisSemaphore({ redis, key: 'doc:fifo', size: 10 });
 * const first = await sem.acquire(6);
 * const order: string[] = [];
 * const big = sem.acquire(10).then(async (l) => { order.push('big'); await l.release(); });
 * await new Promise((r) => setTimeout(r, 20)); // the big one is queued first
 * const small = sem.acquire(1).then(async (l) => { order.push('small'); await l.release(); });
 * await sem.tryAcquire(1); // => undefined
 * await first.release();
 * await Promise.all([big, small]);
 * order; // => ['big', 'small']
 * await redis.close();
 * ```
 * @see RedisLock
 */
export class RedisSemaphore {
  /** The semaphore's name, as given. */
  readonly key: string;
  readonly #core: SemCore;

  constructor(opts: RedisSemaphoreOptions) {
    const op = 'RedisSemaphore';
    checkRequiredOpts(opts, op);
    const key = checkName(opts.key, op, 'key');
    const size = checkInt(opts.size, op, 'size', 1);
    const leaseMs = opts.leaseMs === undefined ? 10_000 : checkInt(opts.leaseMs, op, 'leaseMs', 30, 2_147_483_647);
    const common = checkCommon(opts, op, 'fail-closed');
    this.key = key;
    const keys = keysOf(common.prefix, 'sem', key, ['holders', 'queue', 'qexp', 'weights', 'tokens', 'state']);
    const channel = `${keyBase(common.prefix, 'sem', key)}:wake`;
    this.#core = new SemCore(
      common,
      keys,
      channel,
      size,
      leaseMs,
      (message) => new LeaseLostError(message),
      () => new Semaphore(size),
    );
  }

  /** The number of permits, across all processes. */
  get size(): number {
    return this.#core.size;
  }

  /** Milliseconds a lease lasts without renewal. */
  get leaseMs(): number {
    return this.#core.leaseMs;
  }

  /** Calls of `acquire` and `run` of this process waiting for their grant. */
  get waiting(): number {
    return this.#core.waiters.size;
  }

  /** Leases this process holds now. */
  get held(): number {
    return this.#core.holders.size;
  }

  /**
   * Acquires `weight` permits (default 1), waiting until they are free and
   * every earlier waiter, of any process, has been served; resolves with a
   * `RedisLock`. One round trip when the weight is free and nobody waits.
   *
   * **Cancellation**: when `opts.signal` aborts, the call leaves the queue
   * in Redis, then rejects with `signal.reason`, holding nothing; if it was
   * at the head, the waiters behind it that now fit are granted. An
   * already-aborted signal rejects at once, without asking Redis.
   *
   * Rejects with `RangeError` when `weight > size`, at once, and with
   * `RedisUnavailableError` (`ERR_REDIS_UNAVAILABLE`) under `'fail-closed'`
   * when Redis cannot decide within `timeoutMs` (also while waiting, when
   * the place in the queue could not be renewed).
   *
   * @throws TypeError / RangeError at once if `weight` is not an integer
   * >= 0, or `opts.signal` not an AbortSignal.
   * @example Giving up the wait
   * ```ts
   * import { createClient } from 'redis';
   * import { RedisSemaphore } from 'weftjs/redis';
   * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
   * const sem = new RedisSemaphore({ redis, key: 'doc:giveup', size: 1 });
   * const held = await sem.acquire();
   * const wait = sem.acquire(1, { signal: AbortSignal.timeout(50) });
   * await wait.catch((err) => err.name); // => 'TimeoutError'
   * await redis.zCard('weft:{sem:doc:giveup}:queue'); // => 0
   * await held.release();
   * await redis.exists('weft:{sem:doc:giveup}:holders'); // => 0
   * await redis.close();
   * ```
   * @see RedisSemaphore.run
   */
  acquire(weight = 1, opts?: { signal?: AbortSignal }): Promise<RedisLock> {
    checkInt(weight, 'RedisSemaphore.acquire', 'weight', 0);
    const signal = signalOf(opts, 'RedisSemaphore.acquire');
    const core = this.#core;
    if (weight > core.size) return Promise.reject(tooBig('RedisSemaphore.acquire', weight, core.size));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return core.acquire(weight, signal);
  }

  /**
   * Takes `weight` permits (default 1) if they are free now and nobody
   * waits, in one round trip; resolves with the `RedisLock`, or `undefined`
   * (also for `weight > size`, as Go's `TryAcquire`).
   *
   * Under `'fail-closed'`, resolves with `undefined` when Redis cannot
   * decide within `timeoutMs`; `'fail-open'` grants without a lease;
   * `'local'` tries the local twin. It never rejects.
   *
   * @throws TypeError / RangeError at once if `weight` is not an integer >= 0.
   * @example Taking what is free, or nothing
   * ```ts
   * import { createClient } from 'redis';
   * import { RedisSemaphore } from 'weftjs/redis';
   * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
   * const sem = new RedisSemaphore({ redis, key: 'doc:try', size: 2 });
   * const one = await sem.tryAcquire();
   * one?.weight; // => 1
   * await sem.tryAcquire(2); // => undefined
   * await one?.release();
   * (await sem.tryAcquire(2))?.weight; // => 2
   * await redis.close();
   * ```
   * @see RedisSemaphore.acquire
   */
  tryAcquire(weight = 1): Promise<RedisLock | undefined> {
    checkInt(weight, 'RedisSemaphore.tryAcquire', 'weight', 0);
    if (weight > this.#core.size) return Promise.resolve(undefined);
    return this.#core.tryAcquire(weight);
  }

  /**
   * Runs `fn(signal, lock)` under `opts.weight` permits (default 1): waits
   * for them as `acquire` does, calls `fn` with the lock's signal (which
   * aborts if the lease is lost) and the lock, and releases when `fn`'s
   * result settles; resolves or rejects with what `fn` returned or threw,
   * once Redis has the weight back. `fn` runs in the async context of the
   * call to `run`.
   *
   * **Cancellation**: `opts.signal` stops the wait for the weight (the call
   * rejects with `signal.reason`, `fn` never runs, nothing is held); once
   * `fn` has started, the run ends with `fn`'s outcome.
   *
   * Rejects with `fn`'s error as it is, with `signal.reason`, with
   * `RangeError` when `weight > size`, or with `RedisUnavailableError`
   * under `'fail-closed'`.
   * @throws TypeError / RangeError at once if `fn` is not a function, `opts.weight` not an integer >= 0, or `opts.signal` not an AbortSignal.
   * @example The weight comes back when fn throws
   * ```ts
   * import { createClient } from 'redis';
   * import { RedisSemaphore } from 'weftjs/redis';
   * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
   * const sem = new RedisSemaphore({ redis, key: 'doc:run', size: 4 });
   * const failed = sem.run(() => { throw new Error('boom'); }, { weight: 4 });
   * await failed.catch((err: Error) => err.message); // => 'boom'
   * (await sem.tryAcquire(4))?.weight; // => 4
   * await redis.close();
   * ```
   * @see RedisSemaphore.acquire
   */
  run<T>(fn: (signal: AbortSignal, lock: RedisLock) => T | Promise<T>, opts?: RedisSemaphoreRunOptions): Promise<T> {
    checkFn(fn, 'RedisSemaphore.run', 'fn');
    let weight = 1;
    let signal: AbortSignal | undefined;
    if (opts !== undefined) {
      checkOpts(opts, 'RedisSemaphore.run');
      if (opts.weight !== undefined) weight = checkInt(opts.weight, 'RedisSemaphore.run', 'weight', 0);
      signal = signalOf(opts, 'RedisSemaphore.run');
    }
    const core = this.#core;
    if (weight > core.size) return Promise.reject(tooBig('RedisSemaphore.run', weight, core.size));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return this.#run(fn, weight, signal);
  }

  async #run<T>(
    fn: (signal: AbortSignal, lock: RedisLock) => T | Promise<T>,
    weight: number,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const lock = await this.#core.acquire(weight, signal);
    try {
      return await fn(lock.signal, lock);
    } finally {
      await lock.release();
    }
  }
}

function tooBig(op: string, weight: number, size: number): RangeError {
  return rangeError(`${op}: \`weight\` must be an integer from 0 to ${size}, got ${weight}`);
}
