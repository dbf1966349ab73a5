import { AsyncLocalStorage } from 'node:async_hooks';
import diagnostics from 'node:diagnostics_channel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PubSub, sleep, Ticker, WorkerPool, withCancel } from 'weftjs';
import { Shutdown, type ShutdownOptions, type ShutdownReport } from 'weftjs/node';
import { TestClock, trackLeaks } from 'weftjs/testing';
import { deferred, flush } from '../../test/support.js';

const clean = { waiters: 0, timers: 0, listeners: 0, details: [] };

/** A Shutdown for in-process tests: no signals, no exit, lines kept. */
function make(opts: ShutdownOptions = {}): { shutdown: Shutdown; lines: string[] } {
  const lines: string[] = [];
  const shutdown = new Shutdown({ signals: [], exit: false, log: (l) => lines.push(l), ...opts });
  return { shutdown, lines };
}

const outcomes = (r: ShutdownReport) => r.hooks.map((h) => `${h.phase} ${h.name} ${h.outcome}`);

describe('Shutdown phases', () => {
  it('runs phases in ascending order, the hooks of one phase concurrently', async () => {
    const { shutdown } = make();
    const events: string[] = [];
    const gates = [deferred(), deferred()];
    shutdown.add('late', () => void events.push('late'), { phase: 10 });
    shutdown.add('a', async () => {
      events.push('a start');
      await gates[0]!.promise;
      events.push('a end');
    });
    shutdown.add('b', async () => {
      events.push('b start');
      await gates[1]!.promise;
      events.push('b end');
    });
    shutdown.add('first', () => void events.push('first'), { phase: -1 });
    shutdown.add('middle', () => void events.push('middle'), { phase: 0.5 });
    const done = shutdown.shutdown();
    await flush();
    expect(events).toEqual(['first', 'a start', 'b start']);
    gates[1]!.resolve();
    await flush();
    expect(events).toEqual(['first', 'a start', 'b start', 'b end']);
    gates[0]!.resolve();
    const report = await done;
    expect(events).toEqual(['first', 'a start', 'b start', 'b end', 'a end', 'middle', 'late']);
    expect(outcomes(report)).toEqual(['-1 first ok', '0 a ok', '0 b ok', '0.5 middle ok', '10 late ok']);
    expect(report.ok).toBe(true);
  });

  it('a phase waits for its slowest hook before the next phase starts', async () => {
    const clock = new TestClock();
    const { shutdown } = make({ clock });
    const started: number[] = [];
    shutdown.add('slow', () => sleep(300, { clock }));
    shutdown.add('fast', () => sleep(100, { clock }));
    shutdown.add('next', () => void started.push(clock.now()), { phase: 1 });
    const done = shutdown.shutdown();
    await clock.advance(299);
    expect(started).toEqual([]);
    await clock.advance(1);
    const report = await done;
    expect(started).toEqual([300]);
    expect(report.hooks.map((h) => h.durationMs)).toEqual([300, 100, 0]);
    expect(report.durationMs).toBe(300);
  });

  it('a hook that throws synchronously, rejects, or returns a thenable that rejects is an error, and the rest run', async () => {
    const { shutdown } = make();
    const boom = new Error('boom');
    const ran: string[] = [];
    shutdown.add('sync', () => {
      throw boom;
    });
    shutdown.add('async', () => Promise.reject(new TypeError('bad')));
    // biome-ignore lint/suspicious/noThenProperty: a deliberate thenable that is not a Promise.
    shutdown.add('thenable', () => ({ then: (_: unknown, reject: (e: unknown) => void) => reject('nope') }));
    shutdown.add('then getter', () => ({
      // biome-ignore lint/suspicious/noThenProperty: a `then` whose getter throws, deliberately.
      get then() {
        throw new Error('getter');
      },
    }));
    shutdown.add('fine', () => void ran.push('fine'));
    shutdown.add('later', () => void ran.push('later'), { phase: 1 });
    const report = await shutdown.shutdown();
    expect(outcomes(report)).toEqual([
      '0 sync error',
      '0 async error',
      '0 thenable error',
      '0 then getter error',
      '0 fine ok',
      '1 later ok',
    ]);
    expect(report.hooks[0]!.error).toBe(boom);
    expect(report.hooks[1]!.error).toBeInstanceOf(TypeError);
    expect(report.hooks[2]!.error).toBe('nope');
    expect(report.hooks[4]).toEqual({ name: 'fine', phase: 0, durationMs: expect.any(Number), outcome: 'ok' });
    expect(ran).toEqual(['fine', 'later']);
    expect(report.ok).toBe(false);
  });

  it('a hook returning a value that is not a promise is ok at once', async () => {
    const { shutdown } = make();
    shutdown.add('value', () => 42);
    shutdown.add('null', () => null);
    expect(outcomes(await shutdown.shutdown())).toEqual(['0 value ok', '0 null ok']);
  });

  it('with no hooks, the report is ok and empty', async () => {
    const { shutdown, lines } = make();
    const report = await shutdown.shutdown('bye');
    expect(report).toEqual({ reason: 'bye', ok: true, durationMs: expect.any(Number), hooks: [] });
    expect(lines).toHaveLength(2);
  });
});

