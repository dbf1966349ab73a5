import { describe, expectTypeOf, it } from 'vitest';
import { type CircuitOpenError, isWeftError, type PoolClosedError, type WeftError } from 'weftjs';

describe('isWeftError types', () => {
  it('narrows unknown to the class of a core code, or to a WeftError with that code', () => {
    const err: unknown = null;
    if (isWeftError(err, 'ERR_CIRCUIT_OPEN')) {
      expectTypeOf(err).toEqualTypeOf<CircuitOpenError>();
      expectTypeOf(err.retryAfter).toEqualTypeOf<number>();
    }
    if (isWeftError(err, 'ERR_POOL_CLOSED')) expectTypeOf(err).toEqualTypeOf<PoolClosedError>();
    if (isWeftError(err, 'ERR_WORKER_CRASHED')) expectTypeOf(err.code).toEqualTypeOf<'ERR_WORKER_CRASHED'>();
    if (isWeftError(err)) expectTypeOf(err).toEqualTypeOf<WeftError>();
  });
});
