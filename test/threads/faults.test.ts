/**
 * ThreadPool under faults, with real threads: a thread that exits, throws
 * from a timer, leaves a rejection unhandled or runs out of memory fails
 * the task it was running and nothing else; a hung task is cut off after
 * `abortGraceMs`; a task aborted before it starts never starts, whether
 * it waits here or was already sent ahead to a thread; a module that does
 * not load fails every call with a clear error instead of hanging.
 */
import { describe, expect, it } from 'vitest';
import { trackLeaks } from 'weftjs/testing';
import { ThreadPool } from 'weftjs/threads';

const module = 'test/threads/fixtures/tasks.ts';

/** `Atomics.waitAsync` (ES2024; the project's lib is ES2022). */
interface AtomicsWait {
  waitAsync(a: Int32Array, i: number, v: number): { value: Promise<unknown> | string };
}

async function started(seen: Int32Array, from = 0): Promise<void> {
  await (Atomics as unknown as AtomicsWait).waitAsync(seen, 0, from).value;
}

function clean(leaks: ReturnType<typeof trackLeaks>) {
  expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
}

/**
 * A pool of one thread, warmed on tiny tasks until it takes tasks ahead in
 * batches (on a busy machine, a thread descheduled in the middle of a task
 * makes tasks look long for a while); `id` is its thread's.
 */
async function warmPool(opts: Partial<ConstructorParameters<typeof ThreadPool>[0]> = {}) {
  const pool = new ThreadPool({ module, threads: 1, ...opts });
  let id = 0;
  for (let round = 0; round < 20; round++) {
    await Promise.all(Array.from({ length: 200 }, (_, i) => pool.run('inc', i)));
    const probe = Array.from({ length: 6 }, () => pool.run<number>('whoami'));
    await Promise.resolve();
    const batched = pool.stats.running === 6;
    id = (await Promise.all(probe))[0]!;
    if (batched) break;
  }
  return Object.assign(pool, { id });
}

