// PubSub against a model: over any schedule of subscribe (random patterns,
// buffer and overflow policy), publish, recv (taking a buffered message or
// waiting for the next one) and unsubscribe, every publish reports the
// delivered and dropped counts the model predicts, every recv gets the
// message the model predicts (so none twice, and in publish order), each
// subscription's `dropped` and `lag` match after every step, `onOverflow`
// hears of exactly the overflows the model predicts, the dropped counts of
// all publishes add up to those of all subscriptions, and nothing is left
// behind. 'latest' conflates by `payload % 3`; an 'error' subscription that
// overflowed still yields what it had buffered, then throws (issue 13
// item 5). ('block' is in pubsub-block.test.ts: a blocked publish has no
// synchronous outcome to compare.)
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PubSub, type Subscription } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';

type Policy = 'drop-newest' | 'drop-oldest' | 'error' | 'latest';

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
    overflow: fc.constantFrom<Policy>('drop-newest', 'drop-oldest', 'error', 'latest'),
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
  /** The overflow outcomes the model expects `onOverflow` to have heard, and those it heard. */
  events: string[];
  heard: string[];
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
            const heard: string[] = [];
            const sub = ps.subscribe(c.patterns, {
              buffer: c.buffer,
              overflow: c.overflow,
              onOverflow: (e) => heard.push(`${e.outcome} ${e.message.payload}`),
              ...(c.overflow === 'latest' ? { key: (m: { payload: number }) => m.payload % 3 } : {}),
            });
            subs.push({
              sub,
              patterns: c.patterns.map((p) => p.split('.')),
              buffer: [],
              capacity: c.buffer,
              overflow: c.overflow,
              state: 'open',
              dropped: 0,
              events: [],
              heard,
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
              const same = m.overflow === 'latest' ? m.buffer.findIndex((x) => x % 3 === payload % 3) : -1;
              if (w) {
                w.want = payload;
                delivered++;
              } else if (same >= 0) {
                // Conflated in place: the policy at work, no overflow event.
                m.buffer[same] = payload;
                m.dropped++;
                dropped++;
                delivered++;
              } else if (m.buffer.length < m.capacity) {
                m.buffer.push(payload);
                delivered++;
              } else if (m.overflow === 'error') {
                m.dropped++;
                dropped++;
                m.state = 'failed';
                m.events.push(`failed ${payload}`);
              } else if (m.overflow === 'drop-newest' || m.capacity === 0) {
                m.dropped++;
                dropped++;
                m.events.push(`dropped ${payload}`);
              } else {
                m.events.push(`evicted ${m.buffer.shift()}`);
                m.buffer.push(payload);
                m.dropped++;
                dropped++;
                delivered++;
              }
            }
            publishedDropped += dropped;
            expect(await ps.publish(c.topic, payload)).toEqual({ delivered, dropped });
          } else if (subs.length > 0) {
            const m = subs[c.pick % subs.length]!;
            if (c.kind === 'unsubscribe') {
              m.sub.unsubscribe();
              m.buffer = [];
              if (m.state === 'open') {
                m.state = 'ended';
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
          for (const m of subs) {
            expect(m.sub.lag).toBe(m.buffer.length);
            expect(m.sub.dropped).toBe(m.dropped);
          }
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
          const read = (async () => {
            for await (const msg of m.sub) rest.push(msg.payload);
          })();
          if (m.state === 'failed') await expect(read).rejects.toMatchObject({ code: 'ERR_SUBSCRIBER_OVERFLOW' });
          else await read;
          expect(rest).toEqual(m.state === 'ended' ? [] : m.buffer);
          expect(m.heard).toEqual(m.events);
        }
        expect(subsDropped).toBe(publishedDropped);
        expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
      }),
      { numRuns: 300 },
    );
  });
});
