/**
 * What a worker of the demo does with one batch of items, wherever the
 * batch comes from (a `flow` in this process, or a `RedisQueue` shared by
 * several): seal it on the `ThreadPool` (the CPU step), get an access token
 * for its tenant, and send it to the downstream. Every call to the
 * downstream goes through one composed `policy`:
 *
 *     retry (jittered backoff) -> wait out an open breaker -> rate limiter -> CircuitBreaker -> timeout
 *
 * and token lookups, which many workers need at once for the same tenant,
 * go through a `Singleflight` in front of that, so that a hundred workers
 * whose token expired cost one request.
 */
import {
  CircuitBreaker,
  type CircuitBreakerStore,
  CircuitOpenError,
  type CircuitState,
  type PolicyNext,
  policy,
  type RetryOptions,
  Singleflight,
  sleep,
  TooManyRequestsError,
} from 'weftjs';
import type { ThreadPool } from 'weftjs/threads';
import { type DownstreamClient, HttpStatusError } from './client.js';
import type { Batch } from './protocol.js';

/** The tasks of `tasks.ts`, for a typed `ThreadPool`. */
export type Tasks = typeof import('./tasks.js');

/** What the job takes its tokens from: a `RateLimiter`, or a `RedisRateLimiter` shared by every process. */
export interface DemoLimiter {
  allow(): boolean | Promise<boolean>;
  wait(n?: number, opts?: { signal?: AbortSignal }): Promise<unknown>;
}

/** What the workers count; the live view and the summary read it. */
export interface Counters {
  /** Items of batches the downstream accepted, and of batches that gave up. */
  done: number;
  failed: number;
  batchesFailed: number;
  failedByKind: Record<string, number>;
  /** Items that a worker picked up, and those it holds now. */
  started: number;
  inFlight: number;
  calls: number;
  limiterWaits: number;
  limiterWaiting: number;
  retries: number;
  retriesByKind: Record<string, number>;
  rejectedByBreaker: number;
  tokenAsks: number;
  tokenFetches: number;
  sealed: number;
}

export function newCounters(): Counters {
  return {
    done: 0,
    failed: 0,
    batchesFailed: 0,
    failedByKind: {},
    started: 0,
    inFlight: 0,
    calls: 0,
    limiterWaits: 0,
    limiterWaiting: 0,
    retries: 0,
    retriesByKind: {},
    rejectedByBreaker: 0,
    tokenAsks: 0,
    tokenFetches: 0,
    sealed: 0,
  };
}

/** A short, stable name for the way a call failed, for the counts by kind. */
export function kindOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ERR_CIRCUIT_OPEN':
      return 'circuit open';
    case 'ERR_TOO_MANY_REQUESTS':
      return 'half-open, busy';
    case 'ERR_DEADLINE_EXCEEDED':
      return 'timed out';
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection reset';
    default:
      if (err instanceof HttpStatusError) return `HTTP ${err.status}`;
      return typeof code === 'string' ? code : String((err as Error)?.name ?? err);
  }
}

export const bump = (counts: Record<string, number>, key: string, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};

/**
 * The breaker in front of the downstream: it opens after 10 failures in a
 * row or half the calls of the last second failing, stays open 500 ms,
 * then lets 3 trial calls through; each failed trial doubles the open
 * time, up to 2 s. With `store` (`breakerStore` of weftjs/redis) every
 * process shares it.
 */
export function createBreaker(
  onStateChange: (from: CircuitState, to: CircuitState) => void,
  store?: CircuitBreakerStore,
): CircuitBreaker {
  return new CircuitBreaker({
    name: 'demo:downstream',
    timeout: 500,
    backoff: { multiplier: 2, maxTimeout: 2_000 },
    maxRequests: 3,
    readyToTrip: (c) => c.consecutiveFailures >= 10,
    window: { ms: 1_000, minRequests: 20, failureRate: 0.5 },
    onStateChange: (_name, from, to) => onStateChange(from, to),
    ...(store ? { store } : {}),
  });
}

/** What `createHandler` works with. */
export interface HandlerDeps {
  client: DownstreamClient;
  limiter: DemoLimiter;
  breaker: CircuitBreaker;
  threads: ThreadPool<Tasks>;
  counters: Counters;
  /** SHA-256 rounds of the CPU step, per batch. */
  rounds: number;
}

/** The outcome of one batch: accepted, or given up after its retries (with the last error's kind). */
export type Outcome = { ok: true } | { ok: false; kind: string };

