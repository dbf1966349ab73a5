/**
 * Fan-out, fan-in: three workers compete for the URLs of one source
 * (fanOut: each URL goes to exactly one worker), each fetches at its own
 * pace, and merge gathers their results into one stream as they come.
 * Time is virtual (TestClock), so the run is instant and repeatable.
 */
import { fanOut, merge } from 'weftjs';
import { TestClock } from 'weftjs/testing';

const clock = new TestClock();
const urls = Array.from({ length: 12 }, (_, i) => `https://example.com/page/${i + 1}`);
const speed = [30, 50, 80]; // ms per fetch for workers 0, 1, 2

const workers = fanOut(urls, 3).map((urls, w) =>
  urls.map(async (url) => {
    await new Promise<void>((r) => clock.setTimeout(() => r(), speed[w]!));
    return { url, worker: w, at: clock.now() };
  }),
);

const run = merge(...workers).toArray();
await clock.runAll();
const results = await run;

for (const r of results) console.log(`${String(r.at).padStart(3)} ms  worker ${r.worker}  ${r.url}`);
const counts = [0, 1, 2].map((w) => results.filter((r) => r.worker === w).length);
console.log(`fetched ${results.length} pages, each once: ${new Set(results.map((r) => r.url)).size === urls.length}`);
console.log(`pages per worker (faster workers take more): ${counts.join(' ')}`);
console.log(`done at ${clock.now()} ms`);
