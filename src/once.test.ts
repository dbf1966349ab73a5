// Once, onceFunc, onceValue: the intent of Go's once_test.go and
// oncefunc_test.go (runs once, concurrent callers wait, a panic counts as
// done, OnceFunc re-panics, OnceValue caches).
import { describe, expect, it } from 'vitest';
import { Once, onceFunc, onceValue } from 'weftjs';
import { flush } from '../test/support.js';

describe('Once', () => {
  it('TestOnce: fn runs once and every caller returns only after it finished', async () => {
    const once = new Once();
    let runs = 0;
    let finished = false;
    const fn = async () => {
      runs++;
      await flush();
      finished = true;
    };
    const calls = Array.from({ length: 10 }, () => once.do(fn).then(() => finished));
    expect(once.done).toBe(false);
    expect(await Promise.all(calls)).toEqual(Array(10).fill(true));
    await once.do(fn);
    expect(runs).toBe(1);
    expect(once.done).toBe(true);
  });

  it('TestOncePanic: a fn that throws counts as done; only its caller sees the error', async () => {
    const once = new Once();
    const boom = new Error('boom');
    await expect(
      once.do(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(once.done).toBe(true);
    let ran = false;
    await once.do(() => {
      ran = true;
    });
    expect(ran).toBe(false);
  });

  it('concurrent callers of a rejecting fn resolve once it settles; the first rejects', async () => {
    const once = new Once();
    let fail!: (e: Error) => void;
    const first = once.do(() => new Promise((_, rej) => (fail = rej)));
    const second = once.do(() => {});
    expect(once.done).toBe(false);
    fail(new Error('nope'));
    await expect(first).rejects.toThrow('nope');
    await expect(second).resolves.toBeUndefined();
    expect(once.done).toBe(true);
  });

  it('rejects a non-function at once', () => {
    expect(() => new Once().do(1 as never)).toThrow(TypeError);
  });
});

describe('onceFunc', () => {
  it('TestOnceFunc: calls fn once and returns its first result on every call', () => {
    let calls = 0;
    const f = onceFunc((x: number) => {
      calls++;
      return x * 2;
    });
    expect([f(1), f(2), f(3)]).toEqual([2, 2, 2]);
    expect(calls).toBe(1);
  });

  it('TestOnceFuncPanic: the first error is thrown again on every call and fn is not retried', () => {
    let calls = 0;
    const boom = new Error('boom');
    const f = onceFunc(() => {
      calls++;
      throw boom;
    });
    expect(() => f()).toThrow(boom);
    expect(() => f()).toThrow(boom);
    expect(calls).toBe(1);
  });
});

describe('onceValue', () => {
  it('TestOnceValue: computes once, shares the value with concurrent and later callers', async () => {
    let calls = 0;
    const v = onceValue(async () => {
      calls++;
      await flush();
      return { n: 1 };
    });
    const [a, b] = await Promise.all([v(), v()]);
    expect(a).toBe(b);
    expect(await v()).toBe(a);
    expect(calls).toBe(1);
  });

  it('caches a rejection and a synchronous throw, never calling fn again', async () => {
    let calls = 0;
    const v = onceValue((): Promise<number> => {
      calls++;
      return Promise.reject(new Error('down'));
    });
    await expect(v()).rejects.toThrow('down');
    await expect(v()).rejects.toThrow('down');
    const s = onceValue((): number => {
      calls++;
      throw new Error('sync');
    });
    await expect(s()).rejects.toThrow('sync');
    await expect(s()).rejects.toThrow('sync');
    expect(calls).toBe(2);
  });
});
