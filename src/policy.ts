/**
 * Package policy composes the resilience patterns a call to a downstream
 * service goes through — deduplication, retries, rate limiting, a circuit
 * breaker, a per-attempt timeout, a concurrency bound — into one reusable
 * `Policy`, in an order that is written once and read from left (outermost)
 * to right (innermost), as cockatiel's `wrap` does. Each part stays usable
 * alone; the policy only nests them.
 */
import type { CircuitBreaker } from './breaker.js';
import type { Clock } from './clock.js';
import { withTimeout } from './context.js';
import { signalOf } from './internal/abort.js';
import { checkFn, checkMs, checkOpts, checkString, show, typeError } from './internal/validate.js';
import { RateLimiter } from './rate.js';
import { type RetryOptions, retry } from './retry.js';
import { Semaphore } from './semaphore.js';
import { Singleflight } from './singleflight.js';

/** What the rest of the policy (the parts inside this one, then the work) is, seen from a part. */
export type PolicyNext<T> = (signal: AbortSignal | undefined) => Promise<T>;

/**
 * One layer of a policy. Besides these objects, a part may be a weft
 * `RateLimiter` (each call waits for a token), a `CircuitBreaker` (each
 * call goes through `execute`), a `Semaphore` (each call holds a permit),
 * a `Singleflight` (calls with the same `key` share one run), or a
 * function `(next, signal) => promise` that calls `next(signal)` once.
 */
export type PolicyPart =
  | RateLimiter
  | CircuitBreaker
  | Semaphore
  | Singleflight
  | { readonly retry: Omit<RetryOptions, 'signal'> }
  | { readonly timeout: number; readonly clock?: Clock }
  | (<T>(next: PolicyNext<T>, signal: AbortSignal | undefined) => Promise<T>);

/** Options of `Policy.execute`. */
export interface PolicyExecuteOptions {
  /** Stops the call at whatever layer it is in: waits end, retries stop, the work's signal aborts. */
  signal?: AbortSignal;
  /** The key that a `Singleflight` part shares runs by (required when the policy has one). */
  key?: string;
}

/** A composed policy: `execute` runs work through every part, outermost first. */
export interface Policy {
  /**
   * Runs `fn(signal)` through the parts, outermost first, and resolves or
   * rejects with what the innermost layer gives back. `signal` is the
   * signal of the innermost layer: the caller's, narrowed by a `timeout`
   * part when there is one.
   */
  execute<T>(fn: (signal: AbortSignal) => T | PromiseLike<T>, opts?: PolicyExecuteOptions): Promise<Awaited<T>>;
  /** The parts, outermost first. */
  readonly parts: readonly PolicyPart[];
}

// A signal that never aborts, for work called without one.
let never: AbortSignal | undefined;

/**
 * Composes `parts` into one `Policy`; the first part is the outermost. The
 * order that resilience needs, and why:
 *
 *     policy(singleflight, { retry }, limiter, breaker, { timeout }, semaphore)
 *
 * - `Singleflight` outermost: callers of one key share everything inside,
 *   retries included, so a burst of identical requests costs one call.
 * - `retry` outside the limiter and the breaker: each attempt waits for its
 *   own token and is counted by the breaker; an open breaker fails an
 *   attempt at once, and the backoff spaces the attempts out meanwhile.
 * - The limiter outside the breaker: a call turned away by an open breaker
 *   should not use a token, but one that waits for a token should not hold
 *   the breaker's half-open probe while it waits. (Put the breaker first if
 *   tokens are scarcer than probes.)
 * - `timeout` inside the breaker and the retry: it bounds one attempt, not
 *   the whole retry budget, and an attempt that timed out counts as the
 *   breaker's failure and is retried.
 * - A `Semaphore` innermost: it bounds the calls in flight to the
 *   downstream itself, not those waiting for a token or a backoff.
 *
 * A call aborted by its caller's signal is not the downstream's fault: it
 * ends at whatever layer it is in with `signal.reason`, is not retried, and
 * (since a `CircuitBreaker` counts only errors of work whose caller has not
 * aborted) does not count against the breaker.
 *
 * @throws TypeError if a part is none of the kinds above.
 * @throws RangeError if a `timeout` is negative or NaN.
 * @example A call to a flaky service, composed once
 * ```ts
 * import { CircuitBreaker, policy, RateLimiter, Singleflight } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const log: string[] = [];
 * const getUser = policy(
 *   new Singleflight(),
 *   { retry: { attempts: 3, backoff: { initial: 100, jitter: 'none' }, clock } },
 *   new RateLimiter({ rate: 10, burst: 1, clock }),
 *   new CircuitBreaker({ clock }),
 *   { timeout: 250, clock },
 * );
 * let calls = 0;
 * const flaky = async (signal: AbortSignal) => {
 *   log.push(`attempt ${++calls} at ${clock.now()}`);
 *   if (calls < 3) throw new Error('503');
 *   return { id: 7, aborted: signal.aborted };
 * };
 * const a = getUser.execute(flaky, { key: 'user:7' });
 * const b = getUser.execute(flaky, { key: 'user:7' }); // shares a's run
 * await clock.runAll();
 * await Promise.all([a, b]); // => [{ id: 7, aborted: false }, { id: 7, aborted: false }]
 * log; // => ['attempt 1 at 0', 'attempt 2 at 100', 'attempt 3 at 300']
 * ```
 * @example A part of your own, and a per-attempt timeout
 * ```ts
 * import { policy, sleep } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const seen: string[] = [];
 * const traced = policy(
 *   (next, signal) => {
 *     seen.push('start');
 *     return next(signal).finally(() => seen.push('end'));
 *   },
 *   { timeout: 50, clock },
 * );
 * const slow = traced.execute((signal) => sleep(1_000, { signal, clock })).catch((e) => e.code);
 * await clock.advance(50);
 * await slow; // => 'ERR_DEADLINE_EXCEEDED'
 * seen; // => ['start', 'end']
 * ```
 * @see retry
 * @see CircuitBreaker
 * @see RateLimiter
 */