/**
 * Returns the worker's function: handles one batch and resolves with its
 * outcome. It rejects only with `signal.reason`, when the signal aborts (a
 * shutdown): the batch was then neither done nor failed.
 */
export function createHandler(deps: HandlerDeps): (batch: Batch, signal: AbortSignal) => Promise<Outcome> {
  const { client, limiter, breaker, threads, counters: c, rounds } = deps;

  // The limiter as a policy part of our own, to count the calls that had to wait for a token.
  const waitForToken = <T>(next: PolicyNext<T>, signal: AbortSignal | undefined): Promise<T> => {
    c.limiterWaits++;
    c.limiterWaiting++;
    return limiter.wait(1, { signal }).then(
      () => {
        c.limiterWaiting--;
        return next(signal);
      },
      (err: unknown) => {
        c.limiterWaiting--;
        throw err;
      },
    );
  };
  const limited = <T>(next: PolicyNext<T>, signal: AbortSignal | undefined): Promise<T> => {
    c.calls++;
    const allowed = limiter.allow();
    if (allowed === true) return next(signal);
    if (allowed === false) return waitForToken(next, signal);
    return allowed.then((ok) => (ok ? next(signal) : waitForToken(next, signal)));
  };
  const retrying: Omit<RetryOptions, 'signal'> = {
    attempts: 10,
    backoff: { initial: 50, multiplier: 2, max: 2_000, jitter: 'full' },
    retryIf: (err) => {
      if (err instanceof HttpStatusError && err.status < 500) return false; // our bug: retrying will not help
      const kind = kindOf(err);
      if (kind === 'circuit open' || kind === 'half-open, busy') c.rejectedByBreaker++;
      c.retries++;
      bump(c.retriesByKind, kind);
      return true;
    },
  };
  // An attempt the breaker turned away waits until the breaker lets trial calls through again (its
  // `retryAfter`, plus jitter so that a hundred workers do not come back at the same instant), and
  // is then retried: the workers ride out an outage instead of spending their retries on it.
  const waitOutBreaker = <T>(next: PolicyNext<T>, signal: AbortSignal | undefined): Promise<T> =>
    next(signal).catch(async (err: unknown) => {
      if (err instanceof CircuitOpenError) await sleep(err.retryAfter + Math.random() * 100, { signal });
      else if (err instanceof TooManyRequestsError) await sleep(25 + Math.random() * 100, { signal });
      throw err;
    });
  const countFetch = <T>(next: PolicyNext<T>, signal: AbortSignal | undefined): Promise<T> => {
    c.tokenFetches++;
    return next(signal);
  };
  // A slow call (the downstream's are 1 s) gives up after 500 ms, and is retried.
  const perAttempt = { timeout: 500 };
  const sendPolicy = policy({ retry: retrying }, waitOutBreaker, limited, breaker, perAttempt);
  // One run per tenant at a time, whoever asks; inside it, the same path as every call.
  const tokenPolicy = policy(
    new Singleflight(),
    countFetch,
    { retry: retrying },
    waitOutBreaker,
    limited,
    breaker,
    perAttempt,
  );

  const tokens = new Map<string, { token: string; expires: number }>();
  async function tokenFor(tenant: string, signal: AbortSignal): Promise<string> {
    const cached = tokens.get(tenant);
    if (cached !== undefined && cached.expires > Date.now()) return cached.token;
    c.tokenAsks++;
    const { token, ttlMs } = await tokenPolicy.execute(
      (s) => client.call<{ token: string; ttlMs: number }>('GET', `/token/${tenant}`, { signal: s }),
      { key: tenant, signal },
    );
    tokens.set(tenant, { token, expires: Date.now() + ttlMs });
    return token;
  }

  return async function handle({ batch, tenant, items }: Batch, signal: AbortSignal): Promise<Outcome> {
    const n = items.length;
    c.started += n;
    c.inFlight += n;
    try {
      const { body, digest } = await threads.run('seal', { batch, tenant, items, rounds }, { signal });
      c.sealed++;
      const token = await tokenFor(tenant, signal);
      const headers = {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'x-digest': digest,
        'x-rounds': String(rounds),
      };
      await sendPolicy.execute((s) => client.call('POST', '/ingest', { body, headers, signal: s }), { signal });
      c.done += n;
      return { ok: true };
    } catch (err) {
      if (signal.aborted) throw signal.reason; // stopped, not failed
      return { ok: false, kind: kindOf(err) };
    } finally {
      c.inFlight -= n;
    }
  };
}
