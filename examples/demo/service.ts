/**
 * The demo's service: the million-item job, end to end.
 *
 * Items stream from a lazy source through a weft `flow`: batched, then
 * handled by `workers` concurrent workers. Each batch is sealed on a
 * `ThreadPool` (the CPU step, off the main thread), then sent to the flaky
 * downstream with an access token for its tenant. Every call to the
 * downstream goes through one composed `policy`:
 *
 *     retry (jittered backoff) -> RateLimiter -> CircuitBreaker -> timeout
 *
 * and token lookups, which many workers need at once for the same tenant,
 * go through a `Singleflight` in front of that. Progress snapshots and
 * events go out on a `PubSub` (the live view subscribes), and a `Shutdown`
 * stops it all on Ctrl-C, or when the job is done, in phases.
 */
import { availableParallelism } from 'node:os';
import {
  CircuitBreaker,
  CircuitOpenError,
  type CircuitState,
  flow,
  type PolicyNext,
  PubSub,
  policy,
  RateLimiter,
  type RetryOptions,
  Singleflight,
  sleep,
  Ticker,
  TooManyRequestsError,
} from 'weftjs';
import { Shutdown, type ShutdownReport } from 'weftjs/node';
import { ThreadPool } from 'weftjs/threads';
import { type Downstream, HttpStatusError, startDownstream } from './client.js';
import type { DownstreamStats, Item } from './protocol.js';

/** How the demo runs: the command-line flags. */
export interface DemoOptions {
  items: number;
  workers: number;
  /** Downstream calls per second (the RateLimiter's rate). */
  rate: number;
  /** Items per downstream call. */
  batch: number;
  threads: number;
  /** SHA-256 rounds of the CPU step, per batch. */
  rounds: number;
  tenants: number;
  failRate: number;
  slowRate: number;
  outageMs: number;
  /** Where in the job (share of the items accepted) the downstream goes down. */
  outageAt: number;
}

export const defaults: DemoOptions = {
  items: 1_000_000,
  workers: 100,
  rate: 2_000,
  batch: 50,
  threads: Math.max(1, availableParallelism() - 1),
  rounds: 16,
  tenants: 16,
  failRate: 0.02,
  slowRate: 0.01,
  outageMs: 3_000,
  outageAt: 0.4,
};

/** What the job takes its tokens from: a `RateLimiter`, or a `RedisRateLimiter` shared by every process. */
export interface DemoLimiter {
  allow(): boolean | Promise<boolean>;
  wait(n?: number, opts?: { signal?: AbortSignal }): Promise<unknown>;
}

/** What a variant of the demo (`--redis`) puts in: its own limiter, and hooks for what it started. */
export interface DemoExtras {
  limiter?: DemoLimiter;
  /** The limiter's name in the summary (default `RateLimiter`). */
  limiterName?: string;
  /** Adds the variant's own Shutdown hooks (after phase 1: the job and its pools stop first). */
  hooks?: (shutdown: Shutdown) => void;
}

/** One transition of the breaker, `t` ms after the start. */
export interface Transition {
  t: number;
  from: CircuitState;
  to: CircuitState;
}

/** What the live view draws: a snapshot of the job, published on the bus every 100 ms. */
export interface Progress {
  t: number;
  total: number;
  done: number;
  failed: number;
  inFlight: number;
  /** Items read from the source and not yet picked up by a worker. */
  queued: number;
  /** Items per second over the last second. */
  perSecond: number;
  breaker: CircuitState;
  limiterWaits: number;
  limiterWaiting: number;
  retries: number;
  threads: { threads: number; running: number; queued: number; completed: number };
  rss: number;
  downstreamUp: boolean;
}

/** The bus's messages: `demo.progress`, `demo.breaker`, `demo.downstream`. */
export type DemoEvent =
  | { kind: 'progress'; progress: Progress }
  | { kind: 'breaker'; transition: Transition }
  | { kind: 'downstream'; t: number; up: boolean };

/** Everything the summary reports. */
export interface DemoResult {
  options: DemoOptions;
  interrupted: boolean;
  reason: unknown;
  elapsedMs: number;
  done: number;
  failed: number;
  failedByKind: Record<string, number>;
  batches: number;
  batchesFailed: number;
  peakRss: number;
  peakHeld: number;
  calls: number;
  limiterName: string;
  limiterWaits: number;
  retries: number;
  retriesByKind: Record<string, number>;
  transitions: Transition[];
  rejectedByBreaker: number;
  tokenAsks: number;
  tokenFetches: number;
  sealed: number;
  threads: number;
  published: number;
  downAt: number | undefined;
  upAt: number | undefined;
  downstream: DownstreamStats | undefined;
  downstreamPid: number;
  report: ShutdownReport;
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
    case 'UND_ERR_SOCKET':
      return 'connection reset';
    default:
      if (err instanceof HttpStatusError) return `HTTP ${err.status}`;
      return typeof code === 'string' ? code : String((err as Error)?.name ?? err);
  }
}