describe('Shutdown timeouts', () => {
  it('a hook that never settles is abandoned at its own timeout, its signal aborts, and the next phase runs', async () => {
    const clock = new TestClock();
    const { shutdown } = make({ clock });
    let hookSignal!: AbortSignal;
    shutdown.add(
      'stuck',
      (signal) => {
        hookSignal = signal;
        return new Promise(() => {});
      },
      { timeoutMs: 250 },
    );
    const next = vi.fn();
    shutdown.add('next', next, { phase: 1 });
    const done = shutdown.shutdown();
    await clock.advance(249);
    expect(hookSignal.aborted).toBe(false);
    expect(next).not.toHaveBeenCalled();
    await clock.advance(1);
    const report = await done;
    expect(hookSignal.aborted).toBe(true);
    expect(hookSignal.reason.code).toBe('ERR_DEADLINE_EXCEEDED');
    expect(report.hooks[0]).toMatchObject({ name: 'stuck', outcome: 'timeout', durationMs: 250 });
    expect(report.hooks[0]!.error).toBe(hookSignal.reason);
    expect(next).toHaveBeenCalledTimes(1);
    expect(clock.pending).toBe(0);
  });

  it('the total timeout bounds every hook, and hooks of phases after it ran out are not started', async () => {
    const clock = new TestClock();
    const { shutdown, lines } = make({ clock, timeoutMs: 1_000 });
    shutdown.add('a', () => sleep(400, { clock }));
    shutdown.add('b', () => new Promise(() => {}), { phase: 1, timeoutMs: 5_000 });
    const never = vi.fn();
    shutdown.add('c', never, { phase: 2 });
    const done = shutdown.shutdown();
    await clock.advance(1_000);
    const report = await done;
    expect(outcomes(report)).toEqual(['0 a ok', '1 b timeout', '2 c timeout']);
    expect(report.hooks.map((h) => h.durationMs)).toEqual([400, 600, 0]);
    expect(never).not.toHaveBeenCalled();
    expect((report.hooks[2]!.error as Error).message).toMatch(/"c" was not started/);
    expect(report.durationMs).toBe(1_000);
    expect(lines[3]).toMatch(/^shutdown hook phase=2 name=c outcome=timeout durationMs=0 error=/);
  });

  it('a hook whose timeout is 0 still succeeds if it is synchronous', async () => {
    const clock = new TestClock();
    const { shutdown } = make({ clock });
    shutdown.add('sync', () => {}, { timeoutMs: 0 });
    shutdown.add('async', () => sleep(1, { clock }), { timeoutMs: 0 });
    const done = shutdown.shutdown();
    await clock.advance(0);
    expect(outcomes(await done)).toEqual(['0 sync ok', '0 async timeout']);
  });

  it('a hook that settles after its timeout stays reported as a timeout, and its late rejection is handled', async () => {
    const clock = new TestClock();
    const { shutdown } = make({ clock });
    const late = deferred();
    shutdown.add('late', () => late.promise, { timeoutMs: 10 });
    const done = shutdown.shutdown();
    await clock.advance(10);
    const report = await done;
    late.reject(new Error('too late'));
    await flush();
    expect(outcomes(report)).toEqual(['0 late timeout']);
  });

  it('leaves no timer and no listener behind, whichever way the hooks end', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    const { shutdown } = make({ clock });
    shutdown.add('ok', () => sleep(5, { clock }));
    shutdown.add('error', () => Promise.reject(new Error('x')));
    shutdown.add('timeout', (signal) => sleep(60_000, { clock, signal }).catch(() => {}), { timeoutMs: 20 });
    shutdown.add('scope', withCancel(shutdown.signal));
    const done = shutdown.shutdown();
    expect(leaks.check().timers).toBeGreaterThan(0);
    await clock.advance(20);
    await done;
    expect(leaks.check()).toEqual(clean);
    expect(clock.pending).toBe(0);
  });
});

