import { describe, expect, it } from 'vitest';
import { SyncMap } from 'weftjs';
import { flush } from '../test/support.js';

describe('SyncMap', () => {
  it('has the semantics of Go’s sync.Map operations', () => {
    const m = new SyncMap<string, number | undefined>();
    expect(m.load('a')).toBeUndefined();
    m.store('a', 1);
    expect(m.loadOrStore('a', 2)).toEqual({ value: 1, loaded: true });
    expect(m.loadOrStore('u', undefined)).toEqual({ value: undefined, loaded: false });
    expect(m.loadOrStore('u', 5)).toEqual({ value: undefined, loaded: true });
    expect(m.swap('a', 3)).toEqual({ previous: 1, loaded: true });
    expect(m.swap('b', 4)).toEqual({ previous: undefined, loaded: false });
    expect(m.compareAndSwap('a', 1, 9)).toBe(false);
    expect(m.compareAndSwap('a', 3, 9)).toBe(true);
    expect(m.compareAndSwap('zz', undefined, 1)).toBe(false);
    expect(m.compareAndDelete('b', 5)).toBe(false);
    expect(m.compareAndDelete('b', 4)).toBe(true);
    expect(m.loadAndDelete('a')).toEqual({ value: 9, loaded: true });
    expect(m.loadAndDelete('a')).toEqual({ value: undefined, loaded: false });
    expect(m.size).toBe(1);
    m.delete('u');
    expect(m.size).toBe(0);
  });

  it('compares NaN equal to itself in compareAndSwap', () => {
    const m = new SyncMap<string, number>();
    m.store('x', Number.NaN);
    expect(m.compareAndSwap('x', Number.NaN, 1)).toBe(true);
  });

  it('range visits in insertion order and stops when fn returns false', () => {
    const m = new SyncMap<number, string>();
    for (const k of [3, 1, 2]) m.store(k, String(k));
    const all: number[] = [];
    m.range((k) => void all.push(k));
    expect(all).toEqual([3, 1, 2]);
    const some: number[] = [];
    m.range((k) => {
      some.push(k);
      return k !== 1;
    });
    expect(some).toEqual([3, 1]);
    m.clear();
    expect(m.size).toBe(0);
  });

  it('loadOrCompute runs one compute per key at a time and shares it with concurrent callers', async () => {
    const m = new SyncMap<string, number>();
    let calls = 0;
    const compute = async (k: string) => {
      calls++;
      await flush();
      return k.length;
    };
    const got = await Promise.all([m.loadOrCompute('abc', compute), m.loadOrCompute('abc', compute)]);
    expect(got).toEqual([3, 3]);
    expect(calls).toBe(1);
    expect(await m.loadOrCompute('abc', compute)).toBe(3);
    expect(calls).toBe(1);
    expect(m.load('abc')).toBe(3);
  });

  it('a failed compute rejects every caller sharing it, stores nothing, and the next call computes again', async () => {
    const m = new SyncMap<string, number>();
    let calls = 0;
    const flaky = async () => {
      await flush();
      if (++calls === 1) throw new Error('first fails');
      return 7;
    };
    const [a, b] = await Promise.allSettled([m.loadOrCompute('k', flaky), m.loadOrCompute('k', flaky)]);
    expect(a).toMatchObject({ status: 'rejected', reason: { message: 'first fails' } });
    expect(b).toMatchObject({ status: 'rejected', reason: { message: 'first fails' } });
    expect(m.size).toBe(0);
    expect(await m.loadOrCompute('k', flaky)).toBe(7);
    await expect(
      m.loadOrCompute('s', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(m.load('s')).toBeUndefined();
  });

  it('a value stored while compute runs wins over the computed one', async () => {
    const m = new SyncMap<string, number>();
    const p = m.loadOrCompute('k', async () => {
      await flush();
      return 1;
    });
    m.store('k', 2);
    expect(await p).toBe(2);
    expect(m.load('k')).toBe(2);
  });

  it('a synchronous compute stores its value at once', () => {
    const m = new SyncMap<string, number>();
    void m.loadOrCompute('k', () => 5);
    expect(m.load('k')).toBe(5);
    expect(() => m.loadOrCompute('k', 1 as never)).toThrow(TypeError);
  });
});
