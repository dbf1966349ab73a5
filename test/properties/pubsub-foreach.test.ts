// Subscription.forEach under every overflow policy: over any schedule of
// publishes (awaited or not), releases of pending async handlers and
// unsubscribes, on subscriptions with random buffers, policies and handler
// kinds (synchronous, or returning a promise the schedule settles later),
// each handler gets every message at most once; in publish order
// ('latest': in publish order per key); 'block' without `blockMs` loses
// nothing; for the others, what was handled plus what was dropped is what
// was published while subscribed (nothing lost uncounted, nothing twice);
// `lag` never exceeds the buffer; and once the hub is disposed every
// forEach has settled with no waiter, timer or listener left.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PubSub, type Subscription } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { flush } from '../support.js';

type Policy = 'drop-newest' | 'drop-oldest' | 'block' | 'latest' | 'error';

type Cmd =
  | { kind: 'publish'; awaited: boolean }
  | { kind: 'release'; pick: number }
  | { kind: 'unsubscribe'; pick: number }
  | { kind: 'flush' };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('publish' as const), awaited: fc.boolean() }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }), weight: 3 },
  fc.record({ kind: fc.constant('unsubscribe' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('flush' as const) }),
);

const spec = fc.record({
  policy: fc.constantFrom<Policy>('drop-newest', 'drop-oldest', 'block', 'latest', 'error'),
  buffer: fc.integer({ min: 0, max: 4 }),
  async: fc.boolean(),
});

interface Reader {
  sub: Subscription<number>;
  policy: Policy;
  capacity: number;
  seen: number[];
  /** Resolvers of handler promises not settled yet. */
  pending: (() => void)[];
  /** Messages published while it was subscribed. */
  published: number;
  done: Promise<unknown>;
  unsubscribed: boolean;
}

describe('Subscription.forEach', () => {
  it('hands each message once, in order, and accounts for every one under every policy', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(spec, { minLength: 1, maxLength: 4 }),
        fc.array(cmd, { maxLength: 60 }),
        async (specs, cmds) => {
          using leaks = trackLeaks();
          const ps = new PubSub<number>();
          const readers: Reader[] = specs.map(({ policy, buffer, async }) => {
            const sub = ps.subscribe('t', {
              buffer,
              overflow: policy,
              ...(policy === 'latest' ? { key: (m: { payload: number }) => m.payload % 3 } : {}),
            });
            const r: Reader = {
              sub,
              policy,
              capacity: buffer,
              seen: [],
              pending: [],
              published: 0,
              done: Promise.resolve(),
              unsubscribed: false,
            };
            const handler = (m: { payload: number }): Promise<void> | undefined => {
              r.seen.push(m.payload);
              if (!async) return undefined;
              return new Promise<void>((resolve) => r.pending.push(resolve));
            };
            r.done = sub.forEach(handler).then(
              () => 'ok',
              (err) => err.code,
            );
            return r;
          });
          let seq = 0;
          const publishes: Promise<unknown>[] = [];
          for (const c of cmds) {
            if (c.kind === 'publish') {
              for (const r of readers) if (!r.unsubscribed && ps.subscribers > 0) r.published++;
              const p = ps.publish('t', seq++);
              publishes.push(p);
              if (c.awaited && readers.every((r) => r.policy !== 'block' || r.unsubscribed)) await p;
            } else if (c.kind === 'release') {
              const r = readers[c.pick % readers.length]!;
              r.pending.shift()?.();
            } else if (c.kind === 'unsubscribe') {
              const r = readers[c.pick % readers.length]!;
              r.sub.unsubscribe();
              r.unsubscribed = true;
            } else await flush();
            for (const r of readers) expect(r.sub.lag).toBeLessThanOrEqual(Math.max(r.capacity, 1));
          }
          // Let every handler finish: settle what is pending until every publish
          // has settled (so that closing releases no blocked publisher), then
          // until the hub is disposed.
          let settled = false;
          void Promise.all(publishes).then(() => (settled = true));
          while (!settled) {
            for (const r of readers) while (r.pending.length > 0) r.pending.shift()!();
            await flush();
          }
          let disposed = false;
          const disposing = ps[Symbol.asyncDispose]().then(() => (disposed = true));
          while (!disposed) {
            for (const r of readers) while (r.pending.length > 0) r.pending.shift()!();
            await flush();
          }
          await disposing;
          await Promise.all(publishes);
          for (const r of readers) {
            const outcome = await r.done;
            expect(new Set(r.seen).size).toBe(r.seen.length);
            if (r.policy === 'latest') {
              for (const key of [0, 1, 2]) {
                const of = r.seen.filter((n) => n % 3 === key);
                expect(of).toEqual([...of].sort((a, b) => a - b));
              }
            } else expect(r.seen).toEqual([...r.seen].sort((a, b) => a - b));
            expect(r.sub.lag).toBe(0);
            if (r.unsubscribed) continue;
            if (r.policy === 'error' && outcome === 'ERR_SUBSCRIBER_OVERFLOW') {
              // It took, then lost one, then nothing more: what it saw is a prefix.
              expect(r.sub.dropped).toBe(1);
              expect(r.seen).toEqual(r.seen.map((_, i) => i));
            } else {
              expect(outcome).toBe('ok');
              expect(r.seen.length + r.sub.dropped).toBe(r.published);
              if (r.policy === 'block') expect(r.seen).toEqual(Array.from({ length: r.published }, (_, i) => i));
            }
          }
          expect(ps.subscribers).toBe(0);
          expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
        },
      ),
      { numRuns: 200 },
    );
  });
});
