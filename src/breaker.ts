/**
 * Package breaker provides a circuit breaker, after sony/gobreaker v2: a
 * state machine that stops sending requests to a dependency that keeps
 * failing, lets a few through after a while to see whether it recovered,
 * and resumes when they succeed. It adds a sliding-window failure rate and
 * a growing open time to gobreaker's rules.
 *
 * Every transition is computed from the `clock` when the breaker is used or
 * read, as gobreaker's `currentState` does: no timer ever runs.
 */
import { type Clock, systemClock } from './clock.js';
import { signalOf } from './internal/abort.js';
import { FailureWindow } from './internal/breakerwindow.js';
import { WeftError } from './internal/errors.js';
import { inspectAs, inspectKey } from './internal/inspect.js';
import { probes } from './internal/probes.js';
import { isThenable } from './internal/promise.js';
import { guardSignal } from './internal/shapes.js';
import { checkClock } from './internal/timer.js';
import {
  checkFn,
  checkInt,
  checkMs,
  checkNumber,
  checkOptFn,
  checkOpts,
  checkString,
  rangeError,
  show,
  typeError,
} from './internal/validate.js';

/**
 * The three states of a `CircuitBreaker`, named as gobreaker's `State.String()`.
 *
 * @see CircuitBreaker
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * The requests of the current generation and their outcomes (gobreaker's
 * `Counts`). A new generation, with zero counts, starts at every change of
 * state and at every `interval` while closed.
 *
 * @example A failure-ratio rule
 * ```ts
 * import { CircuitBreaker, type Counts } from 'weftjs';
 * const readyToTrip = (c: Counts) => c.requests >= 3 && c.totalFailures / c.requests >= 0.6;
 * const cb = new CircuitBreaker({ readyToTrip });
 * await cb.execute(() => 'ok');
 * await cb.execute(() => Promise.reject(new Error('a'))).catch(() => {});
 * cb.counts; // => { requests: 2, totalSuccesses: 1, totalFailures: 1, consecutiveSuccesses: 0, consecutiveFailures: 1 }
 * await cb.execute(() => Promise.reject(new Error('b'))).catch(() => {});
 * cb.state; // => 'open'
 * ```
 * @see CircuitBreaker
 */
export interface Counts {
  /** Requests admitted. */
  requests: number;
  totalSuccesses: number;
  totalFailures: number;
  /** Successes since the last failure. */
  consecutiveSuccesses: number;
  /** Failures since the last success. */
  consecutiveFailures: number;
}

/**
 * Options of `CircuitBreaker`; every field is optional (gobreaker's `Settings`).
 *
 * @see CircuitBreaker
 */
export interface CircuitBreakerOptions {
  /** Passed to `onStateChange` and used in error messages (default `''`). */
  name?: string;
  /** Requests admitted while half-open, and successes in a row that close it (default 1). */
  maxRequests?: number;
  /** Milliseconds after which the closed-state counts start over; 0 = never (default 0). */
  interval?: number;
  /** Milliseconds open before going half-open (default 60_000). */
  timeout?: number;
  /**
   * Called with the counts after each failure while closed; true trips
   * (default: `consecutiveFailures > 5`). With `window`, either may trip.
   */
  readyToTrip?: (counts: Counts) => boolean;
  /** Called with each error `fn` throws or rejects with; true counts it as a success (default: every error is a failure). */
  isSuccessful?: (err: unknown) => boolean;
  /**
   * Called at each change of state, synchronously, by the call that caused
   * it. If it throws, the change stands and that call rejects (or, for the
   * `state` and `counts` getters, throws) with the error.
   */
  onStateChange?: (name: string, from: CircuitState, to: CircuitState) => void;
  /**
   * Also trip on the failure rate over the last `ms` milliseconds, counted in
   * `buckets` slices (default 10), once `minRequests` requests (default 10)
   * were seen in the window: trips when failures / requests >= `failureRate`.
   */
  window?: { ms: number; buckets?: number; minRequests?: number; failureRate: number };
  /** Each re-trip from half-open multiplies the open time by `multiplier`, up to `maxTimeout` ms. */
  backoff?: { multiplier: number; maxTimeout: number };
  /** Source of time (default `systemClock`). */
  clock?: Clock;
  /**
   * Shares the state and the counts with every breaker of the same `name`
   * that uses the same store, in other processes too (`breakerStore(redis)`
   * from `weftjs/redis`). Requires a non-empty `name`. See `CircuitBreakerStore`.
   */
  store?: CircuitBreakerStore;
}

