import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { trackLeaks } from 'weftjs/testing';
import { Waiter, WaitQueue } from './waiter.js';

class Item extends Waiter<string> {
  constructor(
    readonly id: number,
    signal?: AbortSignal,
  ) {
    super('test.wait', signal);
  }
}

const ids = (q: WaitQueue<Item>): number[] => {
  const out: number[] = [];
  for (let n = q.head; n !== null; n = n.next as Item | null) out.push(n.id);
  return out;
};

// Backwards too, so that a broken prev link shows.
const idsBack = (q: WaitQueue<Item>): number[] => {
  const out: number[] = [];
  for (let n = q.tail; n !== null; n = n.prev as Item | null) out.unshift(n.id);
  return out;
};

// A signal that counts the abort listeners attached to it.
function countingSignal(): { ac: AbortController; count: () => number } {
  const ac = new AbortController();
  const live = new Set<unknown>();
  const add = ac.signal.addEventListener.bind(ac.signal);
  const remove = ac.signal.removeEventListener.bind(ac.signal);
  ac.signal.addEventListener = ((t: string, l: any) => {
    live.add(l);
    add(t, l);
  }) as typeof ac.signal.addEventListener;
  ac.signal.removeEventListener = ((t: string, l: any) => {
    live.delete(l);
    remove(t, l);
  }) as typeof ac.signal.removeEventListener;
  return { ac, count: () => live.size };
}

let leaks: ReturnType<typeof trackLeaks>;
beforeEach(() => {
  leaks = trackLeaks();
});
afterEach(() => leaks.stop());

describe('WaitQueue', () => {
  it('shifts in the order pushed and counts its length', () => {
    const q = new WaitQueue<Item>();
    expect(q.shift()).toBeNull();
    const items = [1, 2, 3].map((i) => new Item(i));
    for (const it of items) q.push(it);
    expect(q.length).toBe(3);
    expect(ids(q)).toEqual([1, 2, 3]);
    expect(q.shift()).toBe(items[0]);
    expect(q.length).toBe(2);
    expect(items[0]!.queue).toBeNull();
    expect(ids(q)).toEqual([2, 3]);
    expect(idsBack(q)).toEqual([2, 3]);
    for (const it of items) it.settle('');
  });

  it('removes from the head, the middle and the tail, and refuses nodes it does not hold', () => {
    const q = new WaitQueue<Item>();
    const other = new WaitQueue<Item>();
    const items = [1, 2, 3, 4, 5].map((i) => new Item(i));
    for (const it of items) q.push(it);
    expect(q.remove(items[2]!)).toBe(true);
    expect(q.remove(items[2]!)).toBe(false);
    expect(other.remove(items[0]!)).toBe(false);
    expect(q.remove(items[0]!)).toBe(true);
    expect(q.remove(items[4]!)).toBe(true);
    expect(ids(q)).toEqual([2, 4]);
    expect(idsBack(q)).toEqual([2, 4]);
    expect(q.length).toBe(2);
    expect(q.head).toBe(items[1]);
    expect(q.tail).toBe(items[3]);
    q.remove(items[1]!);
    q.remove(items[3]!);
    expect(q.head).toBeNull();
    expect(q.tail).toBeNull();
    expect(q.length).toBe(0);
    for (const it of items) it.settle('');
  });

  it('takeAll empties the queue and returns the waiters in order', () => {
    const q = new WaitQueue<Item>();
    const items = [1, 2, 3].map((i) => new Item(i));
    for (const it of items) q.push(it);
    expect(q.takeAll()).toEqual(items);
    expect(q.length).toBe(0);
    expect(q.head).toBeNull();
    expect(items.every((i) => i.queue === null)).toBe(true);
    expect(q.takeAll()).toEqual([]);
    for (const it of items) it.settle('');
  });

  it('agrees with an array model under any sequence of push, shift, remove and takeAll', () => {
    const op = fc.oneof(
      fc.constant({ kind: 'push' as const }),
      fc.constant({ kind: 'shift' as const }),
      fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
      fc.constant({ kind: 'takeAll' as const }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const q = new WaitQueue<Item>();
        let model: Item[] = [];
        const all: Item[] = [];
        let next = 0;
        for (const o of ops) {
          if (o.kind === 'push') {
            const it = new Item(next++);
            all.push(it);
            q.push(it);
            model.push(it);
          } else if (o.kind === 'shift') {
            expect(q.shift()).toBe(model.shift() ?? null);
          } else if (o.kind === 'remove') {
            if (all.length === 0) continue;
            const it = all[o.pick % all.length]!;
            const i = model.indexOf(it);
            expect(q.remove(it)).toBe(i >= 0);
            if (i >= 0) model.splice(i, 1);
          } else {
            expect(q.takeAll()).toEqual(model);
            model = [];
          }
          expect(q.length).toBe(model.length);
          expect(ids(q)).toEqual(model.map((m) => m.id));
          expect(idsBack(q)).toEqual(model.map((m) => m.id));
          expect(q.head).toBe(model[0] ?? null);
          expect(q.tail).toBe(model.at(-1) ?? null);
        }
        for (const it of all) it.settle('');
      }),
    );
  });
});

