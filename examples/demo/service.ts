/**
 * The demo's service: the million-item job, end to end.
 *
 * `runDemo` starts the flaky downstream, runs the job on an engine, and
 * stops everything with one `Shutdown`, on Ctrl-C or when the job is done.
 * The engine of `npm run demo` (`local`, below) streams the items through a
 * weft `flow`: batched, then handled by `workers` concurrent workers
 * (`handler.ts`: the ThreadPool, the policy, the Singleflight). The engine
 * of `--redis` (`redis.ts`) puts the batches on a `RedisQueue` that several
 * consumer processes share. Either way, a progress snapshot goes out on a
 * `PubSub` every 100 ms, with the breaker's transitions and the
 * downstream's outage as they happen, and the live view subscribes.
 */
import { availableParallelism } from 'node:os';
import { type CircuitState, flow, PubSub, RateLimiter, Ticker } from 'weftjs';
import { Shutdown, type ShutdownReport } from 'weftjs/node';
import { ThreadPool } from 'weftjs/threads';
import { DownstreamClient, startDownstream } from './client.js';
import { bump, type Counters, createBreaker, createHandler, newCounters, type Tasks } from './handler.js';
import type { DownstreamStats, Item } from './protocol.js';

/** How the demo runs: the command-line flags. */
export interface DemoOptions {
  items: number;
  workers: number;
  /** Downstream calls per second (the rate limiter's rate). */
  rate: number;
  /** Items per downstream call. */
  batch: number;
  /** ThreadPool threads (per process). */
  threads: number;
  /** SHA-256 rounds of the CPU step, per batch. */
  rounds: number;
  tenants: number;
  failRate: number;
  slowRate: number;
  outageMs: number;
  /** Where in the job (share of the items accepted) the downstream goes down. */
  outageAt: number;
  /** Consumer processes of the Redis queue (`--redis`). */
  consumers: number;
}

export const defaults: DemoOptions = {
  items: 1_000_000,
  workers: 100,
  rate: 1_000,
  batch: 100,
  threads: Math.max(1, availableParallelism() - 1),
  rounds: 16,
  tenants: 16,
  failRate: 0.02,
  slowRate: 0.01,
  outageMs: 3_000,
  outageAt: 0.4,
  consumers: 3,
};

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
  /** Items read from the source (or the queue) and not yet picked up by a worker. */
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

/** What the job runs on: the workers of this process, or consumer processes of a Redis queue. */
export interface Engine {
  /** The limiter's name in the summary. */
  readonly limiterName: string;
  /** A line on how the work was spread, for the summary's flow row. */
  readonly spread: string;
  counters(): Counters;
  /** Items taken from the source and not yet picked up by a worker. */
  queued(): number;
  breaker(): CircuitState;
  threads(): Progress['threads'];
  /** Memory in use now, in bytes (the engine's processes together). */
  rss(): number;
  /** Runs the job until every item is done or failed, or `signal` aborts (then rejects with its reason). */
  run(signal: AbortSignal): Promise<void>;
  /** The engine's own Shutdown hooks, after phase 0 (the job). */
  hooks(shutdown: Shutdown): void;
}

/** What an engine is started with. */
export interface EngineContext {
  opts: DemoOptions;
  /** The downstream's port on 127.0.0.1. */
  port: number;
  /** The breaker changed state. */
  transition(from: CircuitState, to: CircuitState): void;
}

/** Everything the summary reports. */
export interface DemoResult {
  options: DemoOptions;
  interrupted: boolean;
  reason: unknown;
  elapsedMs: number;
  counters: Counters;
  limiterName: string;
  spread: string;
  batches: number;
  peakRss: number;
  peakHeld: number;
  transitions: Transition[];
  published: number;
  downAt: number | undefined;
  upAt: number | undefined;
  downstream: DownstreamStats | undefined;
  downstreamPid: number;
  report: ShutdownReport;
}

/** What the demo shows its progress on. */
export interface DemoView {
  attach(bus: PubSub<DemoEvent>): void;
  line(text: string): void;
  stop(): void;
}

/** The items of the job, made as they are pulled. */
export function* items(total: number): Generator<Item> {
  for (let id = 0; id < total; id++) yield { id, amount: (id * 7919) % 10_000 };
}

/** The `i`-th batch's tenant. */
export const tenantOf = (i: number, tenants: number) => `t${i % tenants}`;

/**
 * Runs the job with `opts` on the engine that `engine` makes, showing it
 * on `view` (the bus is handed to it before anything starts, so it sees
 * every event). Resolves once the job is done or stopped and the shutdown
 * has run; the Shutdown then exits the process (0 if every hook ended
 * well).
 */
