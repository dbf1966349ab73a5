/**
 * Package rate provides a token-bucket rate limiter, after
 * golang.org/x/time/rate: `RateLimiter` for one stream of events
 * (`keyedrate.ts` has `KeyedRateLimiter`, one bucket per key).
 *
 * Time comes from the `clock` option (x/time's `AllowN(t, n)` seam made
 * public), so tests run on `TestClock` from `weft/testing`. Nothing is
 * scheduled while nobody waits: the tokens are computed from the clock.
 */
import { type Clock, systemClock } from './clock.js';
import { signalOf } from './internal/abort.js';
import { Bucket, EPS } from './internal/bucket.js';
import { WeftError } from './internal/errors.js';
import { lastUpdate } from './internal/hooks.js';
import { inspectAs, inspectKey } from './internal/inspect.js';
import { probes } from './internal/probes.js';
import { RESOLVED } from './internal/promise.js';
import { checkClock, startTimer, stopTimer } from './internal/timer.js';
import { checkInt, checkMs, checkNumber, checkRequiredOpts, rangeError } from './internal/validate.js';
import { Waiter, WaitQueue } from './internal/waiter.js';

/**
 * Converts a minimum interval between events to a rate in events per
 * second, as x/time's `Every`: `every(100)` is 10.
 *
 * @param intervalMs milliseconds between two events; 0 means no limit.
 * @returns events per second; `Infinity` for 0, 0 for `Infinity`.
 * @throws RangeError if `intervalMs` is negative or NaN.
 *
 * @example Ten events a second
 * ```ts
 * import { every, RateLimiter } from 'weftjs';
 * every(100); // => 10
 * every(0); // => Infinity
 * new RateLimiter({ rate: every(250), burst: 1 }).rate; // => 4
 * ```
 * @see RateLimiter
 */
export function every(intervalMs: number): number {
  checkMs(intervalMs, 'every', 'intervalMs', true);
  return intervalMs === 0 ? Number.POSITIVE_INFINITY : 1000 / intervalMs;
}

/**
 * Rejection of `RateLimiter.wait` when the tokens can never come: the rate
 * is 0 and fewer than `n` tokens are left of the initial burst (x/time's
 * `WaitN` fails the same way). Match it on `code`.
 *
 * @example A budget that does not refill
 * ```ts
 * import { RateLimiter } from 'weftjs';
 * const lim = new RateLimiter({ rate: 0, burst: 2 });
 * await lim.wait(2);
 * await lim.wait(1).catch((err) => err.code); // => 'ERR_RATE_LIMIT_EXCEEDED'
 * ```
 * @see RateLimiter.wait
 */
export class RateLimitExceededError extends WeftError {
  readonly code = 'ERR_RATE_LIMIT_EXCEEDED' as const;
}

/**
 * Options of `RateLimiter` and `KeyedRateLimiter`.
 *
 * @see RateLimiter
 */
export interface RateLimiterOptions {
  /** Tokens added per second; `Infinity` means no limit, 0 only the initial burst. */
  rate: number;
  /** Bucket size: the most tokens one call can take, and the tokens at start. */
  burst: number;
  /** Source of time (default `systemClock`). */
  clock?: Clock;
}

/**
 * What `RateLimiter.reserve` gives: the right to act after `delay`
 * milliseconds, as x/time's `Reservation`. The tokens are taken when it is
 * made; the holder either acts once `delay` is 0 or calls `cancel()`.
 *
 * @example Act now or give the tokens back
 * ```ts
 * import { RateLimiter } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const lim = new RateLimiter({ rate: 1, burst: 1, clock });
 * lim.allow();
 * const r = lim.reserve();
 * [r.ok, r.delay]; // => [true, 1000]
 * r.cancel(); // too long to wait: the token goes back
 * await clock.advance(1000);
 * lim.allow(); // => true
 * ```
 * @see RateLimiter.reserve
 */
export interface Reservation {
  /** False when the tokens can never be granted (`n` above the burst, or rate 0 and too few left). */
  readonly ok: boolean;
  /** Milliseconds from now until the reserved action may happen: 0 when due, `Infinity` when not `ok`. */
  readonly delay: number;
  /**
   * Says the action will not happen, and gives the tokens back as far as
   * possible: tokens reserved after this one are not given back. Does
   * nothing once the reservation is due, when it is not `ok`, or a second time.
   */
  cancel(): void;
}

