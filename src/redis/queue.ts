/**
 * Package redis's `RedisQueue`: a durable work queue on a Redis Stream and
 * its consumer group, shared by every process that uses the same Redis,
 * prefix and name. Jobs are delivered at least once: a job is done when
 * its consumer acknowledges it, a consumer that dies loses its jobs to the
 * others after `visibilityMs`, and a job that keeps failing ends in a
 * dead-letter stream. Each consumer runs its jobs on a weft `WorkerPool`,
 * with cancellation, rate limits and a graceful close.
 */

import { AsyncResource } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { signalOf } from '../internal/abort.js';
import { WeftError } from '../internal/errors.js';
import {
  checkFn,
  checkInt,
  checkOptFn,
  checkOpts,
  checkRequiredOpts,
  rangeError,
  show,
  typeError,
} from '../internal/validate.js';
import { waitFor } from '../internal/waiter.js';
import type { JobContext } from '../workerpool.js';
import type { RedisOptions } from './client.js';
import { Calls, list } from './internal/calls.js';
import { Consumer, MAX_CONCURRENCY, type QueueCore, type RedisQueueConsumerStats } from './internal/consumer.js';
import { keyBase } from './internal/keys.js';
import { checkCommon, checkName } from './internal/options.js';
import { ADD_MANY, ADD_ONCE, DEAD, GROUP, STATS } from './internal/queuelua.js';

/**
 * Options of `RedisQueue`: those of every weft/redis primitive (but
 * `onRedisError`: a queue admits nothing, it waits for Redis), the queue's
 * name, and how jobs are claimed, retried and stored. Every process that
 * shares the queue should give the same `visibilityMs`, `maxDeliveries`
 * and serialisation.
 *
 * @see RedisQueue
 */
export interface RedisQueueOptions<T> extends Omit<RedisOptions, 'onRedisError' | 'onFallback'> {
  /** The queue's name; its keys are `<prefix>:{queue:<name>}:<part>`, in one Cluster slot. */
  name: string;
  /**
   * Milliseconds a delivered job stays claimed without renewal (default
   * 30_000, at least 30): a live consumer renews its claims every
   * `renewMs`; the jobs of one that died are taken by another consumer
   * `visibilityMs` after its last renewal. Keep it above the pauses of a
   * process (a garbage collection, a stopped VM): a consumer paused longer
   * loses its jobs, and their signals abort when it resumes.
   */
  visibilityMs?: number;
  /** Milliseconds between renewals of a consumer's claims (default `visibilityMs / 3`, at least 10). */
  renewMs?: number;
  /**
   * Milliseconds to wait for Redis's answer to one call (default the
   * smaller of 1000 and `visibilityMs / 3`). `renewMs + timeoutMs` must be
   * less than `visibilityMs`, so that a renewal lands before the claim ends.
   */
  timeoutMs?: number;
  /** Deliveries of one job before it goes to the dead-letter stream (default 5, at least 1). */
  maxDeliveries?: number;
  /** Milliseconds before a failed job is delivered again (default the smaller of 1000 and `visibilityMs`). */
  retryDelayMs?: number;
  /** Milliseconds an `idempotencyKey` of `add` is remembered (default 86_400_000, a day). */
  idempotencyMs?: number;
  /** Turns a job into the string stored in Redis (default `JSON.stringify`). */
  serialize?: (job: T) => string;
  /** Turns a stored string back into a job (default `JSON.parse`); a job it throws on is dead-lettered. */
  deserialize?: (data: string) => T;
}

/**
 * What a job's work receives besides the job: a `JobContext` (its signal
 * and its worker slot) with the job's id and how many times it was
 * delivered, counting this delivery.
 *
 * `signal` aborts when the job should stop: with `process`'s signal's
 * reason as it is when that aborts; with a `ConsumerClosedError` when the
 * grace of `close()` ran out; with a `ClaimLostError` when the consumer
 * lost the claim on the job (another consumer took it, or no renewal got
 * through for `visibilityMs`). A job that ends after its claim was lost is
 * neither acknowledged nor failed: the consumer that holds it now decides.
 */
export interface RedisJobContext extends JobContext {
  /** The job's id: the stream entry id `add` returned. */
  readonly id: string;
  /** Deliveries of this job so far, this one included (1 the first time). */
  readonly deliveries: number;
}

/** What can throttle a queue's processing: a `RateLimiter` or a `RedisRateLimiter` (their `wait`). */
export interface RedisQueueLimiter {
  wait(n?: number, opts?: { signal?: AbortSignal }): Promise<unknown>;
}

