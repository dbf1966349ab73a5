// weft: Go's concurrency patterns for TypeScript. This file only re-exports.

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