describe('Shutdown.shutdown', () => {
  it('is idempotent: every call returns the same promise, and the first reason wins', async () => {
    const { shutdown } = make();
    const hook = vi.fn();
    shutdown.add('once', hook);
    const first = shutdown.shutdown('first');
    expect(shutdown.shutdown('second')).toBe(first);
    expect((await first).reason).toBe('first');
    expect(shutdown.shutdown()).toBe(first);
    expect(hook).toHaveBeenCalledTimes(1);
  });

  it('aborts signal with the reason before the first hook runs; without a reason, with a CanceledError', async () => {
    const { shutdown } = make();
    let seen: unknown;
    shutdown.add('look', () => {
      seen = shutdown.signal.reason;
    });
    expect(shutdown.signal.aborted).toBe(false);
    const reason = new Error('deploy');
    await shutdown.shutdown(reason);
    expect(seen).toBe(reason);

    const other = make().shutdown;
    const report = await other.shutdown();
    expect(other.signal.reason.code).toBe('ERR_CANCELED');
    expect(report.reason).toBe(other.signal.reason);
  });

  it('moves through idle, running and done', async () => {
    const { shutdown } = make();
    const states: string[] = [shutdown.state];
    shutdown.add('look', () => void states.push(shutdown.state));
    const done = shutdown.shutdown();
    states.push(shutdown.state);
    await done;
    states.push(shutdown.state);
    expect(states).toEqual(['idle', 'running', 'running', 'done']);
  });

  it('called from inside a hook, returns the same promise and does not deadlock', async () => {
    const { shutdown } = make();
    let inner: Promise<ShutdownReport> | undefined;
    shutdown.add('calls shutdown', () => {
      inner = shutdown.shutdown('from a hook');
    });
    shutdown.add('after', () => {}, { phase: 1 });
    const outer = shutdown.shutdown('outer');
    expect(inner).toBe(outer);
    const report = await outer;
    expect(report.reason).toBe('outer');
    expect(outcomes(report)).toEqual(['0 calls shutdown ok', '1 after ok']);
  });

  it('a hook that starts the shutdown synchronously gets the promise of the shutdown it is part of', async () => {
    const { shutdown } = make();
    const got: unknown[] = [];
    shutdown.add('self', () => void got.push(shutdown.shutdown()));
    const p = shutdown.shutdown();
    expect(got).toEqual([p]);
    await p;
  });

  it('a hook awaiting shutdown() waits until its own timeout, whose error says why; the shutdown still ends', async () => {
    const clock = new TestClock();
    const { shutdown } = make({ clock });
    shutdown.add(
      'awaits itself',
      async () => {
        await sleep(1, { clock });
        await shutdown.shutdown();
      },
      { timeoutMs: 100 },
    );
    shutdown.add('after', () => {}, { phase: 1 });
    const done = shutdown.shutdown();
    await clock.advance(100);
    const report = await done;
    expect(outcomes(report)).toEqual(['0 awaits itself timeout', '1 after ok']);
    expect((report.hooks[0]!.error as Error).message).toMatch(/called shutdown\(\)/);
  });

  it('[Symbol.asyncDispose] runs the shutdown', async () => {
    const hook = vi.fn();
    {
      await using shutdown = make().shutdown;
      shutdown.add('hook', hook);
    }
    expect(hook).toHaveBeenCalledTimes(1);
  });
});

