/**
 * A pipeline with cancellation: read -> parse (4 at a time) -> keep the
 * valid ones -> batch -> store. Halfway through, the signal aborts (a
 * deadline, a shutdown): the stages still working see their signal abort,
 * the source is closed, and the run rejects with the reason, leaving no
 * timer or listener behind.
 */
import { flow } from 'weftjs';
import { TestClock, trackLeaks } from 'weftjs/testing';

using leaks = trackLeaks();
const clock = new TestClock();
const wait = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

let sourceClosed = false;
function* records() {
  try {
    for (let i = 1; i <= 1000; i++) yield `{"id":${i},"ok":${i % 3 !== 0}}`;
  } finally {
    sourceClosed = true;
  }
}

const ac = new AbortController();
let interrupted = 0;
const stored: number[][] = [];
const run = flow(records(), { signal: ac.signal, clock })
  .map(
    async (line, signal) => {
      try {
        await wait(10, signal); // parsing is slow
      } catch (err) {
        interrupted++;
        throw err;
      }
      return JSON.parse(line) as { id: number; ok: boolean };
    },
    { concurrency: 4 },
  )
  .filter((r) => r.ok)
  .map((r) => r.id)
  .batch(5)
  .forEach((batch) => {
    stored.push(batch);
    console.log(`stored ${batch.join(',')}`);
    if (stored.length === 3) ac.abort(new Error('shutting down'));
  });

const outcome = run.then(
  () => 'finished',
  (e: Error) => `stopped: ${e.message}`,
);
await clock.runAll();
console.log(await outcome);
console.log(`batches stored: ${stored.length}; parses interrupted: ${interrupted}; source closed: ${sourceClosed}`);
console.log('left behind:', leaks.check());