describe('Waiter', () => {
  it('resolves with the value it is settled with, once', async () => {
    const w = new Item(1);
    expect(w.settled).toBe(false);
    w.settle('a');
    w.settle('b');
    w.fail(new Error('late'));
    expect(w.settled).toBe(true);
    await expect(w.promise).resolves.toBe('a');
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('rejects with what it is failed with, and removes its listener', async () => {
    const { ac, count } = countingSignal();
    const w = new Item(1, ac.signal);
    expect(count()).toBe(1);
    const err = new Error('closed');
    w.fail(err);
    expect(count()).toBe(0);
    await expect(w.promise).rejects.toBe(err);
  });

  it('is tracked as a waiter while pending and untracked once settled', () => {
    const w = new Item(1);
    expect(leaks.check()).toMatchObject({
      waiters: 1,
      details: [expect.stringMatching(/^waiter test\.wait at .*waiter\.test\.ts/)],
    });
    w.settle('');
    expect(leaks.check().waiters).toBe(0);
  });

  it('on abort leaves its queue, unlistens, calls onAbort with wasHead, then rejects with the reason as is', async () => {
    const q = new WaitQueue<Item>();
    const calls: [number, boolean, number, boolean][] = [];
    q.onAbort = (w, wasHead) => calls.push([w.id, wasHead, q.length, w.settled]);
    const a = countingSignal();
    const b = countingSignal();
    const first = new Item(1, a.ac.signal);
    const second = new Item(2, b.ac.signal);
    q.push(first);
    q.push(second);
    const reasonB = { not: 'an error' };
    b.ac.abort(reasonB);
    expect(calls).toEqual([[2, false, 1, true]]);
    expect(b.count()).toBe(0);
    await expect(second.promise).rejects.toBe(reasonB);
    a.ac.abort();
    expect(calls).toEqual([
      [2, false, 1, true],
      [1, true, 0, true],
    ]);
    expect(a.count()).toBe(0);
    expect(ids(q)).toEqual([]);
    await expect(first.promise).rejects.toMatchObject({ name: 'AbortError' });
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('settling after an abort does nothing, and an abort after settling does nothing', async () => {
    const ac = new AbortController();
    const w = new Item(1, ac.signal);
    ac.abort('gone');
    w.settle('too late');
    await expect(w.promise).rejects.toBe('gone');

    const ac2 = new AbortController();
    const q = new WaitQueue<Item>();
    let aborted = 0;
    q.onAbort = () => aborted++;
    const w2 = new Item(2, ac2.signal);
    q.push(w2);
    q.shift();
    w2.settle('ok');
    ac2.abort();
    expect(aborted).toBe(0);
    await expect(w2.promise).resolves.toBe('ok');
  });

  it('aborts cleanly when it is in no queue', async () => {
    const ac = new AbortController();
    const w = new Item(1, ac.signal);
    ac.abort('x');
    await expect(w.promise).rejects.toBe('x');
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });
});
