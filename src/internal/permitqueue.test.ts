import { describe, expect, it } from 'vitest';
import { PermitQueue } from './permitqueue.js';
import { Waiter } from './waiter.js';

const noop = (): void => {};

const names = new Map<unknown, string>();
/** A distinct function, known by `name` to `drain`. */
function named(name: string): () => void {
  const fn = (): void => {};
  names.set(fn, name);
  return fn;
}

/** Takes every entry, naming each: its function's name, or the waiter's op, with the weight it was taken with. */
function drain(q: PermitQueue): string[] {
  const out: string[] = [];
  while (q.length !== 0) {
    const peeked = q.headWeight();
    q.take();
    const name = q.waiter === null ? (names.get(q.fn) ?? '?') : q.waiter.op;
    out.push(q.weight === peeked ? `${name}:${q.weight}` : `${name}: took ${q.weight}, peeked ${peeked}`);
    q.clearTaken();
  }
  return out;
}

describe('PermitQueue', () => {
  it('gives back calls and waiters in the order they were queued, with their weights', () => {
    const q = new PermitQueue(4);
    q.pushCall(named('a'), noop, 1, 'test');
    q.pushWaiter(new Waiter('b', undefined), 2);
    q.pushCall(named('c'), noop, 0, 'test');
    for (let i = 0; i < 10; i++) q.pushWaiter(new Waiter(`w${i}`, undefined), i); // grows past 4
    expect(q.length).toBe(13);
    expect(drain(q)).toEqual(['a:1', 'b:2', 'c:0', ...Array.from({ length: 10 }, (_, i) => `w${i}:${i}`)]);
  });

  it('skips a removed waiter, wherever it was, and tells the head apart', () => {
    const q = new PermitQueue();
    const w1 = new Waiter('w1', undefined);
    const w2 = new Waiter('w2', undefined);
    const w3 = new Waiter('w3', undefined);
    q.pushWaiter(w1, 1);
    q.pushWaiter(w2, 2);
    q.pushWaiter(w3, 3);
    expect(q.head).toBe(w1);
    expect(q.remove(w1)).toBe(true);
    expect(q.remove(w1)).toBe(false);
    expect(q.head).toBe(w2);
    expect(q.headWeight()).toBe(2);
    expect(q.remove(w3)).toBe(true);
    expect(q.length).toBe(1);
    expect(drain(q)).toEqual(['w2:2']);
    expect(q.head).toBe(null);
    expect(q.headWeight()).toBe(-1);
  });

  it('stays small when waiters keep leaving behind a head that never moves', () => {
    const q = new PermitQueue();
    q.pushCall(named('stuck'), noop, 1, 'test');
    for (let i = 0; i < 100_000; i++) {
      const w = new Waiter('timed out', undefined);
      q.pushWaiter(w, 1);
      q.remove(w);
    }
    expect(q.length).toBe(1);
    expect(q.capacity).toBeLessThanOrEqual(256);
    const w = new Waiter('last', undefined);
    q.pushWaiter(w, 1);
    expect(drain(q)).toEqual(['stuck:1', 'last:1']);
  });

  it('gives a large ring back once a burst has drained, and keeps a moderate one', () => {
    const moderate = new PermitQueue();
    for (let i = 0; i < 40_000; i++) moderate.pushCall(noop, noop, 1, 'test');
    drain(moderate);
    expect(moderate.capacity).toBe(65_536);
    const q = new PermitQueue();
    const burst = named('burst');
    for (let i = 0; i < 100_000; i++) q.pushCall(burst, noop, 1, 'test');
    expect(q.capacity).toBeGreaterThanOrEqual(100_000);
    expect(new Set(drain(q))).toEqual(new Set(['burst:1']));
    expect(q.capacity).toBe(16);
  });

  it('keeps nothing alive through what it last took', () => {
    const q = new PermitQueue();
    q.pushCall(noop, noop, 1, 'test');
    q.take();
    expect(q.fn).toBe(noop);
    q.clearTaken();
    expect([q.fn, q.resolve, q.waiter]).toEqual([null, null, null]);
  });
});
