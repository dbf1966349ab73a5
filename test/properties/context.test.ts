// Random cancel trees against a model of Go's context: scopes created under
// random parents (some with deadlines), random cancels, root aborts and clock
// advances. After every step each signal's state and reason must agree with
// the model (a child takes its parent's reason, a deadline its own
// DeadlineExceededError), and once everything has ended nothing is left.

import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Scope, withCancel, withTimeout } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';

type Step =
  | { t: 'create'; parent: number; ms: number | null }
  | { t: 'cancel'; node: number; withReason: boolean }
  | { t: 'abortRoot' }
  | { t: 'advance'; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('create' as const),
      parent: fc.nat(),
      ms: fc.option(fc.integer({ min: 0, max: 50 })),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('cancel' as const), node: fc.nat(), withReason: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ t: 'abortRoot' as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }) },
);

// A model node: its parent (-1: the root), its deadline, and, once aborted,
// what its reason must be: a given value, a fresh CanceledError, or the
// DeadlineExceededError of node `from` (itself or the ancestor it followed).
interface Node {
  parent: number;
  deadline: number;
  reason:
    | { kind: 'value'; value: unknown }
    | { kind: 'canceled'; from: number }
    | { kind: 'deadline'; from: number }
    | null;
}

describe('context against a model', () => {
  it('random trees of scopes abort exactly as Go contexts do, and leave nothing behind', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), async (steps) => {
        using leaks = trackLeaks();
        const clock = new TestClock();
        const root = new AbortController();
        let rootReason: Node['reason'] = null;
        const scopes: Scope[] = [];
        const model: Node[] = [];
        const reasonOf = (i: number): Node['reason'] => (i < 0 ? rootReason : model[i]!.reason);

        // Aborts node i (if still live) and its live descendants with `reason`.
        const abort = (i: number, reason: NonNullable<Node['reason']>): void => {
          if (reasonOf(i) !== null) return;
          if (i < 0) rootReason = reason;
          else model[i]!.reason = reason;
          model.forEach((n, j) => {
            if (n.parent === i) abort(j, reason);
          });
        };

        const check = (): void => {
          model.forEach((n, i) => {
            const signal = scopes[i]!.signal;
            expect(signal.aborted, `node ${i} aborted`).toBe(n.reason !== null);
            if (n.reason === null) return;
            if (n.reason.kind === 'value') expect(signal.reason).toBe(n.reason.value);
            else {
              const code = n.reason.kind === 'canceled' ? 'ERR_CANCELED' : 'ERR_DEADLINE_EXCEEDED';
              expect(signal.reason.code, `node ${i} reason`).toBe(code);
              expect(signal.reason).toBe(scopes[n.reason.from]!.signal.reason);
            }
          });
        };

        for (const s of steps) {
          if (s.t === 'create') {
            const parent = model.length === 0 ? -1 : (s.parent % (model.length + 1)) - 1;
            const parentSignal = parent < 0 ? root.signal : scopes[parent]!.signal;
            const i = model.length;
            scopes.push(s.ms === null ? withCancel(parentSignal) : withTimeout(parentSignal, s.ms, { clock }));
            model.push({
              parent,
              deadline: s.ms === null ? Number.POSITIVE_INFINITY : clock.now() + s.ms,
              reason: null,
            });
            const inherited = reasonOf(parent);
            if (inherited !== null) model[i]!.reason = inherited;
            else if (s.ms === 0) abort(i, { kind: 'deadline', from: i });
          } else if (s.t === 'cancel') {
            if (model.length === 0) continue;
            const i = s.node % model.length;
            const value = { reason: i };
            scopes[i]!.cancel(s.withReason ? value : undefined);
            abort(i, s.withReason ? { kind: 'value', value } : { kind: 'canceled', from: i });
          } else if (s.t === 'abortRoot') {
            const value = { root: true };
            root.abort(value);
            abort(-1, { kind: 'value', value });
          } else {
            const end = clock.now() + s.ms;
            // Timers fire in deadline order, ties in the order they were set.
            const due = model
              .map((n, i) => ({ n, i }))
              .filter(({ n }) => n.deadline > 0 && n.deadline <= end)
              .sort((a, b) => a.n.deadline - b.n.deadline || a.i - b.i);
            await clock.advance(s.ms);
            for (const { n, i } of due) {
              if (n.reason === null) abort(i, { kind: 'deadline', from: i });
              n.deadline = Number.POSITIVE_INFINITY;
            }
          }
          check();
        }

        root.abort('end');
        abort(-1, { kind: 'value', value: 'end' });
        check();
        expect(getEventListeners(root.signal, 'abort')).toHaveLength(0);
        expect(clock.pending).toBe(0);
        expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
      }),
      { numRuns: 150 },
    );
  });
});