/** What can throttle a queue's processing per group key: a `KeyedRateLimiter` or a `RedisKeyedRateLimiter`. */
export interface RedisQueueKeyedLimiter {
  wait(key: string, n?: number, opts?: { signal?: AbortSignal }): Promise<unknown>;
}

/** Options of `RedisQueue.process` and `RedisQueue.consume`. */
export interface RedisQueueProcessOptions<T> {
  /** Jobs this consumer runs at once, from 1 to 10_000 (default 10). */
  concurrency?: number;
  /** Aborting it stops the consumer at once: running jobs' signals abort, what has not succeeded is handed back. */
  signal?: AbortSignal;
  /**
   * The consumer's name in Redis, unique among the live consumers of the
   * queue (default `<host>-<pid>-<random>`). A consumer started under the
   * name of one that died (a restarted pod, say) hands the jobs Redis still
   * holds for that name back to the queue at once, their delivery counted,
   * instead of leaving them for `visibilityMs`.
   */
  consumer?: string;
  /** Each job waits for one token of it before its work runs (per queue, across processes with a `RedisRateLimiter`). */
  limiter?: RedisQueueLimiter;
  /** Each job waits for one token of `limiter` under `key(job)` before its work runs. */
  groupLimit?: { limiter: RedisQueueKeyedLimiter; key: (job: T) => string };
  /**
   * Told, synchronously, of each error the consumer handles by itself: a
   * call to Redis that failed (it tries again), a limiter that rejected (the
   * job is handed back). Runs in the async context of the `process` call.
   */
  onError?: (err: unknown) => void;
}

/** A snapshot of one consumer's counters (declared with the consumer that keeps them). */
export type { RedisQueueConsumerStats };

/**
 * A running consumer of a `RedisQueue` (`queue.consume(...)`): a closable
 * handle, for `Shutdown` (weft/node) or `await using`.
 *
 * @example Stopping a consumer gracefully
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisQueue } from 'weftjs/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const queue = new RedisQueue<number>({ redis, name: 'doc:consumer' });
 * await queue.addMany([1, 2, 3]);
 * let sum = 0;
 * const consumer = queue.consume(async (n) => void (sum += n), { concurrency: 2 });
 * while (consumer.stats.completed < 3) await new Promise((r) => setTimeout(r, 5));
 * await consumer.close();
 * consumer.state; // => 'closed'
 * sum; // => 6
 * (await queue.stats()).consumers; // => []
 * await redis.close();
 * ```
 * @see RedisQueue.consume
 */