describe('Shutdown.add', () => {
  it('closes objects by the first of [Symbol.asyncDispose], close, [Symbol.dispose] and stop', async () => {
    const { shutdown } = make();
    const calls: string[] = [];
    const all = (tag: string) => ({
      [Symbol.asyncDispose]: async () => void calls.push(`${tag} asyncDispose`),
      close: () => calls.push(`${tag} close`),
      [Symbol.dispose]: () => calls.push(`${tag} dispose`),
      stop: () => calls.push(`${tag} stop`),
    });
    const { [Symbol.asyncDispose]: _a, ...noAsync } = all('b');
    const { close: _c, ...noClose } = noAsync;
    const { [Symbol.dispose]: _d, ...onlyStop } = noClose;
    shutdown.add('a', all('a'));
    shutdown.add('b', noAsync);
    shutdown.add('c', { ...noClose, [Symbol.dispose]: () => calls.push('c dispose') });
    shutdown.add('d', { ...onlyStop, stop: () => calls.push('d stop') });
    await shutdown.shutdown();
    expect(calls).toEqual(['a asyncDispose', 'b close', 'c dispose', 'd stop']);
  });

  it('calls the close method with no argument and on its object, and waits for what it returns', async () => {
    const { shutdown } = make();
    const gate = deferred();
    const seen: unknown[] = [];
    const thing = {
      close(...args: unknown[]) {
        seen.push(this, args);
        return gate.promise;
      },
    };
    shutdown.add('thing', thing);
    let finished = false;
    const done = shutdown.shutdown().then((r) => {
      finished = true;
      return r;
    });
    await flush();
    expect(seen).toEqual([thing, []]);
    expect(finished).toBe(false);
    gate.resolve();
    expect((await done).ok).toBe(true);
  });

  it("takes weft's WorkerPool, PubSub, Ticker and Scope as they are", async () => {
    const { shutdown } = make();
    const pool = new WorkerPool(async (n: number) => n + 1, { concurrency: 1 });
    const jobs = [pool.submit(1), pool.submit(2), pool.submit(3)];
    const bus = new PubSub<number>();
    const sub = bus.subscribe('jobs');
    const ticker = new Ticker(1_000);
    const scope = withCancel();
    shutdown.add('pool', pool);
    shutdown.add('bus', bus);
    shutdown.add('ticker', ticker);
    shutdown.add('scope', scope);
    const report = await shutdown.shutdown();
    expect(outcomes(report)).toEqual(['0 pool ok', '0 bus ok', '0 ticker ok', '0 scope ok']);
    expect(await Promise.all(jobs)).toEqual([2, 3, 4]);
    await expect(pool.submit(4)).rejects.toMatchObject({ code: 'ERR_POOL_CLOSED' });
    expect(await sub.recv()).toEqual({ done: true, value: undefined });
    expect(scope.signal.aborted).toBe(true);
  });

  it('runs a hook, a closable and the log in the async context of the call that handed them over', async () => {
    const als = new AsyncLocalStorage<string>();
    const seen: Record<string, string | undefined> = {};
    const shutdown = als.run(
      'constructor',
      () =>
        new Shutdown({
          signals: [],
          exit: false,
          log: () => void (seen.log ??= als.getStore()),
        }),
    );
    als.run('add fn', () =>
      shutdown.add('fn', async () => {
        await flush();
        seen.fn = als.getStore();
      }),
    );
    als.run('add object', () => shutdown.add('object', { close: () => void (seen.object = als.getStore()) }));
    await als.run('trigger', () => shutdown.shutdown());
    expect(seen).toEqual({ log: 'constructor', fn: 'add fn', object: 'add object' });
  });

  it('throws ShutdownStartedError once the shutdown started, also from inside a hook', async () => {
    const { shutdown } = make();
    const codes: string[] = [];
    shutdown.add('adds', () => {
      try {
        shutdown.add('from hook', () => {});
      } catch (err) {
        codes.push((err as { code: string }).code);
      }
    });
    const done = shutdown.shutdown();
    expect(() => shutdown.add('late', () => {})).toThrow(
      expect.objectContaining({ code: 'ERR_SHUTDOWN_STARTED', name: 'ShutdownStartedError' }),
    );
    const report = await done;
    expect(() => shutdown.add('later', () => {})).toThrow(expect.objectContaining({ code: 'ERR_SHUTDOWN_STARTED' }));
    expect(codes).toEqual(['ERR_SHUTDOWN_STARTED']);
    expect(report.hooks.map((h) => h.name)).toEqual(['adds']);
  });

  it('rejects a name used already', () => {
    const { shutdown } = make();
    shutdown.add('db', () => {});
    expect(() => shutdown.add('db', () => {}, { phase: 2 })).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        code: 'ERR_INVALID_ARG_VALUE',
        message: expect.stringMatching(/"db" is used already/),
      }),
    );
  });

  it.each([
    ['a name that is not a string', () => [42, () => {}], TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['an empty name', () => ['', () => {}], TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['a hook that is neither a function nor closable', () => ['x', { end() {} }], TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['a null hook', () => ['x', null], TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['options that are not an object', () => ['x', () => {}, 5], TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['a phase that is not a number', () => ['x', () => {}, { phase: '1' }], TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['an infinite phase', () => ['x', () => {}, { phase: Number.POSITIVE_INFINITY }], RangeError, 'ERR_OUT_OF_RANGE'],
    ['a NaN phase', () => ['x', () => {}, { phase: Number.NaN }], RangeError, 'ERR_OUT_OF_RANGE'],
    ['a negative timeout', () => ['x', () => {}, { timeoutMs: -1 }], RangeError, 'ERR_OUT_OF_RANGE'],
    [
      'an infinite timeout',
      () => ['x', () => {}, { timeoutMs: Number.POSITIVE_INFINITY }],
      RangeError,
      'ERR_OUT_OF_RANGE',
    ],
  ] as const)('throws at once for %s', (_what, args, Kind, code) => {
    const { shutdown } = make();
    const call = () => (shutdown.add as (...a: unknown[]) => void)(...args());
    expect(call).toThrow(Kind);
    expect(call).toThrow(expect.objectContaining({ code, message: expect.stringMatching(/^Shutdown\.add: /) }));
  });
});

describe('Shutdown constructor', () => {
  it.each([
    ['options that are not an object', 'x', TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['signals that are not an array', { signals: 'SIGTERM' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['a signal that is not a string', { signals: [15] }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['an unknown signal name', { signals: ['SIGTERM', 'SIGFOO'] }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['a lowercase signal name', { signals: ['sigterm'] }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['SIGKILL, which cannot be caught', { signals: ['SIGKILL'] }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['a negative timeout', { timeoutMs: -5 }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['a NaN timeout', { timeoutMs: Number.NaN }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['an infinite timeout', { timeoutMs: Number.POSITIVE_INFINITY }, RangeError, 'ERR_OUT_OF_RANGE'],
    ['a timeout that is not a number', { timeoutMs: '1000' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['an exit that is not a boolean', { exit: 0 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['a log that is not a function', { log: console }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['a clock that is not a Clock', { clock: {} }, TypeError, undefined],
  ] as const)('throws at once for %s, and listens to nothing', (_what, opts, Kind, code) => {
    const before = process.listenerCount('SIGTERM');
    const make = () => new Shutdown(opts as ShutdownOptions);
    expect(make).toThrow(Kind);
    expect(make).toThrow(expect.objectContaining({ message: expect.stringMatching(/^Shutdown: /) }));
    if (code !== undefined) expect(make).toThrow(expect.objectContaining({ code }));
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('names the signal it got in the error', () => {
    expect(() => new Shutdown({ signals: ['SIGFOO' as NodeJS.Signals] })).toThrow(/unknown signal name, got "SIGFOO"/);
  });
});

describe('Shutdown signals', () => {
  const created: Shutdown[] = [];
  afterEach(async () => {
    // Leave the worker's listeners as they were, also when a test failed.
    for (const s of created.splice(0)) if (s.state === 'idle') await s.shutdown();
  });

  function listening(opts: ShutdownOptions): { shutdown: Shutdown; lines: string[] } {
    const lines: string[] = [];
    const shutdown = new Shutdown({ exit: false, log: (l) => lines.push(l), ...opts });
    created.push(shutdown);
    return { shutdown, lines };
  }

  it('listens to SIGINT and SIGTERM by default, and removes only its own listeners when done', async () => {
    const other = () => {};
    process.on('SIGTERM', other);
    try {
      const before = { int: process.listenerCount('SIGINT'), term: process.listenerCount('SIGTERM') };
      const { shutdown } = listening({});
      expect(process.listenerCount('SIGINT')).toBe(before.int + 1);
      expect(process.listenerCount('SIGTERM')).toBe(before.term + 1);
      await shutdown.shutdown();
      expect(process.listenerCount('SIGINT')).toBe(before.int);
      expect(process.listenerCount('SIGTERM')).toBe(before.term);
      expect(process.listeners('SIGTERM')).toContain(other);
    } finally {
      process.off('SIGTERM', other);
    }
  });

  it('a signal starts the shutdown with its name as the reason; other listeners of it run too', async () => {
    const other = vi.fn();
    process.on('SIGUSR2', other);
    try {
      const { shutdown, lines } = listening({ signals: ['SIGUSR2', 'SIGUSR2'] });
      expect(process.listenerCount('SIGUSR2')).toBe(2);
      const hook = vi.fn();
      shutdown.add('hook', hook);
      process.emit('SIGUSR2', 'SIGUSR2');
      expect(shutdown.signal.reason).toBe('SIGUSR2');
      const report = await shutdown.shutdown();
      expect(report.reason).toBe('SIGUSR2');
      expect(hook).toHaveBeenCalledTimes(1);
      expect(other).toHaveBeenCalledTimes(1);
      expect(lines[0]).toBe('shutdown start reason=SIGUSR2 hooks=1 timeoutMs=30000');
      expect(process.listeners('SIGUSR2')).toEqual([other]);
    } finally {
      process.off('SIGUSR2', other);
    }
  });

  it('with exit: false, a second signal while shutting down is only logged', async () => {
    const { shutdown, lines } = listening({ signals: ['SIGUSR2'] });
    const gate = deferred();
    shutdown.add('slow', () => gate.promise);
    process.emit('SIGUSR2', 'SIGUSR2');
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(lines).toEqual([
      'shutdown start reason=SIGUSR2 hooks=1 timeoutMs=30000',
      'shutdown repeat signal=SIGUSR2 exit=false',
    ]);
    gate.resolve();
    expect((await shutdown.shutdown()).ok).toBe(true);
    expect(process.listenerCount('SIGUSR2')).toBe(0);
  });

  it('signals: [] adds no listener', async () => {
    const before = process.listenerCount('SIGINT') + process.listenerCount('SIGTERM');
    const { shutdown } = listening({ signals: [] });
    expect(process.listenerCount('SIGINT') + process.listenerCount('SIGTERM')).toBe(before);
    await shutdown.shutdown();
  });
});

describe('Shutdown log', () => {
  it('logs a start line, one line per hook as it ends, and a summary, in logfmt', async () => {
    const clock = new TestClock();
    const { shutdown, lines } = make({ clock, timeoutMs: 5_000 });
    shutdown.add('http server', () => sleep(120, { clock }));
    shutdown.add('db', () => Promise.reject(new Error('connection "main" lost')), { phase: 1 });
    shutdown.add('stuck', () => new Promise(() => {}), { phase: 1, timeoutMs: 50 });
    const done = shutdown.shutdown(new Error('deploy'));
    await clock.advance(5_000);
    await done;
    expect(lines).toEqual([
      'shutdown start reason="Error: deploy" hooks=3 timeoutMs=5000',
      'shutdown hook phase=0 name="http server" outcome=ok durationMs=120',
      'shutdown hook phase=1 name=db outcome=error durationMs=0 error="Error: connection \\"main\\" lost"',
      'shutdown hook phase=1 name=stuck outcome=timeout durationMs=50 error="DeadlineExceededError: Shutdown: hook \\"stuck\\" did not finish within 50 ms"',
      'shutdown finish ok=false hooks=3 errors=1 timeouts=1 durationMs=170',
    ]);
  });

  it('defaults to console.error', async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const shutdown = new Shutdown({ signals: [], exit: false });
      await shutdown.shutdown('x');
      expect(spy.mock.calls).toEqual([
        ['shutdown start reason=x hooks=0 timeoutMs=30000'],
        [expect.stringMatching(/^shutdown finish ok=true hooks=0 errors=0 timeouts=0 durationMs=\d+$/)],
      ]);
    } finally {
      spy.mockRestore();
    }
  });

  it('a log function that throws does not stop the shutdown', async () => {
    const shutdown = new Shutdown({
      signals: [],
      exit: false,
      log: () => {
        throw new Error('log down');
      },
    });
    const hook = vi.fn();
    shutdown.add('hook', hook);
    expect((await shutdown.shutdown()).ok).toBe(true);
    expect(hook).toHaveBeenCalledTimes(1);
  });
});

describe('Shutdown diagnostics channels', () => {
  const names = ['start', 'hookStart', 'hookFinish', 'finish'].map((e) => `weft:shutdown:${e}`);

  it('publishes start, hookStart, hookFinish and finish with the documented shapes', async () => {
    const seen: [string, unknown][] = [];
    const subs = names.map((name) => {
      const fn = (message: unknown) => seen.push([name.slice('weft:shutdown:'.length), message]);
      diagnostics.subscribe(name, fn);
      return () => diagnostics.unsubscribe(name, fn);
    });
    try {
      const clock = new TestClock();
      const { shutdown } = make({ clock });
      const err = new Error('x');
      shutdown.add('a', () => sleep(10, { clock }));
      shutdown.add('b', () => Promise.reject(err), { phase: 1 });
      const done = shutdown.shutdown('deploy');
      await clock.advance(10);
      const report = await done;
      expect(seen).toEqual([
        ['start', { reason: 'deploy' }],
        ['hookStart', { name: 'a', phase: 0 }],
        ['hookFinish', { name: 'a', phase: 0, durationMs: 10, outcome: 'ok' }],
        ['hookStart', { name: 'b', phase: 1 }],
        ['hookFinish', { name: 'b', phase: 1, durationMs: 0, outcome: 'error', error: err }],
        ['finish', { report }],
      ]);
    } finally {
      for (const unsubscribe of subs) unsubscribe();
    }
  });

  it('publishes nothing when nobody subscribes', async () => {
    const spies = names.map((name) => vi.spyOn(diagnostics.channel(name), 'publish'));
    try {
      const { shutdown } = make();
      shutdown.add('a', () => {});
      shutdown.add('b', () => {}, { phase: 1 });
      await shutdown.shutdown();
      expect(spies.map((s) => s.mock.calls.length)).toEqual([0, 0, 0, 0]);
      // The same spies count once someone listens: the assertion above can fail.
      const fn = () => {};
      diagnostics.subscribe('weft:shutdown:hookStart', fn);
      try {
        const other = make().shutdown;
        other.add('a', () => {});
        await other.shutdown();
        expect(spies.map((s) => s.mock.calls.length)).toEqual([0, 1, 0, 0]);
      } finally {
        diagnostics.unsubscribe('weft:shutdown:hookStart', fn);
      }
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });
});
