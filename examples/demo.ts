/**
 * `npm run demo`: the million-item job as a running service.
 *
 * A flaky downstream starts on loopback (it fails a share of calls, is slow
 * at times, and goes down for a few seconds in the middle), then a million
 * items stream through weft to it: a `flow` with 100 workers, a
 * `RateLimiter`, a `CircuitBreaker`, `retry` with jittered backoff, a
 * `Singleflight`, a `ThreadPool`, progress on a `PubSub`, and a `Shutdown`
 * on Ctrl-C. The service is in `examples/demo/`; `npm run examples` is the
 * tour of the small example programs.
 *
 *     npm run demo -- --items 200000 --workers 50 --rate 500
 *     npm run demo -- --redis          # on a RedisQueue, 3 consumer processes (redis-server on the PATH)
 */
import { parseArgs } from 'node:util';
import { runRedisDemo } from './demo/redis.js';
import { type DemoOptions, defaults, runDemo } from './demo/service.js';
import { summary } from './demo/summary.js';
import { View } from './demo/view.js';

const usage = `usage: npm run demo -- [options]

  --items <n>       items in the job (default ${defaults.items.toLocaleString('en-US')})
  --workers <n>     concurrent workers (default ${defaults.workers})
  --rate <n>        downstream calls per second, the RateLimiter's rate (default ${defaults.rate})
  --batch <n>       items per downstream call (default ${defaults.batch})
  --threads <n>     ThreadPool threads (default ${defaults.threads}: the cores but one)
  --outage-ms <n>   how long the downstream is down (default ${defaults.outageMs})
  --plain           plain lines, as when stdout is not a terminal
  --redis           run on a redis-server of its own (needs redis-server on the PATH): the batches on a
                    RedisQueue, consumer processes sharing a RedisRateLimiter and the breaker's state
  --consumers <n>   consumer processes with --redis (default ${defaults.consumers})
  --help            this text`;

function positive(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const x = Number(value.replaceAll('_', ''));
  if (!Number.isInteger(x) || x < min) {
    console.error(`--${name} must be an integer >= ${min}, got ${value}\n\n${usage}`);
    process.exit(2);
  }
  return x;
}

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      items: { type: 'string' },
      workers: { type: 'string' },
      rate: { type: 'string' },
      batch: { type: 'string' },
      threads: { type: 'string' },
      'outage-ms': { type: 'string' },
      consumers: { type: 'string' },
      plain: { type: 'boolean' },
      redis: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  }).values;
}
try {
  args = parse();
} catch (err) {
  console.error(`${(err as Error).message}\n\n${usage}`);
  process.exit(2);
}
if (args.help) {
  console.log(usage);
  process.exit(0);
}

const options: DemoOptions = {
  ...defaults,
  items: positive('items', args.items, defaults.items),
  workers: positive('workers', args.workers, defaults.workers),
  rate: positive('rate', args.rate, defaults.rate),
  batch: positive('batch', args.batch, defaults.batch),
  threads: positive('threads', args.threads, defaults.threads),
  outageMs: positive('outage-ms', args['outage-ms'], defaults.outageMs, 0),
  consumers: positive('consumers', args.consumers, defaults.consumers),
};
const tty = process.stdout.isTTY === true && !args.plain;

if (args.redis) {
  await runRedisDemo(options, tty);
} else {
  const view = new View(options, tty);
  const result = await runDemo(options, view);
  for (const line of summary(result)) console.log(line);
}
// The Shutdown exits the process once its report is out: 0 if every hook ended well, 1 if not.
