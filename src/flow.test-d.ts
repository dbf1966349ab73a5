import { describe, expectTypeOf, it } from 'vitest';
import { type Flow, fanOut, flow, merge, tee, WorkerPool } from 'weftjs';

describe('flow types', () => {
  it('each stage passes its item type on', () => {
    const f = flow([1, 2, 3]);
    expectTypeOf(f).toEqualTypeOf<Flow<number>>();
    expectTypeOf(f.map((n) => String(n))).toEqualTypeOf<Flow<string>>();
    expectTypeOf(f.map(async (n, signal) => ({ n, aborted: signal.aborted }))).toEqualTypeOf<
      Flow<{ n: number; aborted: boolean }>
    >();
    expectTypeOf(f.filter((n) => n > 1)).toEqualTypeOf<Flow<number>>();
    expectTypeOf(f.flatMap((n) => [n, String(n)])).toEqualTypeOf<Flow<number | string>>();
    expectTypeOf(f.batch(2)).toEqualTypeOf<Flow<number[]>>();
    expectTypeOf(
      f
        .take(1)
        .drop(1)
        .buffer(2)
        .tap(() => 0),
    ).toEqualTypeOf<Flow<number>>();
  });

  it('a type guard in filter narrows the items', () => {
    const mixed = flow<number | string>([1, 'a']);
    expectTypeOf(mixed.filter((x): x is string => typeof x === 'string')).toEqualTypeOf<Flow<string>>();
  });

  it('terminal operations resolve with what they collect', () => {
    const f = flow(['a']);
    expectTypeOf(f.toArray()).toEqualTypeOf<Promise<string[]>>();
    expectTypeOf(f.reduce((acc, s) => acc + s.length, 0)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(f.first()).toEqualTypeOf<Promise<string | undefined>>();
    expectTypeOf(f.count()).toEqualTypeOf<Promise<number>>();
    expectTypeOf(f.forEach(() => {})).toEqualTypeOf<Promise<void>>();
  });

  it('tee and fanOut give a tuple for a literal count, an array otherwise', () => {
    expectTypeOf(tee([1])).toEqualTypeOf<[Flow<number>, Flow<number>]>();
    expectTypeOf(tee([1], 3)).toEqualTypeOf<[Flow<number>, Flow<number>, Flow<number>]>();
    expectTypeOf(fanOut(['x'], 2)).toEqualTypeOf<[Flow<string>, Flow<string>]>();
    const n: number = 4;
    expectTypeOf(fanOut(['x'], n)).toEqualTypeOf<Flow<string>[]>();
    expectTypeOf(merge([1], ['a'])).toEqualTypeOf<Flow<number | string>>();
  });

  it('WorkerPool.map and mapSettled carry the job and result types', () => {
    const pool = new WorkerPool(async (job: { id: number }, { signal, worker }) => {
      expectTypeOf(signal).toEqualTypeOf<AbortSignal>();
      expectTypeOf(worker).toEqualTypeOf<number>();
      return job.id * 2;
    });
    expectTypeOf(pool.submit({ id: 1 })).toEqualTypeOf<Promise<number>>();
    expectTypeOf(pool.map([{ id: 1 }])).toEqualTypeOf<Flow<number>>();
    const settled = pool.mapSettled([{ id: 1 }]);
    expectTypeOf(settled).toEqualTypeOf<
      Flow<{ ok: true; job: { id: number }; value: number } | { ok: false; job: { id: number }; error: unknown }>
    >();
    // @ts-expect-error the job must be a { id: number }
    pool.submit('one');
  });
});
