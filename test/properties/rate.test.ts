// RateLimiter against the token-bucket bound: over any schedule of allow,
// reserve, cancel, wait and aborted waits on virtual time, the events
// admitted in any window [a, b] take at most burst + rate * (b - a) tokens.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedRateLimiter, RateLimiter, type Reservation } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';

type Cmd =
  | { kind: 'advance'; ms: number }
  | { kind: 'allow'; n: number }
  | { kind: 'reserve'; n: number }
  | { kind: 'cancel'; pick: number }
  | { kind: 'wait'; n: number; abortable: boolean }
  | { kind: 'abort'; pick: number };

const cmd = (maxN: number): fc.Arbitrary<Cmd> =>
  fc.oneof(
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 700 }) }),
    fc.record({ kind: fc.constant('allow' as const), n: fc.integer({ min: 0, max: maxN }) }),
    fc.record({ kind: fc.constant('reserve' as const), n: fc.integer({ min: 0, max: maxN }) }),
    fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('wait' as const), n: fc.integer({ min: 0, max: maxN }), abortable: fc.boolean() }),
    fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }),
  );

interface Event {
  at: number;
  n: number;
}

/** Checks every window between two event times against burst + rate * length. */
function checkBound(events: Event[], rate: number, burst: number): void {
  const sorted = [...events].filter((e) => e.n > 0).sort((a, b) => a.at - b.at);
  for (let i = 0; i < sorted.length; i++) {
    let taken = 0;
    for (let j = i; j < sorted.length; j++) {
      taken += sorted[j]!.n;
      const allowed = burst + (rate * (sorted[j]!.at - sorted[i]!.at)) / 1000;
      if (taken > allowed + 1e-6) {
        throw new Error(
          `${taken} tokens in [${sorted[i]!.at}, ${sorted[j]!.at}] > ${allowed} (rate ${rate}, burst ${burst})`,
        );
      }
    }
  }
}

describe('RateLimiter properties', () => {
  it('never admits more than burst + rate * t in any window of length t', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0, 0.5, 1, 3, 10, 100, 1000),
        fc.integer({ min: 0, max: 5 }),
        fc.array(cmd(6), { maxLength: 60 }),
        async (rate, burst, cmds) => {
          using leaks = trackLeaks();
          const clock = new TestClock();
          const lim = new RateLimiter({ rate, burst, clock });
          const events: Event[] = [];
          const reservations: { r: Reservation; event: Event }[] = [];
          const aborters: AbortController[] = [];
          const pending: Promise<unknown>[] = [];
          for (const c of cmds) {
            switch (c.kind) {
              case 'advance':
                await clock.advance(c.ms);
                break;
              case 'allow':
                if (lim.allow(c.n)) events.push({ at: clock.now(), n: c.n });
                break;
              case 'reserve': {
                const r = lim.reserve(c.n);
                if (r.ok) {
                  const event = { at: clock.now() + r.delay, n: c.n };
                  events.push(event);
                  reservations.push({ r, event });
                }
                break;
              }
              case 'cancel': {
                if (reservations.length === 0) break;
                const { r, event } = reservations.splice(c.pick % reservations.length, 1)[0]!;
                // A holder who cancels before its time does not act.
                if (clock.now() <= event.at) event.n = 0;
                r.cancel();
                break;
              }
              case 'wait': {
                if (c.n > burst) {
                  expect(() => lim.wait(c.n)).toThrow(RangeError);
                  break;
                }
                const ac = c.abortable ? new AbortController() : undefined;
                if (ac) aborters.push(ac);
                pending.push(
                  lim.wait(c.n, { signal: ac?.signal }).then(
                    () => events.push({ at: clock.now(), n: c.n }),
                    (err) => {
                      if (err?.code !== 'ERR_RATE_LIMIT_EXCEEDED' && !ac?.signal.aborted) throw err;
                    },
                  ),
                );
                break;
              }
              case 'abort':
                if (aborters.length > 0) aborters.splice(c.pick % aborters.length, 1)[0]!.abort();
                break;
            }
          }
          for (const ac of aborters) ac.abort();
          await clock.runAll();
          await Promise.all(pending);
          checkBound(events, rate, burst);
          expect(lim.waiting).toBe(0);
          expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives every token back when reservations not yet due are cancelled latest first', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 7, 10, 250),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 20 }),
        (rate, burst, ns) => {
          const clock = new TestClock();
          const lim = new RateLimiter({ rate, burst, clock });
          lim.allow(burst);
          const before = lim.tokens();
          const rs = ns.map((n) => lim.reserve(n));
          for (const r of rs.reverse()) r.cancel();
          expect(lim.tokens()).toBeCloseTo(before, 9);
        },
      ),
    );
  });

  it('a KeyedRateLimiter answers as one RateLimiter per key would, though it forgets idle keys', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 4, 10, 1000),
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.oneof(
            fc.record({ key: fc.integer({ min: 0, max: 30 }), n: fc.integer({ min: 0, max: 5 }) }),
            fc.integer({ min: 0, max: 1500 }),
          ),
          { maxLength: 200 },
        ),
        async (rate, burst, ops) => {
          const clock = new TestClock();
          const keyed = new KeyedRateLimiter({ rate, burst, clock });
          const model = new Map<string, RateLimiter>();
          for (const op of ops) {
            if (typeof op === 'number') {
              await clock.advance(op);
              continue;
            }
            const key = `k${op.key}`;
            let lim = model.get(key);
            if (lim === undefined) model.set(key, (lim = new RateLimiter({ rate, burst, clock })));
            expect(keyed.allow(key, op.n)).toBe(lim.allow(op.n));
          }
          expect(keyed.size).toBeLessThanOrEqual(model.size);
        },
      ),
      { numRuns: 200 },
    );
  });
});
