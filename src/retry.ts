/**
 * Package retry runs an operation again after it fails, waiting longer
 * each time (exponential backoff with jitter), until it succeeds, the
 * attempts run out, `retryIf` says stop, or the signal aborts.
 */
import { type Clock, systemClock } from './clock.js';
import { sleep } from './context.js';
import { signalOf } from './internal/abort.js';
import { guardSignal } from './internal/shapes.js';
import { checkClock } from './internal/timer.js';
import { checkFn, checkInt, checkMs, checkNumber, checkOneOf, checkOptFn, checkOpts } from './internal/validate.js';

/**
 * How long `retry` waits between attempts.
 *
 * @see retry
 */
export interface RetryBackoff {
  /** Milliseconds before the second attempt, before jitter (default 100). */
  initial?: number;
  /** Cap on the delay before jitter, in milliseconds (default 30_000). */
  max?: number;
  /** Growth of the delay from one attempt to the next (default 2). */
  multiplier?: number;
  /** `'full'`: a uniform 0..d; `'equal'`: d/2..d; `'none'`: exactly d (default `'full'`). */
  jitter?: 'full' | 'equal' | 'none';
}

/**
 * Options of `retry`.
 *
 * @see retry
 */
export interface RetryOptions {
  /** Total tries, the first included: an integer >= 1, or `Infinity` (default 3). */
  attempts?: number;
  /** The delays between attempts. */
  backoff?: RetryBackoff;
  /** Called with each error but the last; false stops and rejects with it (default: retry every error). */
  retryIf?: (err: unknown, attempt: number) => boolean;
  /** Stops the retries: waits end at once and `retry` rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Source of time for the delays (default `systemClock`). */
  clock?: Clock;
}

const JITTER = ['full', 'equal', 'none'] as const;

/**
 * Calls `fn(attempt, signal)` until it succeeds, and resolves with its
 * value. Attempts are numbered from 1. After attempt k fails, `retry` waits
 * d = min(`max`, `initial` * `multiplier`^(k-1)) ms with jitter applied
 * (`'full'`: a uniform 0..d, `'equal'`: d/2..d, `'none'`: d) before
 * attempt k+1. After the last attempt, or when `retryIf(err, attempt)`
 * returns false, it rejects with that attempt's error as it is. A
 * synchronous throw from `fn` counts as a failed attempt.
 *
 * `fn` receives the caller's `signal`, or, without one, a signal of this
 * call's own that never aborts, so that `fn` can always pass one on.
 *
 * **Cancellation**: when `opts.signal` aborts, a delay in progress ends at
 * once, its timer cleared and its listener removed, and `retry` rejects
 * with `signal.reason`; an attempt in progress is `fn`'s to stop through
 * the signal, after which `retry` rejects with `signal.reason` rather than
 * retry. An already-aborted signal rejects before the first attempt.
 *
 * With a `CircuitBreaker`, put `retry` outside `execute`, and decide with
 * `retryIf` what an open breaker means: stop on `ERR_CIRCUIT_OPEN`, or wait
 * out its `retryAfter` with a `backoff` whose delays are long enough.
 *
 * @throws TypeError or RangeError at once if `fn` or an option is invalid.
 * Rejects with the last error of `fn`, with an error thrown by `retryIf`,
 * or with `signal.reason`.
 *
 * @example Backoff without jitter
 * ```ts
 * import { retry } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const log: string[] = [];
 * const result = retry(
 *   (attempt) => {
 *     log.push(`attempt ${attempt} at ${clock.now()}`);
 *     if (attempt < 3) throw new Error('flaky');
 *     return 'done';
 *   },
 *   { attempts: 5, backoff: { initial: 100, jitter: 'none' }, clock },
 * );
 * await clock.runAll();
 * await result; // => 'done'
 * log; // => ['attempt 1 at 0', 'attempt 2 at 100', 'attempt 3 at 300']
 * ```
 * @example Only some errors are worth retrying
 * ```ts
 * import { retry } from 'weftjs';
 * let calls = 0;
 * const err = await retry(
 *   () => {
 *     calls++;
 *     throw Object.assign(new Error('bad request'), { status: 400 });
 *   },
 *   { retryIf: (e: any) => e.status >= 500 },
 * ).catch((e) => e.message);
 * err; // => 'bad request'
 * calls; // => 1
 * ```
 * @example Giving up on abort
 * ```ts
 * import { retry } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const ac = new AbortController();
 * const result = retry(() => Promise.reject(new Error('down')), { attempts: 10, signal: ac.signal, clock });
 * await clock.advance(0);
 * ac.abort(new Error('shutting down'));
 * await result.catch((e) => e.message); // => 'shutting down'
 * clock.pending; // => 0
 * ```
 * @see CircuitBreaker
 */
export function retry<T>(
  fn: (attempt: number, signal: AbortSignal) => T | Promise<T>,
  opts?: RetryOptions,
): Promise<T> {
  const op = 'retry';
  checkFn(fn, op, 'fn');
  checkOpts(opts, op);
  const signal = signalOf(opts, op);
  const attempts =
    opts?.attempts === undefined ? 3 : checkInt(opts.attempts, op, 'attempts', 1, Number.POSITIVE_INFINITY);
  const b = checkOpts(opts?.backoff, op, 'backoff');
  const initial = b?.initial === undefined ? 100 : checkMs(b.initial, op, 'backoff.initial');
  const max = b?.max === undefined ? 30_000 : checkMs(b.max, op, 'backoff.max');
  const multiplier = b?.multiplier === undefined ? 2 : checkNumber(b.multiplier, op, 'backoff.multiplier', 1);
  const jitter = checkOneOf(b?.jitter, op, 'backoff.jitter', JITTER, 'full');
  const retryIf = checkOptFn(opts?.retryIf, op, 'retryIf');
  const clock = checkClock(opts?.clock, op, systemClock);
  if (signal?.aborted) return Promise.reject(signal.reason);

  const attemptSignal = signal ?? guardSignal(new AbortController().signal, 'retry', '(attempt, signal) => …');
  const delayOf = (attempt: number): number => {
    const d = Math.min(max, initial * multiplier ** (attempt - 1));
    if (jitter === 'none') return d;
    if (jitter === 'equal') return d / 2 + Math.random() * (d / 2);
    return Math.random() * d;
  };

  const run = async (): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(attempt, attemptSignal);
      } catch (err) {
        if (attempt >= attempts) throw err;
        // The caller gave up: never retried, and `retryIf` is not asked.
        if (signal?.aborted) throw signal.reason;
        if (retryIf !== undefined && !retryIf(err, attempt)) throw err;
      }
      const ms = delayOf(attempt);
      if (ms > 0) await sleep(ms, { signal, clock });
    }
  };
  return run();
}
