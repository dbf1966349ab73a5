// Shutdown against a model of its phase and timeout rules, on virtual time:
// for any set of hooks (random phases, per-hook timeouts, and behaviours:
// settle or throw at once, resolve or reject after a delay, never settle)
// under any total timeout, every hook starts exactly when the model says
// (or is not started), ends with the model's outcome after the model's
// duration, and the shutdown lasts as long as the model's; nothing is left.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sleep } from 'weftjs';
import { Shutdown, type ShutdownHookReport } from 'weftjs/node';
import { TestClock, trackLeaks } from 'weftjs/testing';

type Behaviour =
  | { kind: 'return' }
  | { kind: 'throw' }
  | { kind: 'resolve'; ms: number }
  | { kind: 'reject'; ms: number }
  | { kind: 'hang' };

interface Spec {
  phase: number;
  timeoutMs: number | undefined;
  behaviour: Behaviour;
}

// Multiples of 50 ms, so that ties (a hook ending just as its time runs out) are common.
const ms = (min: number, max: number) => fc.integer({ min, max }).map((n) => n * 50);

const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  fc.constant({ kind: 'return' as const }),
  fc.constant({ kind: 'throw' as const }),
  fc.record({ kind: fc.constant('resolve' as const), ms: ms(1, 10) }),
  fc.record({ kind: fc.constant('reject' as const), ms: ms(1, 10) }),
  fc.constant({ kind: 'hang' as const }),
);

const spec: fc.Arbitrary<Spec> = fc.record({
  phase: fc.oneof(fc.integer({ min: -2, max: 3 }), fc.constantFrom(0.5, -0.25)),
  timeoutMs: fc.option(ms(0, 8), { nil: undefined }),
  behaviour,
});

interface Expected {
  report: Omit<ShutdownHookReport, 'error'>;
  /** When the hook is called; undefined if it is not. */
  startsAt: number | undefined;
}

/** The model: phases in ascending order, each starting when the one before ended. */
function model(specs: Spec[], total: number): { hooks: Expected[]; durationMs: number } {
  const order = specs.map((s, i) => ({ s, i })).sort((a, b) => a.s.phase - b.s.phase);
  const hooks: Expected[] = [];
  let now = 0;
  for (let k = 0; k < order.length; ) {
    let end = k;
    while (end < order.length && order[end]!.s.phase === order[k]!.s.phase) end++;
    let phaseEnd = now;
    for (const { s, i } of order.slice(k, end)) {
      const name = `h${i}`;
      const left = total - now;
      if (left <= 0) {
        hooks.push({ report: { name, phase: s.phase, durationMs: 0, outcome: 'timeout' }, startsAt: undefined });
        continue;
      }
      const budget = Math.min(s.timeoutMs ?? Number.POSITIVE_INFINITY, left);
      const b = s.behaviour;
      let outcome: ShutdownHookReport['outcome'];
      let duration: number;
      if (b.kind === 'return' || b.kind === 'throw') {
        // Settled before any timer can fire, even a 0 ms one.
        outcome = b.kind === 'return' ? 'ok' : 'error';
        duration = 0;
      } else if (b.kind === 'hang' || b.ms >= budget) {
        // On a tie the timeout wins: its timer was scheduled before the hook ran.
        outcome = 'timeout';
        duration = budget;
      } else {
        outcome = b.kind === 'resolve' ? 'ok' : 'error';
        duration = b.ms;
      }
      hooks.push({ report: { name, phase: s.phase, durationMs: duration, outcome }, startsAt: now });
      phaseEnd = Math.max(phaseEnd, now + duration);
    }
    now = phaseEnd;
    k = end;
  }
  return { hooks, durationMs: now };
}

describe('Shutdown properties', () => {
  it('phases, timeouts and outcomes match the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(spec, { maxLength: 8 }), ms(0, 24), async (specs, total) => {
        using leaks = trackLeaks();
        const clock = new TestClock();
        const shutdown = new Shutdown({ signals: [], exit: false, log: () => {}, clock, timeoutMs: total });
        const startedAt = new Map<string, number>();
        specs.forEach((s, i) => {
          const name = `h${i}`;
          const b = s.behaviour;
          shutdown.add(
            name,
            () => {
              startedAt.set(name, clock.now());
              switch (b.kind) {
                case 'return':
                  return 'value';
                case 'throw':
                  throw new Error(name);
                case 'resolve':
                  return sleep(b.ms, { clock });
                case 'reject':
                  return sleep(b.ms, { clock }).then(() => Promise.reject(new Error(name)));
                case 'hang':
                  return new Promise(() => {});
              }
            },
            { phase: s.phase, timeoutMs: s.timeoutMs },
          );
        });
        const done = shutdown.shutdown();
        await clock.runAll();
        const report = await done;
        const want = model(specs, total);
        expect(report.hooks.map(({ error: _e, ...h }) => h)).toEqual(want.hooks.map((h) => h.report));
        expect(want.hooks.map((h) => startedAt.get(h.report.name))).toEqual(want.hooks.map((h) => h.startsAt));
        expect(report.durationMs).toBe(want.durationMs);
        expect(report.ok).toBe(want.hooks.every((h) => h.report.outcome === 'ok'));
        for (const h of report.hooks) {
          if (h.outcome === 'timeout') expect((h.error as { code: string }).code).toBe('ERR_DEADLINE_EXCEEDED');
          if (h.outcome === 'error') expect((h.error as Error).message).toBe(h.name);
        }
        expect(clock.pending).toBe(0);
        expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
      }),
      { numRuns: 300 },
    );
  });
});
