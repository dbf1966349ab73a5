/**
 * Streams in and out: a flow reads a Node Readable (log lines) and a web
 * ReadableStream (more lines), merges them, parses and filters, and is
 * handed to Readable.from and stream.pipeline like any other source, with
 * back-pressure across the boundary.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { flow, merge } from 'weftjs';

const nodeLines = Readable.from(['GET /a 200 12', 'GET /b 500 40', 'POST /c 201 7']);
const webLines = new ReadableStream<string>({
  start(c) {
    for (const line of ['GET /d 404 3', 'GET /e 200 90']) c.enqueue(line);
    c.close();
  },
});

const requests = flow(merge(nodeLines, webLines))
  .map((line) => {
    const [method, path, status, ms] = line.split(' ');
    return { method, path, status: Number(status), ms: Number(ms) };
  })
  .filter((r) => r.status < 400);

const written: string[] = [];
await pipeline(
  Readable.from(requests.map((r) => `${r.method} ${r.path} took ${r.ms} ms\n`)),
  new Writable({
    objectMode: true,
    write(chunk: string, _enc, done) {
      written.push(chunk);
      done();
    },
  }),
);
console.log(written.sort().join('').trimEnd());

// A web stream out: a flow is an async iterable, which ReadableStream.from takes in Node 20.6+;
// here through a pull source, which works in every Node 20.
const numbers = flow([1, 2, 3])
  .map((n) => n * n)
  [Symbol.asyncIterator]();
const out = new ReadableStream<number>({
  async pull(c) {
    const r = await numbers.next();
    if (r.done) c.close();
    else c.enqueue(r.value);
  },
});
const squares = await flow(out).toArray();
console.log(`squares through a web stream: ${squares.join(' ')}`);
