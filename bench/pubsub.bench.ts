/**
 * PubSub fan-out. First, 100,000 messages to 100 subscribers that consume
 * them as async iterables ('block' overflow, so every message reaches every
 * subscriber and the publisher is held back by the slowest), or with a
 * handler (`sub.forEach(fn)`, synchronous), against emittery's `await emit()` with 100 listeners
 * (async ones, and sync ones, in two rows) and a hand-written async
 * emitter; the ceiling row is the least a subscription read with
 * `for await` can do (an array buffer, a resolver, one iterator result per
 * message), so it shows what `for await` itself costs: `for await` over a
 * subscription is held to that ceiling, and the handler form, which needs
 * no promise per message, to 1.5x emittery (issue 14). Second, the publish call itself while nobody waits: 10,000
 * messages buffered by 100 subscribers, against a synchronous emitter loop
 * whose listeners push into arrays. The smoke runs the first table on
 * 10,000 messages.
 */
import Emittery from 'emittery';
import { PubSub } from 'weftjs';
import { compare, smoke } from './lib.js';

const SUBSCRIBERS = 100;
const MESSAGES = smoke ? 10_000 : 100_000;
const BUFFERED = 10_000;
let sink = 0;

interface Msg {
  topic: string;
  payload: number;
}

/**
 * The minimal async-iterable subscription: `next()` takes a buffered message
 * or parks one resolver, which the publisher calls with the next message.
 */
class MinimalSubscription implements AsyncIterableIterator<Msg> {
  readonly #buffer: Msg[] = [];
  #head = 0;
  #waiter: ((r: IteratorResult<Msg>) => void) | null = null;
  #closed = false;

  push(m: Msg): void {
    const w = this.#waiter;
    if (w !== null) {
      this.#waiter = null;
      w({ value: m, done: false });
    } else this.#buffer.push(m);
  }

  close(): void {
    this.#closed = true;
    const w = this.#waiter;
    this.#waiter = null;
    w?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<Msg>> {
    if (this.#head < this.#buffer.length) {
      const value = this.#buffer[this.#head++]!;
      if (this.#head === this.#buffer.length) this.#buffer.length = this.#head = 0;
      return Promise.resolve({ value, done: false });
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

export default async function (): Promise<void> {
  const emittery = ['peer emittery await emit (async listeners)', 'peer emittery await emit (sync listeners)'];
  await compare(`PubSub: ${MESSAGES.toLocaleString('en-US')} messages to 100 subscribers`, {
    ops: MESSAGES * SUBSCRIBERS,
    unit: 'deliveries',
    heavy: true,
    smoke: true,
    cases: {
      'weft PubSub for await': async () => {
        const ps = new PubSub<number>();
        const consumers: Promise<void>[] = [];
        for (let s = 0; s < SUBSCRIBERS; s++) {
          const sub = ps.subscribe('orders.created', { overflow: 'block' });
          consumers.push(
            (async () => {
              for await (const m of sub) sink += m.payload;
            })(),
          );
        }
        for (let i = 0; i < MESSAGES; i++) await ps.publish('orders.created', i);
        ps.close();
        await Promise.all(consumers);
      },
      'weft PubSub sub.forEach': async () => {
        const ps = new PubSub<number>();
        const consumers: Promise<void>[] = [];
        for (let s = 0; s < SUBSCRIBERS; s++) {
          const sub = ps.subscribe('orders.created', { overflow: 'block' });
          consumers.push(
            sub.forEach((m) => {
              sink += m.payload;
            }),
          );
        }
        for (let i = 0; i < MESSAGES; i++) await ps.publish('orders.created', i);
        ps.close();
        await Promise.all(consumers);
      },
      [emittery[0]!]: async () => {
        const em = new Emittery<{ 'orders.created': number }>();
        for (let s = 0; s < SUBSCRIBERS; s++) {
          em.on('orders.created', async (v) => {
            sink += v;
          });
        }
        for (let i = 0; i < MESSAGES; i++) await em.emit('orders.created', i);
        em.clearListeners();
      },
      [emittery[1]!]: async () => {
        const em = new Emittery<{ 'orders.created': number }>();
        for (let s = 0; s < SUBSCRIBERS; s++) {
          em.on('orders.created', (v) => {
            sink += v;
          });
        }
        for (let i = 0; i < MESSAGES; i++) await em.emit('orders.created', i);
        em.clearListeners();
      },
      'ceiling (minimal for-await subscription)': async () => {
        const subs: MinimalSubscription[] = [];
        const consumers: Promise<void>[] = [];
        for (let s = 0; s < SUBSCRIBERS; s++) {
          const sub = new MinimalSubscription();
          subs.push(sub);
          consumers.push(
            (async () => {
              for await (const m of sub) sink += m.payload;
            })(),
          );
        }
        for (let i = 0; i < MESSAGES; i++) {
          const m = { topic: 'orders.created', payload: i };
          for (let s = 0; s < SUBSCRIBERS; s++) subs[s]!.push(m);
          await null;
        }
        for (const sub of subs) sub.close();
        await Promise.all(consumers);
      },
      'floor (hand-written async emitter)': async () => {
        const listeners: ((v: number) => Promise<void>)[] = [];
        for (let s = 0; s < SUBSCRIBERS; s++) {
          listeners.push(async (v) => {
            sink += v;
          });
        }
        const pending: Promise<void>[] = new Array(SUBSCRIBERS);
        for (let i = 0; i < MESSAGES; i++) {
          for (let s = 0; s < SUBSCRIBERS; s++) pending[s] = listeners[s]!(i);
          await Promise.all(pending);
        }
      },
    },
    weft: 'weft PubSub for await',
    targets: [
      { contender: 'weft PubSub sub.forEach', vs: emittery[0]!, atLeast: 1.5, note: 'issue 14' },
      { contender: 'weft PubSub sub.forEach', vs: emittery[1]!, atLeast: 1.5, note: 'issue 14' },
      {
        vs: 'ceiling (minimal for-await subscription)',
        atMost: 1.1,
        note: 'issue 14: for await stays at the ceiling of a minimal for-await subscription',
      },
      { vs: emittery[0]!, note: 'issue 14 measured 0.59x; the handler form is the fast one' },
      { vs: emittery[1]! },
    ],
  });

  await compare('PubSub: publish while nobody waits (10,000 messages buffered by 100 subscribers)', {
    ops: BUFFERED * SUBSCRIBERS,
    unit: 'deliveries',
    cases: {
      'weft PubSub publish': () => {
        const ps = new PubSub<number>();
        for (let s = 0; s < SUBSCRIBERS; s++) ps.subscribe('orders.created', { buffer: BUFFERED });
        for (let i = 0; i < BUFFERED; i++) ps.publish('orders.created', i);
        ps.close();
      },
      'floor (synchronous emitter loop)': () => {
        const listeners: ((m: { topic: string; payload: number }) => void)[] = [];
        for (let s = 0; s < SUBSCRIBERS; s++) {
          const buffer: { topic: string; payload: number }[] = [];
          listeners.push((m) => {
            buffer.push(m);
          });
        }
        for (let i = 0; i < BUFFERED; i++) {
          const m = { topic: 'orders.created', payload: i };
          for (let s = 0; s < listeners.length; s++) listeners[s]!(m);
        }
      },
    },
    weft: 'weft PubSub publish',
    targets: [{ vs: 'floor', atMost: 3 }],
  });
  if (sink < 0) console.log(sink);
}
