/**
 * CPU-bound work on every core: SHA-256 over many buffers, each hashed in a
 * thread of a `ThreadPool` (`examples/tasks/hash.ts`), results in input
 * order through `pool.map`, a progress line on a terminal, and Ctrl-C
 * (SIGINT) aborting the map: the tasks running in their threads see their
 * signal abort and stop within a round, the queued ones never start.
 *
 * The output is the digest over the hashes received, which depends only on
 * the data. Under test (`WEFT_EXAMPLE_TEST=1`) the program presses Ctrl-C
 * itself after 20 results, once a thread has started on a later buffer,
 * and waits for it to land before it takes the next one; the buffers after
 * the 20th take a million rounds there, so that they are still running in
 * their threads when it lands, however loaded the machine. The run is the
 * same every time.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ThreadPool } from 'weftjs/threads';

const test = process.env.WEFT_EXAMPLE_TEST === '1';
const tty = process.stdout.isTTY === true && !test;
const COUNT = 48;
const SIZE = 256 * 1024;
const ROUNDS = 64;
const CTRL_C_AFTER = 20;
/** Under test, the rounds of the buffers after the 20th: minutes of work, which only the Ctrl-C ends. */
const HELD_ROUNDS = 1_000_000;

/** The i-th buffer: the same bytes on every run. */
function buffer(i: number): Uint8Array {
  const out = new Uint8Array(SIZE);
  let x = (i + 1) * 2654435761;
  for (let k = 0; k < SIZE; k++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    out[k] = x >>> 24;
  }
  return out;
}

function* jobs() {
  for (let i = 0; i < COUNT; i++) yield { data: buffer(i), rounds: test && i >= CTRL_C_AFTER ? HELD_ROUNDS : ROUNDS };
}

// [0]: tasks stopped by their signal inside their thread; [1]: tasks started (see tasks/hash.ts).
const counts = new Int32Array(new SharedArrayBuffer(8));
const pool = new ThreadPool({
  module: new URL('./tasks/hash.ts', import.meta.url),
  workerData: { counts: counts.buffer },
});
console.log(`hashing ${COUNT} buffers of ${SIZE / 1024} KiB, ${ROUNDS} rounds of SHA-256 each, on every core`);

const ac = new AbortController();
let interrupted!: () => void;
const landed = new Promise<void>((resolve) => (interrupted = resolve));
const onSigint = () => {
  console.log(`${tty ? '\n' : ''}Ctrl-C: stopping`);
  ac.abort(new Error('SIGINT'));
  interrupted();
};
process.once('SIGINT', onSigint);

const digest = createHash('sha256');
let received = 0;
try {
  for await (const hex of pool.map('hash', jobs(), { signal: ac.signal })) {
    digest.update(hex as string);
    received++;
    if (tty) process.stdout.write(`\r${received}/${COUNT} hashed`);
    if (test && received === CTRL_C_AFTER) {
      // A later buffer is running once more tasks than results have started.
      while (Atomics.load(counts, 1) <= received) await sleep(1);
      process.kill(process.pid, 'SIGINT');
      await landed;
    }
  }
  if (tty) process.stdout.write('\n');
  console.log('all hashed');
} catch (err) {
  console.log(`stopped by ${(err as Error).message}`);
} finally {
  process.off('SIGINT', onSigint);
}
console.log(`hashed ${received} of ${COUNT} buffers; digest of their hashes: ${digest.digest('hex').slice(0, 16)}`);
await pool.close();
const inThreads = Atomics.load(counts, 0);
console.log(`running tasks stopped inside their threads: ${inThreads > 0 ? 'yes' : 'no'}`);
console.log(`threads left after close: ${pool.stats.threads}`);