describe('ThreadPool crash isolation', () => {
  const crashes: [string, string, (err: { exitCode: number; cause: unknown }) => void][] = [
    ['process.exit()', 'exit', (e) => expect([e.exitCode, e.cause]).toEqual([7, 7])],
    [
      'an uncaught exception from a timer',
      'throwLater',
      (e) => expect((e.cause as Error).message).toBe('thrown from a timer'),
    ],
    ['an unhandled rejection', 'rejectUnhandled', (e) => expect((e.cause as Error).message).toBe('nobody handles me')],
  ];

  for (const [what, task, check] of crashes) {
    it(`${what} fails only the running task with WorkerCrashedError; the unstarted tasks run on a new thread`, async () => {
      await using pool = await warmPool();
      const counter = new Int32Array(new SharedArrayBuffer(4));
      const crash: Promise<any> = pool.run(task, 7).catch((e: any) => e);
      // Sent ahead to the same thread in one batch, behind the crashing task.
      const after = Array.from({ length: 5 }, () => pool.run<number>('count', counter));
      await Promise.resolve(); // calls made together go out together, at the end of the burst
      expect(pool.stats).toMatchObject({ queued: 0, running: 6 });
      const err = await crash;
      expect(err.name).toBe('WorkerCrashedError');
      expect(err.code).toBe('ERR_WORKER_CRASHED');
      check(err);
      expect((await Promise.all(after)).sort()).toEqual([1, 2, 3, 4, 5]);
      expect(counter[0]).toBe(5);
      expect(await pool.run('whoami')).not.toBe(pool.id);
      expect(pool.stats).toMatchObject({ threads: 1, running: 0, queued: 0, failed: 1 });
    });
  }

  it('running out of memory under resourceLimits fails only that task, with ERR_WORKER_OUT_OF_MEMORY as the cause', async () => {
    await using pool = new ThreadPool({
      module,
      threads: 1,
      resourceLimits: { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 },
    });
    expect(await pool.run('inc', 1)).toBe(2);
    const err: any = await pool.run('oom').catch((e: any) => e);
    expect(err.code).toBe('ERR_WORKER_CRASHED');
    expect(err.cause.code).toBe('ERR_WORKER_OUT_OF_MEMORY');
    expect(await pool.run('inc', 2)).toBe(3);
    expect(pool.stats.failed).toBe(1);
  });

  it('a thread that crashes while idle is replaced without failing anything', async () => {
    await using pool = new ThreadPool({ module, threads: 1 });
    const first = await pool.run('whoami');
    expect(await pool.run('crashSoon')).toBe('returned');
    for (let i = 0; i < 200 && pool.stats.threads > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(pool.stats).toMatchObject({ threads: 0, failed: 0, completed: 2 });
    expect(await pool.run('whoami')).not.toBe(first);
  });
});

describe('ThreadPool cancellation', () => {
  it('a hung task: the call rejects at once with the reason, and its thread is terminated after abortGraceMs', async () => {
    using leaks = trackLeaks();
    const pool = new ThreadPool({ module, threads: 1, abortGraceMs: 100 });
    const before = await pool.run('whoami');
    const seen = new Int32Array(new SharedArrayBuffer(4));
    const ac = new AbortController();
    const hung = pool.run('spin', seen, { signal: ac.signal });
    const next = pool.run('whoami');
    await started(seen);
    const reason = new Error('give up');
    ac.abort(reason);
    await expect(hung).rejects.toBe(reason);
    // The queued call is not failed: it runs on the thread that replaces the hung one.
    expect(await next).not.toBe(before);
    expect(pool.stats).toMatchObject({ threads: 1, canceled: 1, failed: 0, completed: 2 });
    await pool.close();
    clean(leaks);
  });

  it('the abort reaches the task inside its thread, with the reason as far as structured clone carries it', async () => {
    await using pool = new ThreadPool({ module, threads: 1 });
    const read = async (reason: unknown) => {
      const out = new Int32Array(new SharedArrayBuffer(4 * 200));
      const ac = new AbortController();
      const call = pool.run('reasonOf', out, { signal: ac.signal }).catch((e: any) => e);
      await started(out);
      ac.abort(reason);
      expect(await call).toBe(ac.signal.reason);
      await started(out, 1);
      return new TextDecoder().decode(Uint8Array.from(out.subarray(2, 2 + out[1]!)));
    };
    expect(await read('stop')).toBe('stop');
    expect(await read(Object.assign(new RangeError('too late'), { code: 'E_LATE' }))).toBe(
      'RangeError:too late:E_LATE',
    );
    // Cannot be cloned: the task's signal aborts with an AbortError.
    expect(await read({ f: () => {} })).toBe('AbortError:This operation was aborted:20');
    expect(await read(undefined)).toMatch(/^AbortError:/);
  });

  it('a synchronous task that never yields sees the abort, with its reason, when it reads its signal', async () => {
    await using pool = new ThreadPool({ module, threads: 1, abortGraceMs: 5000 });
    const out = new Int32Array(new SharedArrayBuffer(4 * 64));
    const ac = new AbortController();
    const call = pool.run('spinUntilAborted', out, { signal: ac.signal }).catch((e: any) => e);
    await started(out);
    ac.abort(new RangeError('enough'));
    expect(await call).toBe(ac.signal.reason);
    await started(out, 1);
    expect(new TextDecoder().decode(Uint8Array.from(out.subarray(2, 2 + out[1]!)))).toBe('RangeError:enough');
    // The thread was not terminated: the task returned within its grace.
    const id = await pool.run('whoami');
    const thrown = new Int32Array(new SharedArrayBuffer(4));
    const ac2 = new AbortController();
    const call2 = pool.run('spinUntilThrown', thrown, { signal: ac2.signal }).catch((e: any) => e);
    await started(thrown);
    ac2.abort('again');
    expect(await call2).toBe('again');
    await started(thrown, 1);
    expect(await pool.run('whoami')).toBe(id);
    expect(pool.stats).toMatchObject({ threads: 1, canceled: 2, failed: 0 });
  });

  it('a queued task whose signal aborts never starts, and leaves the queue at once', async () => {
    using leaks = trackLeaks();
    const pool = new ThreadPool({ module, threads: 1 });
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const acs = Array.from({ length: 6 }, () => new AbortController());
    // The thread is still starting: every call waits here.
    const calls = acs.map((ac) => pool.run('count', counter, { signal: ac.signal }).catch((e: any) => e));
    expect(pool.stats.queued).toBe(6);
    acs[1]!.abort('one');
    acs[4]!.abort('four');
    expect(pool.stats.queued).toBe(4);
    expect(await calls[1]).toBe('one');
    const results = await Promise.all(calls);
    expect(results[4]).toBe('four');
    expect(counter[0]).toBe(4);
    expect(results.filter((r) => typeof r === 'number').sort()).toEqual([1, 2, 3, 4]);
    expect(pool.stats).toMatchObject({ completed: 4, canceled: 2, failed: 0 });
    await pool.close();
    clean(leaks);
  });

  it('a task already sent ahead to a thread in a batch, aborted before it starts, never starts', async () => {
    using leaks = trackLeaks();
    const pool = await warmPool();
    const seen = new Int32Array(new SharedArrayBuffer(4));
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const gate = new AbortController();
    const blocker = pool.run('untilAborted', seen, { signal: gate.signal }).catch(() => 'aborted');
    const acs = Array.from({ length: 8 }, () => new AbortController());
    const calls = acs.map((ac) => pool.run('count', counter, { signal: ac.signal }).catch((e: any) => e));
    await Promise.resolve(); // calls made together go out together, at the end of the burst
    await started(seen);
    // All eight are in the thread's hands, behind the blocker.
    expect(pool.stats).toMatchObject({ queued: 0, running: 9 });
    for (const i of [0, 3, 7]) acs[i]!.abort(`abort ${i}`);
    expect(pool.stats.running).toBe(6);
    expect(await calls[3]).toBe('abort 3');
    gate.abort();
    expect(await blocker).toBe('aborted');
    const results = await Promise.all(calls);
    expect(results.filter((r) => typeof r === 'string')).toEqual(['abort 0', 'abort 3', 'abort 7']);
    expect(counter[0]).toBe(5);
    expect(pool.stats).toMatchObject({ running: 0, queued: 0, canceled: 4 });
    await pool.close();
    clean(leaks);
  });

  it('aborting a running task does not fail the tasks behind it: they move to the other thread', async () => {
    const pool = new ThreadPool({ module, threads: 2, abortGraceMs: 1000 });
    await Promise.all(Array.from({ length: 400 }, (_, i) => pool.run('inc', i)));
    const seen = new Int32Array(new SharedArrayBuffer(4));
    const ac = new AbortController();
    const hung = pool.run('spin', seen, { signal: ac.signal }).catch((e: any) => e);
    await started(seen);
    const behind = Array.from({ length: 50 }, (_, i) => pool.run<number>('inc', i));
    ac.abort('stop');
    expect(await hung).toBe('stop');
    // The spinning thread is not terminated yet (1 s of grace): the other thread runs them all.
    expect(await Promise.all(behind)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(pool.stats.threads).toBe(2);
    await pool.close({ drain: false });
    expect(pool.stats.threads).toBe(0);
  });

  it('aborting a task that has ended there after the one running now was aborted keeps the latter cut off', async () => {
    // Regression: the thread's "given up on" mark once moved back to the earlier task, whose result
    // then cleared it, and the hung one ran on with no grace timer, its thread taking new tasks.
    await using pool = await warmPool({ abortGraceMs: 50 });
    const seen = new Int32Array(new SharedArrayBuffer(4));
    const first = new AbortController();
    const hung = new AbortController();
    const a = pool.run('inc', 1, { signal: first.signal }).catch((e: any) => e);
    const b = pool.run('spin', seen, { signal: hung.signal }).catch((e: any) => e);
    await Promise.resolve(); // both go out in one batch
    // Block this thread until the spin has started: the result of `a` is sent, not yet handled here.
    Atomics.wait(seen, 0, 0, 10_000);
    hung.abort('hung');
    first.abort('first');
    expect(await b).toBe('hung');
    expect(await a).toBe('first');
    expect(await pool.run('whoami')).not.toBe(pool.id);
  });

  it('close with a hung, aborted task resolves once abortGraceMs has passed', async () => {
    const pool = new ThreadPool({ module, threads: 1, abortGraceMs: 50 });
    const seen = new Int32Array(new SharedArrayBuffer(4));
    const ac = new AbortController();
    const hung = pool.run('spin', seen, { signal: ac.signal }).catch((e: any) => e);
    await started(seen);
    ac.abort('stop');
    await pool.close();
    expect(await hung).toBe('stop');
    expect(pool.stats.threads).toBe(0);
  });
});

describe('ThreadPool load balance', () => {
  it('tiny tasks sent ahead behind a long one move to the idle thread instead of waiting for it', async () => {
    await using pool = new ThreadPool({ module, threads: 2 });
    // Both threads started, and calibrated on tiny tasks: they take tasks ahead in batches.
    await Promise.all([pool.run('burn', 20), pool.run('burn', 20)]);
    for (let i = 0; i < 5; i++) await Promise.all(Array.from({ length: 400 }, (_, k) => pool.run('inc', k)));
    const order: string[] = [];
    const long = pool.run('burn', 400).then(() => order.push('long'));
    const tiny = Array.from({ length: 40 }, (_, i) => pool.run('inc', i).then(() => order.push('tiny')));
    await Promise.all([long, ...tiny]);
    expect(order.indexOf('long')).toBe(40);
  });
});

describe('ThreadPool module errors', () => {
  it('a module that does not exist fails the first call and every later one with ModuleLoadError, at once', async () => {
    await using pool = new ThreadPool({ module: 'test/threads/fixtures/missing.ts', threads: 2 });
    const calls = [pool.run('inc', 1), pool.run('inc', 2), pool.run('inc', 3)].map((p) => p.catch((e: any) => e));
    const errs: any[] = await Promise.all(calls);
    for (const err of errs) {
      expect(err.name).toBe('ModuleLoadError');
      expect(err.code).toBe('ERR_MODULE_LOAD');
      expect(err.message).toContain('missing.ts');
      expect(err.cause.code).toBe('ERR_MODULE_NOT_FOUND');
    }
    const later: any = await pool.run('inc', 4).catch((e: any) => e);
    expect(later.code).toBe('ERR_MODULE_LOAD');
    for (let i = 0; i < 200 && pool.stats.threads > 0; i++) await new Promise((r) => setTimeout(r, 10));
    // The three accepted calls failed; the later one was refused at once, as by a closed pool.
    expect(pool.stats).toMatchObject({ failed: 3, threads: 0 });
  });

  it('a module that throws when it loads fails the calls with its error as the cause', async () => {
    const source = "throw new Error('config missing'); export const f = () => 1;";
    await using pool = new ThreadPool({ module: `data:text/javascript,${encodeURIComponent(source)}`, threads: 1 });
    const err: any = await pool.run('f').catch((e: any) => e);
    expect(err.code).toBe('ERR_MODULE_LOAD');
    expect(err.cause.message).toBe('config missing');
  });

  it('a module whose thread dies before it loads fails the calls instead of starting threads forever', async () => {
    const source = 'process.exit(3); export const f = () => 1;';
    await using pool = new ThreadPool({ module: `data:text/javascript,${encodeURIComponent(source)}`, threads: 2 });
    const err: any = await pool.run('f').catch((e: any) => e);
    expect(err.code).toBe('ERR_MODULE_LOAD');
    await new Promise((r) => setTimeout(r, 50));
    expect(pool.stats.threads).toBe(0);
  });
});
