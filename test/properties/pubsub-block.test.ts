// PubSub fan-out under 'block' against a model: over any schedule of
// publishes and recv calls (some taking a buffered message, some waiting) on
// several 'block' subscriptions with small buffers, no message is lost or
// reordered, and a publish is settled exactly when every subscription has
// taken its message in: the slowest subscriber holds the publisher back.
// Message k (from 0) is taken in by a subscription once k < recv calls made
// on it + its buffer size. Guards the fan-out fast paths of bench/pubsub.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PubSub, type Subscription } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { flush } from '../support.js';

type Cmd = { kind: 'publish' } | { kind: 'recv'; pick: number };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ kind: fc.constant('publish' as const) }),
  fc.record({ kind: fc.constant('recv' as const), pick: fc.nat() }),
);

interface Reader {
  sub: Subscription<number>;
  capacity: number;
  /** Each recv made, with whether it has settled and what it got. */
  recvs: { settled: boolean; payload: number | undefined }[];
}

describe("PubSub fan-out under 'block'", () => {
  it('delivers every message in order to every subscriber and holds each publish until all have taken it in', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 }),
        fc.array(cmd, { maxLength: 50 }),
        async (buffers, cmds) => {
          using leaks = trackLeaks();
          const ps = new PubSub<number>();
          const readers: Reader[] = buffers.map((capacity) => ({
            sub: ps.subscribe('jobs', { buffer: capacity, overflow: 'block' }),
            capacity,
            recvs: [],
          }));
          const publishes: { settled: boolean; result: unknown }[] = [];
          const takenIn = (k: number) => readers.every((r) => k < r.recvs.length + r.capacity);
          for (const c of cmds) {
            if (c.kind === 'publish') {
              const p = { settled: false, result: undefined as unknown };
              void ps.publish('jobs', publishes.length).then((result) => {
                p.settled = true;
                p.result = result;
              });
              publishes.push(p);
            } else {
              const r = readers[c.pick % readers.length]!;
              const entry = { settled: false, payload: undefined as number | undefined };
              void r.sub.recv().then((res) => {
                entry.settled = true;
                entry.payload = res.value?.payload;
              });
              r.recvs.push(entry);
            }
            await flush();
            publishes.forEach((p, k) => {
              expect(p.settled).toBe(takenIn(k));
              if (p.settled) expect(p.result).toEqual({ delivered: readers.length, dropped: 0 });
            });
            for (const r of readers) {
              r.recvs.forEach((e, j) => {
                expect(e.settled).toBe(j < publishes.length);
                if (e.settled) expect(e.payload).toBe(j);
              });
            }
          }
          // Every reader then takes the rest: the publishes still held back
          // complete, delivered to all; closing ends the recvs still waiting.
          for (const r of readers) {
            for (let j = r.recvs.length; j < publishes.length; j++) {
              expect((await r.sub.recv()).value?.payload).toBe(j);
            }
          }
          await flush();
          for (const p of publishes) expect(p.result).toEqual({ delivered: readers.length, dropped: 0 });
          ps.close();
          await flush();
          for (const r of readers) {
            for (const e of r.recvs.slice(publishes.length)) expect(e).toEqual({ settled: true, payload: undefined });
          }
          expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
        },
      ),
      { numRuns: 200 },
    );
  });
});