class Booking implements Reservation {
  readonly ok: boolean;
  #bucket: Bucket;
  #tokens: number;
  #at: number;
  #rate: number;

  constructor(bucket: Bucket, tokens: number, at: number, rate: number) {
    this.ok = at !== Number.POSITIVE_INFINITY;
    this.#bucket = bucket;
    this.#tokens = this.ok ? tokens : 0;
    this.#at = at;
    this.#rate = rate;
  }

  get delay(): number {
    return Math.max(0, this.#at - this.#bucket.clock.now());
  }

  cancel(): void {
    const tokens = this.#tokens;
    if (tokens === 0) return;
    this.#tokens = 0;
    this.#bucket.cancel(tokens, this.#at, this.#rate);
  }
}

/** A `wait` that reserved its tokens and sleeps until `at`. */
class RateWaiter extends Waiter<void> {
  constructor(
    signal: AbortSignal | undefined,
    readonly tokens: number,
    readonly at: number,
    readonly rate: number,
  ) {
    super('RateLimiter.wait', signal);
  }
}

/**
 * A token bucket: `rate` tokens per second, at most `burst` of them,
 * starting full (x/time's `Limiter`). Informally, over any long enough
 * interval it lets through `rate` events a second, in bursts of at most
 * `burst`.
 *
 * Three ways to take tokens, which differ when too few are there:
 * - `allow(n)` answers false at once: use it to drop or reject events.
 * - `wait(n)` resolves when the tokens are yours: use it to slow down. Most
 *   callers want this one.
 * - `reserve(n)` takes them now and says how long to wait before acting.
 *
 * Waits are served in the order they were called: each takes its tokens
 * (going into debt) when called, so a large request is never starved by
 * small ones. `rate: Infinity` allows everything whatever `burst` is;
 * `rate: 0` allows the initial burst and then nothing. `setRate` and
 * `setBurst` apply from now; waits already reserved keep their time (Go).
 *
 * @example Ten a second, bursts of five
 * ```ts
 * import { RateLimiter } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const lim = new RateLimiter({ rate: 10, burst: 5, clock });
 * [1, 2, 3, 4, 5, 6].map(() => lim.allow()); // => [true, true, true, true, true, false]
 * await clock.advance(100);
 * lim.allow(); // => true
 * lim.tokens(); // => 0
 * ```
 * @example Waiting for a token
 * ```ts
 * import { RateLimiter } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const lim = new RateLimiter({ rate: 2, burst: 1, clock });
 * const times: number[] = [];
 * const done = Promise.all([1, 2, 3].map(() => lim.wait().then(() => times.push(clock.now()))));
 * await clock.advance(1000);
 * await done;
 * times; // => [0, 500, 1000]
 * ```
 * @see KeyedRateLimiter
 * @see every
 */
export class RateLimiter {
  // The numbers live in a Bucket's plain fields (see internal/bucket.ts).
  #b: Bucket;
  #queue: WaitQueue<RateWaiter> | null = null;
  #timer: unknown = undefined;
  #onTimer: (() => void) | null = null;

  /**
   * @throws TypeError if `opts` or a field has the wrong type.
   * @throws RangeError if `rate` is negative or NaN, or `burst` is not an integer >= 0.
   */
  constructor(opts: RateLimiterOptions) {
    const op = 'RateLimiter';
    checkRequiredOpts(opts, op);
    const rate = checkNumber(opts.rate, op, 'rate');
    const burst = checkInt(opts.burst, op, 'burst');
    this.#b = new Bucket(checkClock(opts.clock, op, systemClock), rate, burst);
  }

  /** @internal The clock time the bucket was last brought up to date (for `KeyedRateLimiter`'s idle keys). */
  [lastUpdate](): number {
    return this.#b.last;
  }

  /** Tokens added per second. */
  get rate(): number {
    return this.#b.rate;
  }

  /** Bucket size: the most tokens one call can take. */
  get burst(): number {
    return this.#b.burst;
  }

