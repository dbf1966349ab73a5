import { describe, expectTypeOf, it } from 'vitest';
import type { Flow } from 'weftjs';
import { type TaskContext, ThreadPool, type Transferred, transfer } from 'weftjs/threads';

type Tasks = typeof import('../../test/threads/fixtures/tasks.js');

describe('ThreadPool types', () => {
  it('with the module type, run checks the task name, the argument and the result', () => {
    const pool = new ThreadPool<Tasks>({ module: 'test/threads/fixtures/tasks.ts' });
    expectTypeOf(pool.run('square', 3)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(pool.run('add', [1, 2])).toEqualTypeOf<Promise<number>>();
    expectTypeOf(pool.run('later', 1)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(pool.run('whoami')).toEqualTypeOf<Promise<number>>();
    // transfer() is unwrapped: the call resolves with the value.
    expectTypeOf(pool.run('double', new Uint8Array(1))).toEqualTypeOf<Promise<Uint8Array>>();
    expectTypeOf(pool.run('sleep', 5, { signal: AbortSignal.timeout(1) })).toEqualTypeOf<Promise<number>>();
    // @ts-expect-error: not an exported function
    pool.run('notATask');
    // @ts-expect-error: no such export
    pool.run('nope', 1);
    // @ts-expect-error: the argument has the wrong type
    pool.run('square', 'three');
    // @ts-expect-error: the argument is required
    pool.run('square');
  });

  it('with the module type, map checks the name and the items, and yields the result type', () => {
    const pool = new ThreadPool<Tasks>({ module: 'test/threads/fixtures/tasks.ts' });
    expectTypeOf(pool.map('square', [1, 2])).toEqualTypeOf<Flow<number>>();
    async function* pairs() {
      yield [1, 2] as [number, number];
    }
    expectTypeOf(pool.map('add', pairs(), { ordered: false })).toEqualTypeOf<Flow<number>>();
    // @ts-expect-error: items of the wrong type
    pool.map('square', ['a']);
    // @ts-expect-error: not an exported function
    pool.map('notATask', [1]);
  });

  it('without a type argument, run and map take any name and are typed by their type arguments', () => {
    const pool = new ThreadPool({ module: 'tasks.js' });
    expectTypeOf(pool.run('anything')).toEqualTypeOf<Promise<unknown>>();
    expectTypeOf(pool.run<number>('anything', { any: 'arg' })).toEqualTypeOf<Promise<number>>();
    expectTypeOf(pool.run('x', 1, { transfer: [new ArrayBuffer(1)] })).toEqualTypeOf<Promise<unknown>>();
    expectTypeOf(pool.map('x', [1, 2])).toEqualTypeOf<Flow<unknown>>();
    expectTypeOf(pool.map<number, string>('x', [1, 2])).toEqualTypeOf<Flow<string>>();
    expectTypeOf(pool.map('x', [1, 2])).toMatchTypeOf<AsyncIterable<unknown>>();
  });

  it('a task is (arg, { signal }) and transfer() keeps the value type', () => {
    expectTypeOf<TaskContext['signal']>().toEqualTypeOf<AbortSignal>();
    const t = transfer(new Uint8Array(2), []);
    expectTypeOf(t).toEqualTypeOf<Transferred<Uint8Array<ArrayBuffer>>>();
    expectTypeOf(t.value).toEqualTypeOf<Uint8Array<ArrayBuffer>>();
    const pool = new ThreadPool({ module: 'tasks.js' });
    expectTypeOf(pool.stats.canceled).toEqualTypeOf<number>();
    expectTypeOf(pool[Symbol.asyncDispose]()).toEqualTypeOf<Promise<void>>();
  });
});
