/**
 * `npm run demo -- --redis`: the same job on a redis-server of the demo's
 * own, the batches on a RedisQueue shared by consumer processes, the rate
 * limit in a RedisRateLimiter and the breaker's state in a breakerStore.
 * Every item is accounted for, and every process the demo started
 * (redis-server, the consumers, the downstream) is gone when it exits.
 * Skipped when redis-server is not on the PATH.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { alive, demo, downstreamPid, expectCleanReport, items, num, row } from './support.js';

const hasRedis = spawnSync('redis-server', ['--version']).error === undefined;

describe.skipIf(!hasRedis)('npm run demo -- --redis', () => {
  it('runs the job on a RedisQueue with two consumer processes, then stops every process it started', {
    timeout: 60_000,
  }, async () => {
    const run = demo(['--redis', '--items', '10000', '--consumers', '2', '--outage-ms', '1500']);
    const { code } = await run.exited;
    const { lines } = run;
    const out = lines.join('\n');
    expect(code, out).toBe(0);

    const it = items(lines);
    expect(it.total).toBe(10_000);
    expect(it.left, out).toBe(0);
    expect(it.done + it.failed).toBe(10_000);
    expect(row(lines, 'flow')).toMatch(
      /^[\d,]+ batches of \d+ items on 2 consumer processes of a RedisQueue, 50 workers each;/,
    );
    expect(row(lines, 'RedisRateLimiter')).toMatch(/^[\d,]+ calls\/s: [\d,]+ calls/);
    // At least once: a batch may be delivered twice, but the downstream counts each item once.
    expect(num(/([\d,]+) items accepted/.exec(row(lines, 'downstream'))?.[1])).toBeGreaterThanOrEqual(it.done);
    expect(row(lines, 'downstream')).toMatch(/down 1\.\d s/);
    expect(row(lines, 'CircuitBreaker')).toMatch(/->open .*half-open->closed/);

    expectCleanReport(lines, 'done', ['job', 'consumers', 'downstream', 'progress', 'bus', 'redis-server']);
    const redisPid = num(/^redis-server pid (\d+) on redis:\/\/127\.0\.0\.1:\d+;/.exec(lines[0] ?? '')?.[1]);
    const consumers = (
      /^consumer processes ready, pids (.+)$/.exec(lines.find((l) => l.startsWith('consumer ')) ?? '')?.[1] ?? ''
    )
      .split(', ')
      .map(Number);
    expect(consumers).toHaveLength(2);
    for (const pid of [redisPid, downstreamPid(lines), ...consumers]) expect(alive(pid), `pid ${pid}`).toBe(false);
  });
});
