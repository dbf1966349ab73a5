/**
 * weft/redis's queue and pub/sub against what users run today, on one
 * local redis-server (the `setup` below starts one when `REDIS_URL` is not
 * set).
 *
 * (a) A durable queue end to end: the bench process adds 100,000 trivial
 * jobs (weft's `addMany`, BullMQ's `addBulk`, in chunks of 1,000) while 1
 * or 4 consumer processes (`bench/fixtures/redis-queue-consumer.ts`, started
 * before the timed call) run them at a concurrency of 50 each; the call
 * ends when the consumers have run them all. Both are at least once (weft
 * acknowledges a job after its work, BullMQ moves it to completed under its
 * lock) and both delete finished jobs (`removeOnComplete`). Each consumer
 * prints its resident set size (start, peak, end) as it exits. Target: at
 * least BullMQ's throughput, and flat consumer memory.
 *
 * (b) Fan-out: 20,000 messages published on one bus, each received by 10
 * subscribers (10 connections, in the bench process): `RedisPubSub`
 * against ioredis by hand (10 subscribed clients and a publisher sending
 * the same framed JSON), the floor. Target: within 1.2x of the floor.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { RedisPubSub, RedisQueue } from 'weftjs/redis';
import { type Contender, compare, fixture, smoke } from './lib.js';
import { redisServer, redisUrl } from './redis-server.js';

/** One redis-server for every child of this file, unless `REDIS_URL` names one. */
export const setup = redisServer('bench/redis-queue');

const url = (): string => redisUrl('bench/redis-queue');

const ioredis = async (opts: Record<string, unknown> = {}) => {
  const c = new Redis(url(), opts);
  c.on('error', () => {});
  await new Promise<void>((resolve) => c.once('ready', () => resolve()));
  return c;
};

const JOBS = smoke ? 20_000 : 100_000;
const CONCURRENCY = 50;
const CHUNK = 1000;
let names = 0;
const fresh = (what: string) => `bench-${what}-${process.pid}-${++names}`;

type Lib = 'weft' | 'weft-io' | 'bullmq';

interface Run {
  add: (jobs: { n: number }[]) => Promise<unknown>;
  consumers: { proc: ChildProcess; count: number }[];
  /** Resolves when the consumers' counts sum to `total`. */
  all: (total: number) => Promise<void>;
}

