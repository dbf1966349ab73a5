/**
 * Tee: one channel copied to two consumers, each seeing every value. The
 * tee sends each value to both outputs before taking the next, so the
 * slower consumer sets the pace (Go's tee, without dropping values), and it
 * closes both outputs when the input closes.
 */
import { Channel } from 'weftjs';

function tee<T>(input: Channel<T>): [Channel<T>, Channel<T>] {
  const left = new Channel<T>();
  const right = new Channel<T>();
  void (async () => {
    for await (const v of input) await Promise.all([left.send(v), right.send(v)]);
    left.close();
    right.close();
  })();
  return [left, right];
}

const source = new Channel<number>();
void (async () => {
  for (let i = 1; i <= 5; i++) await source.send(i);
  source.close();
})();

const [a, b] = tee(source);
const sum = async (ch: Channel<number>) => {
  let total = 0;
  for await (const v of ch) total += v;
  return total;
};
const logged: number[] = [];
const log = async (ch: Channel<number>) => {
  for await (const v of ch) logged.push(v);
};
const [total] = await Promise.all([sum(a), log(b)]);
console.log(`consumer 1 summed ${total}`);
console.log(`consumer 2 saw ${logged.join(' ')}`);
