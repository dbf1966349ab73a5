import { describe, expectTypeOf, it } from 'vitest';
import { ErrGroup } from 'weftjs';

describe('ErrGroup types', () => {
  it('tasks get the group signal; go resolves once started, wait once all settled', () => {
    const g = new ErrGroup({ limit: 2 });
    expectTypeOf(g.signal).toEqualTypeOf<AbortSignal>();
    expectTypeOf(
      g.go((signal) => {
        expectTypeOf(signal).toEqualTypeOf<AbortSignal>();
        return 1;
      }),
    ).toEqualTypeOf<Promise<void>>();
    expectTypeOf(g.tryGo(async () => {})).toEqualTypeOf<boolean>();
    expectTypeOf(g.wait()).toEqualTypeOf<Promise<void>>();
  });
});