export interface RedisQueueConsumer extends AsyncDisposable {
  /** The consumer's name in Redis. */
  readonly name: string;
  /** `'running'`, `'closing'` once `close()` was called or the signal aborted, `'closed'` once `done` resolved. */
  readonly state: 'running' | 'closing' | 'closed';
  /** Resolves once the consumer has closed and holds no claim. Never rejects. */
  readonly done: Promise<void>;
  /** The consumer's counters: a fresh snapshot on each read. */
  readonly stats: RedisQueueConsumerStats;
  /**
   * Sets how many jobs run at once, as `WorkerPool.resize`.
   * @throws RangeError if `concurrency` is not an integer from 1 to 10_000.
   */
  resize(concurrency: number): void;
  /**
   * Closes the consumer: it stops fetching, hands back at once the jobs it
   * fetched and did not start, and lets the running ones finish for
   * `graceMs` (default 10_000; `Infinity`: as long as they take); then
   * their signals abort with a `ConsumerClosedError`
   * (`ERR_CONSUMER_CLOSED`), and each that then ends without success is
   * handed back to the queue, for another consumer to take on its next
   * fetch (within half a second: a waiting consumer reads again that often),
   * without counting the delivery. A job that succeeds is acknowledged,
   * also after its signal aborted. Resolves as `done`, once no claim is
   * held and the consumer has left the group. Calling it again returns the
   * same promise; a shorter `graceMs` ends the grace sooner. With
   * `opts.signal`, the grace also ends when it aborts (default `graceMs`
   * then `Infinity`): weft/node's `Shutdown` closes a consumer so, with its
   * hook's signal, so that running jobs may finish until the hook's timeout
   * and the rest are handed back then.
   *
   * If Redis cannot be reached meanwhile, the claims it could not settle
   * end by themselves after `visibilityMs` (the jobs are then delivered
   * again), and the close completes then.
   *
   * @throws TypeError / RangeError if `graceMs` is not a number of milliseconds >= 0.
   */
  close(opts?: { graceMs?: number; signal?: AbortSignal }): Promise<void>;
  /** `await using`: `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** One consumer in `RedisQueueStats`. */
export interface RedisQueueConsumerInfo {
  name: string;
  /** Jobs delivered to it and not yet acknowledged. */
  inFlight: number;
  /** Milliseconds since it last fetched or renewed: a consumer that died shows a growing figure. */
  idleMs: number;
}

/** What `RedisQueue.stats` resolves with. */
export interface RedisQueueStats {
  /** Jobs waiting for a delivery: never delivered, or handed back (released, or failed and due for a retry). */
  waiting: number;
  /** Jobs delivered to a consumer and not yet acknowledged. */
  inFlight: number;
  /** Jobs in the dead-letter stream. */
  deadLettered: number;
  /** Every consumer of the queue in Redis, with its claims and how long it has been idle. */
  consumers: RedisQueueConsumerInfo[];
}

/** A job in the dead-letter stream. */
export interface RedisDeadLetter<T> {
  /** The job's id, as `add` returned it. */
  id: string;
  /** The job, or `undefined` if it could not be decoded (then `data` holds what was stored). */
  job: T | undefined;
  /** The job as stored. */
  data: string;
  /** Deliveries it had. */
  deliveries: number;
  /** The last error of its work, or why it was dead-lettered without one. */
  error: string;
}

/**
 * The reason a running job's signal aborts with when its consumer lost the
 * claim on it: another consumer took the job after `visibilityMs` without
 * renewal (this process was stopped or too slow), or no renewal got
 * through for `visibilityMs`. The job should stop: another consumer may be
 * running it. `code` is `'ERR_CLAIM_LOST'`.
 *
 * @example A claim taken by another consumer
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisQueue } from 'weftjs/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const queue = new RedisQueue<string>({ redis, name: 'doc:lost', visibilityMs: 300 });
 * await queue.add('long job');
 * const stop = new AbortController();
 * let reason: any;
 * const done = queue.process(async (_job, { id, signal }) => {
 *   // As if another consumer had taken it after this one stopped renewing.
 *   await redis.sendCommand(['XCLAIM', 'weft:{queue:doc:lost}:jobs', 'workers', 'other', '0', id]);
 *   await new Promise((resolve) => signal.addEventListener('abort', resolve));
 *   reason = signal.reason;
 *   stop.abort();
 * }, { signal: stop.signal });
 * await done;
 * [reason.name, reason.code]; // => ['ClaimLostError', 'ERR_CLAIM_LOST']
 * (await queue.stats()).consumers.map((c) => [c.name, c.inFlight]); // => [['other', 1]]
 * await redis.close();
 * ```
 */
export class ClaimLostError extends WeftError {
  readonly code = 'ERR_CLAIM_LOST' as const;
}

/**
 * The reason running jobs' signals abort with when a consumer's `close()`
 * grace runs out. `code` is `'ERR_CONSUMER_CLOSED'`.
 *
 * @example A job longer than the grace
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisQueue } from 'weftjs/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const queue = new RedisQueue<string>({ redis, name: 'doc:grace' });
 * await queue.add('slow');
 * let started!: () => void;
 * const running = new Promise<void>((r) => (started = r));
 * let code = '';
 * const consumer = queue.consume((_job, { signal }) => new Promise((_, reject) => {
 *   started();
 *   signal.addEventListener('abort', () => { code = signal.reason.code; reject(signal.reason); });
 * }));
 * await running;
 * await consumer.close({ graceMs: 20 });
 * code; // => 'ERR_CONSUMER_CLOSED'
 * consumer.stats.released; // => 1
 * (await queue.stats()).waiting; // => 1
 * await redis.close();
 * ```
 */
export class ConsumerClosedError extends WeftError {
  readonly code = 'ERR_CONSUMER_CLOSED' as const;
}

/** Options of `RedisQueue.add`. */
export interface RedisQueueAddOptions {
  /** Adds the job only if no job was added with this key within `idempotencyMs`; else resolves with that job's id. */
  idempotencyKey?: string;
  /** Stops waiting for Redis's answer (the job may have been added all the same). */
  signal?: AbortSignal;
}

const ADD_CHUNK = 500;
const ADD_PARALLEL = 8;

/**
 * A durable work queue in Redis, shared by every process that uses the
 * same Redis, `prefix` and `name`: producers `add` jobs, consumers
 * `process` them, each on a `WorkerPool` of its own.
 *
 * **Delivery: at least once.** A job is delivered to one consumer at a
 * time and stays claimed by it until its work succeeds (it is then
 * acknowledged and deleted) or fails. While the work runs, the consumer
 * renews its claim every `renewMs`; a job whose consumer died (or was
 * stopped past `visibilityMs`) is taken by another consumer `visibilityMs`
 * after the last renewal, and delivered again. A job may so run twice: when
 * its first consumer died before acknowledging it, or lost its claim (its
 * signal then aborts, and its result is dropped). A job that failed is
 * delivered again after `retryDelayMs`; one delivered `maxDeliveries`
 * times goes to the dead-letter stream (`deadLetters()`) with its last
 * error. Make the work idempotent, or record what it did.
 *
 * **Order**: jobs are delivered in the order they were added, jobs due
 * again (reclaimed, handed back, retried) first; with several workers they
 * run and complete in any order.
 *
 * Jobs are stored as strings: `JSON.stringify` and `JSON.parse` by
 * default (`serialize`, `deserialize` for others), so a job is plain data.
 * A job that cannot be serialised is refused at `add`; a stored job that
 * cannot be decoded is dead-lettered when delivered.
 *
 * **When Redis cannot be reached**: `add` rejects with
 * `RedisUnavailableError` after `timeoutMs`; consumers retry by
 * themselves and resume when Redis answers again, after a restart too
 * (they make the consumer group again where Redis lost it). A consumer's
 * claims that no renewal could cover for `visibilityMs` are lost: their
 * jobs' signals abort.
 *
 * Keys: `<prefix>:{queue:<name>}:jobs` (the stream, group `workers`),
 * `:dead` (the dead-letter stream), `:errors` and `:idem:<key>`, all in
 * one Cluster slot.
 *
 * @throws TypeError if `opts` or a field has the wrong type, `name` or
 * `prefix` is empty, or `redis` is not a connected client.
 * @throws RangeError if `visibilityMs` is not an integer >= 30, or is not
 * greater than `renewMs + timeoutMs`, or another number is out of its range.
 * @example Producers and consumers
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisQueue } from 'weftjs/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const queue = new RedisQueue<{ to: string }>({ redis, name: 'doc:emails' });
 * await queue.addMany([{ to: 'ann' }, { to: 'bob' }, { to: 'cy' }]);
 * const sent: string[] = [];
 * const stop = new AbortController();
 * await queue.process(async (job) => {
 *   sent.push(job.to);
 *   if (sent.length === 3) stop.abort();
 * }, { concurrency: 2, signal: stop.signal });
 * sent.sort(); // => ['ann', 'bob', 'cy']
 * await queue.stats(); // => { waiting: 0, inFlight: 0, deadLettered: 0, consumers: [] }
 * await redis.close();
 * ```
 * @example A job that keeps failing is dead-lettered
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisQueue } from 'weftjs/redis';
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * const queue = new RedisQueue<string>({ redis, name: 'doc:poison', maxDeliveries: 3, retryDelayMs: 0 });
 * const id = await queue.add('bad');
 * const tries: number[] = [];
 * const consumer = queue.consume((_job, { deliveries }) => {
 *   tries.push(deliveries);
 *   throw new Error('cannot parse');
 * });
 * while ((await queue.stats()).deadLettered === 0) await new Promise((r) => setTimeout(r, 10));
 * await consumer.close();
 * tries; // => [1, 2, 3]
 * const [dead] = await queue.deadLetters();
 * [dead?.id === id, dead?.job, dead?.deliveries, dead?.error]; // => [true, 'bad', 3, 'Error: cannot parse']
 * await redis.close();
 * ```
 * @see RedisQueue.process
 * @see RedisPubSub for messages that need no durability.
 */
export class RedisQueue<T> {
  /** The queue's name, as given. */
  readonly name: string;
  readonly #core: QueueCore;
  readonly #calls: Calls;
  readonly #base: string;
  readonly #encode: (job: T) => string;
  readonly #decode: (data: string) => T;
  readonly #idempotencyMs: number;

