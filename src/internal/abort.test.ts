import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { trackLeaks } from 'weftjs/testing';
import { listen, unlisten } from './abort.js';

const real = (s: AbortSignal) => getEventListeners(s, 'abort').length;
const listener = (log: unknown[], name: unknown) => ({ handleEvent: (e: Event) => log.push([name, e.type]) });

describe('listen and unlisten', () => {
  it('give a signal one real listener however many are attached, and remove it with the last', () => {
    using leaks = trackLeaks();
    const ac = new AbortController();
    const ls = Array.from({ length: 50 }, (_, i) => listener([], i));
    for (const l of ls) listen(ac.signal, l, 'test.attach');
    expect(real(ac.signal)).toBe(1);
    expect(leaks.check().listeners).toBe(50);
    for (const l of [...ls].reverse()) unlisten(ac.signal, l);
    expect(real(ac.signal)).toBe(0);
    expect(leaks.check().listeners).toBe(0);
    unlisten(ac.signal, ls[0]!);
    unlisten(new AbortController().signal, ls[0]!);
  });

  it('run the listeners in the order attached, with the abort event, skipping those detached meanwhile', () => {
    const ac = new AbortController();
    const log: unknown[] = [];
    const a = listener(log, 'a');
    const c = listener(log, 'c');
    const b = {
      handleEvent() {
        log.push(['b', 'abort']);
        unlisten(ac.signal, c);
      },
    };
    listen(ac.signal, a, 'test');
    listen(ac.signal, b, 'test');
    listen(ac.signal, c, 'test');
    listen(ac.signal, a, 'test');
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
      listen(
        ac.signal,
        {
          handleEvent() {
            throw bug;
          },
        },
        'test',
      );
      listen(ac.signal, listener(log, 'after'), 'test');
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
    listen(a.signal, listener(log, 'a'), 'test');
    listen(b.signal, listener(log, 'b'), 'test');
    b.abort();
    expect(log).toEqual([['b', 'abort']]);
    expect(real(a.signal)).toBe(1);
  });
});