/**
 * The settings of a breaker that a `CircuitBreakerStore` applies to the
 * shared state: the breaker's options, fixed when it was made.
 *
 * @see CircuitBreakerStore
 */
export interface CircuitStoreSettings {
  readonly name: string;
  readonly maxRequests: number;
  readonly interval: number;
  readonly timeout: number;
  /** `backoff.multiplier` (1 without `backoff`). */
  readonly multiplier: number;
  /** `backoff.maxTimeout` (`timeout` without `backoff`). */
  readonly maxTimeout: number;
}

/**
 * The shared state of a breaker as a store answers it: the state, its
 * generation (a number that changes at every change of state and every
 * `interval`), the counts of that generation, the milliseconds until the
 * state ends by itself (open to half-open; the next interval), and, for
 * `admit`, whether the request was admitted.
 *
 * @see CircuitBreakerStore
 */
export interface CircuitShared {
  readonly admitted: boolean;
  readonly state: CircuitState;
  readonly generation: number;
  readonly counts: Counts;
  /** Milliseconds until the state ends by itself; `Infinity` if it does not. */
  readonly expiresIn: number;
}

/** How a request admitted by a store ended: `'excluded'` is a request its caller aborted (it counts as neither). */
export type CircuitOutcome = 'success' | 'failure' | 'excluded';

/**
 * Where a `CircuitBreaker` with the `store` option keeps its state and
 * counts, so that breakers of one name in many processes act as one:
 * `breakerStore(redis)` from `weftjs/redis` is one. The store applies
 * gobreaker's rules to the shared state (time passing, counting, half-open
 * trials, closing and re-opening with backoff) from the settings it is
 * given; the breaker calls `readyToTrip` (and its `window`, kept per
 * process) on the shared counts and asks the store to `trip`.
 *
 * `execute` then asks `admit` before calling `fn`, `record` after it
 * settles, and `trip` after a failure that trips; each shared state it is
 * answered becomes the breaker's own (`state`, `counts`, `onStateChange`
 * for each change it sees). `admit` may also answer `'local'`: decide with
 * this breaker's own state machine, as without a store (a store that
 * cannot reach its backend); `'admit'`: run `fn` and count nothing; or an
 * `Error`: reject with it, without running `fn`. `record` and `trip` may
 * answer `undefined`: nothing to adopt. `execute` settles once the store
 * has recorded the outcome; a caller's abort while `admit` is answered is
 * seen when the answer comes (the request is then recorded as excluded).
 * A store bounds the time of its answers itself (weft/redis's `timeoutMs`).
 *
 * @example A store in memory, shared by two breakers
 * ```ts
 * import { type CircuitBreakerStore, type CircuitShared, type Counts, CircuitBreaker } from 'weftjs';
 * // A toy store: one shared record, closed or open, no timeouts.
 * const shared = { state: 'closed' as 'closed' | 'open', generation: 1, counts: { requests: 0, totalSuccesses: 0, totalFailures: 0, consecutiveSuccesses: 0, consecutiveFailures: 0 } as Counts };
 * const answer = (admitted: boolean): CircuitShared => ({ admitted, ...shared, counts: { ...shared.counts }, expiresIn: shared.state === 'open' ? 60_000 : Infinity });
 * const store: CircuitBreakerStore = {
 *   admit: async () => (shared.state === 'open' ? answer(false) : (shared.counts.requests++, answer(true))),
 *   record: async (_s, _a, outcome) => {
 *     const c = shared.counts;
 *     if (outcome === 'failure') (c.totalFailures++, c.consecutiveFailures++, (c.consecutiveSuccesses = 0));
 *     if (outcome === 'success') (c.totalSuccesses++, c.consecutiveSuccesses++, (c.consecutiveFailures = 0));
 *     return answer(true);
 *   },
 *   trip: async () => ((shared.state = 'open'), shared.generation++, answer(true)),
 * };
 * const a = new CircuitBreaker({ name: 'api', store, readyToTrip: (c) => c.consecutiveFailures >= 2 });
 * const b = new CircuitBreaker({ name: 'api', store }); // in another process, with a real store
 * await a.execute(() => Promise.reject(new Error('down'))).catch(() => {});
 * await b.execute(() => Promise.reject(new Error('down'))).catch(() => {});
 * b.state; // => 'closed'
 * await a.execute(() => Promise.reject(new Error('down'))).catch(() => {});
 * a.state; // => 'open'
 * await b.execute(() => 'ok').catch((e) => e.code); // => 'ERR_CIRCUIT_OPEN'
 * b.state; // => 'open'
 * ```
 * @see CircuitBreaker
 */
