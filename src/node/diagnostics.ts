/**
 * Package diagnostics publishes what weft's core primitives do on
 * `node:diagnostics_channel`, named as undici names its channels
 * (`weft:<primitive>:<event>`), so that a tracer, a metrics exporter or a
 * log line can watch breakers, limiters, pools and semaphores without
 * wrapping them. The core imports nothing from Node: `enableDiagnostics()`
 * hands it one channel per event, and from then on each event is published
 * while its channel has subscribers, and built only then.
 */
import diagnostics from 'node:diagnostics_channel';
import { installProbes } from '../internal/probes.js';

/**
 * The channel names of the core's events; the message each carries is in
 * the README's "Diagnostics channels" table. `weft:shutdown:*` (published
 * by `Shutdown`) come on top of these.
 */
export const diagnosticsChannels = {
  /** `{ breaker, name, from, to }`: a `CircuitBreaker` changed state. */
  breakerStateChange: 'weft:breaker:stateChange',
  /** `{ limiter, n, tokens }`: `RateLimiter.allow` said no. */
  limiterDenied: 'weft:limiter:denied',
  /** `{ limiter, n, delayMs, waiting }`: a `RateLimiter.wait` has to wait `delayMs`. */
  limiterWait: 'weft:limiter:wait',
  /** `{ pool, job, worker, queued, running }`: a `WorkerPool` job (submitted, or an item of a map) started. */
  poolJobStart: 'weft:pool:jobStart',
  /** `{ pool, job, worker, durationMs, queued }`: a job finished. */
  poolJobFinish: 'weft:pool:jobFinish',
  /** `{ pool, job, worker, durationMs, queued, error }`: a job threw or rejected. */
  poolJobFail: 'weft:pool:jobFail',
  /** `{ semaphore, weight, available, waiting }`: a `Semaphore.acquire` or `run` has to wait. */
  semaphoreContended: 'weft:semaphore:contended',
  /** `{ pubsub, subscription, topic, policy, outcome, message, dropped }` (a PubSub `OverflowEvent`): a message found a subscription's buffer full. */
  pubsubOverflow: 'weft:pubsub:overflow',
} as const;

/**
 * Starts publishing the core's events on `node:diagnostics_channel`, for
 * every copy of weft in the process (ESM and CommonJS builds alike).
 * Idempotent; a `Shutdown` calls it when it is made. Until it is called,
 * the core's hooks cost one property read each; after it, a hook whose
 * channel has no subscriber costs one more, and builds no message.
 *
 * @example A metrics hook on every pool job
 * ```ts
 * import diagnostics from 'node:diagnostics_channel';
 * import { WorkerPool } from 'weftjs';
 * import { diagnosticsChannels, enableDiagnostics } from 'weftjs/node';
 * enableDiagnostics();
 * const durations: number[] = [];
 * const onFinish = (msg: any) => durations.push(msg.durationMs);
 * diagnostics.subscribe(diagnosticsChannels.poolJobFinish, onFinish);
 * const pool = new WorkerPool(async (n: number) => n * 2);
 * await pool.submit(21); // => 42
 * durations.length; // => 1
 * diagnostics.unsubscribe(diagnosticsChannels.poolJobFinish, onFinish);
 * ```
 * @see diagnosticsChannels
 */
export function enableDiagnostics(): void {
  const c = diagnosticsChannels;
  installProbes({
    breakerStateChange: diagnostics.channel(c.breakerStateChange),
    limiterDenied: diagnostics.channel(c.limiterDenied),
    limiterWait: diagnostics.channel(c.limiterWait),
    poolJobStart: diagnostics.channel(c.poolJobStart),
    poolJobFinish: diagnostics.channel(c.poolJobFinish),
    poolJobFail: diagnostics.channel(c.poolJobFail),
    semaphoreContended: diagnostics.channel(c.semaphoreContended),
    pubsubOverflow: diagnostics.channel(c.pubsubOverflow),
  });
}
