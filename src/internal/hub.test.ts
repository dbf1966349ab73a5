import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { trackLeaks } from 'weftjs/testing';
import { attach, detach } from './hub.js';

const real = (s: AbortSignal) => getEventListeners(s, 'abort').length;
const listener = (log: unknown[], name: unknown) => ({ handleEvent: (e: Event) => log.push([name, e.type]) });

describe('attach and detach', () => {
  it('give a signal one real listener however many are attached, and remove it with the last', () => {
    using leaks = trackLeaks();
    const ac = new AbortController();
    const ls = Array.from({ length: 50 }, (_, i) => listener([], i));
    for (const l of ls) attach(ac.signal, l, 'test.attach');
    expect(real(ac.signal)).toBe(1);
    expect(leaks.check().listeners).toBe(50);
    for (const l of [...ls].reverse()) detach(ac.signal, l);
    expect(real(ac.signal)).toBe(0);
    expect(leaks.check().listeners).toBe(0);
    detach(ac.signal, ls[0]!);
    detach(new AbortController().signal, ls[0]!);
  });

  it('run the listeners in the order attached, with the abort event, skipping those detached meanwhile', () => {
    const ac = new AbortController();
    const log: unknown[] = [];
    const a = listener(log, 'a');
    const c = listener(log, 'c');
    const b = {
      handleEvent() {
        log.push(['b', 'abort']);
        detach(ac.signal, c);
      },
    };
    attach(ac.signal, a, 'test');
    attach(ac.signal, b, 'test');
    attach(ac.signal, c, 'test');
    attach(ac.signal, a, 'test');
    ac.abort();
    expect(log).toEqual([
      ['a', 'abort'],
      ['b', 'abort'],
    ]);
  });

  it('keep running the others when one throws, and report the error asynchronously', () => {
    const queued: (() => void)[] = [];
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((fn) => void queued.push(fn));
    try {
      const ac = new AbortController();
      const log: unknown[] = [];
      const bug = new Error('listener bug');
      attach(
        ac.signal,
        {
          handleEvent() {
            throw bug;
          },
        },
        'test',
      );
      attach(ac.signal, listener(log, 'after'), 'test');
      ac.abort();
      expect(log).toEqual([['after', 'abort']]);
      expect(queued).toHaveLength(1);
      expect(() => queued[0]!()).toThrow(bug);
    } finally {
      spy.mockRestore();
    }
  });

  it('keep separate hubs for separate signals', () => {
    const a = new AbortController();
    const b = new AbortController();
    const log: unknown[] = [];
    attach(a.signal, listener(log, 'a'), 'test');
    attach(b.signal, listener(log, 'b'), 'test');
    b.abort();
    expect(log).toEqual([['b', 'abort']]);
    expect(real(a.signal)).toBe(1);
  });
});
