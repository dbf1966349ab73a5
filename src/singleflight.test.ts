import { describe, expect, it } from 'vitest';
import { Singleflight } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { deferred, flush as tick } from '../test/support.js';

const clean = { waiters: 0, timers: 0, listeners: 0, details: [] };

describe('Singleflight', () => {
  it('resolves with the value of fn, as Go TestDo', async () => {
    const sf = new Singleflight();
    await expect(sf.do('key', async () => 'bar')).resolves.toBe('bar');
    await expect(sf.do('key', () => 'sync bar')).resolves.toBe('sync bar');
    expect(sf.inFlight).toBe(0);
  });

  it('rejects with the error of fn as it is, as Go TestDoErr', async () => {
    const sf = new Singleflight();
    const someErr = new Error('Some error');
    await expect(sf.do('key', () => Promise.reject(someErr))).rejects.toBe(someErr);
    expect(sf.inFlight).toBe(0);
  });

  it('runs fn once for concurrent callers of one key, as Go TestDoDupSuppress', async () => {
    const sf = new Singleflight();
    const d = deferred<string>();
    let calls = 0;
    const fn = () => {
      calls++;
      return d.promise;
    };
    const n = 10;
    const all = Array.from({ length: n }, () => sf.do('key', fn));
    expect(sf.inFlight).toBe(1);
    d.resolve('bar');
    expect(await Promise.all(all)).toEqual(Array(n).fill('bar'));
    expect(calls).toBe(1);
    expect(sf.inFlight).toBe(0);
  });

  it('runs fn once per key, and keys do not share', async () => {
    const sf = new Singleflight();
    const calls: string[] = [];
    const fn = (k: string) => async () => {
      calls.push(k);
      return k.toUpperCase();
    };
    const got = await Promise.all([sf.do('a', fn('a')), sf.do('b', fn('b')), sf.do('a', fn('a'))]);
    expect(got).toEqual(['A', 'B', 'A']);
    expect(calls).toEqual(['a', 'b']);
  });

  it('frees the key once the run settles: the next call starts a new run', async () => {
    const sf = new Singleflight();
    let calls = 0;
    const fn = async () => ++calls;
    expect(await sf.do('k', fn)).toBe(1);
    expect(await sf.do('k', fn)).toBe(2);
    await expect(sf.do('k', () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(await sf.do('k', fn)).toBe(3);
  });

  it('keeps the new run after forget when the old run completes, as Go TestForget (golang/go#31420)', async () => {
    const sf = new Singleflight();
    const first = deferred<number>();
    const firstDone = sf.do('key', () => first.promise);
    sf.forget('key');
    expect(sf.inFlight).toBe(0);

    const second = deferred<number>();
    const secondResult = sf.do('key', () => second.promise);
    expect(sf.inFlight).toBe(1);

    first.resolve(1);
    expect(await firstDone).toBe(1);
    expect(sf.inFlight).toBe(1);

    let thirdRan = false;
    const thirdResult = sf.do('key', async () => {
      thirdRan = true;
      return 3;
    });
    second.resolve(2);
    expect(await secondResult).toBe(2);
    expect(await thirdResult).toBe(2);
    expect(thirdRan).toBe(false);
    expect(sf.inFlight).toBe(0);
  });

  it('forget of a key without a run does nothing', () => {
    const sf = new Singleflight();
    expect(() => sf.forget('none')).not.toThrow();
    expect(sf.inFlight).toBe(0);
  });

  it('rejects every caller of a run whose fn throws synchronously, as Go TestPanicDo, and frees the key', async () => {
    const sf = new Singleflight();
    const err = new Error('invalid memory address');
    await expect(
      sf.do('key', () => {
        throw err;
      }),
    ).rejects.toBe(err);
    // A caller that joins from inside fn (re-entrant) is rejected as well.
    let inner: Promise<unknown> | undefined;
    const outer = sf.doShared('key', () => {
      inner = sf.do('key', () => 'never');
      throw err;
    });
    await expect(outer).rejects.toBe(err);
    await expect(inner).rejects.toBe(err);
    expect(sf.inFlight).toBe(0);
  });

  it('reports shared true to every caller of a run that served several, the first included', async () => {
    const sf = new Singleflight();
    const d = deferred<string>();
    const a = sf.doShared('k', () => d.promise);
    const b = sf.doShared('k', () => d.promise);
    const c = sf.do('k', () => d.promise);
    d.resolve('v');
    expect(await a).toEqual({ value: 'v', shared: true });
    expect(await b).toEqual({ value: 'v', shared: true });
    expect(await c).toBe('v');
    expect(await sf.doShared('k', async () => 'alone')).toEqual({ value: 'alone', shared: false });
  });

  it('counts a caller that left in shared: the run served more than one caller', async () => {
    const sf = new Singleflight();
    const d = deferred<string>();
    const ac = new AbortController();
    const a = sf.doShared('k', () => d.promise);
    const b = sf.doShared('k', () => d.promise, { signal: ac.signal });
    ac.abort('bye');
    await expect(b).rejects.toBe('bye');
    d.resolve('v');
    expect(await a).toEqual({ value: 'v', shared: true });
  });

  it('lets a caller whose signal aborts stop waiting alone, leaving nothing behind', async () => {
    using leaks = trackLeaks();
    const sf = new Singleflight();
    const d = deferred<string>();
    let fnSignal!: AbortSignal;
    const fn = (s: AbortSignal) => {
      fnSignal = s;
      return d.promise;
    };
    const ac1 = new AbortController();
    const ac2 = new AbortController();
    const one = sf.do('k', fn, { signal: ac1.signal });
    const two = sf.do('k', fn, { signal: ac2.signal });
    expect(leaks.check().waiters).toBe(2);
    const reason = new Error('caller one gave up');
    ac1.abort(reason);
    await expect(one).rejects.toBe(reason);
    expect(fnSignal.aborted).toBe(false);
    expect(leaks.check().waiters).toBe(1);
    d.resolve('done');
    expect(await two).toBe('done');
    expect(leaks.check()).toEqual(clean);
  });

  it("aborts fn's signal when every caller has gone, with the last one's reason, and frees the key", async () => {
    using leaks = trackLeaks();
    const sf = new Singleflight();
    let fnSignal!: AbortSignal;
    const fn = (s: AbortSignal) => {
      fnSignal = s;
      return new Promise<string>((_, reject) => s.addEventListener('abort', () => reject(s.reason)));
    };
    const ac1 = new AbortController();
    const ac2 = new AbortController();
    const one = sf.doShared('k', fn, { signal: ac1.signal });
    const two = sf.do('k', fn, { signal: ac2.signal });
    ac2.abort('second');
    await expect(two).rejects.toBe('second');
    expect(fnSignal.aborted).toBe(false);
    expect(sf.inFlight).toBe(1);
    ac1.abort('first');
    await expect(one).rejects.toBe('first');
    expect(fnSignal.aborted).toBe(true);
    expect(fnSignal.reason).toBe('first');
    expect(sf.inFlight).toBe(0);
    // A new caller starts a new run rather than joining the abandoned one.
    expect(await sf.do('k', async () => 'fresh')).toBe('fresh');
    expect(leaks.check()).toEqual(clean);
  });

  it("does not abort fn's signal while a caller without a signal still waits", async () => {
    const sf = new Singleflight();
    const d = deferred<string>();
    let fnSignal!: AbortSignal;
    const ac = new AbortController();
    const plain = sf.do('k', (s) => {
      fnSignal = s;
      return d.promise;
    });
    const leaving = sf.do('k', () => d.promise, { signal: ac.signal });
    ac.abort();
    await expect(leaving).rejects.toMatchObject({ name: 'AbortError' });
    expect(fnSignal.aborted).toBe(false);
    d.resolve('kept');
    expect(await plain).toBe('kept');
  });

  it('gives a fn that declares no parameter a shared signal that never aborts', async () => {
    const sf = new Singleflight();
    const seen: AbortSignal[] = [];
    const ac = new AbortController();
    const d = deferred<void>();
    const fn = function (this: unknown) {
      // biome-ignore lint/complexity/noArguments: reads what a zero-parameter fn is given
      seen.push(arguments[0]);
      return d.promise;
    };
    const p = sf.do('k', fn, { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    d.resolve();
    await sf.do('k', fn);
    expect(seen[0]).toBeInstanceOf(AbortSignal);
    expect(seen[0]!.aborted).toBe(false);
    expect(seen[1]).toBe(seen[0]);
  });

  it('rejects at once with an already-aborted signal and starts nothing', async () => {
    using leaks = trackLeaks();
    const sf = new Singleflight();
    let ran = false;
    await expect(
      sf.do(
        'k',
        () => {
          ran = true;
        },
        { signal: AbortSignal.abort('early') },
      ),
    ).rejects.toBe('early');
    expect(ran).toBe(false);
    expect(sf.inFlight).toBe(0);
    expect(leaks.check()).toEqual(clean);
  });

  it('removes the listener of a caller whose run completes normally', async () => {
    using leaks = trackLeaks();
    const sf = new Singleflight();
    const ac = new AbortController();
    await sf.do('k', async () => 1, { signal: ac.signal });
    await sf.doShared('k', async () => 1, { signal: ac.signal });
    await sf.do('k', () => Promise.reject(new Error('e')), { signal: ac.signal }).catch(() => {});
    expect(leaks.check()).toEqual(clean);
  });

  it('counts keys with a run in flight', async () => {
    const sf = new Singleflight();
    const d = deferred<void>();
    sf.do('a', () => d.promise);
    sf.do('b', () => d.promise);
    sf.do('a', () => d.promise);
    expect(sf.inFlight).toBe(2);
    d.resolve();
    await tick();
    expect(sf.inFlight).toBe(0);
  });

  it('rejects bad arguments at once, naming them', () => {
    const sf = new Singleflight();
    expect(() => sf.do(1 as any, () => 1)).toThrow(/Singleflight.do: `key` must be a string/);
    expect(() => sf.doShared('k', 'x' as any)).toThrow(/`fn` must be a function/);
    expect(() => sf.do('k', () => 1, { signal: 'no' as any })).toThrow(TypeError);
    expect(() => sf.forget(null as any)).toThrow(TypeError);
  });
});
