/**
 * Package clock defines the source of time that every timed weft operation
 * reads, so that tests can run on virtual time (`TestClock` from
 * `weft/testing`) instead of sleeping.
 */

/**
 * A source of time and timers. `now()` is in milliseconds and never goes
 * backwards. Every weft operation that waits on time takes an optional
 * `clock` and uses it for both reading the time and scheduling timers.
 *
 * @example A clock that counts calls, over the system clock
 * ```ts
 * import { systemClock, type Clock } from 'weftjs';
 * let scheduled = 0;
 * const counting: Clock = {
 *   now: () => systemClock.now(),
 *   setTimeout: (fn, ms) => (scheduled++, systemClock.setTimeout(fn, ms)),
 *   clearTimeout: (h) => systemClock.clearTimeout(h),
 * };
 * counting.clearTimeout(counting.setTimeout(() => {}, 10));
 * scheduled; // => 1
 * ```
 * @see systemClock
 */
export interface Clock {
  /** Milliseconds; monotonic. */
  now(): number;
  /** Schedules `fn` to run once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer that has not fired yet; does nothing for one that has. */
  clearTimeout(handle: unknown): void;
}

// Read once: the `timeOrigin` getter costs as much as `performance.now()` itself.
const origin = performance.timeOrigin;

/**
 * The real clock, the default of every `clock` option. `now()` is epoch
 * milliseconds that never go backwards (`performance.timeOrigin +
 * performance.now()`), so it can be compared with `Date.now()` deadlines;
 * timers are the platform's `setTimeout`.
 *
 * @example
 * ```ts
 * import { systemClock } from 'weftjs';
 * Math.abs(systemClock.now() - Date.now()) < 1000; // => true
 * ```
 */
export const systemClock: Clock = {
  now: () => origin + performance.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};
