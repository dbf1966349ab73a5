/**
 * One callback shape mistake, one loud error (issue 13, item 7): written
 * with the other shape, a callback fails at once with a TypeError that
 * names the right one, instead of running on without cancellation.
 */
import { describe, expect, it } from 'vitest';
import { ErrGroup, flow, retry, Singleflight, WorkerPool } from 'weftjs';

const wrongShape = { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' };

describe('callback shapes', () => {
  it('a flow stage written (x, { signal }) rejects with the shape to write', async () => {
    const run = flow([1])
      .map((x, { signal }: any) => [x, signal])
      .toArray();
    await expect(run).rejects.toMatchObject(wrongShape);
    await expect(run).rejects.toThrow('write (x, signal) => …');
    await expect(flow([1]).forEach((_x, { signal }: any) => void signal)).rejects.toMatchObject(wrongShape);
    await expect(
      flow([[1]])
        .flatMap((x, { signal }: any) => (signal ? x : x))
        .toArray(),
    ).rejects.toMatchObject(wrongShape);
  });

  it('the right shapes still work, and the stage signal is a plain AbortSignal', async () => {
    expect(
      await flow([1, 2])
        .map((x, signal) => (signal instanceof AbortSignal ? x : -1))
        .toArray(),
    ).toEqual([1, 2]);
    const pool = new WorkerPool((job: number, { signal, worker }) => [job, signal.aborted, worker]);
    expect(await pool.submit(7)).toEqual([7, false, 0]);
    expect(await pool.map([8]).toArray()).toEqual([[8, false, 0]]);
    await pool.close();
  });

  it('WorkerPool work written (job, signal) throws when it reads the context as the signal', async () => {
    const pool = new WorkerPool((_job: number, signal: any) => signal.aborted, { concurrency: 1 });
    await expect(pool.submit(1)).rejects.toMatchObject(wrongShape);
    await expect(pool.submit(1)).rejects.toThrow('write (job, { signal }) => …');
    await expect(pool.map([1]).toArray()).rejects.toThrow('JobContext { signal, worker }');
    await pool.close();
  });

  it('ErrGroup.go, Singleflight.do and retry written ({ signal }) fail with the shape to write', async () => {
    const g = new ErrGroup();
    g.go(({ signal }: any) => signal);
    await expect(g.wait()).rejects.toThrow('ErrGroup.go: the callback receives the AbortSignal itself');
    await expect(new Singleflight().do('k', ({ signal }: any) => signal)).rejects.toThrow('write (signal) => …');
    await expect(retry((_n, { signal }: any) => signal, { attempts: 1 })).rejects.toThrow(
      'write (attempt, signal) => …',
    );
  });
});
