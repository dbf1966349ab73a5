/**
 * `npm run demo -- --redis`: the same job, spread over processes the way a
 * service scales out. The demo starts a `redis-server` of its own on a free
 * loopback port (no persistence), puts the batches on a `RedisQueue`
 * (`weftjs/redis`: a Redis Stream and its consumer group), and forks
 * `--consumers` consumer processes (`consumer.ts`) that share the queue,
 * one `RedisRateLimiter` and one breaker state (`breakerStore`). The live
 * view and the summary add up what the consumers tell over IPC. The
 * Shutdown stops the consumers (each hands back what it holds), then the
 * downstream, then Redis, by its pid.
 */
import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import type { CircuitState } from 'weftjs';
import { RedisQueue } from 'weftjs/redis';
import { bump, type Counters, newCounters } from './handler.js';
import type { Batch } from './protocol.js';
import {
  type DemoOptions,
  type Engine,
  type EngineContext,
  items,
  type Progress,
  runDemo,
  tenantOf,
} from './service.js';
import { summary } from './summary.js';
import { View } from './view.js';

/** What a consumer process is started with (its argv[2], as JSON). */
export interface ConsumerSetup {
  url: string;
  port: number;
  index: number;
  maxDeliveries: number;
  opts: DemoOptions;
}

/** Consumer -> demo, over IPC. */
export type ConsumerMessage =
  | { type: 'ready'; consumer: string }
  | { type: 'counters'; counters: Counters; threads: Progress['threads']; rss: number }
  | { type: 'breaker'; from: CircuitState; to: CircuitState; at: number };