  /** Number of `wait` calls still waiting for their time. */
  /** How `util.inspect` shows it: RateLimiter { ... } with its state now. */
  [inspectKey](depth: number, options: unknown, inspect?: (v: unknown, o?: unknown) => string): string {
    return inspectAs(
      'RateLimiter',
      { rate: this.rate, burst: this.burst, tokens: this.tokens(), waiting: this.waiting },
      depth,
      options,
      inspect,
    );
  }

  get waiting(): number {
    return this.#queue === null ? 0 : this.#queue.length;
  }

  /**
   * The tokens available now: negative while waits are in debt, `Infinity`
   * when the rate is `Infinity`.
   */
  tokens(): number {
    const b = this.#b;
    return b.rate === Number.POSITIVE_INFINITY ? b.rate : b.advance(b.clock.now());
  }

  /**
   * Takes `n` tokens (default 1) if they are there now, and tells whether it
   * did. Never waits; takes nothing on false. `allow(0)` is always true.
   *
   * @throws RangeError if `n` is not an integer >= 0.
   * @example Dropping what exceeds the rate
   * ```ts
   * import { RateLimiter } from 'weftjs';
   * const lim = new RateLimiter({ rate: 1, burst: 3 });
   * lim.allow(2); // => true
   * lim.allow(2); // => false
   * lim.allow(4); // => false
   * ```
   * @see wait
   */
  allow(n?: number): boolean {
    if (n === undefined) n = 1;
    else if (n !== 1) checkInt(n, 'RateLimiter.allow', 'n');
    if (this.#b.allow(n)) return true;
    const p = probes();
    if (p?.limiterDenied.hasSubscribers) {
      p.limiterDenied.publish({ limiter: this, n, tokens: this.#b.tokens });
    }
    return false;
  }

  /**
   * Takes `n` tokens (default 1) now, going into debt if need be, and
   * returns when the caller may act. The caller must wait `delay` ms before
   * acting, or `cancel()` to give the tokens back. The reservation is not
   * `ok` (and took nothing) if `n` exceeds the burst of a finite rate, or if
   * the rate is 0 and fewer than `n` tokens are left.
   *
   * @throws RangeError if `n` is not an integer >= 0.
   * @example Acting later
   * ```ts
   * import { RateLimiter } from 'weftjs';
   * import { TestClock } from 'weftjs/testing';
   * const clock = new TestClock();
   * const lim = new RateLimiter({ rate: 10, burst: 2, clock });
   * lim.reserve(2).delay; // => 0
   * const r = lim.reserve(2);
   * r.delay; // => 200
   * r.cancel();
   * lim.reserve(1).delay; // => 100
   * lim.reserve(3).ok; // => false
   * ```
   * @see wait
   */
  reserve(n?: number): Reservation {
    if (n === undefined) n = 1;
    else if (n !== 1) checkInt(n, 'RateLimiter.reserve', 'n');
    const b = this.#b;
    const rate = b.rate;
    return new Booking(b, n, b.take(n), rate);
  }

  /**
   * Waits until `n` tokens (default 1) are the caller's. Waits are served in
   * call order: each takes its tokens when called, so a later small wait
   * never overtakes an earlier large one. Resolves at once when the tokens
   * are there; no timer is scheduled then.
   *
   * **Cancellation**: when `opts.signal` aborts, the wait rejects with
   * `signal.reason` and gives back what it reserved, except the tokens that
   * waits made after it have already counted on; it leaves no timer and no
   * listener. An already-aborted signal rejects at once.
   *
   * @throws RangeError (synchronously) if `n` is not an integer >= 0, or
   * exceeds `burst` while the rate is finite (x/time's `WaitN`).
   * @throws TypeError if `opts` or `opts.signal` has the wrong type.
   * Rejects with `RateLimitExceededError` (`ERR_RATE_LIMIT_EXCEEDED`) when
   * the rate is 0 and fewer than `n` tokens are left: they never will be.
   *
   * @example Spacing out requests
   * ```ts
   * import { RateLimiter } from 'weftjs';
   * import { TestClock } from 'weftjs/testing';
   * const clock = new TestClock();
   * const lim = new RateLimiter({ rate: 10, burst: 3, clock });
   * await lim.wait(2);
   * const later = lim.wait(3).then(() => clock.now());
   * await clock.advance(1000);
   * await later; // => 200
   * ```
   * @example Giving up gives the token back
   * ```ts
   * import { RateLimiter } from 'weftjs';
   * import { TestClock } from 'weftjs/testing';
   * const clock = new TestClock();
   * const lim = new RateLimiter({ rate: 10, burst: 1, clock });
   * lim.allow(); // => true
   * const ac = new AbortController();
   * clock.setTimeout(() => ac.abort(new Error('gave up')), 50);
   * const wait = lim.wait(1, { signal: ac.signal }).catch((err) => err.message);
   * await clock.advance(50);
   * await wait; // => 'gave up'
   * lim.tokens(); // => 0.5
   * ```
   * @see allow
   * @see reserve
   */
  wait(n?: number, opts?: { signal?: AbortSignal }): Promise<void> {
    const op = 'RateLimiter.wait';
    if (n === undefined) n = 1;
    else if (n !== 1) checkInt(n, op, 'n');
    const signal = signalOf(opts, op);
    const b = this.#b;
    const rate = b.rate;
    if (n > b.burst && rate !== Number.POSITIVE_INFINITY) {
      throw rangeError(`${op}: \`n\` must be at most the burst ${b.burst}, got ${n}`);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const at = b.take(n);
    if (at === Number.POSITIVE_INFINITY) {
      return Promise.reject(
        new RateLimitExceededError(`${op}: ${n} token(s) can never be available at rate 0 (${b.tokens} left)`),
      );
    }
    // take() left `last` at the current time.
    if (at <= b.last) return RESOLVED;
    const p = probes();
    if (p?.limiterWait.hasSubscribers) {
      p.limiterWait.publish({ limiter: this, n, delayMs: at - b.last, waiting: this.waiting });
    }
    const waiter = new RateWaiter(signal, n, at, rate);
    let queue = this.#queue;
    if (queue === null) {
      queue = this.#queue = new WaitQueue<RateWaiter>();
      queue.onAbort = (w, wasHead) => this.#aborted(w, wasHead);
    }
    queue.push(waiter);
    if (queue.length === 1) this.#arm(at - b.last);
    return waiter.promise;
  }

  /**
   * Changes the rate from now on: the tokens are brought up to date at the
   * old rate first (x/time's `SetLimit`). Waits already reserved keep their time.
   *
   * @throws RangeError if `rate` is negative or NaN.
   */
  setRate(rate: number): void {
    checkNumber(rate, 'RateLimiter.setRate', 'rate');
    this.#b.sync();
    this.#b.rate = rate;
  }

  /**
   * Changes the burst from now on: the tokens are brought up to date first,
   * and cut to the new burst if above it (x/time's `SetBurst`).
   *
   * @throws RangeError if `burst` is not an integer >= 0.
   */
  setBurst(burst: number): void {
    checkInt(burst, 'RateLimiter.setBurst', 'burst');
    const b = this.#b;
    b.sync();
    b.burst = burst;
    if (b.tokens > burst) b.tokens = burst;
  }

  #arm(ms: number): void {
    this.#onTimer ??= () => this.#fire();
    this.#timer = startTimer(this.#b.clock, this.#onTimer, ms, 'RateLimiter.wait');
  }

  // The head's time came: release every wait that is due, in order, then
  // sleep until the next one's time.
  #fire(): void {
    this.#timer = undefined;
    const queue = this.#queue!;
    const now = this.#b.clock.now();
    let head = queue.head;
    while (head !== null && head.at <= now + EPS) {
      queue.shift();
      head.settle();
      head = queue.head;
    }
    if (head !== null) this.#arm(head.at - now);
  }

  #aborted(w: RateWaiter, wasHead: boolean): void {
    const b = this.#b;
    b.cancel(w.tokens, w.at, w.rate);
    if (!wasHead) return;
    stopTimer(b.clock, this.#timer);
    this.#timer = undefined;
    const head = this.#queue!.head;
    if (head !== null) this.#arm(head.at - b.clock.now());
  }
}