  constructor(opts: RedisQueueOptions<T>) {
    const op = 'RedisQueue';
    checkRequiredOpts(opts, op);
    const name = checkName(opts.name, op, 'name');
    const visibilityMs = int(opts.visibilityMs, 30_000, op, 'visibilityMs', 30);
    const renewMs = int(opts.renewMs, Math.floor(visibilityMs / 3), op, 'renewMs', 10);
    const timeoutMs = int(opts.timeoutMs, Math.min(1000, Math.floor(visibilityMs / 3)), op, 'timeoutMs', 1);
    if (visibilityMs <= renewMs + timeoutMs) {
      throw rangeError(
        `${op}: \`visibilityMs\` must be greater than \`renewMs\` + \`timeoutMs\` (${renewMs} + ${timeoutMs}), got ${visibilityMs}`,
      );
    }
    const maxDeliveries = int(opts.maxDeliveries, 5, op, 'maxDeliveries', 1);
    const retryDelayMs =
      opts.retryDelayMs === undefined
        ? Math.min(1000, visibilityMs)
        : checkInt(opts.retryDelayMs, op, 'retryDelayMs', 0, visibilityMs);
    this.#idempotencyMs = int(opts.idempotencyMs, 86_400_000, op, 'idempotencyMs', 1);
    const serialize = checkOptFn(opts.serialize, op, 'serialize');
    const deserialize = checkOptFn(opts.deserialize, op, 'deserialize');
    const common = checkCommon({ ...opts, timeoutMs, onFallback: undefined }, op, 'fail-closed');
    this.name = name;
    this.#encode = serialize ?? ((job) => JSON.stringify(job));
    this.#decode = deserialize ?? ((data) => JSON.parse(data) as T);
    this.#base = keyBase(common.prefix, 'queue', name);
    this.#calls = new Calls(common.conn, timeoutMs, op);
    const b = this.#base;
    this.#core = {
      calls: this.#calls,
      keys: [`${b}:jobs`, `${b}:dead`, `${b}:errors`],
      visibilityMs,
      renewMs,
      timeoutMs,
      maxDeliveries,
      retryDelayMs,
      decode: this.#decode as (data: string) => unknown,
      lost: (message) => new ClaimLostError(message),
      closed: (message) => new ConsumerClosedError(message),
    };
  }