export interface CircuitBreakerStore {
  /** Asks to admit one request; see above for the answers. */
  admit(settings: CircuitStoreSettings): Promise<CircuitShared | 'local' | 'admit' | Error>;
  /** Records how a request it admitted ended; `admission` is what `admit` answered. */
  record(
    settings: CircuitStoreSettings,
    admission: CircuitShared,
    outcome: CircuitOutcome,
  ): Promise<CircuitShared | undefined>;
  /** Opens the breaker if it is still closed in `generation` (`readyToTrip` said so). */
  trip(settings: CircuitStoreSettings, generation: number): Promise<CircuitShared | undefined>;
}

/**
 * Rejection of `CircuitBreaker.execute` while the breaker is open: the
 * request was not sent (gobreaker's `ErrOpenState`). `retryAfter` tells
 * how many milliseconds remain until the breaker lets a trial through.
 * Match it on `code`.
 *
 * @example How long to stay away
 * ```ts
 * import { CircuitBreaker } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const cb = new CircuitBreaker({ timeout: 5000, readyToTrip: () => true, clock });
 * await cb.execute(() => Promise.reject(new Error('down'))).catch(() => {});
 * await clock.advance(2000);
 * const err = await cb.execute(() => 'never runs').catch((e) => e);
 * [err.name, err.code, err.retryAfter]; // => ['CircuitOpenError', 'ERR_CIRCUIT_OPEN', 3000]
 * ```
 * @see CircuitBreaker
 */
export class CircuitOpenError extends WeftError {
  readonly code = 'ERR_CIRCUIT_OPEN' as const;
  /** Milliseconds until the breaker goes half-open. */
  readonly retryAfter: number;

  constructor(message: string, retryAfter: number) {
    super(message);
    this.retryAfter = retryAfter;
  }
}

/**
 * Rejection of `CircuitBreaker.execute` while the breaker is half-open and
 * has already admitted its `maxRequests` trial requests (gobreaker's
 * `ErrTooManyRequests`). The request was not sent. Match it on `code`.
 *
 * @example One trial at a time
 * ```ts
 * import { CircuitBreaker } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const cb = new CircuitBreaker({ timeout: 100, readyToTrip: () => true, clock });
 * await cb.execute(() => Promise.reject(new Error('down'))).catch(() => {});
 * await clock.advance(100);
 * const trial = cb.execute(() => new Promise((resolve) => clock.setTimeout(() => resolve('up'), 10)));
 * await cb.execute(() => 'second').catch((e) => e.code); // => 'ERR_TOO_MANY_REQUESTS'
 * await clock.advance(10);
 * await trial; // => 'up'
 * cb.state; // => 'closed'
 * ```
 * @see CircuitBreaker
 */
export class TooManyRequestsError extends WeftError {
  readonly code = 'ERR_TOO_MANY_REQUESTS' as const;
}

// The signal `fn` gets when the caller gives none: it never aborts.
let never: AbortSignal | undefined;

const defaultReadyToTrip = (c: Counts): boolean => c.consecutiveFailures > 5;
const defaultIsSuccessful = (): boolean => false;

