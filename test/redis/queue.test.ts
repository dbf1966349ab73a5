/**
 * RedisQueue in one process, on a real redis-server, with both clients:
 * adding (one, many, idempotent), processing at least once, retries and
 * the dead-letter stream, lost claims, closing (grace, signal, Shutdown),
 * throttling, stats, bad input, and nothing left behind after a close.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter } from 'weftjs';
import { Shutdown } from 'weftjs/node';
import { RedisQueue, type RedisQueueConsumer } from 'weftjs/redis';
import { TestClock, trackLeaks } from 'weftjs/testing';
import { CLIENT_KINDS, connect, type Server, sleep, startServer, stopAll, until } from './harness.js';

let server: Server;
beforeAll(async () => {
  server = await startServer();
});
afterAll(stopAll);

let n = 0;
const fresh = (what: string) => `${what}-${++n}`;

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };

describe.each(CLIENT_KINDS)('RedisQueue on %s', (kind) => {
  let redis: any;
  const consumers: RedisQueueConsumer[] = [];
  beforeAll(async () => {
    redis = await connect(kind, server.url);
  });
  const send = (...a: string[]): Promise<unknown> => (kind === 'ioredis' ? redis.call(...a) : redis.sendCommand(a));
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((c) => c.close({ graceMs: 0 })));
  });
  const consume = (q: RedisQueue<any>, ...args: Parameters<RedisQueue<any>['consume']>) => {
    const c = q.consume(...args);
    consumers.push(c);
    return c;
  };

  it('runs every job added once, in the order added, and leaves the stream empty', async () => {
    const queue = new RedisQueue<{ n: number }>({ redis, name: fresh('order') });
    const first = await queue.add({ n: 0 });
    const ids = await queue.addMany(Array.from({ length: 1999 }, (_, i) => ({ n: i + 1 })));
    expect(ids).toHaveLength(1999);
    expect(first < ids[0]!).toBe(true);
    expect((await queue.stats()).waiting).toBe(2000);
    const seen: number[] = [];
    const ctxIds = new Set<string>();
    const stop = new AbortController();
    await queue.process(
      (job, ctx) => {
        seen.push(job.n);
        ctxIds.add(ctx.id);
        expect(ctx.deliveries).toBe(1);
        if (seen.length === 2000) stop.abort();
      },
      { concurrency: 1, signal: stop.signal },
    );
    expect(seen).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(ctxIds).toEqual(new Set([first, ...ids]));
    expect(await queue.stats()).toEqual({ waiting: 0, inFlight: 0, deadLettered: 0, consumers: [] });
    expect(Number(await send('XLEN', `weft:{queue:${queue.name}}:jobs`))).toBe(0);
  });

  it('runs at most `concurrency` jobs at once and resize changes it', async () => {
    const queue = new RedisQueue<number>({ redis, name: fresh('conc') });
    await queue.addMany(Array.from({ length: 200 }, (_, i) => i));
    let running = 0;
    let peak = 0;
    let done = 0;
    const c = consume(
      queue,
      async () => {
        peak = Math.max(peak, ++running);
        await sleep(2);
        running--;
        done++;
      },
      { concurrency: 7 },
    );
    await until(() => done >= 100);
    expect(peak).toBe(7);
    c.resize(3);
    peak = 0;
    await sleep(20);
    peak = running;
    await until(() => done === 200 && c.stats.held === 0);
    expect(peak).toBeLessThanOrEqual(3);
    expect(c.stats).toMatchObject({ concurrency: 3, completed: 200, failed: 0, running: 0, held: 0 });
  });

  it('an idempotency key adds a job once and gives the first id back', async () => {
    const queue = new RedisQueue<string>({ redis, name: fresh('idem'), idempotencyMs: 200 });
    const a = await queue.add('x', { idempotencyKey: 'k' });
    const [b, c] = await Promise.all([
      queue.add('x', { idempotencyKey: 'k' }),
      queue.add('y', { idempotencyKey: 'k' }),
    ]);
    expect([b, c]).toEqual([a, a]);
    expect(await queue.add('z', { idempotencyKey: 'other' })).not.toBe(a);
    expect((await queue.stats()).waiting).toBe(2);
    await sleep(250);
    expect(await queue.add('x', { idempotencyKey: 'k' })).not.toBe(a);
  });

  it('a failing job is retried after retryDelayMs, then dead-lettered with its last error', async () => {
    const queue = new RedisQueue<string>({ redis, name: fresh('dead'), maxDeliveries: 3, retryDelayMs: 50 });
    const id = await queue.add('poison');
    await queue.add('fine');
    const tries: [number, number][] = [];
    let ok = 0;
    const t0 = Date.now();
    const c = consume(queue, (job, { deliveries }) => {
      if (job === 'fine') return void ok++;
      tries.push([deliveries, Date.now() - t0]);
      throw new RangeError(`try ${deliveries}`);
    });
    await until(async () => (await queue.stats()).deadLettered === 1);
    expect(tries.map((t) => t[0])).toEqual([1, 2, 3]);
    // Each retry waited for the delay, and not much more.
    expect(tries[1]![1] - tries[0]![1]).toBeGreaterThanOrEqual(40);
    expect(tries[2]![1] - tries[1]![1]).toBeLessThan(1500); // not visibilityMs (30 s)
    expect(ok).toBe(1);
    expect(c.stats).toMatchObject({ completed: 1, failed: 3, deadLettered: 1 });
    const dead = await queue.deadLetters();
    expect(dead).toEqual([{ id, job: 'poison', data: '"poison"', deliveries: 3, error: 'RangeError: try 3' }]);
    expect(await queue.stats()).toMatchObject({ waiting: 0, inFlight: 0, deadLettered: 1 });
  });

  it('a stored job that cannot be decoded is dead-lettered without running', async () => {
    const queue = new RedisQueue<number>({ redis, name: fresh('undecodable') });
    await queue.addMany([1, 2]);
    await send('XADD', `weft:{queue:${queue.name}}:jobs`, '*', 'j', '{not json');
    const seen: number[] = [];
    consume(queue, (job) => void seen.push(job));
    await until(async () => seen.length === 2 && (await queue.stats()).deadLettered === 1);
    const [dead] = await queue.deadLetters();
    expect(dead?.job).toBeUndefined();
    expect(dead?.data).toBe('{not json');
    expect(dead?.error).toMatch(/could not be decoded: SyntaxError/);
  });

  it('the jobs of a consumer that died are taken by another after visibilityMs, no sooner', async () => {
    const queue = new RedisQueue<number>({ redis, name: fresh('dead-consumer'), visibilityMs: 400 });
    await queue.addMany([1, 2, 3]);
    const jobs = `weft:{queue:${queue.name}}:jobs`;
    // A consumer that read two jobs and died: nobody renews them.
    await send('XGROUP', 'CREATE', jobs, 'workers', '0', 'MKSTREAM');
    await send('XREADGROUP', 'GROUP', 'workers', 'ghost', 'COUNT', '2', 'STREAMS', jobs, '>');
    const t0 = Date.now();
    const got: [number, number, number][] = [];
    consume(queue, (job, { deliveries }) => void got.push([job, deliveries, Date.now() - t0]));
    await until(() => got.length === 3);
    expect(got[0]!.slice(0, 2)).toEqual([3, 1]);
    expect(got.slice(1).map((g) => g.slice(0, 2))).toEqual([
      [1, 2],
      [2, 2],
    ]);
    expect(got[1]![2]).toBeGreaterThanOrEqual(300);
    await until(async () => (await queue.stats()).inFlight === 0); // the last acknowledgement lands
    const stats = await queue.stats();
    expect(stats.consumers.find((c) => c.name === 'ghost')?.inFlight ?? 0).toBe(0);
  });

  it('a consumer started under the name of one that died takes its jobs back at once, deliveries counted', async () => {
    const queue = new RedisQueue<number>({ redis, name: fresh('adopt') }); // visibilityMs: 30 s
    await queue.addMany([1, 2, 3]);
    const jobs = `weft:{queue:${queue.name}}:jobs`;
    // The predecessor read two jobs and died.
    await send('XGROUP', 'CREATE', jobs, 'workers', '0', 'MKSTREAM');
    await send('XREADGROUP', 'GROUP', 'workers', 'pod-1', 'COUNT', '2', 'STREAMS', jobs, '>');
    const got: [number, number][] = [];
    const t0 = Date.now();
    consume(queue, (job, { deliveries }) => void got.push([job, deliveries]), { consumer: 'pod-1' });
    await until(() => got.length === 3, 5000);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(got.sort()).toEqual([
      [1, 2],
      [2, 2],
      [3, 1],
    ]);
  });

  it("a running job's signal aborts with ClaimLostError when another consumer takes its claim", async () => {
    const queue = new RedisQueue<string>({ redis, name: fresh('lost'), visibilityMs: 300 });
    const id = await queue.add('long');
    const jobs = `weft:{queue:${queue.name}}:jobs`;
    let reason: any;
    const c = consume(queue, async (_job, { signal }) => {
      await send('XCLAIM', jobs, 'workers', 'thief', '0', id);
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      reason = signal.reason;
    });
    await until(() => reason !== undefined);
    expect([reason.name, reason.code]).toEqual(['ClaimLostError', 'ERR_CLAIM_LOST']);
    await until(() => c.stats.running === 0);
    // Ended after the loss: neither acknowledged nor counted, the thief decides.
    expect(c.stats).toMatchObject({ lost: 1, completed: 0, failed: 0, held: 0 });
    // Left to the thief: not acknowledged by the consumer that lost it.
    const stats = await queue.stats();
    expect(stats.consumers.find((x) => x.name === 'thief')?.inFlight).toBe(1);
  });

  it("process's signal aborts running jobs with its reason; what did not succeed goes back, uncounted", async () => {
    const queue = new RedisQueue<number>({ redis, name: fresh('abort') });
    await queue.addMany([1, 2, 3, 4, 5]);
    const stop = new AbortController();
    const reasons: unknown[] = [];
    let started = 0;
    const done = queue.process(
      async (job, { signal }) => {
        started++;
        if (job === 1) return;
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
        reasons.push(signal.reason);
        if (job === 2) return; // succeeds after the abort: acknowledged
        throw signal.reason;
      },
      { concurrency: 3, signal: stop.signal },
    );
    await until(() => started === 4);
    const reason = new Error('stop');
    stop.abort(reason);
    await done;
    expect(reasons).toEqual([reason, reason, reason]);
    expect(await queue.stats()).toEqual({ waiting: 3, inFlight: 0, deadLettered: 0, consumers: [] });
    const again: [number, number][] = [];
    consume(queue, (job, { deliveries }) => void again.push([job, deliveries]));
    await until(() => again.length === 3);
    expect(again.sort()).toEqual([
      [3, 1],
      [4, 1],
      [5, 1],
    ]);
  });

  it('an already-aborted signal resolves at once and fetches nothing', async () => {
    const queue = new RedisQueue<number>({ redis, name: fresh('pre-aborted') });
    await queue.add(1);
    let ran = 0;
    await queue.process(() => void ran++, { signal: AbortSignal.abort() });
    expect(ran).toBe(0);
    expect((await queue.stats()).waiting).toBe(1);
  });

  it('close() lets running jobs finish within the grace, then aborts and hands back the rest', async () => {
    const queue = new RedisQueue<number>({ redis, name: fresh('grace') });
    await queue.addMany([10, 500, 1, 2, 3, 4]);
    const finished: number[] = [];
    const codes: string[] = [];
    let started = 0;
    const c = consume(
      queue,
      async (ms, { signal }) => {
        started++;
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, ms);
          signal.addEventListener('abort', () => {
            clearTimeout(t);
            codes.push(signal.reason.code);
            reject(signal.reason);
          });
        });
        finished.push(ms);
      },
      { concurrency: 2 },
    );
    await until(() => started === 2);
    await c.close({ graceMs: 100 });
    expect(c.state).toBe('closed');
    expect(finished).toEqual([10]);
    expect(codes).toEqual(['ERR_CONSUMER_CLOSED']);
    // The 500 ms job went back, and so did the jobs not started; none was counted as failed.
    expect(c.stats.failed).toBe(0);
    const left = await queue.stats();
    expect(left.inFlight).toBe(0);
    expect(left.waiting).toBe(5);
  });

  it('a Shutdown hook closes a consumer: jobs end within the hook timeout, the rest go back', async () => {
    const queue = new RedisQueue<number>({ redis, name: fresh('shutdown') });
    await queue.addMany([20, 10_000]);
    const finished: number[] = [];
    let started = 0;
    const c = queue.consume(
      async (ms, { signal }) => {
        started++;
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, ms);
          signal.addEventListener('abort', () => {
            clearTimeout(t);
            reject(signal.reason);
          });
        });
        finished.push(ms);
      },
      { concurrency: 2 },
    );
    const shutdown = new Shutdown({ signals: [], exit: false, log: () => {} });
    shutdown.add('jobs', c, { timeoutMs: 300 });
    await until(() => started === 2);
    const t0 = Date.now();
    const report = await shutdown.shutdown();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(report.hooks[0]?.outcome).toBe('timeout');
    await c.done;
    expect(finished).toEqual([20]);
    expect(await queue.stats()).toEqual({ waiting: 1, inFlight: 0, deadLettered: 0, consumers: [] });
  });

  it('a limiter throttles processing: each job takes one token first', async () => {
    const clock = new TestClock();
    const limiter = new RateLimiter({ rate: 1, burst: 2, clock });
    const queue = new RedisQueue<number>({ redis, name: fresh('throttle') });
    await queue.addMany([1, 2, 3, 4]);
    const seen: number[] = [];
    const c = consume(queue, (job) => void seen.push(job), { concurrency: 4, limiter });
    await until(() => seen.length === 2);
    await sleep(50);
    expect(seen).toHaveLength(2);
    await clock.advance(1000);
    await until(() => seen.length === 3);
    await clock.advance(1000);
    await until(() => seen.length === 4);
    expect(c.stats.completed).toBe(4);
  });

  it('a group limit throttles per key and leaves the other keys running', async () => {
    const clock = new TestClock();
    const { KeyedRateLimiter } = await import('weftjs');
    const limiter = new KeyedRateLimiter({ rate: 1, burst: 1, clock });
    const queue = new RedisQueue<{ k: string }>({ redis, name: fresh('group') });
    await queue.addMany([{ k: 'a' }, { k: 'a' }, { k: 'b' }, { k: 'c' }]);
    const seen: string[] = [];
    consume(queue, (job) => void seen.push(job.k), { concurrency: 4, groupLimit: { limiter, key: (j) => j.k } });
    await until(() => seen.length === 3);
    await sleep(30);
    expect([...seen].sort()).toEqual(['a', 'b', 'c']);
    await clock.advance(1000);
    await until(() => seen.length === 4);
  });

  it('stats show in flight, waiting and each consumer', async () => {
    const queue = new RedisQueue<number>({ redis, name: fresh('stats') });
    await queue.addMany([1, 2, 3, 4, 5]);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = 0;
    const c = consume(
      queue,
      async () => {
        started++;
        await gate;
      },
      { concurrency: 2, consumer: 'stats-consumer' },
    );
    await until(() => started === 2);
    const s = await queue.stats();
    expect(s).toMatchObject({ waiting: 3, inFlight: 2, deadLettered: 0 });
    expect(s.consumers.map((x) => [x.name, x.inFlight])).toEqual([['stats-consumer', 2]]);
    expect(s.consumers[0]!.idleMs).toBeGreaterThanOrEqual(0);
    expect(c.stats).toMatchObject({ concurrency: 2, running: 2, held: 2 });
    release();
    await until(() => c.stats.completed === 5);
  });

  it('a closed consumer leaves no timer or listener behind and leaves the group', async () => {
    using leaks = trackLeaks();
    const queue = new RedisQueue<number>({ redis, name: fresh('leaks'), visibilityMs: 300 });
    await queue.addMany([1, 2, 3]);
    const ac = new AbortController();
    let done = 0;
    const p = queue.process(() => void done++, { signal: ac.signal });
    await until(() => done === 3);
    ac.abort();
    await p;
    expect(leaks.check()).toEqual(none);
    expect((await queue.stats()).consumers).toEqual([]);
  });

  it('rejects bad input synchronously, naming the argument', async () => {
    const q = new RedisQueue<any>({ redis, name: fresh('bad') });
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e: any) {
        return [e.name, e.code, e.message];
      }
      return 'no error';
    };
    const cycle: any = {};
    cycle.self = cycle;
    for (const job of [10n, cycle, undefined, () => 1, Symbol('s')]) {
      const [name, c, message] = code(() => q.add(job)) as string[];
      expect([name, c]).toEqual(['TypeError', 'ERR_INVALID_ARG_VALUE']);
      expect(message).toMatch(/^RedisQueue\.add: `job` could not be serialised/);
    }
    expect(code(() => q.addMany([1, 2, 3n]))[2]).toMatch(/`jobs\[2\]` could not be serialised/);
    expect((await q.stats()).waiting).toBe(0);
    for (const concurrency of [0, -1, 1.5, 10_001, Number.NaN]) {
      expect(code(() => q.process(() => {}, { concurrency }))).toEqual([
        'RangeError',
        'ERR_OUT_OF_RANGE',
        expect.stringMatching(/^RedisQueue\.process: `concurrency` must be an integer from 1 to 10000/),
      ]);
    }
    expect(code(() => q.process(() => {}, { concurrency: '2' as never }))[0]).toBe('TypeError');
    expect(code(() => q.process('work' as never))[1]).toBe('ERR_INVALID_ARG_TYPE');
    expect(code(() => q.process(() => {}, { consumer: '~x' }))[1]).toBe('ERR_INVALID_ARG_VALUE');
    expect(code(() => q.process(() => {}, { limiter: {} as never }))[0]).toBe('TypeError');
    // visibilityMs must leave room for a renewal (and its answer) before a claim ends.
    expect(code(() => new RedisQueue({ redis, name: 'v', visibilityMs: 100, renewMs: 200 }))).toEqual([
      'RangeError',
      'ERR_OUT_OF_RANGE',
      expect.stringMatching(/`visibilityMs` must be greater than `renewMs` \+ `timeoutMs`/),
    ]);
    expect(code(() => new RedisQueue({ redis, name: 'v', visibilityMs: 1000, renewMs: 600, timeoutMs: 400 }))[0]).toBe(
      'RangeError',
    );
    expect(code(() => new RedisQueue({ redis, name: 'v', visibilityMs: 10 }))[0]).toBe('RangeError');
    expect(code(() => new RedisQueue({ redis, name: 'v', maxDeliveries: 0 }))[0]).toBe('RangeError');
    expect(code(() => new RedisQueue({ redis, name: '' }))[1]).toBe('ERR_INVALID_ARG_VALUE');
    expect(code(() => new RedisQueue({ redis: {} as never, name: 'x' }))[0]).toBe('TypeError');
    const c = consume(q, () => {});
    expect(code(() => c.resize(0))[0]).toBe('RangeError');
    expect(code(() => c.close({ graceMs: -1 }))[0]).toBe('RangeError');
  });
});
