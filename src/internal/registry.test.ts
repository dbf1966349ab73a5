import { describe, expect, it } from 'vitest';
import { listen, unlisten } from './abort.js';
import { observe, registry, track, untrack } from './registry.js';

describe('registry', () => {
  it('is one object per process, on globalThis under a registered symbol', () => {
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('weft.registry')]).toBe(registry);
  });

  it('counts observers, and forgets every entry when the last one stops', () => {
    const active = registry.active;
    const a = observe(false);
    const b = observe(true);
    expect(registry.active).toBe(active + 2);
    expect(registry.stacks).toBeGreaterThanOrEqual(1);
    const key = {};
    track(key, 'waiter', 'test.op');
    expect(registry.live.get(key)).toMatchObject({ kind: 'waiter', op: 'test.op' });
    b();
    b();
    expect(registry.active).toBe(active + 1);
    expect(registry.live.has(key)).toBe(true);
    untrack(key);
    expect(registry.live.has(key)).toBe(false);
    track(key, 'timer', 'test.op');
    a();
    expect(registry.active).toBe(active);
    if (active === 0) expect(registry.live.size).toBe(0);
  });

  it('captures the caller stack only while an observer wants stacks', () => {
    const stop = observe(false);
    const plain = {};
    track(plain, 'waiter', 'test.op');
    expect(registry.live.get(plain)!.stack).toBeUndefined();
    untrack(plain);
    stop();
    const stopStacks = observe(true);
    const withStack = {};
    (function callerOfTrack() {
      track(withStack, 'waiter', 'test.op');
    })();
    const stack = registry.live.get(withStack)!.stack!;
    expect(stack).toMatch(/callerOfTrack/);
    expect(stack).not.toMatch(/^Error/);
    untrack(withStack);
    stopStacks();
  });

  it('records listeners added through listen and forgets them through unlisten', () => {
    const stop = observe(false);
    const ac = new AbortController();
    const listener = { handleEvent() {} };
    listen(ac.signal, listener, 'test.listen');
    expect(registry.live.get(listener)).toMatchObject({ kind: 'listener', op: 'test.listen' });
    unlisten(ac.signal, listener);
    unlisten(ac.signal, listener);
    expect(registry.live.has(listener)).toBe(false);
    stop();
  });
});