function* items(total: number): Generator<Item> {
  for (let id = 0; id < total; id++) yield { id, amount: (id * 7919) % 10_000 };
}

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/**
 * Runs the job with `opts`. `log` gets the Shutdown's report lines; the
 * bus is handed to `view` before anything starts, so it sees every event.
 * Resolves once the job is done or stopped and the shutdown has run.
 */
export async function runDemo(
  opts: DemoOptions,
  view: { attach(bus: PubSub<DemoEvent>): void; line(text: string): void; stop(): void },
  extras: DemoExtras = {},
): Promise<DemoResult> {
  const start = Date.now();
  const since = (at = Date.now()) => at - start;
  // SIGINT and SIGTERM; the process exits once the report is out (0 if every hook ended well).
  const shutdown = new Shutdown({ timeoutMs: 3_000, log: (line) => view.line(line) });
  const bus = new PubSub<DemoEvent>();
  view.attach(bus);

  // Counters the summary and the live view read.
  let done = 0;
  let failed = 0;
  let pulled = 0;
  let started = 0;
  let inFlight = 0;
  let batchesFailed = 0;
  let calls = 0;
  let limiterWaits = 0;
  let limiterWaiting = 0;
  let retries = 0;
  let rejectedByBreaker = 0;
  let tokenAsks = 0;
  let tokenFetches = 0;
  let sealed = 0;
  let published = 0;
  let peakRss = 0;
  let peakHeld = 0;
  let downstreamUp = true;
  let downAt: number | undefined;
  let upAt: number | undefined;
  const failedByKind: Record<string, number> = {};
  const retriesByKind: Record<string, number> = {};
  const transitions: Transition[] = [];
  const publish = (topic: string, event: DemoEvent) => {
    published++;
    void bus.publish(topic, event);
  };

  const breaker = new CircuitBreaker({
    name: 'downstream',
    timeout: 500, // open for 500 ms, then a few trial calls...
    backoff: { multiplier: 2, maxTimeout: 2_000 }, // ...and twice as long after each failed trial, up to 2 s
    maxRequests: 3,
    readyToTrip: (c) => c.consecutiveFailures >= 10,
    window: { ms: 1_000, minRequests: 20, failureRate: 0.5 }, // or half the calls of the last second failed
    onStateChange: (_name, from, to) => {
      const transition = { t: since(), from, to };
      transitions.push(transition);
      publish('demo.breaker', { kind: 'breaker', transition });
    },
  });
  const limiter: DemoLimiter =
    extras.limiter ?? new RateLimiter({ rate: opts.rate, burst: Math.max(1, Math.min(opts.workers, opts.rate)) });
  // The limiter as a policy part of our own, to count the calls that had to wait for a token.
  const limited = <T>(next: PolicyNext<T>, signal: AbortSignal | undefined): Promise<T> => {
    calls++;
    const allowed = limiter.allow();
    if (allowed === true) return next(signal);
    if (allowed !== false) return allowed.then((ok) => (ok ? next(signal) : waitFor(next, signal)));
    return waitFor(next, signal);
  };
  const waitFor = <T>(next: PolicyNext<T>, signal: AbortSignal | undefined): Promise<T> => {
    limiterWaits++;
    limiterWaiting++;
    return limiter.wait(1, { signal }).then(
      () => {
        limiterWaiting--;
        return next(signal);
      },
      (err: unknown) => {
        limiterWaiting--;
        throw err;
      },
    );
  };
  const retrying: Omit<RetryOptions, 'signal'> = {
    attempts: 10,
    backoff: { initial: 50, multiplier: 2, max: 2_000, jitter: 'full' },
    retryIf: (err) => {
      if (err instanceof HttpStatusError && err.status < 500) return false; // our bug: do not retry
      const kind = kindOf(err);
      if (kind === 'circuit open' || kind === 'half-open, busy') rejectedByBreaker++;
      retries++;
      bump(retriesByKind, kind);
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
    tokenFetches++;
    return next(signal);
  };
  // One run per tenant at a time, whoever asks; inside it, the same path as every call.
  const tokenPolicy = policy(new Singleflight(), countFetch, { retry: retrying }, waitOutBreaker, limited, breaker, {
    timeout: 250,
  });
  const sendPolicy = policy({ retry: retrying }, waitOutBreaker, limited, breaker, { timeout: 250 });

  const downstream: Downstream = await startDownstream(
    {
      failRate: opts.failRate,
      slowRate: opts.slowRate,
      slowMs: 400,
      outageAfterItems: Math.floor(opts.items * opts.outageAt),
      outageMs: opts.outageMs,
    },
    {
      down: (at) => {
        downstreamUp = false;
        downAt = since(at);
        publish('demo.downstream', { kind: 'downstream', t: downAt, up: false });
      },
      up: (at) => {
        downstreamUp = true;
        upAt = since(at);
        publish('demo.downstream', { kind: 'downstream', t: upAt, up: true });
      },
    },
    opts.workers * 2,
  );
  const threads = new ThreadPool<typeof import('./tasks.js')>({
    module: new URL('./tasks.ts', import.meta.url),
    threads: opts.threads,
  });

  const tokens = new Map<string, { token: string; expires: number }>();
  async function tokenFor(tenant: string, signal: AbortSignal): Promise<string> {
    const cached = tokens.get(tenant);
    if (cached !== undefined && cached.expires > Date.now()) return cached.token;
    tokenAsks++;
    const { token, ttlMs } = await tokenPolicy.execute(
      (s) => downstream.call<{ token: string; ttlMs: number }>('GET', `/token/${tenant}`, { signal: s }),
      { key: tenant, signal },
    );
    tokens.set(tenant, { token, expires: Date.now() + ttlMs });
    return token;
  }

  async function handle(batch: Item[], signal: AbortSignal): Promise<void> {
    const n = batch.length;
    started += n;
    inFlight += n;
    const id = Math.floor((batch[0] as Item).id / opts.batch);
    const tenant = `t${id % opts.tenants}`;
    try {
      const { body, digest } = await threads.run(
        'seal',
        { batch: id, tenant, items: batch, rounds: opts.rounds },
        { signal },
      );
      sealed++;
      const token = await tokenFor(tenant, signal);
      const headers = {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'x-digest': digest,
        'x-rounds': String(opts.rounds),
      };
      await sendPolicy.execute((s) => downstream.call('POST', '/ingest', { body, headers, signal: s }), { signal });
      done += n;
    } catch (err) {
      if (signal.aborted) throw signal.reason; // stopped, not failed: the flow ends with the reason
      failed += n;
      batchesFailed++;
      const kind = kindOf(err);
      failedByKind[kind] = (failedByKind[kind] ?? 0) + n;
    } finally {
      inFlight -= n;
    }
  }

  // Progress, every 100 ms, until the shutdown: the live view draws it.
  const ticker = new Ticker(100);
  const rates: number[] = [];
  const snapshot = (): Progress => {
    const rss = process.memoryUsage.rss();
    if (rss > peakRss) peakRss = rss;
    const held = pulled - done - failed;
    if (held > peakHeld) peakHeld = held;
    rates.push(done + failed);
    if (rates.length > 11) rates.shift();
    const s = threads.stats;
    return {
      t: since(),
      total: opts.items,
      done,
      failed,
      inFlight,
      queued: pulled - started,
      perSecond: ((done + failed - (rates[0] ?? 0)) * 10) / Math.max(1, rates.length - 1),
      breaker: breaker.state,
      limiterWaits,
      limiterWaiting,
      retries,
      threads: { threads: s.threads, running: s.running, queued: s.queued, completed: s.completed },
      rss,
      downstreamUp,
    };
  };
  const progress = (async () => {
    for await (const _ of ticker) publish('demo.progress', { kind: 'progress', progress: snapshot() });
  })();

  const source = (function* () {
    for (const item of items(opts.items)) {
      pulled++;
      yield item;
    }
  })();
  const job = flow(source, { signal: shutdown.signal })
    .batch(opts.batch)
    .map(handle, { concurrency: opts.workers, ordered: false })
    .drain();

  // The shutdown, in phases: the job stops first (its signal is shutdown.signal), then what it used.
  shutdown.add('job', () => job.catch(() => {}));
  shutdown.add('thread pool', threads, { phase: 1 });
  let downstreamStats: DownstreamStats | undefined;
  shutdown.add('downstream', async () => void (downstreamStats = await downstream.stop()), { phase: 1 });
  shutdown.add(
    'progress',
    () => {
      ticker.stop();
      publish('demo.progress', { kind: 'progress', progress: snapshot() });
      return progress;
    },
    { phase: 1 },
  );
  shutdown.add('bus', bus, { phase: 2 });
  extras.hooks?.(shutdown);

  let interrupted = false;
  let reason: unknown = 'done';
  try {
    await job;
  } catch (err) {
    if (!shutdown.signal.aborted) throw err;
    interrupted = true;
    reason = shutdown.signal.reason;
  }
  if (!interrupted) {
    // The last snapshot, for the view to draw before the shutdown's report.
    await bus.publish('demo.progress', { kind: 'progress', progress: snapshot() });
    published++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const report = await shutdown.shutdown('done');
  view.stop();
  return {
    options: opts,
    interrupted,
    reason,
    elapsedMs: since(),
    done,
    failed,
    failedByKind,
    batches: Math.ceil(opts.items / opts.batch),
    batchesFailed,
    peakRss,
    peakHeld,
    calls,
    limiterName: extras.limiterName ?? 'RateLimiter',
    limiterWaits,
    retries,
    retriesByKind,
    transitions,
    rejectedByBreaker,
    tokenAsks,
    tokenFetches,
    sealed,
    threads: opts.threads,
    published,
    downAt,
    upAt,
    downstream: downstreamStats,
    downstreamPid: downstream.pid,
    report,
  };
}