export async function runDemo(
  opts: DemoOptions,
  view: DemoView,
  engine: (ctx: EngineContext) => Engine | Promise<Engine> = local,
): Promise<DemoResult> {
  const start = Date.now();
  const since = (at = Date.now()) => at - start;
  // SIGINT and SIGTERM; the whole shutdown within 3 s.
  const shutdown = new Shutdown({ timeoutMs: 3_000, log: (line) => view.line(line) });
  const bus = new PubSub<DemoEvent>();
  view.attach(bus);

  let published = 0;
  let peakRss = 0;
  let peakHeld = 0;
  let downstreamUp = true;
  let downAt: number | undefined;
  let upAt: number | undefined;
  const transitions: Transition[] = [];
  const publish = (topic: string, event: DemoEvent) => {
    published++;
    void bus.publish(topic, event);
  };

  const downstream = await startDownstream(
    {
      failRate: opts.failRate,
      slowRate: opts.slowRate,
      slowMs: 1_000,
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
  );
  const job = await engine({
    opts,
    port: downstream.port,
    transition: (from, to) => {
      const transition = { t: since(), from, to };
      transitions.push(transition);
      publish('demo.breaker', { kind: 'breaker', transition });
    },
  });

  // Progress, every 100 ms, until the shutdown: the live view draws it.
  const ticker = new Ticker(100);
  const rates: number[] = [];
  const snapshot = (): Progress => {
    const c = job.counters();
    const rss = job.rss();
    if (rss > peakRss) peakRss = rss;
    const held = job.queued() + c.inFlight;
    if (held > peakHeld) peakHeld = held;
    rates.push(c.done + c.failed);
    if (rates.length > 11) rates.shift();
    return {
      t: since(),
      total: opts.items,
      done: c.done,
      failed: c.failed,
      inFlight: c.inFlight,
      queued: job.queued(),
      perSecond: ((c.done + c.failed - (rates[0] ?? 0)) * 10) / Math.max(1, rates.length - 1),
      breaker: job.breaker(),
      limiterWaits: c.limiterWaits,
      limiterWaiting: c.limiterWaiting,
      retries: c.retries,
      threads: job.threads(),
      rss,
      downstreamUp,
    };
  };
  const progress = (async () => {
    for await (const _ of ticker) publish('demo.progress', { kind: 'progress', progress: snapshot() });
  })();

  const running = job.run(shutdown.signal);

  // The shutdown, in phases: the job stops first (its signal is shutdown.signal), then what it used.
  shutdown.add('job', () => running.catch(() => {}));
  job.hooks(shutdown);
  let downstreamStats: DownstreamStats | undefined;
  shutdown.add('downstream', async () => void (downstreamStats = await downstream.stop()), { phase: 1 });
  shutdown.add(
    'progress',
    () => {
      ticker.stop();
      return progress;
    },
    { phase: 1 },
  );
  shutdown.add('bus', bus, { phase: 2 });

  let interrupted = false;
  let reason: unknown = 'done';
  try {
    await running;
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
    counters: job.counters(),
    limiterName: job.limiterName,
    spread: job.spread,
    batches: Math.ceil(opts.items / opts.batch),
    peakRss,
    peakHeld,
    transitions,
    published,
    downAt,
    upAt,
    downstream: downstreamStats,
    downstreamPid: downstream.pid,
    report,
  };
}

/**
 * The engine of `npm run demo`: the items flow from a lazy source, in
 * batches, to `workers` concurrent workers in this process. The source is
 * pulled only as workers free up, so at most `workers` batches (and one
 * being filled) are held at once, however long the source is.
 */
export function local({ opts, port, transition }: EngineContext): Engine {
  const threads = new ThreadPool<Tasks>({ module: new URL('./tasks.ts', import.meta.url), threads: opts.threads });
  const client = new DownstreamClient(port, opts.workers * 2);
  const breaker = createBreaker(transition);
  const limiter = new RateLimiter({ rate: opts.rate, burst: Math.max(1, Math.min(opts.workers, opts.rate)) });
  const counters = newCounters();
  let pulled = 0;
  const handle = createHandler({ client, limiter, breaker, threads, counters, rounds: opts.rounds });

  return {
    limiterName: 'RateLimiter',
    spread: `${opts.workers} worker${opts.workers === 1 ? '' : 's'}`,
    counters: () => counters,
    queued: () => pulled - counters.started,
    breaker: () => breaker.state,
    threads: () => {
      const s = threads.stats;
      return { threads: s.threads, running: s.running, queued: s.queued, completed: s.completed };
    },
    rss: () => process.memoryUsage.rss(),
    run(signal) {
      const source = (function* () {
        for (const item of items(opts.items)) {
          pulled++;
          yield item;
        }
      })();
      let next = 0;
      return flow(source, { signal })
        .batch(opts.batch)
        .map(
          async (batch: Item[], s: AbortSignal) => {
            const i = next++;
            const outcome = await handle({ batch: i, tenant: tenantOf(i, opts.tenants), items: batch }, s);
            if (!outcome.ok) {
              counters.failed += batch.length;
              counters.batchesFailed++;
              bump(counters.failedByKind, outcome.kind, batch.length);
            }
          },
          { concurrency: opts.workers, ordered: false },
        )
        .drain();
    },
    hooks(shutdown) {
      shutdown.add('thread pool', threads, { phase: 1 });
      shutdown.add('connections', () => client.close(), { phase: 1 });
    },
  };
}
