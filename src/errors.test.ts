import { describe, expect, it } from 'vitest';
import { Channel, isWeftError, Semaphore, WorkerPool, withCancel } from 'weftjs';

describe('isWeftError', () => {
  it('knows weft errors by their brand and their code', async () => {
    const pool = new WorkerPool((n: number) => n);
    await pool.close();
    const closed = await pool.submit(1).catch((e: unknown) => e);
    expect(isWeftError(closed)).toBe(true);
    expect(isWeftError(closed, 'ERR_POOL_CLOSED')).toBe(true);
    expect(isWeftError(closed, 'ERR_QUEUE_FULL')).toBe(false);
    const scope = withCancel();
    scope.cancel();
    expect(isWeftError(scope.signal.reason, 'ERR_CANCELED')).toBe(true);
  });

  it('is false for plain errors, argument errors with Node codes, aborts and non-errors', () => {
    expect(isWeftError(new Error('x'))).toBe(false);
    let argError: unknown;
    try {
      new Semaphore(-1);
    } catch (err) {
      argError = err;
    }
    expect((argError as { code?: string }).code).toBe('ERR_OUT_OF_RANGE');
    expect(isWeftError(argError)).toBe(false);
    expect(isWeftError(AbortSignal.abort().reason)).toBe(false);
    expect(isWeftError(Object.assign(new Error('lookalike'), { code: 'ERR_CHANNEL_CLOSED' }))).toBe(false);
    for (const v of [undefined, null, 'ERR_CANCELED', 42, {}]) expect(isWeftError(v)).toBe(false);
  });

  it('recognises an error of another copy of weft, which instanceof would not', () => {
    const foreign = Object.defineProperty(
      Object.assign(new Error('from elsewhere'), { code: 'ERR_CHANNEL_CLOSED' }),
      Symbol.for('weft.error'),
      { value: true },
    );
    expect(isWeftError(foreign, 'ERR_CHANNEL_CLOSED')).toBe(true);
  });

  it('keeps the brand out of sight and rejects a code that is not a string', () => {
    const ch = new Channel<number>();
    ch.close();
    let err: unknown;
    try {
      ch.trySend(1);
    } catch (e) {
      err = e;
    }
    expect(Object.keys(err as object)).not.toContain('weft.error');
    expect(Object.getOwnPropertySymbols(err).every((s) => !Object.getOwnPropertyDescriptor(err, s)!.enumerable)).toBe(
      true,
    );
    expect(() => isWeftError(err, 1 as never)).toThrow(TypeError);
  });
});
