/**
 * RedisQueue against a model, with fast-check, on a real redis-server: for
 * any set of jobs, each with a script of outcomes per delivery (succeed,
 * throw, or reject), any concurrency and any `maxDeliveries`, a job whose
 * first success comes at delivery k <= maxDeliveries is completed once, at
 * delivery k, after k - 1 failures; any other is dead-lettered after
 * exactly maxDeliveries deliveries, with the error of its last one; and the
 * queue ends empty, the consumer's counters agreeing.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisQueue } from 'weftjs/redis';
import { connect, type Server, sleep, startServer, stopAll } from './harness.js';

let server: Server;
let redis: any;
beforeAll(async () => {
  server = await startServer();
  redis = await connect('ioredis', server.url);
});
afterAll(stopAll);

type Outcome = 'ok' | 'throw' | 'reject';
let runs = 0;

describe('RedisQueue, a model of retries and dead letters', () => {
  it('completes or dead-letters every job as the model says', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.constantFrom<Outcome>('ok', 'throw', 'reject'), { minLength: 1, maxLength: 4 }), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 3 }),
        async (scripts, concurrency, maxDeliveries) => {
          const queue = new RedisQueue<number>({ redis, name: `model-${++runs}`, maxDeliveries, retryDelayMs: 0 });
          const ids = await queue.addMany(scripts.map((_, i) => i));
          const seen = scripts.map(() => [] as number[]);
          const completed = new Map<number, number>();
          const consumer = queue.consume(
            async (job, { deliveries }) => {
              seen[job]!.push(deliveries);
              const outcome = scripts[job]![deliveries - 1] ?? 'throw';
              if (outcome === 'throw') throw new Error(`job ${job} try ${deliveries}`);
              if (outcome === 'reject') {
                await sleep(0);
                throw new RangeError(`job ${job} try ${deliveries}`);
              }
              completed.set(job, (completed.get(job) ?? 0) + 1);
            },
            { concurrency },
          );
          // The model.
          const wantDone = new Map<number, number>();
          const wantDead = new Map<number, string>();
          scripts.forEach((script, job) => {
            const k = script.slice(0, maxDeliveries).indexOf('ok');
            if (k >= 0) wantDone.set(job, k + 1);
            else {
              const last = script[maxDeliveries - 1] ?? 'throw';
              wantDead.set(job, `${last === 'reject' ? 'RangeError' : 'Error'}: job ${job} try ${maxDeliveries}`);
            }
          });
          const end = Date.now() + 20_000;
          for (;;) {
            const s = await queue.stats();
            if (s.waiting === 0 && s.inFlight === 0 && s.deadLettered === wantDead.size) break;
            if (Date.now() > end) throw new Error(`not settled: ${JSON.stringify(s)}`);
            await sleep(5);
          }
          await consumer.close();
          for (const [job, k] of wantDone) {
            expect(completed.get(job)).toBe(1);
            expect(seen[job]).toEqual(Array.from({ length: k }, (_, i) => i + 1));
          }
          const dead = await queue.deadLetters();
          expect(new Map(dead.map((d) => [d.job!, d.error]))).toEqual(wantDead);
          for (const d of dead) {
            expect(d.deliveries).toBe(maxDeliveries);
            expect(d.id).toBe(ids[d.job!]);
            expect(seen[d.job!]).toEqual(Array.from({ length: maxDeliveries }, (_, i) => i + 1));
          }
          expect(consumer.stats).toMatchObject({
            completed: wantDone.size,
            deadLettered: wantDead.size,
            failed: seen.reduce((n, s) => n + s.length, 0) - wantDone.size,
            lost: 0,
            held: 0,
            running: 0,
          });
        },
      ),
      { numRuns: 25 },
    );
  });
});
