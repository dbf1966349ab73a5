/**
 * ThreadPool leaves nothing behind on the main thread: no abort listener
 * on a caller's signal once its call settled (however it settled), no
 * `abortGraceMs` timer once an aborted task has ended within its grace,
 * no idle timer after close.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { trackLeaks } from 'weftjs/testing';
import { ThreadPool } from 'weftjs/threads';

const module = 'test/threads/fixtures/tasks.ts';
const clean = { waiters: 0, timers: 0, listeners: 0, details: [] };

describe('ThreadPool leaks', () => {
  it('1,000 calls on one signal, a third aborted by their own, leave both kinds of signal bare', async () => {
    await using pool = new ThreadPool({ module, threads: 2 });
    await pool.run('inc', 0);
    using leaks = trackLeaks();
    const shared = new AbortController();
    const calls: Promise<unknown>[] = [];
    const own: AbortController[] = [];
    for (let i = 0; i < 1000; i++) {
      const ac = new AbortController();
      own.push(ac);
      const signal = i % 3 === 0 ? AbortSignal.any([shared.signal, ac.signal]) : shared.signal;
      calls.push(pool.run(i % 2 ? 'later' : 'inc', i, { signal }).catch((e: any) => e));
      if (i % 3 === 0 && i % 2 === 0) ac.abort('mine');
    }
    await Promise.resolve();
    for (let i = 0; i < 1000; i += 3) own[i]!.abort('mine');
    await Promise.all(calls);
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
    // Aborted tasks that ran have ended (they are tiny): their grace timers are stopped.
    await pool.run('inc', 1);
    expect(leaks.check()).toEqual(clean);
  });

  it('an aborted task that ends within its grace stops the grace timer, and its thread takes tasks again', async () => {
    await using pool = new ThreadPool({ module, threads: 1, abortGraceMs: 60_000 });
    const id = await pool.run('whoami');
    using leaks = trackLeaks();
    const seen = new Int32Array(new SharedArrayBuffer(4));
    const ac = new AbortController();
    const call = pool.run('untilAborted', seen, { signal: ac.signal }).catch((e: any) => e);
    while (Atomics.load(seen, 0) === 0) await new Promise((r) => setTimeout(r, 1));
    ac.abort('stop');
    expect(await call).toBe('stop');
    expect(leaks.check().timers).toBe(1);
    expect(await pool.run('whoami')).toBe(id);
    expect(leaks.check()).toEqual(clean);
  });

  it('a map stopped early, or aborted, leaves nothing on its signal', async () => {
    await using pool = new ThreadPool({ module, threads: 2 });
    using leaks = trackLeaks();
    const ac = new AbortController();
    for await (const v of pool.map('inc', [1, 2, 3, 4, 5, 6], { signal: ac.signal })) if (v === 3) break;
    const aborted = pool
      .map(
        'later',
        Array.from({ length: 100 }, (_, i) => i),
        { signal: ac.signal },
      )
      .toArray();
    setTimeout(() => ac.abort('enough'), 5);
    await expect(aborted).rejects.toBe('enough');
    await pool.run('inc', 1);
    // The aborted tasks end by themselves (1 ms each), each stopping its grace timer.
    for (let i = 0; i < 200 && leaks.check().timers > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('idle timers are stopped by close', async () => {
    using leaks = trackLeaks();
    const pool = new ThreadPool({ module, threads: 2, idleTimeoutMs: 60_000 });
    await Promise.all([pool.run('burn', 5), pool.run('burn', 5)]);
    expect(leaks.check().timers).toBeGreaterThan(0);
    await pool.close();
    expect(leaks.check()).toEqual(clean);
  });
});
