/**
 * A smoke suite of the BUILT package (dist/, ESM) for the runtimes that are not Node: Bun and Deno run it as it is
 * (`bun test/runtimes/smoke.mjs`, `deno run test/runtimes/smoke.mjs`; scripts/ci-runtimes.sh does both). It uses
 * only what every runtime has, and real time in steps of a few milliseconds, as a user's program would. Each check
 * prints its line; the last line reads `N passed, N failed`, and any failure exits 1.
 */
import {
  Channel,
  ErrGroup,
  Flow,
  flow,
  Mutex,
  RateLimiter,
  recv,
  Semaphore,
  select,
  sleep,
  Ticker,
  WorkerPool,
  withTimeout,
} from '../../dist/index.js';
import { TestClock, trackLeaks } from '../../dist/testing/index.js';

const runtime =
  typeof globalThis.Bun !== 'undefined'
    ? `bun ${globalThis.Bun.version}`
    : typeof globalThis.Deno !== 'undefined'
      ? `deno ${globalThis.Deno.version.deno}`
      : `node ${globalThis.process?.version}`;

function equal(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

const checks = {
  async 'a channel hands values over in order and closes'() {
    const ch = new Channel(2);
    const got = [];
    const reader = (async () => {
      for await (const v of ch) got.push(v);
    })();
    for (const v of [1, 2, 3, 4]) await ch.send(v);
    ch.close();
    await reader;
    equal(got, [1, 2, 3, 4], 'received');
    equal(await ch.recv(), { value: undefined, done: true }, 'recv after close');
  },

  async 'select takes the ready case, and an abort ends a blocked one'() {
    const a = new Channel();
    const b = new Channel(1);
    await b.send('b');
    equal(await select([recv(a, (v) => `a ${v}`), recv(b, (v) => `b ${v}`)]), 'b b', 'ready case');
    const s = withTimeout(undefined, 5);
    const err = await select([recv(a, () => 'never')], { signal: s.signal }).catch((e) => e);
    equal(err?.code, 'ERR_DEADLINE_EXCEEDED', 'timed-out select');
  },

  async 'a flow maps with concurrency, in order, and names its class'() {
    const out = await flow([1, 2, 3, 4, 5])
      .map(
        async (n) => {
          await sleep(6 - n);
          return n * 10;
        },
        { concurrency: 3 },
      )
      .filter((n) => n !== 30)
      .toArray();
    equal(out, [10, 20, 40, 50], 'mapped');
    equal(Flow.name, 'Flow', 'Flow.name');
  },

  async 'a WorkerPool bounds concurrency and closes'() {
    let running = 0;
    let peak = 0;
    const pool = new WorkerPool(
      async (n) => {
        peak = Math.max(peak, ++running);
        await sleep(2);
        running--;
        return n * n;
      },
      { concurrency: 3 },
    );
    const squares = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((n) => pool.submit(n)));
    await pool.close();
    equal(squares, [1, 4, 9, 16, 25, 36, 49], 'results');
    equal(peak, 3, 'peak concurrency');
    equal((await pool.submit(1).catch((e) => e)).code, 'ERR_POOL_CLOSED', 'submit after close');
  },

  async 'a Semaphore serves waiters in order, and an ErrGroup cancels on the first error'() {
    const sem = new Semaphore(2);
    const order = [];
    const first = await sem.acquire(2);
    const waiting = [1, 2].map((n) =>
      sem.acquire().then((lock) => {
        order.push(n);
        return lock;
      }),
    );
    equal(sem.available, 0, 'available while held');
    first.release();
    for (const lock of await Promise.all(waiting)) lock.release();
    equal(order, [1, 2], 'order');
    equal(sem.available, 2, 'available after release');

    const g = new ErrGroup();
    let aborted = false;
    g.go(
      (signal) =>
        new Promise((resolve) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve();
          });
        }),
    );
    g.go(async () => {
      throw new Error('boom');
    });
    equal((await g.wait().catch((e) => e)).message, 'boom', 'group error');
    equal(aborted, true, 'sibling aborted');
  },

  async 'timers: a Ticker ticks and stops, virtual time runs timers, a mutex and a rate limiter work'() {
    const ticker = new Ticker(3);
    let ticks = 0;
    for await (const _ of ticker) if (++ticks === 3) ticker.stop();
    equal(ticks, 3, 'ticks');

    const clock = new TestClock();
    const woke = [];
    const sleeping = [30, 10, 20].map((ms) => sleep(ms, { clock }).then(() => woke.push(ms)));
    await clock.advance(25);
    await Promise.resolve();
    equal(woke, [10, 20], 'woke by 25 ms');
    await clock.runAll();
    await Promise.all(sleeping);
    equal(woke, [10, 20, 30], 'all woke');

    const mu = new Mutex();
    const lock = await mu.lock();
    equal(mu.locked, true, 'locked');
    lock.release();
    equal(mu.locked, false, 'unlocked');

    const limiter = new RateLimiter({ rate: 10, burst: 2, clock });
    equal([limiter.allow(), limiter.allow(), limiter.allow()], [true, true, false], 'burst');
  },

  async 'an abort leaves no listener behind'() {
    const leaks = trackLeaks();
    const ac = new AbortController();
    const ch = new Channel();
    const pending = ch.recv({ signal: ac.signal }).catch((e) => e);
    equal(leaks.check().listeners, 1, 'listener while waiting');
    ac.abort('stop');
    equal(await pending, 'stop', 'rejected with the reason');
    equal(leaks.check().listeners, 0, 'listeners after abort');
  },
};

let passed = 0;
let failed = 0;
for (const [name, check] of Object.entries(checks)) {
  try {
    await check();
    passed++;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}\n     ${err?.stack ?? err}`);
  }
}
console.log(`smoke (${runtime}): ${passed} passed, ${failed} failed`);
if (failed > 0) globalThis.process?.exit?.(1) ?? globalThis.Deno?.exit(1);
