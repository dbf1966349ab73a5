/**
 * Pub/sub: sub1 listens on `orders` and `payments`, sub2 on `orders` only.
 * Three messages are published (one on a topic nobody listens to); each
 * subscriber reads its own copy with `for await`, and both loops end once
 * the hub closes and their buffers are drained.
 *
 * Run: npx tsx examples/23-pubsub.ts
 */
import { PubSub, type Subscription } from 'weftjs';

type Event = { id: number; amount: number };

const hub = new PubSub<Event>();
const sub1 = hub.subscribe(['orders', 'payments']);
const sub2 = hub.subscribe('orders');
console.log(`subscribers: ${hub.subscribers}`);

/** Reads a subscription to its end, printing each message. */
async function consume(name: string, sub: Subscription<Event>): Promise<number> {
  let n = 0;
  for await (const { topic, payload } of sub) {
    n++;
    console.log(`${name} got ${topic} #${payload.id} (${payload.amount} EUR)`);
  }
  console.log(`${name} done after ${n} message(s)`);
  return n;
}

const readers = Promise.all([consume('sub1', sub1), consume('sub2', sub2)]);

for (const [topic, event] of [
  ['orders', { id: 1, amount: 120 }],
  ['payments', { id: 1, amount: 120 }],
  ['shipping', { id: 1, amount: 0 }],
] as const) {
  const { delivered, dropped } = await hub.publish(topic, event);
  console.log(`publish ${topic}: delivered to ${delivered}, dropped ${dropped}`);
}

hub.close();
const [n1, n2] = await readers;
console.log(`sub1 received ${n1}, sub2 received ${n2}; subscribers left: ${hub.subscribers}`);
