/**
 * A pipeline, Go style: each stage is an async function (a goroutine) that
 * ranges over its input channel, sends to its output channel, and closes
 * the output when its input is exhausted, so the end of the data flows down
 * the pipeline. generate -> square -> filterEven.
 */
import { Channel } from 'weftjs';

function generate(...values: number[]): Channel<number> {
  const out = new Channel<number>();
  void (async () => {
    for (const v of values) await out.send(v);
    out.close();
  })();
  return out;
}

function square(input: Channel<number>): Channel<number> {
  const out = new Channel<number>();
  void (async () => {
    for await (const v of input) await out.send(v * v);
    out.close();
  })();
  return out;
}

function filterEven(input: Channel<number>): Channel<number> {
  const out = new Channel<number>();
  void (async () => {
    for await (const v of input) if (v % 2 === 0) await out.send(v);
    out.close();
  })();
  return out;
}

const results: number[] = [];
for await (const v of filterEven(square(generate(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)))) results.push(v);
console.log(results.join(' '));
