// Mutex and RWMutex under random schedules of lock, rLock, tryLock, run,
// release and abort: a writer is always alone, readers never overlap a
// writer, a Mutex is handed over in request order, every request that is
// not aborted is eventually served, and nothing is left behind.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Lock, Mutex, RWMutex } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { flush } from '../support.js';

const none = { waiters: 0, timers: 0, listeners: 0, details: [] };

type Cmd =
  | { kind: 'read' | 'write'; abortable: boolean; viaRun: boolean }
  | { kind: 'tryRead' | 'tryWrite' }
  | { kind: 'release'; pick: number }
  | { kind: 'abort'; pick: number };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('read' as const, 'write' as const),
    abortable: fc.boolean(),
    viaRun: fc.boolean(),
  }),
  fc.record({ kind: fc.constantFrom('tryRead' as const, 'tryWrite' as const) }),
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }),
);

interface Req {
  id: number;
  write: boolean;
  ac: AbortController | undefined;
  state: 'pending' | 'held' | 'released' | 'aborted';
  release: () => void;
}

/** Drives one schedule against a lock; `mutex` makes every request a write. */
async function drive(cmds: Cmd[], mutex: boolean): Promise<void> {
  using leaks = trackLeaks();
  const mu = new Mutex();
  const rw = new RWMutex();
  const reqs: Req[] = [];
  let readers = 0;
  let writers = 0;
  const order: number[] = [];
  const enter = (r: Req) => {
    r.state = 'held';
    if (r.write) writers++;
    else readers++;
    order.push(r.id);
    expect(writers).toBeLessThanOrEqual(1);
    if (writers === 1) expect(readers).toBe(0);
  };
  const leave = (r: Req) => {
    r.state = 'released';
    if (r.write) writers--;
    else readers--;
  };
  const add = (write: boolean, ac: AbortController | undefined, viaRun: boolean) => {
    const r: Req = { id: reqs.length, write, ac, state: 'pending', release: () => {} };
    reqs.push(r);
    const opts = { signal: ac?.signal };
    const aborted = () => {
      r.state = 'aborted';
    };
    if (viaRun) {
      const run = mutex ? mu.run.bind(mu) : write ? rw.run.bind(rw) : rw.runRead.bind(rw);
      run(() => {
        enter(r);
        return new Promise<void>((res) => {
          r.release = () => {
            leave(r);
            res();
          };
        });
      }, opts).catch(aborted);
    } else {
      const lock: Promise<Lock> = mutex ? mu.lock(opts) : write ? rw.lock(opts) : rw.rLock(opts);
      lock.then((l) => {
        enter(r);
        r.release = () => {
          leave(r);
          l.release();
        };
      }, aborted);
    }
  };
  for (const c of cmds) {
    if (c.kind === 'read' || c.kind === 'write') {
      add(mutex || c.kind === 'write', c.abortable ? new AbortController() : undefined, c.viaRun);
    } else if (c.kind === 'tryRead' || c.kind === 'tryWrite') {
      const write = mutex || c.kind === 'tryWrite';
      const l = mutex ? mu.tryLock() : write ? rw.tryLock() : rw.tryRLock();
      if (l !== undefined) {
        const r: Req = { id: reqs.length, write, ac: undefined, state: 'pending', release: () => {} };
        reqs.push(r);
        enter(r);
        r.release = () => {
          leave(r);
          l.release();
        };
      }
    } else if (c.kind === 'release') {
      const held = reqs.filter((r) => r.state === 'held');
      if (held.length > 0) held[c.pick % held.length]!.release();
    } else {
      const pending = reqs.filter((r) => r.state === 'pending' && r.ac !== undefined);
      if (pending.length > 0) pending[(c as { pick: number }).pick % pending.length]!.ac!.abort();
    }
    await flush();
  }
  // Progress: releasing whatever is held serves every request left.
  for (let rounds = 0; reqs.some((r) => r.state === 'pending' || r.state === 'held'); rounds++) {
    expect(rounds).toBeLessThan(reqs.length + 2);
    for (const r of reqs.filter((r) => r.state === 'held')) r.release();
    await flush();
  }
  if (mutex) {
    // handed over in request order (tryLock only ever succeeds with nobody waiting)
    expect(order).toEqual([...order].sort((a, b) => a - b));
  }
  expect(mu.locked || rw.locked || rw.readers > 0).toBe(false);
  expect(leaks.check()).toEqual(none);
}

describe('Mutex and RWMutex properties', () => {
  it('a Mutex admits one holder at a time, in request order, and serves everything not aborted', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { maxLength: 50 }), (cmds) => drive(cmds, true)),
      { numRuns: 120 },
    );
  });

  it('an RWMutex never lets a writer overlap anyone and serves everything not aborted', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { maxLength: 50 }), (cmds) => drive(cmds, false)),
      { numRuns: 150 },
    );
  });
});
