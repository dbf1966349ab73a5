import { describe, expect, it } from 'vitest';
import { Pool } from 'weftjs';

describe('Pool', () => {
  it('get creates when empty and reuses what was put back, last in first out', () => {
    let made = 0;
    const pool = new Pool({ create: () => ({ id: ++made }) });
    const a = pool.get();
    const b = pool.get();
    expect(made).toBe(2);
    pool.put(a);
    pool.put(b);
    expect(pool.size).toBe(2);
    expect(pool.get()).toBe(b);
    expect(pool.get()).toBe(a);
    expect(pool.get()).toEqual({ id: 3 });
  });

  it('put resets the items it keeps and drops those beyond max without resetting them', () => {
    const resets: number[][] = [];
    const pool = new Pool<number[]>({
      create: () => [],
      reset: (b) => {
        resets.push([...b]);
        b.length = 0;
      },
      max: 1,
    });
    pool.put([1]);
    pool.put([2]);
    expect(pool.size).toBe(1);
    expect(resets).toEqual([[1]]);
    expect(pool.get()).toEqual([]);
  });

  it('max 0 keeps nothing', () => {
    const pool = new Pool({ create: () => ({}), max: 0 });
    pool.put(pool.get());
    expect(pool.size).toBe(0);
  });

  it('rejects bad options at once', () => {
    expect(() => new Pool({} as never)).toThrow(TypeError);
    expect(() => new Pool({ create: () => 1, reset: 1 as never })).toThrow(TypeError);
    expect(() => new Pool({ create: () => 1, max: -1 })).toThrow(RangeError);
  });
});
