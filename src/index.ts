/**
 * weft's core: Go's production concurrency patterns for TypeScript, in memory, with no runtime dependencies and no
 * `node:` imports (it also runs in browsers, Deno and Bun).
 *
 * @module weftjs
 * @categoryDescription Cancellation and time
 * Go's `context` as `AbortSignal`: scopes with a cancel function, timeouts and deadlines, `sleep`, `afterFunc`, and
 * the `Clock` that every timed operation takes.
 * @categoryDescription Channels and select
 * Go's channels, `select`, `time.After` and tickers, and in-process pub/sub.
 * @categoryDescription Sync
 * Go's `sync` and `errgroup`: WaitGroup, Mutex, RWMutex, Once, Cond, Pool, SyncMap and ErrGroup.
 * @categoryDescription Admission control
 * How much runs at once and how often: weighted semaphores and token-bucket rate limiters.
 * @categoryDescription Resilience
 * Calls to a downstream that fails: circuit breakers, retries with backoff, singleflight, and policies composing them.
 * @categoryDescription Pipelines and pools
 * Bounded worker pools and lazy, pulling pipelines with fan-out and fan-in.
 * @categoryDescription Errors
 * Telling weft's errors apart by `code`.
 */
// This file only re-exports.

export * from './breaker.js';
export * from './channel.js';
export * from './clock.js';
export * from './cond.js';
export * from './context.js';
export * from './errgroup.js';
export * from './errors.js';
export * from './flow.js';
export * from './keyedrate.js';
export * from './lock.js';
export * from './mutex.js';
export * from './once.js';
export * from './policy.js';
export * from './pool.js';
export * from './pubsub.js';
export * from './rate.js';
export * from './retry.js';
export * from './rwmutex.js';
export * from './select.js';
export * from './semaphore.js';
export * from './singleflight.js';
export * from './syncmap.js';
export * from './timers.js';
export * from './waitgroup.js';
export * from './workerpool.js';
