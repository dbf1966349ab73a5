/**
 * processWithLimit: process 10 items with at most 3 at a time, on a
 * weighted Semaphore. Each item takes a different time (on a virtual clock,
 * so the run is instant and the output exact); a slot that frees is taken
 * at once by the next item in line, and the results come back in input
 * order.
 *
 * Run: npx tsx examples/20-semaphore.ts
 */
import { Semaphore, sleep } from 'weftjs';
import { TestClock } from 'weftjs/testing';

/** Runs `fn` on every item, at most `limit` at a time; resolves with the results in input order. */
function processWithLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const sem = new Semaphore(limit);
  return Promise.all(items.map((item) => sem.run(() => fn(item))));
}

const clock = new TestClock();
const items = Array.from({ length: 10 }, (_, i) => i + 1);
let running = 0;
let peak = 0;
const stamp = () => `t=${String(clock.now()).padStart(3)}ms`;

const done = processWithLimit(items, 3, async (item) => {
  running++;
  peak = Math.max(peak, running);
  console.log(`${stamp()}  start item ${String(item).padStart(2)}  (${running} running)`);
  await sleep(10 + ((item * 37) % 50), { clock });
  running--;
  console.log(`${stamp()}  done  item ${String(item).padStart(2)}`);
  return item * item;
});

await clock.runAll();
const results = await done;
console.log(`max concurrency: ${peak}`);
console.log(`results in input order: ${results.join(', ')}`);
console.log(`finished at t=${clock.now()}ms`);
