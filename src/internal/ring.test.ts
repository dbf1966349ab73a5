import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ring } from './ring.js';

describe('Ring', () => {
  it('is a FIFO through push and shift, growing past its initial capacity', () => {
    const r = new Ring<number>(2);
    for (let i = 0; i < 100; i++) r.push(i);
    expect(r.length).toBe(100);
    expect(r.at(0)).toBe(0);
    const out: (number | undefined)[] = [];
    while (r.length > 0) out.push(r.shift());
    expect(out).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(r.shift()).toBeUndefined();
  });

  it('indexes from the head, wrapping around, and clears', () => {
    const r = new Ring<string>(4);
    for (const x of ['y', 'z', 'a', 'b']) r.push(x);
    r.shift();
    r.shift();
    r.push('c');
    r.push('d');
    expect([0, 1, 2, 3].map((i) => r.at(i))).toEqual(['a', 'b', 'c', 'd']);
    expect(r.at(-1)).toBeUndefined();
    expect(r.at(4)).toBeUndefined();
    r.clear();
    expect(r.length).toBe(0);
    expect(r.at(0)).toBeUndefined();
  });

  it('agrees with an array model under any sequence of operations', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), v: fc.integer() }),
      fc.constant({ kind: 'shift' as const }),
      fc.constant({ kind: 'clear' as const }),
      fc.record({ kind: fc.constant('at' as const), i: fc.integer({ min: -2, max: 70 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.array(op, { maxLength: 300 }), (cap, ops) => {
        const r = new Ring<number>(cap);
        let model: number[] = [];
        for (const o of ops) {
          switch (o.kind) {
            case 'push':
              r.push(o.v);
              model.push(o.v);
              break;
            case 'shift':
              expect(r.shift()).toBe(model.shift());
              break;
            case 'clear':
              r.clear();
              model = [];
              break;
            case 'at':
              expect(r.at(o.i)).toBe(o.i < 0 ? undefined : model[o.i]);
              break;
          }
          expect(r.length).toBe(model.length);
        }
        expect(Array.from({ length: r.length }, (_, i) => r.at(i))).toEqual(model);
      }),
    );
  });
});
