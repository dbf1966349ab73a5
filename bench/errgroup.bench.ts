/**
 * ErrGroup with a limit as a bounded producer: 1,000,000 trivial async
 * tasks, at most 100 at a time, the producer awaiting `go()` for a slot
 * (backpressure), then `wait()`. Against Effect's `forEach` with
 * `concurrency: 100` and a hand-written floor: 100 async loops pulling from
 * one shared index.
 */
import type * as effect from 'effect';
import { ErrGroup } from 'weftjs';
import { compare } from './lib.js';

// Effect is loaded in the processes of its own rows only (their setup):
// its module graph is large, and in any other child it would only add to
// the startup and to the heap the collector walks.
let Effect: typeof effect.Effect;
async function loadEffect(): Promise<void> {
  ({ Effect } = await import('effect'));
}

const N = 1_000_000;
const LIMIT = 100;
let sink = 0;
const task = async (): Promise<void> => {
  sink++;
};

export default async function (): Promise<void> {
  await compare('ErrGroup: 1M async tasks, limit 100, producer with backpressure', {
    ops: N,
    unit: 'tasks',
    heavy: true,
    cases: {
      'weft ErrGroup go/wait': async () => {
        const g = new ErrGroup({ limit: LIMIT });
        for (let i = 0; i < N; i++) await g.go(task);
        await g.wait();
      },
      'peer effect forEach': {
        setup: async () => {
          await loadEffect();
          return Array.from({ length: N }, (_, i) => i);
        },
        run: (items: number[]) =>
          Effect.runPromise(Effect.forEach(items, () => Effect.promise(task), { concurrency: LIMIT, discard: true })),
      },
      'floor (hand-written)': async () => {
        let next = 0;
        const loop = async () => {
          while (next < N) {
            next++;
            await task();
          }
        };
        const loops: Promise<void>[] = [];
        for (let i = 0; i < LIMIT; i++) loops.push(loop());
        await Promise.all(loops);
      },
    },
    weft: 'weft ErrGroup go/wait',
    targets: [{ vs: 'floor', atMost: 2 }],
  });
  if (sink < 0) console.log(sink);
}
