/**
 * Timers on a `Clock`, visible to `weft/testing`'s leak tracker while they
 * are pending. Every weft timer goes through here.
 */
import type { Clock } from '../clock.js';
import { registry, track, untrack } from './registry.js';
import { show, typeError } from './validate.js';

// A module-local binding: read on every operation, it is cheaper than the import's.
const reg = registry;

// Platforms fire a timer longer than 2^31 - 1 ms at once; longer delays are
// chained from timers of at most this length.
const MAX_DELAY = 2_147_483_647;

class LongTimer {
  handle: unknown;
  #left: number;

  constructor(
    readonly clock: Clock,
    readonly fn: () => void,
    ms: number,
    readonly op: string,
  ) {
    this.#left = ms;
    this.#step();
  }

  #step(): void {
    const ms = Math.min(this.#left, MAX_DELAY);
    this.#left -= ms;
    this.handle = startTimer(this.clock, this.#left > 0 ? () => this.#step() : this.fn, ms, this.op);
  }
}

/** Schedules `fn` on `clock` after `ms`; returns the handle to give `stopTimer`. */
export function startTimer(clock: Clock, fn: () => void, ms: number, op: string): unknown {
  if (ms > MAX_DELAY && ms !== Number.POSITIVE_INFINITY) return new LongTimer(clock, fn, ms, op);
  if (reg.active === 0) return clock.setTimeout(fn, ms);
  const key = {};
  const handle = clock.setTimeout(() => {
    untrack(key);
    keys.delete(handle);
    fn();
  }, ms);
  track(key, 'timer', op);
  keys.set(handle, key);
  return handle;
}

// Handle -> registry key, only for timers started while someone observes.
const keys = new Map<unknown, object>();

/** Cancels a timer from `startTimer` (a no-op for one that fired). */
export function stopTimer(clock: Clock, handle: unknown): void {
  if (handle instanceof LongTimer) handle = handle.handle;
  clock.clearTimeout(handle);
  if (keys.size !== 0) {
    const key = keys.get(handle);
    if (key !== undefined) {
      untrack(key);
      keys.delete(handle);
    }
  }
}

/** Checks a `clock` option; returns it or the default. */
export function checkClock(clock: unknown, op: string, fallback: Clock): Clock {
  if (clock === undefined) return fallback;
  if (
    clock === null ||
    typeof clock !== 'object' ||
    typeof (clock as Clock).now !== 'function' ||
    typeof (clock as Clock).setTimeout !== 'function' ||
    typeof (clock as Clock).clearTimeout !== 'function'
  ) {
    throw typeError(`${op}: \`clock\` must be a Clock (now, setTimeout, clearTimeout), got ${show(clock)}`);
  }
  return clock as Clock;
}

/**
 * Lets (`on` false) or stops (`on` true) a pending timer keep the process
 * alive, where the platform's handle can (Node's and Bun's `unref`/`ref`);
 * a no-op elsewhere (browsers, virtual clocks).
 */
export function refTimer(handle: unknown, on: boolean): void {
  if (handle instanceof LongTimer) handle = handle.handle;
  const h = handle as { ref?: () => unknown; unref?: () => unknown } | null;
  if (h === null || typeof h !== 'object') return;
  if (on) h.ref?.();
  else h.unref?.();
}
