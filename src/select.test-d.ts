import { describe, expectTypeOf, it } from 'vitest';
import { after, type Case, Channel, recv, select, send } from 'weftjs';

describe('select types', () => {
  it('a receive case narrows its value once ok is checked', () => {
    const ch = new Channel<number>();
    recv(ch, (v, ok) => {
      if (ok) expectTypeOf(v).toEqualTypeOf<number>();
      else expectTypeOf(v).toEqualTypeOf<undefined>();
    });
    // A handler that declares its own parameter types is accepted too.
    expectTypeOf(recv(ch, (v: number | undefined, ok: boolean) => (ok ? v : -1))).toEqualTypeOf<
      Case<number | undefined>
    >();
    expectTypeOf(recv(ch)).toEqualTypeOf<Case<undefined>>();
  });

  it('resolves with the union of what the cases return, awaited', () => {
    const ch = new Channel<string>();
    const out = new Channel<Uint8Array>();
    const r = select([
      recv(ch, (s, ok) => (ok ? s.length : null)),
      send(out, new Uint8Array(1), () => 'sent' as const),
      recv(after(10), () => Promise.resolve(true)),
    ]);
    expectTypeOf(r).toEqualTypeOf<Promise<number | null | 'sent' | boolean>>();
  });

  it('adds what default returns', () => {
    const ch = new Channel<number>();
    const r = select([recv(ch, (n, ok) => (ok ? n : 0))], { default: () => 'none' as const });
    expectTypeOf(r).toEqualTypeOf<Promise<number | 'none'>>();
  });

  it('refuses a value of the wrong type on a send case', () => {
    const ch = new Channel<number>();
    // @ts-expect-error a string is not a number
    send(ch, 'one');
  });
});