/**
 * A circuit breaker with sony/gobreaker's state machine:
 * - **closed**: requests go through; after each failure `readyToTrip(counts)`
 *   decides whether to trip to open, and so does the failure rate of `window`
 *   when set. With `interval`, the counts start over every `interval` ms.
 * - **open**: `execute` rejects at once with `CircuitOpenError`, without
 *   calling `fn`, for `timeout` ms; then the breaker is half-open.
 * - **half-open**: the next `maxRequests` requests go through, the others
 *   reject with `TooManyRequestsError`; `maxRequests` successes in a row
 *   close the breaker, and any failure opens it again. With `backoff`, each
 *   such re-trip multiplies the open time by `multiplier` (up to
 *   `maxTimeout`); closing brings it back to `timeout`.
 *
 * Counts belong to a generation, which changes with every state and
 * interval: a result that arrives after its generation ended is ignored.
 * `execute` settles as `fn` does, whatever the breaker counted: an error that
 * `isSuccessful` accepts still rejects. Nothing waits and no timer runs:
 * rejections are immediate, and the states follow from the clock.
 *
 * With `store` (a `CircuitBreakerStore`, such as `breakerStore(redis)` from
 * `weftjs/redis`), the breakers of one `name` in every process share one
 * state and one set of counts: `execute` asks the store before calling
 * `fn` and records the outcome there after, so each process sees a breaker
 * that another opened on its next call. It is advisory: the rules are the
 * same, half-open trials are leased by the store (at most `maxRequests` at
 * a time, across the processes), and `state` and `counts` show the shared
 * state as of the last answer. Without a store nothing changes: the state
 * machine is this object's alone and synchronous.
 *
 * @example Tripping and recovering
 * ```ts
 * import { CircuitBreaker } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const changes: string[] = [];
 * const cb = new CircuitBreaker({
 *   name: 'api',
 *   timeout: 1000,
 *   readyToTrip: (c) => c.consecutiveFailures >= 2,
 *   onStateChange: (name, from, to) => changes.push(`${name}: ${from} -> ${to}`),
 *   clock,
 * });
 * const boom = () => Promise.reject(new Error('down'));
 * await cb.execute(boom).catch((e) => e.message); // => 'down'
 * await cb.execute(boom).catch((e) => e.message); // => 'down'
 * cb.state; // => 'open'
 * await cb.execute(() => 'ok').catch((e) => e.code); // => 'ERR_CIRCUIT_OPEN'
 * await clock.advance(1000);
 * await cb.execute(() => 'ok'); // => 'ok'
 * changes; // => ['api: closed -> open', 'api: open -> half-open', 'api: half-open -> closed']
 * ```
 * @example Tripping on a failure rate
 * ```ts
 * import { CircuitBreaker } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const cb = new CircuitBreaker({ window: { ms: 10_000, minRequests: 4, failureRate: 0.5 }, clock });
 * await cb.execute(() => 1);
 * await cb.execute(() => 2);
 * await cb.execute(() => { throw new Error('x'); }).catch(() => {});
 * cb.state; // => 'closed'
 * await cb.execute(() => { throw new Error('y'); }).catch(() => {});
 * cb.state; // => 'open'
 * ```
 * @example With retry: stop at an open breaker
 * ```ts
 * import { CircuitBreaker, retry } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const cb = new CircuitBreaker({ readyToTrip: (c) => c.consecutiveFailures >= 2, clock });
 * let calls = 0;
 * const call = () => cb.execute(() => { calls++; throw new Error('down'); });
 * const outcome = retry(call, {
 *   attempts: 5,
 *   backoff: { jitter: 'none' },
 *   retryIf: (err: any) => err.code !== 'ERR_CIRCUIT_OPEN',
 *   clock,
 * }).catch((err) => err.code);
 * await clock.runAll();
 * await outcome; // => 'ERR_CIRCUIT_OPEN'
 * calls; // => 2
 * ```
 * @see retry
 */
export class CircuitBreaker {
  /** The name given in the options. */
  readonly name: string;
  readonly #maxRequests: number;
  readonly #interval: number;
  readonly #timeout: number;
  readonly #readyToTrip: (counts: Counts) => boolean;
  readonly #isSuccessful: (err: unknown) => boolean;
  readonly #onStateChange: ((name: string, from: CircuitState, to: CircuitState) => void) | undefined;
  readonly #clock: Clock;
  readonly #window: FailureWindow | null = null;
  readonly #minRequests: number = 0;
  readonly #failureRate: number = 0;
  readonly #multiplier: number = 1;
  readonly #maxTimeout: number;
  readonly #store: CircuitBreakerStore | null = null;
  readonly #settings: CircuitStoreSettings | null = null;
  // The store's generation last adopted.
  #sharedGeneration = Number.NaN;

