import { describe, expect, it } from 'vitest';
import { TestClock, trackLeaks } from 'weftjs/testing';

describe('TestClock', () => {
  it('starts at 0 or at the given time, and rejects a start that is not finite', () => {
    expect(new TestClock().now()).toBe(0);
    expect(new TestClock(1_700_000_000_000).now()).toBe(1_700_000_000_000);
    expect(() => new TestClock(Number.NaN)).toThrow(TypeError);
    expect(() => new TestClock('0' as unknown as number)).toThrow(/TestClock: `start`/);
  });

  it('fires timers in time order, ties in the order they were scheduled, each at its own time', async () => {
    const clock = new TestClock();
    const log: string[] = [];
    const at = (name: string, ms: number) => clock.setTimeout(() => log.push(`${name}@${clock.now()}`), ms);
    at('c', 30);
    at('a1', 10);
    at('b', 20);
    at('a2', 10);
    at('a3', 10);
    at('zero', 0);
    at('negative', -5);
    at('nan', Number.NaN);
    expect(clock.pending).toBe(8);
    await clock.advance(25);
    expect(log).toEqual(['zero@0', 'negative@0', 'nan@0', 'a1@10', 'a2@10', 'a3@10', 'b@20']);
    expect(clock.now()).toBe(25);
    expect(clock.pending).toBe(1);
    await clock.advance(5);
    expect(log.at(-1)).toBe('c@30');
  });

  it('lets promise callbacks run between two timers that fall due in one advance', async () => {
    const clock = new TestClock();
    const log: string[] = [];
    clock.setTimeout(() => {
      log.push('timer 1');
      Promise.resolve()
        .then(() => log.push('microtask after 1'))
        .then(() => log.push('second microtask after 1'));
    }, 10);
    clock.setTimeout(() => log.push('timer 2'), 10);
    await clock.advance(10);
    expect(log).toEqual(['timer 1', 'microtask after 1', 'second microtask after 1', 'timer 2']);
  });

  it('fires a timer scheduled during an advance if it falls due within it', async () => {
    const clock = new TestClock();
    const log: number[] = [];
    clock.setTimeout(() => {
      log.push(clock.now());
      clock.setTimeout(() => log.push(clock.now()), 5);
      clock.setTimeout(() => log.push(clock.now()), 50);
    }, 10);
    await clock.advance(20);
    expect(log).toEqual([10, 15]);
    expect(clock.pending).toBe(1);
  });

  it('clearTimeout cancels a pending timer and ignores fired, cancelled and foreign handles', async () => {
    const clock = new TestClock();
    const other = new TestClock();
    let fired = 0;
    const keep = clock.setTimeout(() => fired++, 10);
    const drop = clock.setTimeout(() => fired++, 5);
    const mine = other.setTimeout(() => {}, 5);
    clock.clearTimeout(drop);
    clock.clearTimeout(drop);
    clock.clearTimeout(mine);
    clock.clearTimeout(undefined);
    clock.clearTimeout(42);
    expect(clock.pending).toBe(1);
    expect(other.pending).toBe(1);
    await clock.advance(10);
    clock.clearTimeout(keep);
    expect(fired).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it('keeps time order through many removals (heap invariants)', async () => {
    const clock = new TestClock();
    const fired: number[] = [];
    const handles = Array.from({ length: 200 }, (_, i) => {
      const ms = (i * 7919) % 101;
      return { ms, i, h: clock.setTimeout(() => fired.push(ms * 1000 + i), ms) };
    });
    const kept = handles.filter((x) => x.i % 3 !== 0);
    for (const x of handles) if (x.i % 3 === 0) clock.clearTimeout(x.h);
    await clock.runAll();
    expect(fired).toEqual(kept.map((x) => x.ms * 1000 + x.i).sort((a, b) => a - b));
  });

  it('advance moves time by exactly ms and validates ms', async () => {
    const clock = new TestClock(5);
    await clock.advance(0);
    expect(clock.now()).toBe(5);
    await clock.advance(2.5);
    expect(clock.now()).toBe(7.5);
    await expect(clock.advance(-1)).rejects.toThrow(RangeError);
    await expect(clock.advance(Number.NaN)).rejects.toThrow(RangeError);
    await expect(clock.advance(Number.POSITIVE_INFINITY)).rejects.toThrow(/TestClock.advance: `ms`/);
  });

  it('runAll fires every timer, moving time to the last, and stops past its limit', async () => {
    const clock = new TestClock();
    const log: number[] = [];
    clock.setTimeout(() => log.push(clock.now()), 100);
    clock.setTimeout(() => log.push(clock.now()), 3000);
    await clock.runAll();
    expect(log).toEqual([100, 3000]);
    expect(clock.now()).toBe(3000);
    expect(clock.pending).toBe(0);

    const tick = () => clock.setTimeout(tick, 10);
    tick();
    await expect(clock.runAll(50)).rejects.toThrow(/more than 50 timers fired/);
    expect(clock.now()).toBe(3000 + 500);
  });

  it('rejects a callback that is not a function', () => {
    const clock = new TestClock();
    expect(() => clock.setTimeout('code' as unknown as () => void, 1)).toThrow(TypeError);
  });

  it('is not itself tracked by trackLeaks: only weft operations are', () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    clock.setTimeout(() => {}, 1);
    expect(leaks.check().timers).toBe(0);
  });
});