/** A free port on loopback (the OS picks it, then it is released for redis-server to take). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

/** Whether Redis answers PING on `port`. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write('PING\r\n'));
    sock.setTimeout(500, () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('data', (d) => {
      sock.destroy();
      resolve(String(d).startsWith('+PONG'));
    });
    sock.once('error', () => resolve(false));
  });
}

/** A redis-server of the demo's own, and how to stop it. */
export interface RedisServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts redis-server on a free loopback port and waits until it answers. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    // A group of its own: a Ctrl-C in the terminal reaches the whole foreground group, and redis-server
    // would quit before the demo is done with it. The demo stops it, by its pid, last.
    { stdio: 'ignore', detached: true },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill); // also on a forced exit (a second Ctrl-C)
  for (let i = 0; !(await ping(port)); i++) {
    if (i === 100 || child.exitCode !== null) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid ?? 0,
    async stop() {
      process.off('exit', kill);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A consumer process and what it told last. */
interface Consumer {
  child: ChildProcess;
  ready: Promise<void>;
  exited: Promise<void>;
  counters: Counters;
  threads: Progress['threads'];
  rss: number;
}

/** The engine of `--redis`: a producer here, `opts.consumers` consumer processes, one queue in Redis. */
function redisEngine(server: RedisServer, ctx: EngineContext): Promise<Engine> {
  const { opts, port } = ctx;
  const maxDeliveries = 3;
  let state: CircuitState = 'closed';
  let added = 0;
  let settle: (() => void) | undefined;
  const consumers: Consumer[] = [];
  const sum = (): Counters => {
    const total = newCounters();
    for (const { counters: c } of consumers) {
      for (const key of Object.keys(total) as (keyof Counters)[]) {
        if (typeof c[key] === 'number') (total[key] as number) += c[key] as number;
      }
      for (const [k, v] of Object.entries(c.failedByKind)) bump(total.failedByKind, k, v);
      for (const [k, v] of Object.entries(c.retriesByKind)) bump(total.retriesByKind, k, v);
    }
    return total;
  };

  for (let index = 0; index < opts.consumers; index++) {
    const setup: ConsumerSetup = { url: server.url, port, index, maxDeliveries, opts };
    // A process group of its own, as redis-server: a Ctrl-C in the terminal reaches the demo alone, which
    // then stops each consumer once (a consumer that got the Ctrl-C and then the demo's SIGTERM would
    // take the second signal as a forced exit). A consumer whose demo has gone stops by itself.
    const child = fork(fileURLToPath(new URL('./consumer.ts', import.meta.url)), [JSON.stringify(setup)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true,
    });
    let ready!: () => void;
    const consumer: Consumer = {
      child,
      ready: new Promise<void>((resolve) => (ready = resolve)),
      exited: new Promise<void>((resolve) => child.once('close', () => resolve())),
      counters: newCounters(),
      threads: { threads: 0, running: 0, queued: 0, completed: 0 },
      rss: 0,
    };
    child.on('message', (m: ConsumerMessage) => {
      if (m.type === 'ready') ready();
      else if (m.type === 'counters') {
        consumer.counters = m.counters;
        consumer.threads = m.threads;
        consumer.rss = m.rss;
        const c = sum();
        if (c.done + c.failed >= opts.items) settle?.();
      } else if (m.from === state && m.to !== state) {
        // Every process sees the shared breaker change: the first to tell it is the one shown.
        state = m.to;
        ctx.transition(m.from, m.to);
      }
    });
    consumers.push(consumer);
  }

  const engine: Engine = {
    limiterName: 'RedisRateLimiter',
    spread: `${opts.consumers} consumer process${opts.consumers === 1 ? '' : 'es'} of a RedisQueue, ${Math.ceil(opts.workers / opts.consumers)} workers each`,
    counters: sum,
    queued: () => added - sum().started,
    breaker: () => state,
    threads: () => {
      const t = { threads: 0, running: 0, queued: 0, completed: 0 };
      for (const c of consumers) {
        t.threads += c.threads.threads;
        t.running += c.threads.running;
        t.queued += c.threads.queued;
        t.completed += c.threads.completed;
      }
      return t;
    },
    rss: () => consumers.reduce((n, c) => n + c.rss, process.memoryUsage.rss()),
    async run(signal) {
      const redis = await createClient({ url: server.url })
        .on('error', () => {})
        .connect();
      try {
        const queue = new RedisQueue<Batch>({ redis, name: 'demo:batches', maxDeliveries });
        let onAbort!: () => void;
        const finished = new Promise<void>((resolve, reject) => {
          settle = resolve;
          onAbort = () => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
          void Promise.all(consumers.map((c) => c.exited)).then(() => reject(new Error('every consumer exited')));
        }).finally(() => signal.removeEventListener('abort', onAbort));
        finished.catch(() => {});
        // The producer: batches go on the queue in chunks, while the consumers already take them.
        let chunk: Batch[] = [];
        let next = 0;
        let batch: Batch['items'] = [];
        const flush = async () => {
          await queue.addMany(chunk, { signal });
          for (const b of chunk) added += b.items.length;
          chunk = [];
        };
        for (const item of items(opts.items)) {
          batch.push(item);
          if (batch.length < opts.batch) continue;
          chunk.push({ batch: next, tenant: tenantOf(next, opts.tenants), items: batch });
          next++;
          batch = [];
          if (chunk.length === 500) await flush();
        }
        if (batch.length > 0) chunk.push({ batch: next, tenant: tenantOf(next, opts.tenants), items: batch });
        if (chunk.length > 0) await flush();
        await finished;
      } finally {
        await redis.close();
      }
    },
    hooks(shutdown) {
      // Before the downstream stops: each consumer hands back what it holds and reports its last counters.
      shutdown.add(
        'consumers',
        () =>
          Promise.all(
            consumers.map((c) => {
              if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGTERM');
              return c.exited;
            }),
          ),
        { phase: 0.5 },
      );
      shutdown.add('redis-server', () => server.stop(), { phase: 3 });
    },
  };
  return Promise.all(consumers.map((c) => Promise.race([c.ready, c.exited]))).then(() => {
    console.log(`consumer processes ready, pids ${consumers.map((c) => c.child.pid).join(', ')}`);
    return engine;
  });
}

/** Runs the demo on Redis, then prints the summary. */
export async function runRedisDemo(options: DemoOptions, tty: boolean): Promise<void> {
  if (spawnSync('redis-server', ['--version']).error !== undefined) {
    console.error('--redis needs redis-server on the PATH (apt-get install redis-server, brew install redis)');
    process.exit(2);
  }
  const server = await startRedis();
  console.log(
    `redis-server pid ${server.pid} on ${server.url}; ${options.consumers} consumer processes share one RedisQueue`,
  );
  const view = new View(options, tty);
  const result = await runDemo(options, view, (ctx) => redisEngine(server, ctx));
  for (const line of summary(result)) console.log(line);
}
