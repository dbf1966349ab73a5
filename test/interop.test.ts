/**
 * Flows with Node streams and web streams: Readables and ReadableStreams in,
 * `Readable.from(flow)` and `stream.pipeline` out, with back-pressure and
 * cleanup working across the boundary.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { flow, merge, WorkerPool } from 'weftjs';
import { trackLeaks } from 'weftjs/testing';
import { endless } from './support.js';

function sink() {
  const chunks: unknown[] = [];
  const stream = new Writable({
    objectMode: true,
    write(chunk, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { chunks, stream };
}

describe('interop', () => {
  it('reads a Node Readable in object mode', async () => {
    const out = await flow(Readable.from([1, 2, 3]))
      .map((n: number) => n * 2)
      .toArray();
    expect(out).toEqual([2, 4, 6]);
  });

  it('reads a web ReadableStream through its async iterator', async () => {
    const rs = new ReadableStream<string>({
      start(c) {
        c.enqueue('a');
        c.enqueue('b');
        c.close();
      },
    });
    expect(await flow(rs).toArray()).toEqual(['a', 'b']);
  });

  it('cancels a ReadableStream when the flow stops early', async () => {
    let cancelled = false;
    let i = 0;
    const rs = new ReadableStream<number>({
      pull(c) {
        c.enqueue(i++);
      },
      cancel() {
        cancelled = true;
      },
    });
    expect(await flow(rs).take(3).toArray()).toEqual([0, 1, 2]);
    expect(cancelled).toBe(true);
  });

  it('destroys a Readable when the flow stops early', async () => {
    const readable = Readable.from(endless());
    expect(await flow(readable).first()).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(readable.destroyed).toBe(true);
  });

  it('hands a flow to Readable.from and stream.pipeline', async () => {
    using leaks = trackLeaks();
    const { chunks, stream } = sink();
    const f = flow(['x', 'y', 'z']).map(async (s) => s.toUpperCase(), { concurrency: 2 });
    await pipeline(Readable.from(f), stream);
    expect(chunks).toEqual(['X', 'Y', 'Z']);
    expect(leaks.check()).toEqual({ waiters: 0, timers: 0, listeners: 0, details: [] });
  });

  it('runs as a pipeline transform between a Readable and a Writable', async () => {
    const { chunks, stream } = sink();
    await pipeline(
      Readable.from([1, 2, 3, 4]),
      (source: AsyncIterable<number>) => flow(source).filter((n) => n % 2 === 0),
      stream,
    );
    expect(chunks).toEqual([2, 4]);
  });

  it('stops the flow and its source when the pipeline’s destination fails', async () => {
    let closed = false;
    const failing = new Writable({
      objectMode: true,
      write(chunk, _enc, cb) {
        cb(chunk === 3 ? new Error('disk full') : null);
      },
    });
    await expect(
      pipeline(Readable.from(flow(endless(() => (closed = true))).map(async (n) => n)), failing),
    ).rejects.toThrow('disk full');
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(true);
  });

  it('aborts a pipeline of flows with the pipeline signal', async () => {
    const ac = new AbortController();
    let written = 0;
    const slow = new Writable({
      objectMode: true,
      write(_chunk, _enc, cb) {
        // Abort after a few writes, from inside the stream's own callbacks.
        if (++written === 5) ac.abort();
        setImmediate(cb);
      },
    });
    const done = pipeline(Readable.from(flow(endless(), { signal: ac.signal }).map(async (n) => n)), slow, {
      signal: ac.signal,
    });
    await expect(done).rejects.toMatchObject({ name: 'AbortError' });
    expect(written).toBe(5);
  });

  it('feeds a WorkerPool map and a merge from Node streams', async () => {
    const pool = new WorkerPool(async (n: number) => n + 1, { concurrency: 2 });
    const out: number[] = [];
    for await (const n of pool.map(merge(Readable.from([1, 2]), Readable.from([10, 20])))) out.push(n);
    expect(out.sort((a, b) => a - b)).toEqual([2, 3, 11, 21]);
    await pool.close();
  });
});
