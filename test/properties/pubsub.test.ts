// PubSub against a model: over any schedule of subscribe (random patterns,
// buffer and overflow policy), publish, recv (taking a buffered message or
// waiting for the next one) and unsubscribe, every publish reports the
// delivered and dropped counts the model predicts, every recv gets the
// message the model predicts, each subscription's `dropped` matches, and the
// dropped counts of all publishes add up to those of all subscriptions.
// ('block' is covered by the example-based tests: a blocked publish has no
// synchronous outcome to compare.)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PubSub, type Subscription } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';

type Policy = 'drop-newest' | 'drop-oldest' | 'error';

type Cmd =
  | { kind: 'subscribe'; patterns: string[]; buffer: number; overflow: Policy }
  | { kind: 'publish'; topic: string }
  | { kind: 'recv'; pick: number }
  | { kind: 'unsubscribe'; pick: number };

const TOPICS = ['a', 'b', 'a.b', 'a.c', 'a.b.c', 'b.c'];
const PATTERNS = ['a', 'b', 'a.b', '*', 'a.*', '*.c', 'a.>', '>', '*.*', 'a.*.c', 'b.>'];

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({
    kind: fc.constant('subscribe' as const),
    patterns: fc.uniqueArray(fc.constantFrom(...PATTERNS), { minLength: 1, maxLength: 3 }),
    buffer: fc.integer({ min: 0, max: 3 }),
    overflow: fc.constantFrom<Policy>('drop-newest', 'drop-oldest', 'error'),
  }),
  { arbitrary: fc.record({ kind: fc.constant('publish' as const), topic: fc.constantFrom(...TOPICS) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('recv' as const), pick: fc.nat() }), weight: 3 },
  fc.record({ kind: fc.constant('unsubscribe' as const), pick: fc.nat() }),
);

/** The model's matcher, written independently of weft's trie: segment by segment. */
function matches(pattern: string[], topic: string[]): boolean {
  if (pattern.length === 0) return topic.length === 0;
  if (pattern[0] === '>') return topic.length >= 1;
  if (topic.length === 0) return false;
  if (pattern[0] !== '*' && pattern[0] !== topic[0]) return false;
  return matches(pattern.slice(1), topic.slice(1));
}

interface ModelSub {
  sub: Subscription<number>;
  patterns: string[][];
  buffer: number[];
  capacity: number;
  overflow: Policy;
  state: 'open' | 'ended' | 'failed';
  dropped: number;
  /** recv calls waiting, with the payload the model expects each to get (undefined until one arrives). */
  waiting: { promise: Promise<unknown>; want: number | 'done' | undefined }[];
}

describe('PubSub accounting', () => {
  it('matches a model of delivery, buffering and overflow over any schedule', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { maxLength: 60 }), async (cmds) => {
        using leaks = trackLeaks();
        const ps = new PubSub<number>();
        const subs: ModelSub[] = [];
        let seq = 0;
        let publishedDropped = 0;
        for (const c of cmds) {
          if (c.kind === 'subscribe') {
            const sub = ps.subscribe(c.patterns, { buffer: c.buffer, overflow: c.overflow });
            subs.push({
              sub,
              patterns: c.patterns.map((p) => p.split('.')),
              buffer: [],
              capacity: c.buffer,
              overflow: c.overflow,
              state: 'open',
              dropped: 0,
              waiting: [],
            });
          } else if (c.kind === 'publish') {
            const payload = seq++;
            let delivered = 0;
            let dropped = 0;
            const topic = c.topic.split('.');
            for (const m of subs) {
              if (m.state !== 'open' || !m.patterns.some((p) => matches(p, topic))) continue;
              const w = m.waiting.find((x) => x.want === undefined);
              if (w) {
                w.want = payload;
                delivered++;
              } else if (m.buffer.length < m.capacity) {
                m.buffer.push(payload);
                delivered++;
              } else if (m.overflow === 'drop-newest' || (m.overflow === 'drop-oldest' && m.capacity === 0)) {
                m.dropped++;
                dropped++;
              } else if (m.overflow === 'drop-oldest') {
                m.buffer.shift();
                m.buffer.push(payload);
                m.dropped++;
                dropped++;
                delivered++;
              } else {
                const lost = 1 + m.buffer.length;
                m.buffer = [];
                m.dropped += lost;
                dropped += lost;
                m.state = 'failed';
              }
            }
            publishedDropped += dropped;
            expect(await ps.publish(c.topic, payload)).toEqual({ delivered, dropped });
          } else if (subs.length > 0) {
            const m = subs[c.pick % subs.length]!;
            if (c.kind === 'unsubscribe') {
              m.sub.unsubscribe();
              if (m.state === 'open') {
                m.state = 'ended';
                m.buffer = [];
                for (const w of m.waiting) if (w.want === undefined) w.want = 'done';
              }
            } else if (m.buffer.length > 0) {
              const want = m.buffer.shift()!;
              expect((await m.sub.recv()).value?.payload).toBe(want);
            } else if (m.state === 'failed') {
              await expect(m.sub.recv()).rejects.toMatchObject({ code: 'ERR_SUBSCRIBER_OVERFLOW' });
            } else if (m.state === 'ended') {
              expect((await m.sub.recv()).done).toBe(true);
            } else {
              m.waiting.push({ promise: m.sub.recv(), want: undefined });
            }
          }
          expect(ps.subscribers).toBe(subs.filter((m) => m.state === 'open').length);
        }
        ps.close();
        let subsDropped = 0;
        for (const m of subs) {
          expect(m.sub.dropped).toBe(m.dropped);
          subsDropped += m.sub.dropped;
          for (const w of m.waiting) {
            const r = (await w.promise) as IteratorResult<{ payload: number }>;
            if (w.want === undefined || w.want === 'done') expect(r.done).toBe(true);
            else expect(r.value.payload).toBe(w.want);
          }
          const rest: number[] = [];
          if (m.state === 'failed')
            await expect(m.sub.recv()).rejects.toMatchObject({ code: 'ERR_SUBSCRIBER_OVERFLOW' });
          else for await (const msg of m.sub) rest.push(msg.payload);
          expect(rest).toEqual(m.state === 'open' ? m.buffer : []);
        }
        expect(subsDropped).toBe(publishedDropped);
        expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
      }),
      { numRuns: 300 },
    );
  });
});