  /** Milliseconds a delivered job stays claimed without renewal. */
  get visibilityMs(): number {
    return this.#core.visibilityMs;
  }

  /** Deliveries of one job before it is dead-lettered. */
  get maxDeliveries(): number {
    return this.#core.maxDeliveries;
  }

  /**
   * Adds `job` to the queue; resolves with its id (the stream entry id,
   * increasing with each add). With `opts.idempotencyKey`, a job is added
   * only if none was added with that key within `idempotencyMs`: a second
   * add with the key (a producer retrying after a timeout, say) adds
   * nothing and resolves with the first job's id, whether or not that job
   * was processed already. One round trip.
   *
   * **Cancellation**: an already-aborted `opts.signal` rejects at once and
   * adds nothing; one that aborts while Redis answers rejects with
   * `signal.reason`, and the job may have been added all the same (an
   * idempotency key makes the retry safe).
   *
   * Rejects with `RedisUnavailableError` (`ERR_REDIS_UNAVAILABLE`) when
   * Redis does not answer within `timeoutMs` or errs; the job may then
   * have been added (same remedy).
   *
   * @throws TypeError (`ERR_INVALID_ARG_VALUE`) at once if `job` cannot be
   * serialised (`JSON.stringify` throws or gives no JSON: a BigInt, a
   * cycle, `undefined`, a function), or `idempotencyKey` is not a
   * non-empty string.
   * @example The same key adds once
   * ```ts
   * import { createClient } from 'redis';
   * import { RedisQueue } from 'weftjs/redis';
   * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
   * const queue = new RedisQueue<{ order: number }>({ redis, name: 'doc:orders' });
   * const first = await queue.add({ order: 7 }, { idempotencyKey: 'order-7' });
   * const again = await queue.add({ order: 7 }, { idempotencyKey: 'order-7' });
   * again === first; // => true
   * (await queue.stats()).waiting; // => 1
   * let err: any;
   * try { queue.add({ order: 8n as unknown as number }); } catch (e) { err = e; }
   * [err.name, err.code]; // => ['TypeError', 'ERR_INVALID_ARG_VALUE']
   * await redis.close();
   * ```
   * @see RedisQueue.addMany
   */
  add(job: T, opts?: RedisQueueAddOptions): Promise<string> {
    const op = 'RedisQueue.add';
    const body = this.#body(job, op, 'job');
    const signal = signalOf(opts, op);
    let key: string | undefined;
    if (opts?.idempotencyKey !== undefined) key = checkName(opts.idempotencyKey, op, 'idempotencyKey');
    if (signal?.aborted) return Promise.reject(signal.reason);
    const jobs = this.#core.keys[0];
    const added =
      key === undefined
        ? this.#calls.command(jobs, ['XADD', jobs, '*', 'j', body], String)
        : this.#calls.script(
            ADD_ONCE,
            [jobs, `${this.#base}:idem:${key}`],
            [body, String(this.#idempotencyMs)],
            String,
          );
    return waitFor(added, signal, op);
  }

  /**
   * Adds every job of `jobs`, in order, in scripts of 500 jobs pipelined
   * on the connection; resolves with their ids, in order.
   *
   * **Cancellation**: an already-aborted `opts.signal` rejects at once and
   * adds nothing; one that aborts later rejects with `signal.reason` and
   * stops sending what was not sent yet (what was sent may be added).
   *
   * Rejects with `RedisUnavailableError` as `add` does; some jobs may then
   * have been added.
   *
   * @throws TypeError at once, adding nothing, if `jobs` is not iterable or
   * one of its jobs cannot be serialised (the message names its index).
   * @example
   * ```ts
   * import { createClient } from 'redis';
   * import { RedisQueue } from 'weftjs/redis';
   * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
   * const queue = new RedisQueue<number>({ redis, name: 'doc:many' });
   * const ids = await queue.addMany(Array.from({ length: 1200 }, (_, i) => i));
   * ids.length; // => 1200
   * ids[0]! < ids[1199]!; // => true
   * (await queue.stats()).waiting; // => 1200
   * await redis.close();
   * ```
   * @see RedisQueue.add
   */
  addMany(jobs: Iterable<T>, opts?: { signal?: AbortSignal }): Promise<string[]> {
    const op = 'RedisQueue.addMany';
    if (jobs === null || typeof (jobs as Iterable<T>)?.[Symbol.iterator] !== 'function') {
      throw typeError(`${op}: \`jobs\` must be an iterable, got ${show(jobs)}`);
    }
    const bodies: string[] = [];
    for (const job of jobs) bodies.push(this.#body(job, op, `jobs[${bodies.length}]`));
    const signal = signalOf(opts, op);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return waitFor(this.#addAll(bodies, signal), signal, op);
  }

  async #addAll(bodies: string[], signal: AbortSignal | undefined): Promise<string[]> {
    const ids: string[] = new Array(bodies.length);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < bodies.length && !signal?.aborted) {
        const at = next;
        next += ADD_CHUNK;
        const chunk = bodies.slice(at, at + ADD_CHUNK);
        const got = await this.#calls.script(ADD_MANY, [this.#core.keys[0]], chunk, list);
        for (let i = 0; i < got.length; i++) ids[at + i] = String(got[i]);
      }
    };
    await Promise.all(Array.from({ length: ADD_PARALLEL }, lane));
    return ids;
  }

