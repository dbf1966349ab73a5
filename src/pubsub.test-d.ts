import { describe, expectTypeOf, it } from 'vitest';
import {
  type Message,
  type Overflow,
  type OverflowEvent,
  type OverflowOutcome,
  type PublishResult,
  PubSub,
  type Subscription,
} from 'weftjs';

describe('PubSub types', () => {
  it('a subscription carries the hub’s payload type to recv, for await and forEach', async () => {
    const ps = new PubSub<{ id: string; n: number }>();
    const sub = ps.subscribe('t');
    expectTypeOf(sub).toEqualTypeOf<Subscription<{ id: string; n: number }>>();
    expectTypeOf(sub.recv()).toEqualTypeOf<Promise<IteratorResult<Message<{ id: string; n: number }>, undefined>>>();
    expectTypeOf(sub.forEach((m) => m.payload.n)).toEqualTypeOf<Promise<void>>();
    expectTypeOf(sub.forEach(async (m) => void m.payload.id)).toEqualTypeOf<Promise<void>>();
    for await (const m of sub) expectTypeOf(m.payload).toEqualTypeOf<{ id: string; n: number }>();
    expectTypeOf(sub.lag).toEqualTypeOf<number>();
    expectTypeOf(ps.publish('t', { id: 'a', n: 1 })).toEqualTypeOf<Promise<PublishResult>>();
    // @ts-expect-error the payload type is the hub's
    void ps.publish('t', 'no');
  });

  it('key and onOverflow see typed messages and events', () => {
    const ps = new PubSub<{ id: string }>({
      onOverflow: (e) => {
        expectTypeOf(e).toEqualTypeOf<OverflowEvent<{ id: string }>>();
        expectTypeOf(e.outcome).toEqualTypeOf<OverflowOutcome>();
        expectTypeOf(e.policy).toEqualTypeOf<Overflow>();
      },
    });
    ps.subscribe('t', {
      overflow: 'latest',
      key: (m) => {
        expectTypeOf(m).toEqualTypeOf<Message<{ id: string }>>();
        return m.payload.id;
      },
      onOverflow: (e) => expectTypeOf(e.message.payload.id).toEqualTypeOf<string>(),
    });
    // @ts-expect-error not a policy
    ps.subscribe('t', { overflow: 'newest' });
    expectTypeOf<OverflowOutcome>().toEqualTypeOf<'dropped' | 'evicted' | 'blocked' | 'failed'>();
  });
});
