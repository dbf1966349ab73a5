/**
 * Package testing's leak tracker: what weft still holds after an abort, a
 * close or a normal completion.
 */
import { observe, registry } from '../internal/registry.js';

/** What `trackLeaks().check()` reports. */
export interface LeakReport {
  /** Blocked weft operations (queued waiters) still pending. */
  waiters: number;
  /** Timers weft scheduled that have neither fired nor been cancelled. */
  timers: number;
  /** Abort listeners weft added to signals and has not removed. */
  listeners: number;
  /** One line each: the kind, the operation and, where known, where it started. */
  details: string[];
}

/** The handle `trackLeaks()` returns. */
export interface LeakTracker {
  /** Counts what weft holds now, of what was created since tracking started. */
  check(): LeakReport;
  /** Stops tracking (idempotent). */
  stop(): void;
  /** Same as `stop()`, for `using`. */
  [Symbol.dispose](): void;
}

/**
 * Starts tracking every waiter, timer and abort listener that weft creates
 * from now on, until `stop()`. `check()` reports those still held: after an
 * abort, a close or a normal completion, every count should be 0. What was
 * created before tracking started is not seen.
 *
 * @example Nothing is left after an abort
 * ```ts
 * import { Channel } from 'weftjs';
 * import { trackLeaks } from 'weftjs/testing';
 * using leaks = trackLeaks();
 * const ch = new Channel<number>();
 * const ac = new AbortController();
 * const pending = ch.recv({ signal: ac.signal });
 * leaks.check().waiters; // => 1
 * ac.abort();
 * await pending.catch(() => {});
 * leaks.check(); // => { waiters: 0, timers: 0, listeners: 0, details: [] }
 * ```
 */
export function trackLeaks(): LeakTracker {
  // Stacks are captured while tracking, so that each detail says where the leak was made.
  const stop = observe(true);
  return {
    check(): LeakReport {
      const report: LeakReport = { waiters: 0, timers: 0, listeners: 0, details: [] };
      for (const entry of registry.live.values()) {
        if (entry.kind === 'waiter') report.waiters++;
        else if (entry.kind === 'timer') report.timers++;
        else report.listeners++;
        const where = entry.stack?.split('\n').find((l) => l.trim().startsWith('at '));
        report.details.push(`${entry.kind} ${entry.op}${where ? ` ${where.trim()}` : ''}`);
      }
      return report;
    },
    stop,
    [Symbol.dispose]: stop,
  };
}
