/**
 * Fan-in: several producers, each with its own channel, merged into one
 * channel that closes once every input has closed (Go's `merge` with a
 * WaitGroup, here a count of the inputs still open).
 */
import { Channel } from 'weftjs';

function producer(name: string, count: number): Channel<string> {
  const out = new Channel<string>();
  void (async () => {
    for (let i = 1; i <= count; i++) await out.send(`${name}${i}`);
    out.close();
  })();
  return out;
}

function merge<T>(...inputs: Channel<T>[]): Channel<T> {
  const out = new Channel<T>();
  let open = inputs.length;
  for (const input of inputs) {
    void (async () => {
      for await (const v of input) await out.send(v);
      if (--open === 0) out.close();
    })();
  }
  return out;
}

const merged: string[] = [];
for await (const v of merge(producer('a', 3), producer('b', 2), producer('c', 4))) merged.push(v);

// The interleaving depends on scheduling; what is guaranteed is that every
// value arrives once, and each producer's values arrive in its own order.
console.log(`received ${merged.length} values`);
for (const name of ['a', 'b', 'c']) console.log(`${name}: ${merged.filter((v) => v.startsWith(name)).join(' ')}`);