export function policy(...parts: PolicyPart[]): Policy {
  const layers = parts.map((part, i) => layerOf(part, i));
  return {
    parts: Object.freeze([...parts]),
    execute<T>(fn: (signal: AbortSignal) => T | PromiseLike<T>, opts?: PolicyExecuteOptions): Promise<Awaited<T>> {
      const op = 'Policy.execute';
      checkFn(fn, op, 'fn');
      checkOpts(opts, op);
      const signal = signalOf(opts, op);
      const key = opts?.key === undefined ? undefined : checkString(opts.key, op, 'key');
      if (signal?.aborted) return Promise.reject(signal.reason);
      let next: PolicyNext<Awaited<T>> = (s) => {
        try {
          return Promise.resolve(fn(s ?? (never ??= new AbortController().signal))) as Promise<Awaited<T>>;
        } catch (err) {
          return Promise.reject(err);
        }
      };
      for (let i = layers.length - 1; i >= 0; i--) {
        const inner = next;
        const layer = layers[i]!;
        next = (s) => layer(inner, s, key) as Promise<Awaited<T>>;
      }
      return next(signal);
    },
  };
}

type Layer = (next: PolicyNext<unknown>, signal: AbortSignal | undefined, key: string | undefined) => Promise<unknown>;

function layerOf(part: PolicyPart, i: number): Layer {
  const op = 'policy';
  if (part instanceof RateLimiter) {
    return (next, signal) => part.wait(1, signal === undefined ? undefined : { signal }).then(() => next(signal));
  }
  if (part instanceof Semaphore) return (next, signal) => part.run(() => next(signal), { signal });
  if (part instanceof Singleflight) {
    return (next, signal, key) => {
      if (key === undefined) {
        return Promise.reject(typeError(`Policy.execute: \`key\` is required by the Singleflight part, got undefined`));
      }
      // The shared run stops only when every caller has gone.
      return part.do(key, (shared) => next(shared), { signal });
    };
  }
  if (typeof part === 'function') return (next, signal) => part(next, signal);
  if (part !== null && typeof part === 'object') {
    if (typeof (part as CircuitBreaker).execute === 'function' && 'state' in part) {
      const breaker = part as CircuitBreaker;
      return (next, signal) => breaker.execute(() => next(signal), { signal });
    }
    if ('retry' in part) {
      const opts = checkOpts(part.retry, op, `parts[${i}].retry`) ?? {};
      return (next, signal) => retry((_attempt, s) => next(s), { ...opts, signal });
    }
    if ('timeout' in part) {
      const ms = checkMs(part.timeout, op, `parts[${i}].timeout`, true);
      const clock = part.clock;
      return (next, signal) => withTimeout(signal, ms, (s) => next(s), { clock });
    }
  }
  throw typeError(
    `${op}: \`parts[${i}]\` must be a RateLimiter, CircuitBreaker, Semaphore, Singleflight, { retry }, { timeout } or a function, got ${show(part)}`,
  );
}
