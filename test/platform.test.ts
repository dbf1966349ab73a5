/**
 * The platform conventions of issue 15, part 5: `await using` on what
 * closes asynchronously, a signal on every wait, state in `util.inspect`,
 * and timers that can let the process exit.
 */
import { execFile } from 'node:child_process';
import { inspect, promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Channel, CircuitBreaker, ErrGroup, Once, Semaphore, SyncMap, WorkerPool } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { deferred, flush } from './support.js';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };
const run = promisify(execFile);

describe('await using', () => {
  it('closes a WorkerPool with drain and waits for an ErrGroup at the end of the block', async () => {
    const done: number[] = [];
    let pool!: WorkerPool<number, void>;
    {
      await using p = new WorkerPool(async (n: number) => {
        await flush();
        done.push(n);
      });
      pool = p;
      for (const n of [1, 2, 3]) void p.submit(n);
    }
    expect(done).toEqual([1, 2, 3]);
    await expect(pool.submit(4)).rejects.toMatchObject({ code: 'ERR_POOL_CLOSED' });
    const failing = async () => {
      await using g = new ErrGroup();
      g.go(() => Promise.reject(new Error('task failed')));
    };
    await expect(failing()).rejects.toThrow('task failed');
  });
});

describe('a signal on every wait', () => {
  it('ErrGroup.go waiting for a slot, and ErrGroup.wait', async () => {
    using leaks = trackLeaks();
    const g = new ErrGroup({ limit: 1 });
    const gate = deferred();
    await g.go(() => gate.promise);
    const ac = new AbortController();
    let ran = false;
    const queued = g.go(() => void (ran = true), { signal: ac.signal });
    const waiting = g.wait({ signal: ac.signal });
    ac.abort('stop waiting');
    await expect(queued).rejects.toBe('stop waiting');
    await expect(waiting).rejects.toBe('stop waiting');
    gate.resolve();
    await g.wait();
    expect(ran).toBe(false);
    await expect(g.go(() => {}, { signal: AbortSignal.abort('x') })).resolves.toBeUndefined(); // room: starts
    expect(leaks.check()).toEqual(none);
  });

  it('Once.do: a waiting caller stops waiting, the first fn runs on', async () => {
    using leaks = trackLeaks();
    const once = new Once();
    const gate = deferred();
    const first = once.do(() => gate.promise);
    const ac = new AbortController();
    const second = once.do(() => {}, { signal: ac.signal });
    ac.abort('gone');
    await expect(second).rejects.toBe('gone');
    expect(once.done).toBe(false);
    gate.resolve();
    await first;
    expect(once.done).toBe(true);
    expect(leaks.check()).toEqual(none);
  });

  it('SyncMap.loadOrCompute: callers leave one by one; compute’s signal aborts when the last has gone', async () => {
    using leaks = trackLeaks();
    const m = new SyncMap<string, number>();
    let computeSignal!: AbortSignal;
    const compute = (_k: string, signal: AbortSignal) => {
      computeSignal = signal;
      return new Promise<number>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    };
    const a = new AbortController();
    const b = new AbortController();
    const pa = m.loadOrCompute('k', compute, { signal: a.signal });
    const pb = m.loadOrCompute('k', compute, { signal: b.signal });
    a.abort('a left');
    await expect(pa).rejects.toBe('a left');
    expect(computeSignal.aborted).toBe(false);
    b.abort('b left');
    await expect(pb).rejects.toBe('b left');
    expect(computeSignal.aborted).toBe(true);
    await flush();
    expect(m.size).toBe(0);
    expect(await m.loadOrCompute('k', () => 7)).toBe(7);
    expect(leaks.check()).toEqual(none);
  });

  it('SyncMap.loadOrCompute: a caller without a signal keeps the computation going', async () => {
    const m = new SyncMap<string, number>();
    let computeSignal!: AbortSignal;
    const gate = deferred<number>();
    const stays = m.loadOrCompute('k', (_k, signal) => {
      computeSignal = signal;
      return gate.promise;
    });
    const ac = new AbortController();
    const leaves = m.loadOrCompute('k', () => 0, { signal: ac.signal });
    ac.abort('x');
    await expect(leaves).rejects.toBe('x');
    expect(computeSignal.aborted).toBe(false);
    gate.resolve(5);
    expect(await stays).toBe(5);
  });

  it('WorkerPool.onIdle and close: the signal stops the wait, not the pool', async () => {
    using leaks = trackLeaks();
    const gate = deferred();
    const pool = new WorkerPool(() => gate.promise);
    const job = pool.submit(1);
    const ac = new AbortController();
    const idle = pool.onIdle({ signal: ac.signal });
    const closing = pool.close({ signal: ac.signal });
    ac.abort('enough');
    await expect(idle).rejects.toBe('enough');
    await expect(closing).rejects.toBe('enough');
    gate.resolve();
    await job;
    await pool.close();
    expect(leaks.check()).toEqual(none);
  });
});

describe('util.inspect', () => {
  it('shows each primitive’s state', () => {
    const pool = new WorkerPool((n: number) => n, { concurrency: 4 });
    expect(inspect(pool)).toMatch(/^WorkerPool \{\s+concurrency: 4,\s+running: 0,\s+queued: 0,/);
    const ch = new Channel<number>(2);
    ch.trySend(1);
    expect(inspect(ch)).toBe('Channel { length: 1, capacity: 2, closed: false }');
    expect(inspect(new Semaphore(3))).toBe('Semaphore { size: 3, available: 3, waiting: 0 }');
    expect(inspect(new CircuitBreaker({ name: 'db' }))).toMatch(/^CircuitBreaker \{\s+name: 'db',\s+state: 'closed'/);
    expect(inspect({ deep: { deeper: { pool } } })).toContain('[WorkerPool]');
  });
});

describe('Ticker.unref', () => {
  it('lets a process with only an unref’d ticker left exit by itself', async () => {
    const code = `import { Ticker } from 'weftjs'; const t = new Ticker(20).unref(); t.reset(10); setTimeout(() => console.log('done'), 50);`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: new URL('..', import.meta.url),
      timeout: 10_000,
    });
    expect(stdout.trim()).toBe('done');
  });

  it('keeps the process alive while ref’d', async () => {
    const code = `import { Ticker } from 'weftjs'; new Ticker(20, { unref: true }).ref();`;
    const child = run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: new URL('..', import.meta.url),
      timeout: 1_500,
    });
    await expect(child).rejects.toMatchObject({ killed: true });
  });
});
