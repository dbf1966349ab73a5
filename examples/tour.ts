/**
 * `npm run examples`: a tour of weft, running every example program in
 * `examples/` in order, each introduced by one sentence of what it shows.
 * Each program runs in a process of its own, as it would alone:
 * `npx tsx examples/01-pipeline.ts`. Arguments pick programs by name:
 * `npm run examples -- breaker retry`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * What each program shows, in one sentence. A program missing here is
 * introduced by the first sentence of its doc comment instead.
 */
export const intros: Record<string, string> = {
  '01-pipeline.ts':
    'A Go-style pipeline of channels, generate -> square -> filter, where closing a channel ends the stage after it.',
  '02-fan-in.ts': 'Fan-in: several producers merged into one channel that closes when the last of them does.',
  '03-tee.ts': 'Tee: one channel copied to two consumers, the slower one setting the pace.',
  '04-select-timeout.ts': 'select with a timeout: take the reply, or give up when `after` fires.',
  '05-context.ts': 'Deadlines and cancel trees on AbortSignal, as a Go handler uses context.WithTimeout.',
  '20-semaphore.ts': 'A weighted Semaphore that keeps ten jobs at most three at a time, results in input order.',
  '21-errgroup.ts': 'An ErrGroup whose first error cancels the fetches still in flight.',
  '22-singleflight.ts': 'Singleflight turning a stampede of 100 requests for one key into one query.',
  '23-pubsub.ts': 'PubSub with topic patterns: each subscriber reads its own copy until the hub closes.',
  '24-pubsub-slow-consumers.ts':
    'Four slow subscribers of one fast publisher, each choosing what falling behind costs it.',
  '40-worker-pool.ts': "Go's worker pool: five workers share twenty jobs and the log shows who ran what, and when.",
  '41-submit.ts':
    'A WorkerPool fed one job at a time: a bounded queue that sheds load, a cancelled job, a failing job, a draining close.',
  '42-pipeline-cancel.ts': 'A flow pipeline cancelled halfway: every stage stops and nothing is left behind.',
  '43-fan-out-fan-in.ts': 'Fan-out to three competing workers, then fan-in of their results as they come.',
  '44-streams.ts': 'A flow that reads Node and web streams and is piped on like any stream, with backpressure.',
  '45-million.ts': 'A million jobs through 100 workers from a lazy source, in flat memory.',
  '50-thread-pool.ts': 'CPU-bound hashing on every core with ThreadPool, stopped by Ctrl-C inside the threads.',
  '60-rate-limiter.ts': 'A token bucket letting a burst through, then one request every 100 ms in arrival order.',
  '61-circuit-breaker.ts':
    'A circuit breaker that opens on a dead service, refuses calls at once, and closes once trials succeed.',
  '62-retry-backoff.ts': 'retry with exponential backoff, and a retry loop cut short by an open breaker.',
  '63-keyed-rate-limiter.ts': 'One token bucket per client: the noisy one is held back, the quiet one is not.',
  '64-breaker-window-backoff.ts':
    'A breaker that trips on a failure rate over a sliding window and doubles its open time.',
  '70-graceful-shutdown.ts': 'Graceful shutdown of an HTTP server and its background work on SIGTERM, phase by phase.',
  '80-redis-shared-limits.ts': 'One rate limit and one semaphore shared by three processes through Redis.',
  '81-redis-queue.ts': 'A RedisQueue worked by three consumer processes, one killed halfway, and every job still done.',
};

/** The first sentence of the doc comment that opens `source`, on one line. */
export function firstSentence(source: string): string | undefined {
  const doc = /^\/\*\*([\s\S]*?)\*\//.exec(source)?.[1];
  if (doc === undefined) return undefined;
  const text = doc
    .split('\n')
    .map((l) => l.replace(/^\s*\* ?/, '').trim())
    .join(' ')
    .trim();
  return /^.*?[.!?](?=\s|$)/.exec(text)?.[0] ?? (text || undefined);
}

/** The sentence that introduces `file` (a name in `examples/`). */
export function intro(file: string, dir = fileURLToPath(new URL('.', import.meta.url))): string {
  return intros[file] ?? firstSentence(readFileSync(`${dir}${file}`, 'utf8')) ?? '';
}

/** The example programs, in order. */
export function programs(dir = fileURLToPath(new URL('.', import.meta.url))): string[] {
  return readdirSync(dir)
    .filter((f) => /^\d\d-.*\.ts$/.test(f))
    .sort();
}

/** Runs the programs whose names contain one of `only` (all if empty); resolves with the failures. */
export function tour(only: string[]): string[] {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  const chosen = programs(dir).filter((f) => only.length === 0 || only.some((x) => f.includes(x)));
  const failed: string[] = [];
  for (const file of chosen) {
    console.log(`\n=== examples/${file}\n${intro(file, dir)}\n`);
    // A process each: a program may exit by itself (Shutdown does), or leave handles a later one would trip on.
    const run = spawnSync(process.execPath, [...process.execArgv, `${dir}${file}`], { stdio: 'inherit' });
    if (run.status !== 0) failed.push(`${file} (exit ${run.status ?? run.signal})`);
  }
  console.log(
    `\n${chosen.length - failed.length} of ${chosen.length} programs ran${failed.length ? `; failed: ${failed.join(', ')}` : '.'}`,
  );
  return failed;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (tour(process.argv.slice(2)).length > 0) process.exitCode = 1;
}
