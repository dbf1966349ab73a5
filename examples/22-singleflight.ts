/**
 * 100 concurrent requests, 1 database query: a cache stampede on one key is
 * turned into a single query by Singleflight, and every request gets its
 * result. Once the query settles the key is free, so the next wave runs one
 * fresh query. A request that gives up (its signal aborts) leaves alone; the
 * query goes on for the others. Time is virtual (TestClock).
 *
 * Run: npx tsx examples/22-singleflight.ts
 */
import { Singleflight, sleep } from 'weftjs';
import { TestClock } from 'weftjs/testing';

const clock = new TestClock();
const sf = new Singleflight();
let queries = 0;

/** The slow part: one round trip to the database (25 ms of virtual time). */
async function queryUser(id: number, signal: AbortSignal): Promise<{ id: number; name: string }> {
  queries++;
  console.log(`t=${clock.now()}ms  SELECT * FROM users WHERE id = ${id}  (query #${queries})`);
  await sleep(25, { signal, clock });
  return { id, name: 'Ada Lovelace' };
}

/** A request handler: every request for a user goes through the singleflight. */
function getUser(id: number, signal?: AbortSignal) {
  return sf.doShared(`user:${id}`, (s) => queryUser(id, s), { signal });
}

// Wave 1: 100 requests arrive at once.
const wave1 = Array.from({ length: 100 }, () => getUser(42));
console.log(`in flight: ${sf.inFlight} key(s) for ${wave1.length} requests`);
await clock.runAll();
const results = await Promise.all(wave1);
console.log(`wave 1: ${results.length} responses, ${queries} query, all shared: ${results.every((r) => r.shared)}`);
console.log(`response: ${JSON.stringify(results[0]!.value)}`);

// Wave 2: the key is free again, so it runs one new query; one request times out.
const impatient = new AbortController();
const wave2 = Promise.allSettled([getUser(42, impatient.signal), ...Array.from({ length: 9 }, () => getUser(42))]);
await clock.advance(10);
impatient.abort(new Error('request timed out'));
await clock.runAll();
const settled = await wave2;
const ok = settled.filter((r) => r.status === 'fulfilled').length;
const gaveUp = settled.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.message);
console.log(`wave 2: ${ok} responses, ${gaveUp.length} gave up (${gaveUp.join(', ')}), ${queries} queries in all`);
console.log(`in flight now: ${sf.inFlight}`);