  #body(job: T, op: string, name: string): string {
    let body: unknown;
    let cause: unknown;
    try {
      body = this.#encode(job);
    } catch (err) {
      cause = err;
    }
    if (typeof body !== 'string') {
      const why = cause instanceof Error ? cause.message : `it gave ${show(body)}, not a string`;
      const err = typeError(
        `${op}: \`${name}\` could not be serialised: ${why}, got ${show(job)}`,
        'ERR_INVALID_ARG_VALUE',
      );
      if (cause !== undefined) (err as { cause?: unknown }).cause = cause;
      throw err;
    }
    return body;
  }

  /**
   * Runs `work` on the queue's jobs, `opts.concurrency` at a time (default
   * 10), until `opts.signal` aborts; resolves then, once the running jobs
   * have settled or been handed back. The same as `consume(work,
   * opts).done`; use `consume` for a consumer to close gracefully (as a
   * `Shutdown` hook).
   *
   * `work(job, ctx)` receives the job and a `RedisJobContext` (`signal`,
   * `worker`, `id`, `deliveries`), in the async context of this call, on a
   * `WorkerPool` whose workers fetch jobs from Redis only as they free up.
   * A job is acknowledged when `work` returns or resolves; when it throws
   * or rejects, the job is delivered again after `retryDelayMs`, or
   * dead-lettered after `maxDeliveries` deliveries. With `opts.limiter`,
   * each job waits for one of its tokens before its work runs, and with
   * `opts.groupLimit` for one of `groupLimit.key(job)`'s: a job waiting
   * holds its worker (and its claim), so a slow group slows the others
   * down once every worker waits on it.
   *
   * **Cancellation**: when `opts.signal` aborts, the consumer stops
   * fetching, hands back the jobs fetched and not started, and the running
   * jobs' signals abort with `signal.reason`; each that then ends without
   * success is handed back to the queue at once (another consumer takes it
   * within half a second), without counting the
   * delivery (one that succeeds is acknowledged). An already-aborted
   * signal resolves at once, fetching nothing. A job that ignores its
   * signal holds the call until it ends.
   *
   * Never rejects: errors of Redis are retried (and told to
   * `opts.onError`), errors of the work fail their job only.
   *
   * @throws TypeError if `work` is not a function or an option has the
   * wrong type, or `consumer` is empty or starts with `~`.
   * @throws RangeError if `concurrency` is not an integer from 1 to 10_000.
   * @example Shared limits: one rate for the queue, one per customer
   * ```ts
   * import { createClient } from 'redis';
   * import { RateLimiter } from 'weftjs';
   * import { RedisKeyedRateLimiter, RedisQueue } from 'weftjs/redis';
   * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
   * const queue = new RedisQueue<{ customer: string }>({ redis, name: 'doc:limited' });
   * await queue.addMany([{ customer: 'a' }, { customer: 'a' }, { customer: 'b' }]);
   * const perCustomer = new RedisKeyedRateLimiter({ redis, name: 'doc:per-customer', rate: 1000, burst: 10 });
   * const stop = new AbortController();
   * const seen: string[] = [];
   * await queue.process((job) => {
   *   seen.push(job.customer);
   *   if (seen.length === 3) stop.abort();
   * }, {
   *   signal: stop.signal,
   *   limiter: new RateLimiter({ rate: 1000, burst: 10 }),
   *   groupLimit: { limiter: perCustomer, key: (job) => job.customer },
   * });
   * seen.sort(); // => ['a', 'a', 'b']
   * await redis.close();
   * ```
   * @see RedisQueue.consume
   */
  process(work: (job: T, ctx: RedisJobContext) => unknown, opts?: RedisQueueProcessOptions<T>): Promise<void> {
    return this.#consume(work, opts, 'RedisQueue.process').done;
  }

  /**
   * Starts a consumer, as `process` does, and returns it: a
   * `RedisQueueConsumer` to close (`close()`, `await using`, or
   * `shutdown.add('jobs', consumer)` with weft/node's `Shutdown`, which
   * lets running jobs finish for `close()`'s grace and hands the rest back
   * to the queue). `opts.signal`, if given, stops it as in `process`.
   *
   * @throws TypeError / RangeError as `process`.
   * @example A consumer as a Shutdown hook
   * ```ts
   * import { createClient } from 'redis';
   * import { Shutdown } from 'weftjs/node';
   * import { RedisQueue } from 'weftjs/redis';
   * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
   * const shutdown = new Shutdown({ signals: [], exit: false, log: () => {} });
   * const queue = new RedisQueue<string>({ redis, name: 'doc:shutdown' });
   * await queue.add('report');
   * let started!: () => void;
   * const running = new Promise<void>((r) => (started = r));
   * const done: string[] = [];
   * const consumer = queue.consume(async (job) => {
   *   started();
   *   await new Promise((r) => setTimeout(r, 50));
   *   done.push(job);
   * });
   * shutdown.add('jobs', consumer);
   * await running;
   * (await shutdown.shutdown()).ok; // => true
   * done; // => ['report']
   * (await queue.stats()).waiting; // => 0
   * await redis.close();
   * ```
   * @see RedisQueueConsumer
   */
  consume(work: (job: T, ctx: RedisJobContext) => unknown, opts?: RedisQueueProcessOptions<T>): RedisQueueConsumer {
    return this.#consume(work, opts, 'RedisQueue.consume');
  }

  #consume(
    work: (job: T, ctx: RedisJobContext) => unknown,
    opts: RedisQueueProcessOptions<T> | undefined,
    op: string,
  ): RedisQueueConsumer {
    checkFn(work, op, 'work');
    checkOpts(opts, op);
    const concurrency =
      opts?.concurrency === undefined ? 10 : checkInt(opts.concurrency, op, 'concurrency', 1, MAX_CONCURRENCY);
    const signal = signalOf(opts, op);
    let name = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    if (opts?.consumer !== undefined) {
      name = checkName(opts.consumer, op, 'consumer');
      if (name.startsWith('~')) {
        throw typeError(`${op}: \`consumer\` must not start with \`~\`, got ${show(name)}`, 'ERR_INVALID_ARG_VALUE');
      }
    }
    const limiter = opts?.limiter;
    if (limiter !== undefined && typeof limiter?.wait !== 'function') {
      throw typeError(`${op}: \`limiter\` must have a wait() method (a RateLimiter), got ${show(limiter)}`);
    }
    const group = opts?.groupLimit;
    if (group !== undefined) {
      checkOpts(group, op, 'groupLimit');
      if (typeof group.limiter?.wait !== 'function') {
        throw typeError(
          `${op}: \`groupLimit.limiter\` must have a wait() method (a KeyedRateLimiter), got ${show(group.limiter)}`,
        );
      }
      checkFn(group.key, op, 'groupLimit.key');
    }
    const onError = checkOptFn(opts?.onError, op, 'onError');
    const tell = onError === undefined ? () => {} : AsyncResource.bind(onError);
    return new Consumer(this.#core, {
      work: work as never,
      concurrency,
      name,
      named: opts?.consumer !== undefined,
      signal,
      limiter,
      group: group === undefined ? undefined : { limiter: group.limiter, key: group.key as (job: unknown) => string },
      onError: (err) => {
        try {
          tell(err);
        } catch (e) {
          // Reported as an uncaught error, as a throwing event listener is.
          queueMicrotask(() => {
            throw e;
          });
        }
      },
    }) as unknown as RedisQueueConsumer;
  }

  /**
   * Reads the queue's figures from Redis: jobs waiting, in flight and
   * dead-lettered, and each consumer's claims and idle time (a consumer
   * that died keeps its claims until another takes them, and its idle time
   * grows; consumers that hold nothing and were idle for a while are
   * removed). One round trip.
   *
   * **Cancellation**: `opts.signal` stops the wait (rejects with its reason).
   * Rejects with `RedisUnavailableError` when Redis does not answer in time.
   * @example
   * ```ts
   * import { createClient } from 'redis';
   * import { RedisQueue } from 'weftjs/redis';
   * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
   * const queue = new RedisQueue<number>({ redis, name: 'doc:stats' });
   * await queue.addMany([1, 2]);
   * await queue.stats(); // => { waiting: 2, inFlight: 0, deadLettered: 0, consumers: [] }
   * await redis.close();
   * ```
   */
  stats(opts?: { signal?: AbortSignal }): Promise<RedisQueueStats> {
    const signal = signalOf(opts, 'RedisQueue.stats');
    if (signal?.aborted) return Promise.reject(signal.reason);
    const [jobs, dead] = this.#core.keys;
    const got = this.#calls.script(STATS, [jobs, dead], [GROUP], (reply) => {
      const r = list(reply).map((x) => (typeof x === 'number' ? x : String(x)));
      const [length, pending, released, deadLettered] = r.slice(0, 4).map(Number) as [number, number, number, number];
      const consumers: RedisQueueConsumerInfo[] = [];
      for (let i = 4; i + 2 < r.length; i += 3) {
        consumers.push({ name: String(r[i]), inFlight: Number(r[i + 1]), idleMs: Number(r[i + 2]) });
      }
      return { waiting: length - pending + released, inFlight: pending - released, deadLettered, consumers };
    });
    return waitFor(got, signal, 'RedisQueue.stats');
  }

  /**
   * Reads up to `opts.count` (default 100) jobs of the dead-letter stream,
   * oldest first, with their last error. They stay there: delete the
   * stream `<prefix>:{queue:<name>}:dead`, or add the jobs again, to deal
   * with them.
   *
   * **Cancellation**: `opts.signal` stops the wait (rejects with its reason).
   * Rejects with `RedisUnavailableError` when Redis does not answer in time.
   * @throws RangeError if `count` is not an integer >= 1.
   * @see RedisQueue
   */
  deadLetters(opts?: { count?: number; signal?: AbortSignal }): Promise<RedisDeadLetter<T>[]> {
    const op = 'RedisQueue.deadLetters';
    const signal = signalOf(opts, op);
    const count = opts?.count === undefined ? 100 : checkInt(opts.count, op, 'count', 1);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const got = this.#calls.script(DEAD, [this.#core.keys[1]], [String(count)], (reply) =>
      list(reply).map((entry) => {
        const f = list(list(entry)[1]).map(String);
        const field = (k: string): string => {
          for (let i = 0; i + 1 < f.length; i += 2) if (f[i] === k) return f[i + 1]!;
          return '';
        };
        let job: T | undefined;
        try {
          job = this.#decode(field('j'));
        } catch {
          job = undefined;
        }
        return {
          id: field('id'),
          job,
          data: field('j'),
          deliveries: Number(field('deliveries')),
          error: field('error'),
        };
      }),
    );
    return waitFor(got, signal, op);
  }
}

function int(value: number | undefined, fallback: number, op: string, name: string, min: number): number {
  return value === undefined ? fallback : checkInt(value, op, name, min, 2_147_483_647);
}
