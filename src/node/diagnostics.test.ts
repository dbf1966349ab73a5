import diagnostics from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker, RateLimiter, Semaphore, WorkerPool } from 'weftjs';
import { diagnosticsChannels, enableDiagnostics } from 'weftjs/node';
import { TestClock } from 'weftjs/testing';

enableDiagnostics();

const subscriptions: [string, (m: unknown) => void][] = [];
function listen(name: string): unknown[] {
  const got: unknown[] = [];
  const fn = (m: unknown) => void got.push(m);
  diagnostics.subscribe(name, fn);
  subscriptions.push([name, fn]);
  return got;
}
afterEach(() => {
  for (const [name, fn] of subscriptions.splice(0)) diagnostics.unsubscribe(name, fn);
  vi.restoreAllMocks();
});

describe('diagnostics channels', () => {
  it('a breaker publishes each state change with its name', async () => {
    const got = listen(diagnosticsChannels.breakerStateChange);
    const clock = new TestClock();
    const cb = new CircuitBreaker({ name: 'db', readyToTrip: () => true, timeout: 10, clock });
    await cb.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    await clock.advance(10);
    void cb.state; // time moves it to half-open
    await cb.execute(() => 'ok');
    expect(got).toEqual([
      { breaker: cb, name: 'db', from: 'closed', to: 'open' },
      { breaker: cb, name: 'db', from: 'open', to: 'half-open' },
      { breaker: cb, name: 'db', from: 'half-open', to: 'closed' },
    ]);
  });

  it('a limiter publishes its denials and its waits', async () => {
    const denied = listen(diagnosticsChannels.limiterDenied);
    const waits = listen(diagnosticsChannels.limiterWait);
    const clock = new TestClock();
    const lim = new RateLimiter({ rate: 10, burst: 1, clock });
    expect(lim.allow()).toBe(true);
    expect(lim.allow()).toBe(false);
    const w = lim.wait();
    expect(denied).toEqual([{ limiter: lim, n: 1, tokens: expect.any(Number) }]);
    expect(waits).toEqual([{ limiter: lim, n: 1, delayMs: 100, waiting: 0 }]);
    await clock.advance(100);
    await w;
  });

  it('a pool publishes job start, finish and fail, for submitted jobs and map items alike', async () => {
    const start = listen(diagnosticsChannels.poolJobStart);
    const finish = listen(diagnosticsChannels.poolJobFinish);
    const fail = listen(diagnosticsChannels.poolJobFail);
    const pool = new WorkerPool(
      async (n: number) => {
        if (n === 3) throw new Error('three');
        return n;
      },
      { concurrency: 1 },
    );
    await pool.submit(1);
    await expect(pool.submit(3)).rejects.toThrow('three');
    expect(await pool.map([2]).toArray()).toEqual([2]);
    expect(start).toEqual([
      { pool, job: 1, worker: 0, queued: 0, running: 1 },
      { pool, job: 3, worker: 0, queued: 0, running: 1 },
      { pool, job: 2, worker: 0, queued: 0, running: 1 },
    ]);
    expect(finish).toEqual([
      { pool, job: 1, worker: 0, durationMs: expect.any(Number), queued: 0 },
      { pool, job: 2, worker: 0, durationMs: expect.any(Number), queued: 0 },
    ]);
    expect(fail).toEqual([
      { pool, job: 3, worker: 0, durationMs: expect.any(Number), queued: 0, error: new Error('three') },
    ]);
    await pool.close();
  });

  it('a semaphore publishes a call that has to wait', async () => {
    const got = listen(diagnosticsChannels.semaphoreContended);
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const waiting = sem.run(() => 'ran', { weight: 1 });
    expect(got).toEqual([{ semaphore: sem, weight: 1, available: 0, waiting: 0 }]);
    held.release();
    expect(await waiting).toBe('ran');
  });

  it('publishes nothing, and builds no message, on a channel nobody subscribed to', async () => {
    const channels = Object.values(diagnosticsChannels).map((name) => diagnostics.channel(name));
    const spies = channels.map((ch) => vi.spyOn(ch, 'publish'));
    const clock = new TestClock();
    const cb = new CircuitBreaker({ readyToTrip: () => true, clock });
    await cb.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    const lim = new RateLimiter({ rate: 1, burst: 1, clock });
    lim.allow();
    lim.allow();
    const pool = new WorkerPool((n: number) => n, { concurrency: 1 });
    await pool.submit(1);
    await pool.map([1, 2, 3]).drain();
    const sem = new Semaphore(1);
    const l = await sem.acquire();
    const p = sem.acquire();
    l.release();
    (await p).release();
    expect(spies.map((s) => s.mock.calls.length)).toEqual(channels.map(() => 0));
    await pool.close();
  });
});
