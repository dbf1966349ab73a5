/**
 * Singleflight.do under a stampede: 1,000 keys, 100 concurrent callers per
 * key, one run of the function per key. Against a hand-written Map of
 * promises (the floor: no per-caller abort, no shared flag, no forget
 * safety).
 */
import { Singleflight } from 'weftjs';
import { compare } from './lib.js';

const KEYS = Array.from({ length: 1000 }, (_, i) => `user:${i}`);
const CALLERS = 100;
const load = (key: string) => async () => key.length;
// A fn that takes its signal gets an AbortController of its own per run.
const loadWithSignal = (key: string) => async (signal: AbortSignal) => (signal.aborted ? 0 : key.length);

export default async function (): Promise<void> {
  await compare('Singleflight: 1,000 keys x 100 concurrent callers', {
    ops: KEYS.length * CALLERS,
    unit: 'calls',
    cases: {
      'weft Singleflight.do': async () => {
        const sf = new Singleflight();
        const all: Promise<number>[] = [];
        for (const key of KEYS) {
          const fn = load(key);
          for (let c = 0; c < CALLERS; c++) all.push(sf.do(key, fn));
        }
        await Promise.all(all);
      },
      'weft Singleflight.do, fn takes its signal': async () => {
        const sf = new Singleflight();
        const all: Promise<number>[] = [];
        for (const key of KEYS) {
          const fn = loadWithSignal(key);
          for (let c = 0; c < CALLERS; c++) all.push(sf.do(key, fn));
        }
        await Promise.all(all);
      },
      'floor (hand-written Map of promises)': async () => {
        const inflight = new Map<string, Promise<number>>();
        const call = (key: string, fn: () => Promise<number>): Promise<number> => {
          let p = inflight.get(key);
          if (p === undefined) {
            p = fn().then(
              (v) => {
                inflight.delete(key);
                return v;
              },
              (e) => {
                inflight.delete(key);
                throw e;
              },
            );
            inflight.set(key, p);
          }
          return p;
        };
        const all: Promise<number>[] = [];
        for (const key of KEYS) {
          const fn = load(key);
          for (let c = 0; c < CALLERS; c++) all.push(call(key, fn));
        }
        await Promise.all(all);
      },
      'weft Singleflight.do, each caller with a signal': {
        // One signal per caller, as each request of a server has its own.
        setup: () => Array.from({ length: KEYS.length * CALLERS }, () => new AbortController().signal),
        run: async (signals: AbortSignal[]) => {
          const sf = new Singleflight();
          const all: Promise<number>[] = [];
          let i = 0;
          for (const key of KEYS) {
            const fn = load(key);
            for (let c = 0; c < CALLERS; c++) all.push(sf.do(key, fn, { signal: signals[i++] }));
          }
          await Promise.all(all);
        },
      },
    },
    weft: 'weft Singleflight.do',
    targets: [{ vs: 'floor', note: 'close to the floor: no threshold set' }],
  });
}
