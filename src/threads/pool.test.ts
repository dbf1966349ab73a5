import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWeftError } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { ThreadPool, transfer } from 'weftjs/threads';

const module = 'test/threads/fixtures/tasks.ts';

function clean(leaks: ReturnType<typeof trackLeaks>) {
  expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
}

/** `Atomics.waitAsync` (ES2024; the project's lib is ES2022). */
interface AtomicsWait {
  waitAsync(a: Int32Array, i: number, v: number): { value: Promise<unknown> | string };
}

async function started(seen: Int32Array): Promise<void> {
  await (Atomics as unknown as AtomicsWait).waitAsync(seen, 0, 0).value;
}

describe('ThreadPool', () => {
  // One pool of two threads for the tests that leave it as they found it.
  let pool: ThreadPool;
  beforeAll(async () => {
    pool = new ThreadPool({ module, threads: 2 });
    await Promise.all([pool.run('burn', 20), pool.run('burn', 20)]);
  });
  afterAll(() => pool.close());

  it('runs an exported function in a thread and resolves with what it returns, awaited', async () => {
    expect(await pool.run('add', [2, 3])).toBe(5);
    expect(await pool.run('later', 7)).toBe(7);
    const main = await import('node:worker_threads').then((w) => w.threadId);
    expect(await pool.run('whoami')).not.toBe(main);
  });

  it('runs tasks on every thread, one at a time per thread', async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, () => pool.run<number>('burn', 15)));
    expect(new Set(ids).size).toBe(2);
    expect(pool.stats.threads).toBe(2);
  });

  it('gives every call of a 20,000-call burst its own result, and the counters add up', async () => {
    const before = pool.stats;
    const out = await Promise.all(Array.from({ length: 20_000 }, (_, i) => pool.run<number>('inc', i)));
    expect(out.every((v, i) => v === i + 1)).toBe(true);
    const after = pool.stats;
    expect(after.completed - before.completed).toBe(20_000);
    expect(after).toMatchObject({ running: 0, queued: 0, failed: before.failed, canceled: before.canceled });
  });

  it('map yields in input order by default, and as tasks complete with ordered: false', async () => {
    expect(await pool.map('square', [1, 2, 3, 4]).toArray()).toEqual([1, 4, 9, 16]);
    const unordered = await pool.map('sleep', [60, 1], { ordered: false }).toArray();
    expect(unordered).toEqual([1, 60]);
  });

  it('map reads sync and async iterables lazily and returns a Flow that chains', async () => {
    async function* gen() {
      for (let i = 0; i < 50; i++) yield i;
    }
    const evens = await pool
      .map('square', gen())
      .filter((n) => (n as number) % 2 === 0)
      .toArray();
    expect(evens).toEqual(Array.from({ length: 25 }, (_, i) => (2 * i) ** 2));
    let pulled = 0;
    function* counted() {
      for (;;) {
        pulled++;
        yield pulled;
      }
    }
    const lazy = pool.map('inc', counted());
    await new Promise((r) => setTimeout(r, 20));
    expect(pulled).toBe(0);
    expect(await lazy.take(3).toArray()).toEqual([2, 3, 4]);
  });

  it('map ends with the first error, and stopping early closes the source', async () => {
    await expect(pool.map('fail', ['x']).toArray()).rejects.toThrow('x');
    let closed = false;
    function* source() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    for await (const v of pool.map('inc', source())) if (v === 5) break;
    expect(closed).toBe(true);
  });

  it('rebuilds a thrown error with its class, name, message, stack, code, cause and own properties', async () => {
    const err: any = await pool.run('fail', 'custom').catch((e: any) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'ParseError', message: 'bad input', code: 'E_PARSE', line: 7 });
    expect(err.stack).toContain('ParseError: bad input');
    expect(err.stack).toContain('tasks.ts');
    expect(err.cause).toBeInstanceOf(RangeError);
    expect(err.cause.message).toBe('too long');
    expect(err.cause.cause).toBe('root');
    const type: any = await pool.run('fail', 'type').catch((e: any) => e);
    expect(type).toBeInstanceOf(TypeError);
    const agg: any = await pool.run('fail', 'aggregate').catch((e: any) => e);
    expect(agg).toBeInstanceOf(AggregateError);
    expect(agg.errors.map((e: Error) => e.message)).toEqual(['a', 'b']);
    expect(agg.errors[1]).toBeInstanceOf(TypeError);
    const dom: any = await pool.run('fail', 'dom').catch((e: any) => e);
    expect(dom).toBeInstanceOf(DOMException);
    expect(dom.name).toBe('AbortError');
    const loop: any = await pool.run('fail', 'circular').catch((e: any) => e);
    expect(loop.message).toBe('loop');
    expect(await pool.run('failAsync', 'later').catch((e) => e.message)).toBe('later');
  });

  it('delivers a thrown value that is not an Error as it is, and an uncloneable one as a DataCloneError', async () => {
    expect(await pool.run('fail', 'string').catch((e: any) => e)).toBe('just a string');
    expect(await pool.run('fail', 'object').catch((e: any) => e)).toEqual({ reason: 'an object', n: 1 });
    const fn: any = await pool.run('fail', 'function').catch((e: any) => e);
    expect(fn.name).toBe('DataCloneError');
  });

  it('keeps a weft error a weft error across the thread boundary', async () => {
    const err: any = await pool.run('weftError').catch((e: any) => e);
    expect(isWeftError(err, 'ERR_NOT_LOCKED')).toBe(true);
    expect(err.name).toBe('NotLockedError');
    expect(isWeftError(await pool.run('fail', 'x').catch((e: any) => e))).toBe(false);
  });

  it('rejects a task name that is not an exported function with TaskNotFoundError, naming the functions', async () => {
    for (const name of ['nope', 'notATask', 'constructor', '__proto__']) {
      const err: any = await pool.run(name).catch((e: any) => e);
      expect(err.code).toBe('ERR_TASK_NOT_FOUND');
      expect(err.name).toBe('TaskNotFoundError');
      expect(err.message).toContain('tasks.ts');
      expect(err.message).toContain('"square"');
    }
  });

  it('rejects only the call whose argument cannot be cloned, also inside a batch', async () => {
    const calls = Array.from({ length: 50 }, (_, i) => (i === 17 ? pool.run('identity', () => 1) : pool.run('inc', i)));
    const settled = await Promise.allSettled(calls);
    settled.forEach((s, i) => {
      if (i === 17) {
        expect(s.status).toBe('rejected');
        expect((s as PromiseRejectedResult).reason.name).toBe('DataCloneError');
      } else expect(s).toEqual({ status: 'fulfilled', value: i + 1 });
    });
  });

  it('rejects the call whose result cannot be cloned with a DataCloneError', async () => {
    const err: any = await pool.run('uncloneable').catch((e: any) => e);
    expect(err.name).toBe('DataCloneError');
    expect(await pool.run('inc', 1)).toBe(2);
  });

  it('moves transferred buffers both ways: the sender is left with a detached buffer', async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const back = (await pool.run('double', bytes, { transfer: [bytes.buffer] })) as Uint8Array;
    expect(bytes.byteLength).toBe(0);
    expect([...back]).toEqual([2, 4, 6]);
    const big = new ArrayBuffer(1 << 20);
    expect(await pool.run('byteLength', big, { transfer: [big] })).toBe(1 << 20);
    expect(big.byteLength).toBe(0);
    // The thread's side of a returned transfer is detached too.
    let pair: number[] = [];
    await using one = new ThreadPool({ module, threads: 1 });
    const buf = (await one.run('giveAndKeep', 64)) as ArrayBuffer;
    pair = [buf.byteLength, (await one.run('keptLength')) as number];
    expect(pair).toEqual([64, 0]);
  });

  it('copies an argument without transfer, and transfer() marks a value for the return trip', async () => {
    const bytes = new Uint8Array([5]);
    await pool.run('identity', bytes);
    expect(bytes.byteLength).toBe(1);
    const marked = transfer({ a: 1 }, []);
    expect(marked.value).toEqual({ a: 1 });
    expect(() => transfer(1, 'no' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('takes the module as a relative or absolute path, a file: URL string or a URL', async () => {
    const abs = resolve(module);
    for (const m of [abs, pathToFileURL(abs).href, pathToFileURL(abs)]) {
      await using p = new ThreadPool({ module: m, threads: 1 });
      expect(await p.run('inc', 1)).toBe(2);
    }
  });

  it('hands each thread the workerData, cloned', async () => {
    await using p = new ThreadPool({ module, threads: 1, workerData: { region: 'eu', n: [1, 2] } });
    expect(await p.run('data')).toEqual({ region: 'eu', n: [1, 2] });
  });

  it('throws at once on bad options, naming the option and the value', () => {
    const bad: [unknown, string, string][] = [
      [undefined, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [{}, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [{ module: 42 }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [{ module: 'http://x/tasks.js' }, 'TypeError', 'ERR_INVALID_ARG_VALUE'],
      [{ module, threads: 0 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      [{ module, threads: 1.5 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      [{ module, threads: '2' }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [{ module, maxQueue: -1 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      [{ module, abortGraceMs: -1 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      [{ module, abortGraceMs: Number.POSITIVE_INFINITY }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      [{ module, idleTimeoutMs: -5 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      [{ module, idleTimeoutMs: Number.NaN }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      [{ module, resourceLimits: 5 }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [{ module, resourceLimits: { maxOldGenerationSizeMb: -1 } }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      [{ module, workerData: { f: () => {} } }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [opts, name, code] of bad) {
      let err: unknown;
      try {
        new ThreadPool(opts as never);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(opts)).toMatchObject({ name, code });
      expect((err as Error).message).toMatch(/^ThreadPool: `/);
    }
  });

  it('throws at once on bad arguments to run, map, resize and close', () => {
    expect(() => pool.run(1 as never)).toThrow(TypeError);
    expect(() => pool.run('inc', 1, 'x' as never)).toThrow(TypeError);
    expect(() => pool.run('inc', 1, { signal: {} as never })).toThrow(TypeError);
    expect(() => pool.run('inc', 1, { transfer: 'x' as never })).toThrow(/`transfer` must be an Array/);
    expect(() => pool.map('inc', 5 as never)).toThrow(/`args` must be an Iterable/);
    expect(() => pool.map('inc', [], { ordered: 1 as never })).toThrow(TypeError);
    expect(() => pool.resize(0)).toThrow(RangeError);
    expect(() => pool.close({ drain: 'yes' as never })).toThrow(TypeError);
  });

  it('rejects a call whose signal has already aborted, starting nothing', async () => {
    using leaks = trackLeaks();
    const before = pool.stats.completed;
    const ac = new AbortController();
    ac.abort('early');
    await expect(pool.run('inc', 1, { signal: ac.signal })).rejects.toBe('early');
    await expect(pool.map('inc', [1], { signal: ac.signal }).toArray()).rejects.toBe('early');
    expect(pool.stats.completed).toBe(before);
    clean(leaks);
  });

  it('a signal that never aborts is left as it was found after the call', async () => {
    using leaks = trackLeaks();
    const ac = new AbortController();
    await Promise.all(Array.from({ length: 100 }, (_, i) => pool.run('inc', i, { signal: ac.signal })));
    await pool.map('inc', [1, 2, 3], { signal: ac.signal }).toArray();
    clean(leaks);
  });

  it('tells a task that reads its context as the signal what to write instead', async () => {
    const err: any = await pool.run('misread').catch((e: any) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toContain('(arg, { signal })');
  });
});

describe('ThreadPool shedding, resizing, idling and closing', () => {
  it('sheds load with QueueFullError past maxQueue waiting calls, queueing nothing', async () => {
    await using pool = new ThreadPool({ module, threads: 1, maxQueue: 2 });
    const seen = new Int32Array(new SharedArrayBuffer(4));
    const ac = new AbortController();
    const running = pool.run('untilAborted', seen, { signal: ac.signal }).catch(() => 'aborted');
    await started(seen);
    // The thread runs one long task and takes none ahead: calls wait here.
    const waiting = [pool.run('inc', 1), pool.run('inc', 2)];
    const err: any = await pool.run('inc', 3).catch((e: any) => e);
    expect(err.code).toBe('ERR_QUEUE_FULL');
    expect(err.name).toBe('QueueFullError');
    expect(pool.stats.queued).toBe(2);
    // map is not subject to maxQueue: it bounds itself.
    const mapped = pool.map('inc', [10, 20, 30, 40]).toArray();
    ac.abort();
    expect(await running).toBe('aborted');
    expect(await Promise.all(waiting)).toEqual([2, 3]);
    expect(await mapped).toEqual([11, 21, 31, 41]);
  });

  it('resize grows the pool to more threads and shrinks it back, live', async () => {
    await using pool = new ThreadPool({ module, threads: 1 });
    const first = await pool.run<number>('burn', 5);
    const seen = new Int32Array(new SharedArrayBuffer(4));
    const ac = new AbortController();
    const blocked = pool.run('untilAborted', seen, { signal: ac.signal }).catch(() => 'aborted');
    await started(seen);
    pool.resize(2);
    // The one thread is busy: the call waits for, and gets, a second one.
    expect(await pool.run('whoami')).not.toBe(first);
    expect(pool.stats.threads).toBe(2);
    ac.abort();
    await blocked;
    pool.resize(1);
    for (let i = 0; i < 200 && pool.stats.threads > 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(pool.stats.threads).toBe(1);
    expect(await pool.run('inc', 1)).toBe(2);
  });

  it('an idle thread exits after idleTimeoutMs, and a thread starts again when work comes', async () => {
    using leaks = trackLeaks();
    const pool = new ThreadPool({ module, threads: 1, idleTimeoutMs: 30 });
    const first = await pool.run('whoami');
    expect(pool.stats.threads).toBe(1);
    for (let i = 0; i < 200 && pool.stats.threads > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(pool.stats.threads).toBe(0);
    const second = await pool.run('whoami');
    expect(second).not.toBe(first);
    await pool.close();
    clean(leaks);
  });

  it('close drains queued and running calls, then rejects new ones with PoolClosedError', async () => {
    const pool = new ThreadPool({ module, threads: 1 });
    const calls = [pool.run('later', 1), pool.run('later', 2), pool.run('later', 3)];
    const closing = pool.close();
    expect(pool.close()).toBe(closing);
    await closing;
    expect(await Promise.all(calls)).toEqual([1, 2, 3]);
    expect(pool.stats).toMatchObject({ threads: 0, running: 0, queued: 0, completed: 3 });
    const err: any = await pool.run('inc', 1).catch((e: any) => e);
    expect(err.code).toBe('ERR_POOL_CLOSED');
    await expect(pool.map('inc', [1]).toArray()).rejects.toMatchObject({ code: 'ERR_POOL_CLOSED' });
  });

  it('close without drain rejects queued and running calls at once, and aborts the running tasks in their threads', async () => {
    using leaks = trackLeaks();
    const pool = new ThreadPool({ module, threads: 1 });
    const seen = new Int32Array(new SharedArrayBuffer(4));
    const running = pool.run('untilAborted', seen).catch((e) => e.code);
    const queued = pool.run('inc', 1).catch((e) => e.code);
    await started(seen);
    await pool.close({ drain: false });
    expect(await running).toBe('ERR_POOL_CLOSED');
    expect(await queued).toBe('ERR_POOL_CLOSED');
    expect(seen[0]).toBe(2);
    expect(pool.stats).toMatchObject({ threads: 0, running: 0, queued: 0, canceled: 2 });
    clean(leaks);
  });

  it('a close without drain ends a drain in progress', async () => {
    const pool = new ThreadPool({ module, threads: 1, abortGraceMs: 20 });
    const seen = new Int32Array(new SharedArrayBuffer(4));
    const hung = pool.run('spin', seen).catch((e) => e.code);
    await started(seen);
    const draining = pool.close();
    await pool.close({ drain: false });
    await draining;
    expect(await hung).toBe('ERR_POOL_CLOSED');
  });

  it('close resolves at once for a pool that never started a thread, and asyncDispose closes', async () => {
    const pool = new ThreadPool({ module });
    await pool.close();
    expect(pool.stats.threads).toBe(0);
    let p: ThreadPool | undefined;
    {
      await using q = new ThreadPool({ module, threads: 1 });
      p = q;
      await q.run('inc', 1);
    }
    expect(p.stats.threads).toBe(0);
  });
});
