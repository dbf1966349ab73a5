import { describe, expect, it } from 'vitest';
import { systemClock } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';
import { checkClock, startTimer, stopTimer } from './timer.js';

describe('startTimer and stopTimer', () => {
  it('run fn on the clock after ms, tracked as a timer until it fires', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    let fired = 0;
    startTimer(clock, () => fired++, 10, 'test.timer');
    expect(leaks.check()).toMatchObject({
      timers: 1,
      details: [expect.stringMatching(/^timer test\.timer at .*timer\.test\.ts/)],
    });
    await clock.advance(10);
    expect(fired).toBe(1);
    expect(leaks.check().timers).toBe(0);
  });

  it('stopTimer cancels a pending timer and untracks it, and is a no-op after it fired', async () => {
    using leaks = trackLeaks();
    const clock = new TestClock();
    let fired = 0;
    const h = startTimer(clock, () => fired++, 10, 'test.timer');
    stopTimer(clock, h);
    expect(clock.pending).toBe(0);
    expect(leaks.check().timers).toBe(0);
    await clock.advance(20);
    expect(fired).toBe(0);
    const h2 = startTimer(clock, () => fired++, 5, 'test.timer');
    await clock.advance(5);
    stopTimer(clock, h2);
    expect(fired).toBe(1);
    expect(leaks.check().timers).toBe(0);
  });

  it('schedules straight on the clock while nobody observes, and stops such timers too', async () => {
    const clock = new TestClock();
    let fired = 0;
    const h = startTimer(clock, () => fired++, 1, 'test.timer');
    expect(clock.pending).toBe(1);
    stopTimer(clock, h);
    expect(clock.pending).toBe(0);
    // A timer started before tracking and stopped during it is not counted.
    const h2 = startTimer(clock, () => fired++, 1, 'test.timer');
    using leaks = trackLeaks();
    stopTimer(clock, h2);
    expect(leaks.check().timers).toBe(0);
    await clock.runAll();
    expect(fired).toBe(0);
  });
});

describe('checkClock', () => {
  it('returns the fallback for undefined, the clock when valid, and names a bad one', () => {
    const clock = new TestClock();
    expect(checkClock(undefined, 'Op', systemClock)).toBe(systemClock);
    expect(checkClock(clock, 'Op', systemClock)).toBe(clock);
    expect(() => checkClock(null, 'Op', systemClock)).toThrow(
      Object.assign(new TypeError('Op: `clock` must be a Clock (now, setTimeout, clearTimeout), got null'), {
        code: 'ERR_INVALID_ARG_TYPE',
      }),
    );
    expect(() => checkClock({ now: () => 0, setTimeout: () => 0 }, 'Op', systemClock)).toThrow(TypeError);
    expect(() => checkClock(Date, 'Op', systemClock)).toThrow(TypeError);
  });
});

describe('startTimer with delays past 2^31 - 1 ms', () => {
  it('chains timers so that a 30-day delay fires after 30 days, not at once', async () => {
    const clock = new TestClock();
    let fired = 0;
    startTimer(clock, () => fired++, 30 * 86_400_000, 'test.long');
    await clock.advance(2_147_483_647);
    expect(fired).toBe(0);
    await clock.advance(30 * 86_400_000 - 2_147_483_647 - 1);
    expect(fired).toBe(0);
    await clock.advance(1);
    expect(fired).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it('stops a chained timer at any link', async () => {
    const clock = new TestClock();
    let fired = 0;
    const h = startTimer(clock, () => fired++, 5_000_000_000, 'test.long');
    await clock.advance(3_000_000_000);
    stopTimer(clock, h);
    expect(clock.pending).toBe(0);
    await clock.advance(5_000_000_000);
    expect(fired).toBe(0);
  });
});
