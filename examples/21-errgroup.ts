/**
 * Fetch-all with first-error cancellation: four simulated fetches run in an
 * ErrGroup, at most three at a time. The inventory service fails; the
 * group's signal aborts with its error, the fetches still in flight see
 * their signal abort and stop at once, and wait() rejects with the first
 * error. A slot that frees before the failure goes to the call that was
 * waiting for it. Time is virtual (TestClock), so the run is instant and
 * the output exact.
 *
 * Run: npx tsx examples/21-errgroup.ts
 */
import { ErrGroup, sleep } from 'weftjs';
import { TestClock } from 'weftjs/testing';

const clock = new TestClock();
const log = (line: string) => console.log(`t=${String(clock.now()).padStart(2)}ms  ${line}`);

/** A fake HTTP call: answers after `ms` of virtual time, or fails; stops when `signal` aborts. */
async function fetchService(name: string, ms: number, fails: boolean, signal: AbortSignal): Promise<string> {
  await sleep(ms, { signal, clock });
  if (fails) throw new Error(`${name}: 503 Service Unavailable`);
  return `${name}: 200 OK`;
}

const services = [
  { name: 'users', ms: 15, fails: false },
  { name: 'orders', ms: 50, fails: false },
  { name: 'inventory', ms: 20, fails: true },
  { name: 'prices', ms: 40, fails: false },
];

const g = new ErrGroup({ limit: 3 });
const results: string[] = [];
for (const s of services) {
  // Not awaited: the fourth call waits for a slot while the clock runs.
  g.go(async (signal) => {
    log(`${s.name}: fetching`);
    try {
      results.push(await fetchService(s.name, s.ms, s.fails, signal));
    } catch (err) {
      if (err === signal.reason && !s.fails) log(`${s.name}: cancelled`);
      else log(`${s.name}: failed (${(err as Error).message})`);
      throw err;
    }
  });
}

await clock.runAll();
try {
  await g.wait();
  console.log(`all fetched: ${results.join(', ')}`);
} catch (err) {
  console.log(`wait() rejected with the first error: ${(err as Error).message}`);
  console.log(`group signal reason is that error: ${g.signal.reason === err}`);
  console.log(`fetched before the failure: ${results.length === 0 ? 'none' : results.join(', ')}`);
}
