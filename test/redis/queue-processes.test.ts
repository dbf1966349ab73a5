/**
 * RedisQueue across real processes (test/redis/fixtures/queue-consumer.ts):
 * nothing lost and nothing run twice past what at-least-once allows when a
 * consumer is SIGKILLed mid-run and another started, and the signal of a
 * job whose consumer was stopped past `visibilityMs` aborting with
 * `ERR_CLAIM_LOST` once it resumes, while another consumer completes it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisQueue } from 'weftjs/redis';
import { type Child, connect, fixture, type Server, sleep, startServer, stopAll, until } from './harness.js';

let server: Server;
let redis: any;
beforeAll(async () => {
  server = await startServer();
  redis = await connect('node-redis', server.url);
});
afterAll(stopAll);

const children: Child[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill();
});

function consumer(mode: string, kind: string, queue: string, concurrency: number, visibilityMs: number): Child {
  const c = fixture('queue-consumer.ts', [mode, server.url, kind, queue, String(concurrency), String(visibilityMs)]);
  children.push(c);
  return c;
}

describe('RedisQueue across processes', { timeout: 60_000 }, () => {
  it('3 consumers, 20,000 jobs, one SIGKILLed mid-run and one started: every job done, twice only after a death or a lost claim', async () => {
    const name = 'proc:jobs';
    const total = 20_000;
    const concurrency = 20;
    const queue = new RedisQueue<{ i: number }>({ redis, name, visibilityMs: 1500 });
    const first = [
      consumer('run', 'node-redis', name, concurrency, 1500),
      consumer('run', 'ioredis', name, concurrency, 1500),
      consumer('run', 'node-redis', name, concurrency, 1500),
    ];
    const names = await Promise.all(first.map(async (c) => (await c.line(/^ready /)).split(' ')[1]!));
    const ids = await queue.addMany(Array.from({ length: total }, (_, i) => ({ i })));
    await until(async () => (await redis.lLen(`${name}:done`)) >= total / 4, 30_000);
    const victim = first[0]!;
    victim.proc.kill('SIGKILL');
    await victim.exited;
    const restarted = consumer('run', 'ioredis', name, concurrency, 1500);
    await restarted.line(/^ready /);
    const done = async () => {
      const s = await queue.stats();
      return s.waiting === 0 && s.inFlight === 0;
    };
    await until(done, 60_000);
    const survivors = [first[1]!, first[2]!, restarted];
    for (const c of survivors) c.proc.kill('SIGTERM');
    const stats = await Promise.all(survivors.map((c) => c.line(/^stats /)));
    expect(await Promise.all(survivors.map((c) => c.exited))).toEqual([0, 0, 0]);
    const lost = stats.reduce((sum, l) => sum + Number(l.split(' ')[2]), 0);

    const lines: string[] = await redis.lRange(`${name}:done`, 0, -1);
    const by = new Map<string, string[]>();
    for (const l of lines) {
      const [id, who] = l.split(' ') as [string, string];
      by.set(id, [...(by.get(id) ?? []), who]);
    }
    // Every job completed at least once.
    expect(by.size).toBe(total);
    for (const id of ids) expect(by.has(id)).toBe(true);
    // A job completed twice only when its earlier consumer was the one killed (or lost its claim).
    let afterDeath = 0;
    let otherwise = 0;
    for (const who of by.values()) {
      for (const earlier of who.slice(0, -1)) {
        if (earlier === names[0]) afterDeath++;
        else otherwise++;
      }
    }
    expect(otherwise).toBeLessThanOrEqual(lost);
    // The killed consumer had at most its running jobs and a few acknowledgement batches in hand.
    expect(afterDeath).toBeLessThanOrEqual(4 * concurrency);
    expect(lines.length).toBe(total + afterDeath + otherwise);
    expect(await queue.stats()).toMatchObject({ waiting: 0, inFlight: 0, deadLettered: 0 });
  });

  it("a consumer stopped past visibilityMs loses its job to another; on SIGCONT the job's signal aborts with ERR_CLAIM_LOST", async () => {
    const name = 'proc:stopped';
    const queue = new RedisQueue<{ i: number }>({ redis, name, visibilityMs: 300 });
    const held = consumer('hold', 'ioredis', name, 1, 300);
    await held.line(/^ready /);
    const id = await queue.add({ i: 1 });
    await held.line(new RegExp(`^started ${id}$`));
    process.kill(held.pid, 'SIGSTOP');
    // Another consumer takes the job once the stopped one's claim has run out.
    const completed: [string, number, number][] = [];
    const t0 = Date.now();
    const ac = new AbortController();
    const other = queue.process(
      (_job, ctx) => {
        completed.push([ctx.id, ctx.deliveries, Date.now() - t0]);
        ac.abort();
      },
      { signal: ac.signal },
    );
    await other;
    // Its second delivery at least (a fetch whose answer came too late for its timeout counts one more).
    expect(completed.map((c) => c[0])).toEqual([id]);
    expect(completed[0]![1]).toBeGreaterThanOrEqual(2);
    expect(completed[0]![2]).toBeGreaterThanOrEqual(250);
    process.kill(held.pid, 'SIGCONT');
    await held.line(/^aborted /);
    expect(held.lines).toContain('aborted ERR_CLAIM_LOST');
    // Acknowledged by the other consumer; the stopped one acknowledged nothing and holds nothing.
    await sleep(100);
    const s = await queue.stats();
    expect(s).toMatchObject({ waiting: 0, inFlight: 0, deadLettered: 0 });
  });
});
