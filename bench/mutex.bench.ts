/**
 * Mutex.run: uncontended (1,000 critical sections one after another, each
 * awaited) and contended (1,000 callers at once, each waiting its turn),
 * against async-mutex's Mutex.runExclusive and a hand-written mutex
 * (floor: a flag and a queue of waiting tasks, the next task started the
 * moment the lock is handed over).
 */
import { Mutex as AsyncMutex } from 'async-mutex';
import { Mutex } from 'weftjs';
import { compare } from './lib.js';

const N = 1000;
const task = (): Promise<number> => Promise.resolve(1);

/** The floor: the least a FIFO async mutex can do. */
class FloorMutex {
  locked = false;
  fns: (() => Promise<unknown>)[] = [];
  resolves: ((v: unknown) => void)[] = [];
  rejects: ((e: unknown) => void)[] = [];
  head = 0;
  readonly onValue = (v: unknown): unknown => {
    this.next();
    return v;
  };
  readonly onError = (e: unknown): never => {
    this.next();
    throw e;
  };

  run<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.locked) {
      this.locked = true;
      return fn().then(this.onValue as (v: T) => T, this.onError);
    }
    return new Promise<T>((resolve, reject) => {
      this.fns.push(fn);
      this.resolves.push(resolve as (v: unknown) => void);
      this.rejects.push(reject);
    });
  }

  next(): void {
    if (this.head === this.fns.length) {
      this.locked = false;
      if (this.head !== 0) {
        this.fns = [];
        this.resolves = [];
        this.rejects = [];
        this.head = 0;
      }
      return;
    }
    const i = this.head++;
    const resolve = this.resolves[i]!;
    const reject = this.rejects[i]!;
    this.fns[i]!().then(
      (v) => {
        resolve(v);
        this.next();
      },
      (e) => {
        reject(e);
        this.next();
      },
    );
  }
}

export default async function bench(): Promise<void> {
  const mu = new Mutex();
  const am = new AsyncMutex();
  const floor = new FloorMutex();

  const sequential = (run: (fn: () => Promise<number>) => Promise<number>) => async () => {
    let sum = 0;
    for (let i = 0; i < N; i++) sum += await run(task);
    return sum;
  };
  await compare(`Mutex.run uncontended (${N.toLocaleString('en')} critical sections one after another)`, {
    ops: N,
    unit: 'sections',
    cases: {
      'weft Mutex.run': sequential((fn) => mu.run(fn)),
      'floor (hand-written)': sequential((fn) => floor.run(fn)),
      'peer async-mutex runExclusive': sequential((fn) => am.runExclusive(fn)),
    },
    weft: 'weft Mutex.run',
    targets: [{ vs: 'peer async-mutex runExclusive', atLeast: 2 }, { vs: 'floor' }],
  });

  const concurrent = (run: (fn: () => Promise<number>) => Promise<number>) => () =>
    Promise.all(Array.from({ length: N }, () => run(task)));
  await compare(`Mutex.run contended (${N.toLocaleString('en')} callers at once)`, {
    ops: N,
    unit: 'sections',
    cases: {
      'weft Mutex.run': concurrent((fn) => mu.run(fn)),
      'floor (hand-written)': concurrent((fn) => floor.run(fn)),
      'peer async-mutex runExclusive': concurrent((fn) => am.runExclusive(fn)),
    },
    weft: 'weft Mutex.run',
    targets: [{ vs: 'peer async-mutex runExclusive', atLeast: 2 }, { vs: 'floor' }],
  });
}
