// CircuitBreaker against gobreaker's half-open rule: over any schedule of
// requests that succeed or fail, now or later, on virtual time, no more than
// maxRequests requests run while the breaker is half-open, and a refused
// request never runs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitState } from 'weftjs';
import { TestClock } from 'weftjs/testing';

type Cmd =
  | { kind: 'advance'; ms: number }
  | { kind: 'call'; outcome: 'ok' | 'fail' | 'throw' | 'later' }
  | { kind: 'settle'; pick: number; ok: boolean };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 400 }) }),
  fc.record({ kind: fc.constant('call' as const), outcome: fc.constantFrom('ok', 'fail', 'throw', 'later') }),
  fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(), ok: fc.boolean() }),
);

describe('CircuitBreaker properties', () => {
  it('never lets more than maxRequests run in one half-open period', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        fc.array(cmd, { maxLength: 80 }),
        async (maxRequests, trip, withWindow, cmds) => {
          const clock = new TestClock();
          let mode: CircuitState = 'closed';
          let trials = 0;
          // Collected rather than thrown: a throw inside fn would only count as its failure.
          const violations: string[] = [];
          const cb = new CircuitBreaker({
            maxRequests,
            timeout: 300,
            readyToTrip: (c) => c.consecutiveFailures >= trip,
            onStateChange: (_name, from, to) => {
              if (from !== mode) violations.push(`changed from ${from} while in ${mode}`);
              mode = to;
              trials = 0;
            },
            window: withWindow ? { ms: 1000, minRequests: 3, failureRate: 0.5 } : undefined,
            backoff: { multiplier: 2, maxTimeout: 1200 },
            clock,
          });
          const later: { resolve: () => void; reject: (e: Error) => void }[] = [];
          const all: Promise<unknown>[] = [];
          for (const c of cmds) {
            if (c.kind === 'advance') {
              await clock.advance(c.ms);
            } else if (c.kind === 'settle') {
              if (later.length === 0) continue;
              const d = later.splice(c.pick % later.length, 1)[0]!;
              if (c.ok) d.resolve();
              else d.reject(new Error('late failure'));
              await Promise.resolve();
            } else {
              let ran = false;
              const p = cb.execute(() => {
                ran = true;
                if (mode === 'open') violations.push('ran while open');
                if (mode === 'half-open' && ++trials > maxRequests) violations.push(`trial ${trials} ran`);
                if (c.outcome === 'ok') return 1;
                if (c.outcome === 'throw') throw new Error('sync failure');
                if (c.outcome === 'fail') return Promise.reject(new Error('failure'));
                return new Promise<number>((resolve, reject) => later.push({ resolve: () => resolve(1), reject }));
              });
              // Admission is decided synchronously, by the state execute brought up to date.
              const decidedIn = mode;
              all.push(
                p.catch((err) => {
                  if (err.code === 'ERR_CIRCUIT_OPEN') expect(decidedIn).toBe('open');
                  else if (err.code === 'ERR_TOO_MANY_REQUESTS') expect(decidedIn).toBe('half-open');
                  else expect(ran).toBe(true);
                }),
              );
              await Promise.resolve();
            }
          }
          for (const d of later) d.resolve();
          await Promise.all(all);
          expect(violations).toEqual([]);
          expect(clock.pending).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
