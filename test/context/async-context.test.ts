/**
 * Every weft primitive that calls a user function later calls it in the
 * async context of the caller that handed it over (issue 13, A): a
 * request-scoped logger or tracer built on `AsyncLocalStorage` sees its own
 * request, not that of whoever released a permit, freed a slot or aborted
 * a signal. Each case runs four callers in four stores on a primitive that
 * makes at least three of them wait, and checks what each function saw.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import {
  afterFunc,
  Channel,
  ErrGroup,
  flow,
  Mutex,
  RateLimiter,
  RWMutex,
  recv,
  retry,
  Semaphore,
  Singleflight,
  select,
  WorkerPool,
} from 'weftjs';
import { TestClock } from 'weftjs/testing';

const als = new AsyncLocalStorage<{ id: number }>();
const ids = [0, 1, 2, 3];
const seenId = () => als.getStore()?.id;
const tick = () => new Promise<void>((r) => setImmediate(r));

describe('user functions run in the async context of their caller', () => {
  it('Mutex.run, queued behind one another (the p-limit suite case)', async () => {
    const mu = new Mutex();
    const seen: (number | undefined)[] = [];
    await Promise.all(ids.map((id) => als.run({ id }, () => mu.run(async () => void seen.push(seenId())))));
    expect(seen).toEqual(ids);
  });

  it('Semaphore.run, with and without a signal, of weight 1 and 2', async () => {
    const sem = new Semaphore(2);
    const seen: (number | undefined)[] = [];
    const signal = new AbortController().signal;
    await Promise.all(
      ids.map((id) =>
        als.run({ id }, () =>
          sem.run(
            async () => {
              seen.push(seenId());
              await tick();
            },
            { weight: id % 2 === 0 ? 1 : 2, ...(id > 1 ? { signal } : {}) },
          ),
        ),
      ),
    );
    expect(seen.sort()).toEqual(ids);
  });

  it('RWMutex.run and runRead', async () => {
    const rw = new RWMutex();
    const seen: (number | undefined)[] = [];
    await Promise.all(
      ids.map((id) =>
        als.run({ id }, () => (id % 2 === 0 ? rw.run : rw.runRead).call(rw, async () => void seen.push(seenId()))),
      ),
    );
    expect(seen.sort()).toEqual(ids);
  });

  it('WorkerPool.submit, queued jobs started as others finish', async () => {
    const pool = new WorkerPool(
      async (id: number) => {
        await tick();
        return [id, seenId()];
      },
      { concurrency: 1 },
    );
    const out = await Promise.all(ids.map((id) => als.run({ id }, () => pool.submit(id))));
    expect(out).toEqual(ids.map((id) => [id, id]));
    await pool.close();
  });

  it('WorkerPool.map, whose loops wait for a slot behind submitted jobs', async () => {
    const pool = new WorkerPool(
      async (_n: number) => {
        await tick();
        return seenId();
      },
      { concurrency: 2 },
    );
    // Jobs of store 9 hold both slots; the map queues for a slot and gets it when they finish.
    const busy = als.run({ id: 9 }, () => [pool.submit(0), pool.submit(0)]);
    const mapped = als.run({ id: 1 }, () => pool.map([1, 2, 3, 4, 5]).toArray());
    expect(await Promise.all(busy)).toEqual([9, 9]);
    expect(await mapped).toEqual([1, 1, 1, 1, 1]);
    await pool.close();
  });

  it('WorkerPool.map after a resize made by another caller', async () => {
    const pool = new WorkerPool(
      async () => {
        await tick();
        return seenId();
      },
      { concurrency: 1 },
    );
    const mapped = als.run({ id: 2 }, () => pool.map([1, 2, 3, 4, 5, 6]).toArray());
    await tick();
    als.run({ id: 7 }, () => pool.resize(3));
    expect(await mapped).toEqual([2, 2, 2, 2, 2, 2]);
    await pool.close();
  });

  it('flow.map, filter and forEach', async () => {
    const out = await Promise.all(
      ids.map((id) =>
        als.run({ id }, async () => {
          const seen: (number | undefined)[] = [];
          await flow([1, 2, 3])
            .map(async (n) => {
              await tick();
              return n;
            })
            .filter(() => seen.push(seenId()) > 0, { concurrency: 2 })
            .forEach(() => void seen.push(seenId()));
          return seen;
        }),
      ),
    );
    expect(out).toEqual(ids.map((id) => Array(6).fill(id)));
  });

  it('ErrGroup.go, queued under a limit', async () => {
    const g = new ErrGroup({ limit: 1 });
    const seen: (number | undefined)[] = [];
    await Promise.all(
      ids.map((id) =>
        als.run({ id }, () =>
          g.go(async () => {
            seen.push(seenId());
            await tick();
          }),
        ),
      ),
    );
    await g.wait();
    expect(seen).toEqual(ids);
  });

  it('afterFunc runs fn in the context it was registered in, not the aborter’s', async () => {
    const ac = new AbortController();
    const seen: (number | undefined)[] = [];
    for (const id of ids) als.run({ id }, () => afterFunc(ac.signal, () => void seen.push(seenId())));
    als.run({ id: 99 }, () => ac.abort());
    await tick();
    expect(seen).toEqual(ids);
  });

  it('TestClock runs a timer callback in the context of its setTimeout call, as platform timers do', async () => {
    const clock = new TestClock();
    const seen: (number | undefined)[] = [];
    for (const id of ids) als.run({ id }, () => clock.setTimeout(() => void seen.push(seenId()), 10 * id));
    await als.run({ id: 99 }, () => clock.runAll());
    expect(seen).toEqual(ids);
  });

  it('select runs the committed case’s handler in the context of the select, not the sender’s', async () => {
    const ch = new Channel<number>();
    const chosen = als.run({ id: 1 }, () => select([recv(ch, () => seenId())]));
    await als.run({ id: 2 }, () => ch.send(5));
    expect(await chosen).toBe(1);
  });

  it('Singleflight runs fn in the first caller’s context; each caller resumes in its own', async () => {
    const sf = new Singleflight();
    const out = await Promise.all(
      ids.map((id) =>
        als.run({ id }, async () => {
          const ran = await sf.do('k', async () => {
            await tick();
            return seenId();
          });
          return [ran, seenId()];
        }),
      ),
    );
    expect(out).toEqual(ids.map((id) => [0, id]));
  });

  it('retry calls every attempt in its caller’s context, and a limiter wait resumes there', async () => {
    const clock = new TestClock();
    const limiter = new RateLimiter({ rate: 10, burst: 1, clock });
    const runs = ids.map((id) =>
      als.run({ id }, async () => {
        const seen: (number | undefined)[] = [];
        await limiter.wait();
        seen.push(seenId());
        await retry(
          (attempt) => {
            seen.push(seenId());
            if (attempt < 2) throw new Error('again');
          },
          { backoff: { initial: 5, jitter: 'none' }, clock },
        );
        return seen;
      }),
    );
    await als.run({ id: 99 }, () => clock.runAll());
    expect(await Promise.all(runs)).toEqual(ids.map((id) => [id, id, id]));
  });
});