/** A contender of (a): `processes` consumers of `lib`, started untimed; one timed call adds and runs JOBS jobs. */
function queueCase(lib: Lib, processes: number): Contender<Run> {
  return {
    once: true,
    rounds: smoke ? 1 : 2,
    setup: async () => {
      const name = fresh(lib);
      let add: Run['add'];
      if (lib === 'bullmq') {
        const queue = new Queue(name, {
          connection: await ioredis({ maxRetriesPerRequest: null }),
          defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
        });
        await queue.waitUntilReady();
        add = (jobs) => queue.addBulk(jobs.map((data) => ({ name: 'job', data })));
      } else {
        const redis = lib === 'weft' ? await createClient({ url: url() }).connect() : await ioredis();
        const queue = new RedisQueue<{ n: number }>({ redis, name });
        add = (jobs) => queue.addMany(jobs);
      }
      const consumers = Array.from({ length: processes }, () => {
        const proc = spawn(process.execPath, [fixture('redis-queue-consumer'), lib, url(), name, String(CONCURRENCY)], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        process.on('exit', () => proc.kill('SIGKILL'));
        return { proc, count: 0 };
      });
      let wake: () => void = () => {};
      await Promise.all(
        consumers.map(
          (c) =>
            new Promise<void>((resolve) => {
              let buf = '';
              c.proc.stdout!.setEncoding('utf8');
              c.proc.stdout!.on('data', (d: string) => {
                buf += d;
                let i = buf.indexOf('\n');
                while (i >= 0) {
                  const line = buf.slice(0, i);
                  buf = buf.slice(i + 1);
                  if (line === 'ready') resolve();
                  else if (line.startsWith('n ')) {
                    c.count = Number(line.slice(2));
                    wake();
                  } else if (line.startsWith('rss ')) {
                    const [start, peak, end] = line.slice(4).split(' ');
                    process.stdout.write(
                      `${lib} consumer ${c.proc.pid}: RSS ${start} MB at start, ${peak} MB peak, ${end} MB at the end\n`,
                    );
                  }
                  i = buf.indexOf('\n');
                }
              });
            }),
        ),
      );
      const all = (total: number) =>
        new Promise<void>((resolve) => {
          const check = () => {
            if (consumers.reduce((s, c) => s + c.count, 0) >= total) resolve();
          };
          wake = check;
          check();
        });
      return { add, consumers, all };
    },
    run: async (s) => {
      const lanes = 8;
      let next = 0;
      const producer = async () => {
        while (next < JOBS) {
          const at = next;
          next += CHUNK;
          await s.add(Array.from({ length: Math.min(CHUNK, JOBS - at) }, (_, i) => ({ n: at + i })));
        }
      };
      const done = s.all(JOBS);
      await Promise.all(Array.from({ length: lanes }, producer));
      await done;
      // The consumers report their memory and exit.
      await Promise.all(
        s.consumers.map(
          (c) =>
            new Promise<void>((resolve) => {
              c.proc.once('exit', () => resolve());
              c.proc.kill('SIGTERM');
            }),
        ),
      );
      return JOBS;
    },
  };
}

const MESSAGES = smoke ? 5000 : 20_000;
const SUBSCRIBERS = 10;

interface FanOut {
  publish: (i: number) => Promise<unknown>;
  received: () => number;
  wait: (total: number) => Promise<void>;
}

function counter(): { bump: () => void; received: () => number; wait: (total: number) => Promise<void> } {
  let got = 0;
  let target = Number.POSITIVE_INFINITY;
  let wake: () => void = () => {};
  return {
    bump: () => {
      if (++got >= target) wake();
    },
    received: () => got,
    wait: (total) =>
      new Promise<void>((resolve) => {
        target = total;
        wake = resolve;
        if (got >= total) resolve();
      }),
  };
}

/** A contender of (b). */
function fanOut(lib: 'weft' | 'floor'): Contender<FanOut> {
  return {
    setup: async () => {
      const c = counter();
      const name = fresh(`fan-${lib}`);
      const subs = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => ioredis()));
      const pubClient = await ioredis();
      let publish: FanOut['publish'];
      if (lib === 'weft') {
        const pub = new RedisPubSub<{ i: number }>({ redis: pubClient, name });
        for (const redis of subs) {
          const bus = new RedisPubSub<{ i: number }>({ redis, name });
          const sub = bus.subscribe('orders.>', { buffer: Number.POSITIVE_INFINITY });
          void sub.forEach(c.bump);
          await bus.ready();
        }
        publish = (i) => pub.publish('orders.new', { i });
      } else {
        const channel = `weft:{pubsub:${name}}`;
        for (const redis of subs) {
          redis.on('message', (_ch: string, message: string) => {
            // The same work weft does: split the topic off, parse the payload, match it.
            const colon = message.indexOf(':');
            const length = Number(message.slice(0, colon));
            const topic = message.slice(colon + 1, colon + 1 + length);
            JSON.parse(message.slice(colon + 1 + length));
            if (topic.startsWith('orders.')) c.bump();
          });
          await redis.subscribe(channel);
        }
        publish = (i) => pubClient.publish(channel, `10:orders.new${JSON.stringify({ i })}`);
      }
      return { publish, received: c.received, wait: c.wait };
    },
    run: async (s) => {
      const target = s.received() + MESSAGES * SUBSCRIBERS;
      const done = s.wait(target);
      const batch = 500;
      for (let i = 0; i < MESSAGES; i += batch) {
        const sent: Promise<unknown>[] = [];
        for (let k = i; k < i + batch && k < MESSAGES; k++) sent.push(s.publish(k));
        await Promise.all(sent);
      }
      await done;
      return MESSAGES;
    },
  };
}

export default async function bench(): Promise<void> {
  for (const processes of [1, 4]) {
    await compare(
      `RedisQueue end to end: ${JOBS} trivial jobs, concurrency ${CONCURRENCY}, ${processes} consumer process${processes > 1 ? 'es' : ''}`,
      {
        ops: JOBS,
        unit: 'jobs',
        heavy: true,
        cases: {
          'weft RedisQueue (node-redis)': queueCase('weft', processes),
          'weft RedisQueue (ioredis)': queueCase('weft-io', processes),
          'BullMQ Queue + Worker (ioredis)': queueCase('bullmq', processes),
        },
        weft: 'weft RedisQueue (node-redis)',
        targets: [
          { vs: 'BullMQ Queue + Worker (ioredis)', atLeast: 1, note: "issue 17: at least BullMQ's throughput" },
        ],
      },
    );
  }
  await compare(`RedisPubSub fan-out: ${MESSAGES} messages to ${SUBSCRIBERS} subscribers`, {
    ops: MESSAGES * SUBSCRIBERS,
    unit: 'deliveries',
    cases: {
      'weft RedisPubSub (ioredis)': fanOut('weft'),
      'floor: ioredis by hand': fanOut('floor'),
    },
    weft: 'weft RedisPubSub (ioredis)',
    heavy: true,
    targets: [{ vs: 'floor', atMost: 1.2, note: 'issue 17: within 1.2x of ioredis by hand' }],
  });
}
