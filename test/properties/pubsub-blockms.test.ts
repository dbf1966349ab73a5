// PubSub 'block' with `blockMs` against a model, on virtual time: over any
// schedule of publishes (not awaited), recv calls and clock advances, on
// several 'block' subscriptions each with its own buffer and `blockMs`,
// every message is either taken in (once, in publish order) or dropped for
// that subscription once it has waited `blockMs`; a publish settles exactly
// when every subscription has done one or the other, with the counts of
// each; `lag` and `dropped` match the model after every step; and no timer,
// waiter or listener is left behind (issue 13 item 5).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PubSub, type Subscription } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';
import { flush } from '../support.js';

type Cmd = { kind: 'publish' } | { kind: 'recv'; pick: number } | { kind: 'advance'; ms: number };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('publish' as const) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('recv' as const), pick: fc.nat() }), weight: 2 },
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 12 }) }),
);

interface Recv {
  want: number | 'done' | undefined;
  got: number | 'done' | undefined;
}

interface Model {
  sub: Subscription<number>;
  capacity: number;
  blockMs: number;
  buffer: number[];
  /** Messages waiting for room, with the time they are dropped at. */
  blocked: { payload: number; deadline: number }[];
  /** Every recv call: the payload the model says it gets ('done' at the close), and what it got. */
  recvs: Recv[];
  /** The recv calls still waiting for a message, oldest first. */
  waiting: Recv[];
  taken: Set<number>;
  expired: Set<number>;
}

describe("PubSub 'block' with blockMs", () => {
  it('takes each message in or drops it after blockMs, and settles each publish with the counts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ capacity: fc.integer({ min: 0, max: 2 }), blockMs: fc.integer({ min: 1, max: 20 }) }), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.array(cmd, { maxLength: 40 }),
        async (specs, cmds) => {
          using leaks = trackLeaks();
          const clock = new TestClock();
          const ps = new PubSub<number>({ clock });
          const models: Model[] = specs.map(({ capacity, blockMs }) => ({
            sub: ps.subscribe('t', { buffer: capacity, overflow: 'block', blockMs }),
            capacity,
            blockMs,
            buffer: [],
            blocked: [],
            recvs: [],
            waiting: [],
            taken: new Set(),
            expired: new Set(),
          }));
          const results: (unknown | undefined)[] = [];
          // Message k goes to model m: handed to a waiting recv, buffered, or blocked.
          const offer = (m: Model, k: number) => {
            const w = m.waiting.shift();
            if (w !== undefined) {
              w.want = k;
              m.taken.add(k);
            } else if (m.blocked.length === 0 && m.buffer.length < m.capacity) {
              m.taken.add(k);
              m.buffer.push(k);
            } else m.blocked.push({ payload: k, deadline: clock.now() + m.blockMs });
          };
          for (const c of cmds) {
            if (c.kind === 'publish') {
              const k = results.length;
              results.push(undefined);
              void ps.publish('t', k).then((r) => {
                results[k] = r;
              });
              for (const m of models) offer(m, k);
            } else if (c.kind === 'recv') {
              const m = models[c.pick % models.length]!;
              const entry: Recv = { want: undefined, got: undefined };
              m.recvs.push(entry);
              void m.sub.recv().then((r) => {
                entry.got = r.done ? 'done' : r.value.payload;
              });
              if (m.buffer.length > 0) {
                entry.want = m.buffer.shift()!;
                const next = m.blocked.shift();
                if (next !== undefined) {
                  m.taken.add(next.payload);
                  m.buffer.push(next.payload);
                }
              } else if (m.blocked.length > 0) {
                const next = m.blocked.shift()!;
                m.taken.add(next.payload);
                entry.want = next.payload;
              } else m.waiting.push(entry);
            } else {
              await clock.advance(c.ms);
              for (const m of models) {
                m.blocked = m.blocked.filter((b) => {
                  if (b.deadline > clock.now()) return true;
                  m.expired.add(b.payload);
                  return false;
                });
              }
            }
            await flush();
            for (const m of models) {
              expect(m.sub.lag).toBe(m.buffer.length);
              expect(m.sub.dropped).toBe(m.expired.size);
              for (const e of m.recvs) expect(e.got).toBe(e.want);
            }
            results.forEach((r, k) => {
              const done = models.every((m) => m.taken.has(k) || m.expired.has(k));
              if (!done) expect(r).toBeUndefined();
              else {
                const delivered = models.filter((m) => m.taken.has(k)).length;
                expect(r).toEqual({ delivered, dropped: models.length - delivered });
              }
            });
          }
          ps.close();
          await flush();
          for (const m of models) {
            for (const e of m.waiting) e.want = 'done';
            for (const e of m.recvs) expect(e.got).toBe(e.want);
            const real: number[] = [];
            for await (const msg of m.sub) real.push(msg.payload);
            expect(real).toEqual(m.buffer);
          }
          expect(clock.pending).toBe(0);
          expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
        },
      ),
      { numRuns: 200 },
    );
  });
});
