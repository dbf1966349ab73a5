/**
 * Package testing's virtual clock: time that moves only when a test says so.
 */
import type { Clock } from '../clock.js';
import { checkMs, typeError } from '../internal/validate.js';

interface Timer {
  readonly at: number;
  readonly seq: number;
  /** Lets the timer's callback run (once). */
  readonly fire: () => void;
  /** Settles once the callback has run: rejects with what it threw. */
  readonly ran: Promise<void>;
  index: number;
}

/** Lets every queued promise callback run: one macrotask turn. */
function turn(): Promise<void> {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  return new Promise((resolve) => {
    if (typeof g.setImmediate === 'function') g.setImmediate(resolve);
    else globalThis.setTimeout(resolve, 0);
  });
}

/**
 * A `Clock` on virtual time, for tests of anything timed. Time starts at
 * `start` (default 0) and moves only through `advance` and `runAll`, which
 * fire due timers in time order (ties in the order they were scheduled) and
 * let promise callbacks run after each one, so code awaiting a timer has
 * reacted before the next fires. Nothing ever sleeps for real.
 *
 * @example Ten seconds pass at once
 * ```ts
 * import { sleep } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * let woke = false;
 * const done = sleep(10_000, { clock }).then(() => (woke = true));
 * await clock.advance(9_999);
 * woke; // => false
 * await clock.advance(1);
 * await done;
 * woke; // => true
 * clock.now(); // => 10000
 * ```
 * @see Clock
 */
export class TestClock implements Clock {
  #now: number;
  #seq = 0;
  #heap: Timer[] = [];

  /** @param start the time `now()` returns until the clock is advanced (default 0). */
  constructor(start = 0) {
    if (typeof start !== 'number' || !Number.isFinite(start)) {
      throw typeError(`TestClock: \`start\` must be a finite number, got ${String(start)}`);
    }
    this.#now = start;
  }

  /** The current virtual time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at `now() + ms` (a negative or NaN `ms` counts as 0, as the platform's setTimeout does). */
  setTimeout(fn: () => void, ms: number): unknown {
    if (typeof fn !== 'function') throw typeError(`TestClock.setTimeout: \`fn\` must be a function, got ${typeof fn}`);
    // biome-ignore lint/complexity/useMathMinMax: Math.max would keep NaN; NaN must become 0.
    const delay = ms > 0 ? ms : 0;
    // The callback is a continuation registered here, so that it runs in the
    // async context of this call, as a platform timer's callback does.
    let fire!: () => void;
    const due = new Promise<void>((resolve) => {
      fire = resolve;
    });
    const ran = due.then(() => fn());
    const timer: Timer = { at: this.#now + delay, seq: this.#seq++, fire, ran, index: this.#heap.length };
    this.#heap.push(timer);
    this.#up(timer.index);
    return timer;
  }

  /** Cancels a pending timer; does nothing for one that fired, was cancelled, or is not this clock's. */
  clearTimeout(handle: unknown): void {
    const timer = handle as Timer;
    if (timer === null || typeof timer !== 'object') return;
    const i = timer.index;
    if (i < 0 || this.#heap[i] !== timer) return;
    this.#removeAt(i);
  }

  /** Number of timers scheduled and not yet fired or cancelled. */
  get pending(): number {
    return this.#heap.length;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way
   * in time order; after each one, promise callbacks run before the next
   * fires. Timers scheduled meanwhile fire too if they fall due in the window.
   * Resolves with `now()` advanced by exactly `ms`.
   *
   * @throws RangeError if `ms` is negative or not a finite number.
   */
  async advance(ms: number): Promise<void> {
    checkMs(ms, 'TestClock.advance');
    const target = this.#now + ms;
    await turn();
    for (;;) {
      const next = this.#heap[0];
      if (next === undefined || next.at > target) break;
      this.#removeAt(0);
      if (next.at > this.#now) this.#now = next.at;
      next.fire();
      await next.ran;
      await turn();
    }
    this.#now = target;
    await turn();
  }

  /**
   * Fires timers in time order until none is left, moving time to each one.
   *
   * @throws Error if more than `limit` timers fire (default 100,000): a
   * `Ticker` or another self-rescheduling timer never runs out.
   */
  async runAll(limit = 100_000): Promise<void> {
    await turn();
    for (let fired = 0; this.#heap.length > 0; fired++) {
      if (fired >= limit) {
        throw new Error(
          `TestClock.runAll: more than ${limit} timers fired; is a Ticker or a retry loop still running?`,
        );
      }
      const next = this.#heap[0]!;
      this.#removeAt(0);
      if (next.at > this.#now) this.#now = next.at;
      next.fire();
      await next.ran;
      await turn();
    }
  }

  // Binary min-heap on (at, seq).
  #less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #removeAt(i: number): void {
    const heap = this.#heap;
    const removed = heap[i]!;
    const last = heap.pop()!;
    removed.index = -1;
    if (i < heap.length) {
      heap[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
  }

  #up(i: number): void {
    const heap = this.#heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(heap[i]!, heap[parent]!)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const heap = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && this.#less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && this.#less(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }

  #swap(i: number, j: number): void {
    const heap = this.#heap;
    const a = heap[i]!;
    const b = heap[j]!;
    heap[i] = b;
    heap[j] = a;
    a.index = j;
    b.index = i;
  }
}
