/**
 * Package errors tells weft's errors apart in a `catch`, where TypeScript
 * types the error `unknown`: `isWeftError(err, 'ERR_CIRCUIT_OPEN')` narrows
 * it to `CircuitOpenError`. Matching on `code` is the contract (as Node's
 * `err.code`); `instanceof` breaks when two copies of weft are installed,
 * this guard does not.
 */
import type { CircuitOpenError, TooManyRequestsError } from './breaker.js';
import type { ChannelClosedError } from './channel.js';
import type { CanceledError, DeadlineExceededError } from './context.js';
import type { ErrGroupActiveError } from './errgroup.js';
import { isBranded, type WeftError } from './internal/errors.js';
import { checkString } from './internal/validate.js';
import type { NotLockedError } from './mutex.js';
import type { PubSubClosedError, SubscriberOverflowError } from './pubsub.js';
import type { RateLimitExceededError } from './rate.js';
import type { SemaphoreOverReleaseError } from './semaphore.js';
import type { PoolClosedError, QueueFullError } from './workerpool.js';

export type { WeftError };

/** The core's error classes by their `code`: what `isWeftError(err, code)` narrows to. */
export interface WeftErrorMap {
  ERR_CANCELED: CanceledError;
  ERR_DEADLINE_EXCEEDED: DeadlineExceededError;
  ERR_CHANNEL_CLOSED: ChannelClosedError;
  ERR_NOT_LOCKED: NotLockedError;
  ERR_SEMAPHORE_OVER_RELEASE: SemaphoreOverReleaseError;
  ERR_ERRGROUP_ACTIVE: ErrGroupActiveError;
  ERR_RATE_LIMIT_EXCEEDED: RateLimitExceededError;
  ERR_CIRCUIT_OPEN: CircuitOpenError;
  ERR_TOO_MANY_REQUESTS: TooManyRequestsError;
  ERR_SUBSCRIBER_OVERFLOW: SubscriberOverflowError;
  ERR_PUBSUB_CLOSED: PubSubClosedError;
  ERR_QUEUE_FULL: QueueFullError;
  ERR_POOL_CLOSED: PoolClosedError;
}

/** A code of a core weft error. */
export type WeftErrorCode = keyof WeftErrorMap;

/**
 * Whether `err` is an error that weft raised on purpose (a `WeftError`,
 * from any copy of weft in the process), and, given a `code`, one with
 * that code. Narrows `err`: to the class of a core code, to a `WeftError`
 * with that `code` for the codes of `weftjs/threads`, `weftjs/node` and
 * `weftjs/redis`. Argument errors (`TypeError`/`RangeError` with Node's
 * `ERR_INVALID_ARG_TYPE` and kin) and aborts (`signal.reason`, whatever it
 * is) are not weft errors: `isWeftError` is false for them, except for a
 * `CanceledError`/`DeadlineExceededError` that a weft scope aborted with.
 *
 * @throws TypeError if `code` is given and is not a string.
 * @example Narrowing in a catch
 * ```ts
 * import { CircuitBreaker, isWeftError } from 'weftjs';
 * const cb = new CircuitBreaker({ readyToTrip: () => true });
 * await cb.execute(() => Promise.reject(new Error('down'))).catch(() => {});
 * let wait = 0;
 * try {
 *   await cb.execute(() => 'never runs');
 * } catch (err) {
 *   if (isWeftError(err, 'ERR_CIRCUIT_OPEN')) wait = err.retryAfter; // typed: a CircuitOpenError
 * }
 * wait > 0; // => true
 * ```
 * @example Any weft error, or not one
 * ```ts
 * import { Channel, isWeftError } from 'weftjs';
 * const ch = new Channel<number>();
 * ch.close();
 * const err = await ch.send(1).catch((e: unknown) => e);
 * isWeftError(err); // => true
 * isWeftError(err, 'ERR_POOL_CLOSED'); // => false
 * isWeftError(new Error('plain')); // => false
 * ```
 */
export function isWeftError<C extends WeftErrorCode>(err: unknown, code: C): err is WeftErrorMap[C];
export function isWeftError<C extends string>(err: unknown, code: C): err is WeftError & { readonly code: C };
export function isWeftError(err: unknown): err is WeftError;
export function isWeftError(err: unknown, code?: string): boolean {
  if (code !== undefined) checkString(code, 'isWeftError', 'code');
  return isBranded(err) && (code === undefined || err.code === code);
}
