/**
 * A million jobs through a WorkerPool of 100 workers, from a lazy source:
 * the pool pulls jobs only as workers free up, so memory stays flat however
 * long the source is. On a terminal a live line shows the rate, the jobs in
 * flight and queued, and the process's memory; the run ends with a summary.
 * (Under test, or when stdout is not a terminal: no live line, and 100,000
 * jobs to stay quick.)
 */
import { WorkerPool } from 'weftjs';

const quiet = process.env.WEFT_EXAMPLE_TEST === '1' || !process.stdout.isTTY;
const total = process.env.WEFT_EXAMPLE_TEST === '1' ? 100_000 : 1_000_000;
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

function* jobs() {
  for (let i = 0; i < total; i++) yield i;
}

const pool = new WorkerPool(
  async (n: number) => {
    await null; // an async job that does next to nothing: this measures the pool
    return n * 2;
  },
  { concurrency: 100 },
);

const started = performance.now();
let done = 0;
let sum = 0;
let peakRss = 0;
let last = started;
for await (const r of pool.map(jobs(), { ordered: false })) {
  done++;
  sum += r;
  if (done % 20_000 === 0) {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    if (!quiet && performance.now() - last > 100) {
      last = performance.now();
      const rate = Math.round(done / ((last - started) / 1000));
      const { running, queued } = pool.stats;
      process.stdout.write(
        `\r${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}  ${rate.toLocaleString('en-US')} jobs/s  in flight ${running}  queued ${queued}  RSS ${mb(process.memoryUsage.rss())}   `,
      );
      await new Promise((r) => setImmediate(r)); // let the terminal update
    }
  }
}
const ms = performance.now() - started;
if (!quiet) process.stdout.write('\n');
await pool.close();

const expected = total * (total - 1); // 2 * (0 + 1 + ... + total-1)
console.log(`${done.toLocaleString('en-US')} jobs done, results check: ${sum === expected ? 'ok' : 'WRONG'}`);
console.log(`${Math.round(ms)} ms, ${Math.round(done / (ms / 1000)).toLocaleString('en-US')} jobs/s`);
console.log(`peak RSS ${mb(Math.max(peakRss, process.memoryUsage.rss()))}`);
console.log(`stats: ${JSON.stringify(pool.stats)}`);