  #state: CircuitState = 'closed';
  #generation = 0;
  // When the current state ends by itself: the end of the interval while
  // closed, of the open time while open; Infinity when it does not.
  #expiry = Number.POSITIVE_INFINITY;
  #openTime: number;
  #requests = 0;
  #totalSuccesses = 0;
  #totalFailures = 0;
  #consecutiveSuccesses = 0;
  #consecutiveFailures = 0;

  /**
   * @throws TypeError if `opts` or a field has the wrong type.
   * @throws RangeError if a number is out of range: `maxRequests` an integer
   * >= 1; `interval`, `timeout` ms >= 0; `window.ms` > 0; `window.buckets`
   * an integer from 1 to 1000; `window.minRequests` an integer >= 1;
   * `window.failureRate` from 0 to 1; `backoff.multiplier` >= 1;
   * `backoff.maxTimeout` >= `timeout`.
   */
  constructor(opts?: CircuitBreakerOptions) {
    const op = 'CircuitBreaker';
    const o = checkOpts(opts, op) ?? {};
    this.name = o.name === undefined ? '' : checkString(o.name, op, 'name');
    this.#maxRequests = o.maxRequests === undefined ? 1 : checkInt(o.maxRequests, op, 'maxRequests', 1);
    this.#interval = o.interval === undefined ? 0 : checkMs(o.interval, op, 'interval');
    this.#timeout = o.timeout === undefined ? 60_000 : checkMs(o.timeout, op, 'timeout');
    this.#readyToTrip = checkOptFn(o.readyToTrip, op, 'readyToTrip') ?? defaultReadyToTrip;
    this.#isSuccessful = checkOptFn(o.isSuccessful, op, 'isSuccessful') ?? defaultIsSuccessful;
    this.#onStateChange = checkOptFn(o.onStateChange, op, 'onStateChange');
    this.#clock = checkClock(o.clock, op, systemClock);
    this.#openTime = this.#maxTimeout = this.#timeout;
    const w = checkOpts(o.window, op, 'window');
    if (w !== undefined) {
      const ms = checkMs(w.ms, op, 'window.ms');
      if (ms === 0) throw rangeError(`${op}: \`window.ms\` must be a finite number of milliseconds > 0, got 0`);
      const buckets = w.buckets === undefined ? 10 : checkInt(w.buckets, op, 'window.buckets', 1, 1000);
      this.#minRequests = w.minRequests === undefined ? 10 : checkInt(w.minRequests, op, 'window.minRequests', 1);
      this.#failureRate = checkNumber(w.failureRate, op, 'window.failureRate', 0, 1);
      this.#window = new FailureWindow(ms, buckets, this.#clock.now());
    }
    const b = checkOpts(o.backoff, op, 'backoff');
    if (b !== undefined) {
      this.#multiplier = checkNumber(b.multiplier, op, 'backoff.multiplier', 1);
      this.#maxTimeout = checkNumber(b.maxTimeout, op, 'backoff.maxTimeout', this.#timeout);
    }
    if (o.store !== undefined) {
      const st = o.store as Partial<CircuitBreakerStore> | null;
      if (
        st === null ||
        typeof st !== 'object' ||
        typeof st.admit !== 'function' ||
        typeof st.record !== 'function' ||
        typeof st.trip !== 'function'
      ) {
        throw typeError(`${op}: \`store\` must be a CircuitBreakerStore (admit, record, trip), got ${show(o.store)}`);
      }
      if (this.name === '') {
        throw typeError(
          `${op}: \`name\` must be a non-empty string when \`store\` is given, got ''`,
          'ERR_INVALID_ARG_VALUE',
        );
      }
      this.#store = o.store;
      this.#settings = Object.freeze({
        name: this.name,
        maxRequests: this.#maxRequests,
        interval: this.#interval,
        timeout: this.#timeout,
        multiplier: this.#multiplier,
        maxTimeout: this.#maxTimeout,
      });
    }
    this.#newGeneration(this.#clock.now());
  }

  /** How `util.inspect` shows it: CircuitBreaker { ... } with its state now. */
  [inspectKey](depth: number, options: unknown, inspect?: (v: unknown, o?: unknown) => string): string {
    return inspectAs(
      'CircuitBreaker',
      { name: this.name, state: this.state, counts: this.counts },
      depth,
      options,
      inspect,
    );
  }

  /** The current state, brought up to date with the clock (which may move open to half-open). */
  get state(): CircuitState {
    if (this.#expiry !== Number.POSITIVE_INFINITY) this.#tick(this.#clock.now());
    return this.#state;
  }

  /** A copy of the current generation's counts, brought up to date with the clock. */
  get counts(): Counts {
    if (this.#expiry !== Number.POSITIVE_INFINITY) this.#tick(this.#clock.now());
    return this.#snapshot();
  }

  /**
   * Runs `fn(signal)` if the breaker admits the request, and settles as
   * `fn` does. A value or a fulfilled promise counts as a success; a throw
   * or a rejection is passed to `isSuccessful`, and counts as a failure
   * unless it returns true. The outcome is ignored if the breaker changed
   * generation meanwhile. A synchronous result is counted at once.
   *
   * **Cancellation**: `opts.signal` is handed to `fn` (without one, `fn`
   * gets a signal that never aborts). An error of a request whose caller
   * aborted — the signal's reason, or any error once the signal has
   * aborted — is the caller's doing, not the service's: it counts neither
   * as a success nor as a failure (gobreaker v2's excluded errors), and
   * the request no longer counts as admitted; `isSuccessful` can still
   * count it as a success. An already-aborted signal rejects with its
   * reason at once, without calling `fn`.
   *
   * Rejects with `CircuitOpenError` (`ERR_CIRCUIT_OPEN`) while open, and
   * `TooManyRequestsError` (`ERR_TOO_MANY_REQUESTS`) while half-open once
   * `maxRequests` trials are admitted, at once and without calling `fn`.
   * Otherwise rejects with what `fn` threw or rejected with, as it is.
   *
   * @throws TypeError if `fn` is not a function or `opts.signal` not an AbortSignal.
   * @example An error that counts as a success still rejects
   * ```ts
   * import { CircuitBreaker } from 'weftjs';
   * const cb = new CircuitBreaker({ isSuccessful: (err: any) => err.status === 404 });
   * await cb.execute(async () => 42); // => 42
   * await cb.execute(() => Promise.reject({ status: 404 })).catch((e) => e.status); // => 404
   * cb.counts; // => { requests: 2, totalSuccesses: 2, totalFailures: 0, consecutiveSuccesses: 2, consecutiveFailures: 0 }
   * ```
   * @example A caller that gives up does not trip the breaker
   * ```ts
   * import { CircuitBreaker, sleep } from 'weftjs';
   * const cb = new CircuitBreaker({ readyToTrip: (c) => c.consecutiveFailures >= 1 });
   * const client = new AbortController();
   * const call = cb.execute((signal) => sleep(1_000, { signal }), { signal: client.signal });
   * client.abort(new Error('client went away'));
   * await call.catch((e) => e.message); // => 'client went away'
   * [cb.state, cb.counts.totalFailures]; // => ['closed', 0]
   * ```
   */
  execute<T>(fn: (signal: AbortSignal) => T | Promise<T>, opts?: { signal?: AbortSignal }): Promise<T> {
    checkFn(fn, 'CircuitBreaker.execute', 'fn');
    const signal = opts === undefined ? undefined : signalOf(opts, 'CircuitBreaker.execute');
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#store !== null) return this.#shared(fn, signal);
    return this.#local(fn, signal);
  }

  // The state machine of this breaker alone: synchronous up to `fn`.
  #local<T>(fn: (signal: AbortSignal) => T | Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    // A callback of the options that throws (onStateChange, readyToTrip,
    // isSuccessful) rejects this call rather than throwing from it.
    let gen: number;
    try {
      if (this.#expiry !== Number.POSITIVE_INFINITY) this.#tick(this.#clock.now());
      if (this.#state !== 'closed') {
        const refused = this.#refuse();
        if (refused !== null) return Promise.reject(refused);
      }
      this.#requests++;
      gen = this.#generation;
    } catch (err) {
      return Promise.reject(err);
    }
    let result: T | Promise<T>;
    try {
      result = fn(
        signal ?? (never ??= guardSignal(new AbortController().signal, 'CircuitBreaker.execute', '(signal) => …')),
      );
    } catch (err) {
      try {
        this.#settleError(gen, err, signal);
      } catch (callbackErr) {
        return Promise.reject(callbackErr);
      }
      return Promise.reject(err);
    }
    if (isThenable(result)) return this.#track(gen, result as Promise<T>, signal);
    try {
      this.#success(gen);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve(result);
  }

  async #track<T>(gen: number, pending: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    let value: T;
    try {
      value = await pending;
    } catch (err) {
      this.#settleError(gen, err, signal);
      throw err;
    }
    this.#success(gen);
    return value;
  }

  // With a store: admit, run, record (and trip) around the shared state,
  // adopting each answer as this breaker's own.
  async #shared<T>(fn: (signal: AbortSignal) => T | Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const store = this.#store!;
    const settings = this.#settings!;
    const answer = await store.admit(settings);
    if (answer === 'local') return this.#local(fn, signal);
    const fnSignal =
      signal ?? (never ??= guardSignal(new AbortController().signal, 'CircuitBreaker.execute', '(signal) => …'));
    if (answer === 'admit') return fn(fnSignal);
    if (answer instanceof Error) throw answer;
    this.#adopt(answer);
    if (!answer.admitted) {
      const name = this.name === '' ? 'circuit breaker' : `circuit breaker "${this.name}"`;
      if (answer.state === 'open') throw new CircuitOpenError(`${name} is open`, answer.expiresIn);
      throw new TooManyRequestsError(`${name} is half-open and has admitted its ${this.#maxRequests} trial request(s)`);
    }
    let value: T | undefined;
    let error: unknown;
    let failed = false;
    if (signal?.aborted) {
      failed = true;
      error = signal.reason;
    } else {
      try {
        value = await fn(fnSignal);
      } catch (err) {
        failed = true;
        error = err;
      }
    }
    const outcome: CircuitOutcome =
      !failed || this.#isSuccessful(error) ? 'success' : signal?.aborted ? 'excluded' : 'failure';
    const after = await store.record(settings, answer, outcome);
    if (after !== undefined) {
      this.#adopt(after);
      const now = this.#clock.now();
      const w = this.#window;
      if (after.state === 'closed' && outcome !== 'excluded') w?.record(now, outcome === 'failure');
      if (outcome === 'failure' && after.state === 'closed' && after.generation === answer.generation) {
        if (this.#readyToTrip(after.counts) || (w !== null && this.#rateTrips(w, now))) {
          const tripped = await store.trip(settings, after.generation);
          if (tripped !== undefined) this.#adopt(tripped);
        }
      }
    }
    if (failed) throw error;
    return value as T;
  }

  // A shared state from the store becomes this breaker's: a new generation
  // of the store is a new one here (results of the old one are ignored).
  #adopt(s: CircuitShared): void {
    if (s.generation !== this.#sharedGeneration) {
      this.#sharedGeneration = s.generation;
      this.#generation++;
    }
    const c = s.counts;
    this.#requests = c.requests;
    this.#totalSuccesses = c.totalSuccesses;
    this.#totalFailures = c.totalFailures;
    this.#consecutiveSuccesses = c.consecutiveSuccesses;
    this.#consecutiveFailures = c.consecutiveFailures;
    this.#expiry = s.expiresIn === Number.POSITIVE_INFINITY ? s.expiresIn : this.#clock.now() + s.expiresIn;
    const from = this.#state;
    if (from === s.state) return;
    this.#state = s.state;
    if (s.state === 'closed') this.#window?.clear(this.#clock.now());
    this.#onStateChange?.(this.name, from, s.state);
  }

  // gobreaker's beforeRequest, past the closed fast path.
  #refuse(): Error | null {
    const name = this.name === '' ? 'circuit breaker' : `circuit breaker "${this.name}"`;
    if (this.#state === 'open') {
      return new CircuitOpenError(`${name} is open`, Math.max(0, this.#expiry - this.#clock.now()));
    }
    if (this.#requests >= this.#maxRequests) {
      return new TooManyRequestsError(
        `${name} is half-open and has admitted its ${this.#maxRequests} trial request(s)`,
      );
    }
    return null;
  }

  #settleError(gen: number, err: unknown, signal: AbortSignal | undefined): void {
    if (this.#isSuccessful(err)) this.#success(gen);
    else if (signal?.aborted) this.#exclude(gen);
    else this.#failure(gen);
  }

  // gobreaker v2's onExclusion: the request was the caller's to drop; it is
  // no longer counted as admitted, so a half-open trial slot comes back.
  #exclude(gen: number): void {
    if (gen === this.#generation && this.#requests > 0) this.#requests--;
  }

  // gobreaker's afterRequest + onSuccess.
  #success(gen: number): void {
    if (this.#expiry !== Number.POSITIVE_INFINITY) this.#tick(this.#clock.now());
    if (gen !== this.#generation) return;
    this.#totalSuccesses++;
    this.#consecutiveSuccesses++;
    this.#consecutiveFailures = 0;
    if (this.#state === 'closed') {
      this.#window?.record(this.#clock.now(), false);
    } else if (this.#state === 'half-open' && this.#consecutiveSuccesses >= this.#maxRequests) {
      this.#toClosed(this.#clock.now());
    }
  }

  // gobreaker's afterRequest + onFailure.
  #failure(gen: number): void {
    if (this.#expiry !== Number.POSITIVE_INFINITY) this.#tick(this.#clock.now());
    if (gen !== this.#generation) return;
    this.#totalFailures++;
    this.#consecutiveFailures++;
    this.#consecutiveSuccesses = 0;
    if (this.#state === 'half-open') {
      this.#toOpen(this.#clock.now(), true);
    } else if (this.#state === 'closed') {
      const now = this.#clock.now();
      const w = this.#window;
      if (w !== null) w.record(now, true);
      if (this.#readyToTrip(this.#snapshot()) || (w !== null && this.#rateTrips(w, now))) this.#toOpen(now, false);
    }
  }

  #rateTrips(w: FailureWindow, now: number): boolean {
    const requests = w.requests(now);
    return requests >= this.#minRequests && w.failures(now) / requests >= this.#failureRate;
  }

  // gobreaker's currentState: the transitions that time makes.
  #tick(now: number): void {
    if (now < this.#expiry) return;
    if (this.#state === 'open') this.#toHalfOpen(now);
    else if (this.#state === 'closed') this.#newGeneration(now);
  }

  #toOpen(now: number, fromHalfOpen: boolean): void {
    if (fromHalfOpen) this.#openTime = Math.min(this.#maxTimeout, this.#openTime * this.#multiplier);
    this.#enter('open', now);
  }

  #toHalfOpen(now: number): void {
    this.#enter('half-open', now);
  }

  #toClosed(now: number): void {
    this.#openTime = this.#timeout;
    this.#window?.clear(now);
    this.#enter('closed', now);
  }

  #enter(to: CircuitState, now: number): void {
    const from = this.#state;
    this.#state = to;
    this.#newGeneration(now);
    const p = probes();
    if (p?.breakerStateChange.hasSubscribers) {
      p.breakerStateChange.publish({ breaker: this, name: this.name, from, to });
    }
    this.#onStateChange?.(this.name, from, to);
  }

  #newGeneration(now: number): void {
    this.#generation++;
    this.#requests = this.#totalSuccesses = this.#totalFailures = 0;
    this.#consecutiveSuccesses = this.#consecutiveFailures = 0;
    const state = this.#state;
    if (state === 'open') this.#expiry = now + this.#openTime;
    else if (state === 'closed' && this.#interval > 0) this.#expiry = now + this.#interval;
    else this.#expiry = Number.POSITIVE_INFINITY;
  }

  #snapshot(): Counts {
    return {
      requests: this.#requests,
      totalSuccesses: this.#totalSuccesses,
      totalFailures: this.#totalFailures,
      consecutiveSuccesses: this.#consecutiveSuccesses,
      consecutiveFailures: this.#consecutiveFailures,
    };
  }
}
