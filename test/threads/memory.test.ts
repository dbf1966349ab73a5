/**
 * ThreadPool.map in bounded memory: a million arguments from a lazy
 * generator, pulled only as threads free up. The arguments pulled but not
 * yet answered stay under a small constant (the map's in-flight depth and
 * its result window), whatever the length of the source.
 */
import { describe, expect, it } from 'vitest';
import { ThreadPool } from 'weftjs/threads';

const module = 'test/threads/fixtures/tasks.ts';

describe('ThreadPool.map memory', () => {
  it('over a million args, keeps pulled-but-unanswered args under a small constant', { timeout: 120_000 }, async () => {
    const threads = 2;
    await using pool = new ThreadPool({ module, threads });
    const N = 1_000_000;
    let pulled = 0;
    let received = 0;
    let most = 0;
    function* args() {
      for (let i = 0; i < N; i++) {
        pulled++;
        if (pulled - received > most) most = pulled - received;
        yield i;
      }
    }
    let sum = 0;
    const heapBefore = process.memoryUsage().heapUsed;
    await pool.map<number, number>('inc', args()).forEach((v) => {
      received++;
      sum += v;
    });
    expect(received).toBe(N);
    expect(sum).toBe((N * (N + 1)) / 2);
    // 64 calls in flight per thread, and as many results again waiting for the consumer.
    expect(most).toBeLessThanOrEqual(2 * 64 * threads);
    expect(most).toBeGreaterThan(0);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
  });
});
