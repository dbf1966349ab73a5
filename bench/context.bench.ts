/**
 * Context: the cost of a cancellable child of a long-lived signal, the
 * shape of every request scope under a server signal.
 *
 * (a) One child created and cancelled (`withCancel(parent)` + `cancel()`):
 * weft against the platform's `AbortSignal.any([parent, own.signal])` (the
 * usual way to combine a parent and a child in JavaScript) and a
 * hand-written floor (an AbortController and a listener on the parent,
 * removed on cancel).
 *
 * (b) The same with a deadline (`withTimeout(parent, 60_000)`), against
 * `AbortSignal.any([parent, AbortSignal.timeout(60_000)])` (whose timer
 * cannot be cleared) and a floor with setTimeout/clearTimeout.
 *
 * (c) 20,000 children of one parent alive at once, then cancelled newest
 * first: the listener list of the parent must not make removal quadratic.
 */

import { setMaxListeners } from 'node:events';
import { withCancel, withTimeout } from 'weftjs';
import { compare } from './lib.js';

const parent = new AbortController();

// The floor: the least a child scope can be.
class FloorScope {
  readonly ac = new AbortController();
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  constructor(readonly parent: AbortSignal) {
    parent.addEventListener('abort', this);
  }
  handleEvent(): void {
    this.cancel(this.parent.reason);
  }
  cancel(reason: unknown): void {
    this.parent.removeEventListener('abort', this);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.ac.abort(reason);
  }
}

export default async function (): Promise<void> {
  await compare('context (a): withCancel(parent) + cancel()', {
    ops: 1,
    unit: 'scopes',
    cases: {
      'weft withCancel': () => withCancel(parent.signal).cancel('done'),
      'peer AbortSignal.any': () => {
        const own = new AbortController();
        AbortSignal.any([parent.signal, own.signal]);
        own.abort('done');
      },
      'floor (hand-written)': () => new FloorScope(parent.signal).cancel('done'),
    },
    weft: 'weft withCancel',
    targets: [{ vs: 'floor', atMost: 1.5 }],
  });

  await compare('context (b): withTimeout(parent, 60s) + cancel()', {
    ops: 1,
    unit: 'scopes',
    cases: {
      'weft withTimeout': () => withTimeout(parent.signal, 60_000).cancel('done'),
      'peer AbortSignal.any + timeout': () => {
        const own = new AbortController();
        AbortSignal.any([parent.signal, own.signal, AbortSignal.timeout(60_000)]);
        own.abort('done');
      },
      'floor (hand-written)': () => {
        const s = new FloorScope(parent.signal);
        s.timer = setTimeout(() => s.cancel('deadline'), 60_000);
        s.cancel('done');
      },
    },
    weft: 'weft withTimeout',
    targets: [{ vs: 'floor', atMost: 1.5 }],
  });

  const N = 20_000;
  await compare(`context (c): ${N.toLocaleString('en')} children alive at once, cancelled newest first`, {
    ops: N,
    unit: 'scopes',
    heavy: true,
    cases: {
      'weft withCancel': () => {
        const p = new AbortController();
        const scopes = Array.from({ length: N }, () => withCancel(p.signal));
        for (let i = N - 1; i >= 0; i--) scopes[i]!.cancel('done');
      },
      'peer AbortSignal.any': () => {
        const p = new AbortController();
        const owns = Array.from({ length: N }, () => {
          const own = new AbortController();
          AbortSignal.any([p.signal, own.signal]);
          return own;
        });
        for (let i = N - 1; i >= 0; i--) owns[i]!.abort('done');
      },
      'floor (hand-written)': () => {
        const p = new AbortController();
        // One listener per child is the floor's design: no warning for it.
        setMaxListeners(0, p.signal);
        const scopes = Array.from({ length: N }, () => new FloorScope(p.signal));
        for (let i = N - 1; i >= 0; i--) scopes[i]!.cancel('done');
      },
    },
    weft: 'weft withCancel',
    target: 'linear in the number of children (the floor, on EventTarget, is quadratic)',
  });
}
