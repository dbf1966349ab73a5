import { describe, expectTypeOf, it } from 'vitest';
import { Singleflight } from 'weftjs';

describe('Singleflight types', () => {
  it('do and doShared infer the value type from fn, awaited', () => {
    const sf = new Singleflight();
    expectTypeOf(sf.do('k', async () => ({ user: 'ann' }))).toEqualTypeOf<Promise<{ user: string }>>();
    expectTypeOf(sf.do('k', () => 42)).toEqualTypeOf<Promise<number>>();
    expectTypeOf(sf.doShared('k', async (signal) => signal.aborted)).toEqualTypeOf<
      Promise<{ value: boolean; shared: boolean }>
    >();
  });
});
