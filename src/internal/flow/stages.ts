/**
 * The sequential flow stages, one item at a time: tap, take, drop,
 * flatMap, batch, throttle. The concurrent stages run on `engine.ts`; the
 * many-source ones (merge, fanOut, tee) are in `fan.ts`.
 *
 * Every stage pulls: it asks its upstream for an item only when its own
 * consumer asks for one, and on any exit (end, error, consumer break) it
 * calls `return()` on its upstream, so the source is closed once, whatever
 * ends the flow.
 */
import type { Clock } from '../../clock.js';
import { isThenable } from '../promise.js';
import { startTimer, stopTimer } from '../timer.js';
import type { Upstream } from './source.js';
import { closeUpstream, openSource, type Source, StageCtl } from './source.js';

type Pull<T> = IteratorResult<T> | Promise<IteratorResult<T>>;

/**
 * The next item of `up`: at once from a synchronous source, unless the item
 * is a thenable, which is awaited first (as p-map does) so that no stage
 * ever sees a promise its consumer would see resolved; a promise otherwise.
 */
function pull<T>(up: Upstream<T>, sync: boolean, outer: AbortSignal | undefined): Pull<T> {
  if (!sync) return up.next() as Promise<IteratorResult<T>>;
  // A sync upstream never waits, so the flow's signal is checked here.
  if (outer?.aborted) throw outer.reason;
  const r = up.next() as IteratorResult<T>;
  return r.done !== true && isThenable(r.value) ? settledItem(r.value as PromiseLike<T>) : r;
}

/** A thenable item of a synchronous source, as the result its iterator would have given. */
export async function settledItem<T>(item: PromiseLike<T>): Promise<IteratorResult<T>> {
  return { value: await item, done: false };
}

/**
 * Yields the items of `up` from the `skip`-th, at most `limit` of them:
 * the identity (0, Infinity), `take(n)` (0, n) and `drop(n)` (n, Infinity).
 */
export async function* sliceStage<T>(
  up: Upstream<T>,
  sync: boolean,
  outer: AbortSignal | undefined,
  skip = 0,
  limit = Number.POSITIVE_INFINITY,
): AsyncGenerator<T, void, undefined> {
  try {
    for (let i = 0, yielded = 0; yielded < limit; i++) {
      const p = pull(up, sync, outer);
      const r = isThenable(p) ? await p : p;
      if (r.done) return;
      if (i < skip) continue;
      yielded++;
      yield r.value;
    }
  } finally {
    closeUpstream(up);
  }
}

export async function* tapStage<T>(
  up: Upstream<T>,
  sync: boolean,
  outer: AbortSignal | undefined,
  fn: (x: T) => unknown,
): AsyncGenerator<T, void, undefined> {
  try {
    for (;;) {
      const p = pull(up, sync, outer);
      const r = isThenable(p) ? await p : p;
      if (r.done) return;
      const v = fn(r.value);
      if (isThenable(v)) await v;
      yield r.value;
    }
  } finally {
    closeUpstream(up);
  }
}

export async function* flatMapStage<T, U>(
  up: Upstream<T>,
  sync: boolean,
  outer: AbortSignal | undefined,
  fn: (x: T, signal: AbortSignal) => Iterable<U> | AsyncIterable<U> | Promise<Iterable<U>>,
): AsyncGenerator<U, void, undefined> {
  const ctl = new StageCtl(outer, 'Flow.flatMap');
  let reason: unknown;
  let failed = false;
  try {
    for (;;) {
      const p = pull(up, sync, outer);
      const r = isThenable(p) ? await p : p;
      if (r.done) return;
      let inner: unknown = fn(r.value, ctl.signal);
      if (isThenable(inner)) inner = await inner;
      const it = openSource(inner as Source<U>, outer);
      try {
        for (;;) {
          const x = await it.next();
          if (x.done) break;
          yield x.value;
        }
      } finally {
        closeUpstream(it);
      }
    }
  } catch (err) {
    failed = true;
    reason = err;
    throw err;
  } finally {
    if (failed) ctl.stop(reason);
    else ctl.end();
    closeUpstream(up);
  }
}

export async function* throttleStage<T>(
  up: Upstream<T>,
  sync: boolean,
  outer: AbortSignal | undefined,
  limiter: { wait(n?: number, opts?: { signal?: AbortSignal }): Promise<void> },
): AsyncGenerator<T, void, undefined> {
  try {
    for (;;) {
      const p = pull(up, sync, outer);
      const r = isThenable(p) ? await p : p;
      if (r.done) return;
      await limiter.wait(1, outer === undefined ? undefined : { signal: outer });
      yield r.value;
    }
  } finally {
    closeUpstream(up);
  }
}

const TIMEOUT = Symbol('timeout');

export async function* batchStage<T>(
  up: Upstream<T>,
  sync: boolean,
  outer: AbortSignal | undefined,
  size: number,
  maxWaitMs: number | undefined,
  clock: Clock,
): AsyncGenerator<T[], void, undefined> {
  let buf: T[] = [];
  let pending: Pull<T> | null = null;
  let timer: unknown;
  let timerOn = false;
  let timeout: Promise<typeof TIMEOUT> | null = null;
  let fire: ((v: typeof TIMEOUT) => void) | null = null;
  const stop = () => {
    if (timerOn) stopTimer(clock, timer);
    timerOn = false;
    timeout = null;
  };
  try {
    for (;;) {
      pending ??= pull(up, sync, outer);
      // The oldest item of a partial batch has a deadline: race the next item against it.
      const r: IteratorResult<T> | typeof TIMEOUT =
        timeout === null || !isThenable(pending)
          ? await pending
          : await Promise.race([pending as Promise<IteratorResult<T>>, timeout]);
      if (r === TIMEOUT) {
        const b = buf;
        buf = [];
        timerOn = false;
        timeout = null;
        yield b;
        continue;
      }
      pending = null;
      if (r.done) {
        stop();
        if (buf.length > 0) yield buf;
        return;
      }
      if (buf.length === 0 && maxWaitMs !== undefined) {
        timeout = new Promise<typeof TIMEOUT>((resolve) => (fire = resolve));
        timer = startTimer(clock, () => fire!(TIMEOUT), maxWaitMs, 'Flow.batch');
        timerOn = true;
      }
      buf.push(r.value);
      if (buf.length >= size) {
        stop();
        const b = buf;
        buf = [];
        yield b;
      }
    }
  } finally {
    stop();
    closeUpstream(up);
  }
}
