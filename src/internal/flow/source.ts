/**
 * The plumbing every flow stage shares: turning a source (iterable, async
 * iterable, web ReadableStream) into an iterator, the per-stage abort
 * controller that a stage's functions receive, and closing an upstream.
 */
import { listen, unlisten } from '../abort.js';
import { DONE, DONE_PROMISE, isThenable, noop } from '../promise.js';
import { guardSignal } from '../shapes.js';
import { show, typeError } from '../validate.js';
import { Waiter } from '../waiter.js';

/** An iterator a stage pulls from: sync for arrays and generators (no await per item), async otherwise. */
export type Upstream<T> = Iterator<T> | AsyncIterator<T>;

/** What every source can be. */
export type Source<T> = Iterable<T> | AsyncIterable<T>;

/** Opens one iteration of a flow: the upstream iterator and whether it is synchronous. */
export type Open<T> = (outer: AbortSignal | undefined) => [Upstream<T>, boolean];

/**
 * A flow source made inside weft (a stage over another flow, `merge`,
 * `WorkerPool.map`): the `Flow` constructor takes its `open` as is. Users
 * pass iterables; this class is not exported from the package.
 */
export class Derived<T> {
  constructor(readonly open: Open<T>) {}
}

/** The reason a stage's signal carries when the consumer stopped early. */
export function stopped(): DOMException {
  return new DOMException('The flow was stopped before its end', 'AbortError');
}

/** Calls `return()` on an upstream, ignoring what it throws or rejects with: it is cleanup. */
export function closeUpstream(it: Upstream<unknown>): void {
  try {
    const r = it.return?.();
    if (isThenable(r)) (r as Promise<unknown>).then(undefined, noop);
  } catch {
    // A source whose return() throws has nothing left for us to clean.
  }
}

/** Checks that `source` can be a flow source. */
export function checkSource(source: unknown, op: string, name = 'source'): void {
  if (
    source === null ||
    source === undefined ||
    (typeof (source as any)[Symbol.asyncIterator] !== 'function' &&
      typeof (source as any)[Symbol.iterator] !== 'function' &&
      typeof (source as any).getReader !== 'function')
  ) {
    throw typeError(
      `${op}: \`${name}\` must be an Iterable, an AsyncIterable or a ReadableStream, got ${show(source)}`,
    );
  }
}

/** True when `source` is read synchronously (an Iterable that is not also an AsyncIterable). */
export function isSyncSource(source: unknown): boolean {
  const s = source as any;
  return typeof s[Symbol.asyncIterator] !== 'function' && typeof s[Symbol.iterator] === 'function';
}

/**
 * Opens `source`: a sync iterator for iterables (so that stages can pull
 * without awaiting), an abortable async iterator otherwise.
 */
export function openSource<T>(source: Source<T>, outer: AbortSignal | undefined): Upstream<T> {
  const s = source as any;
  if (typeof s[Symbol.asyncIterator] === 'function') return new SourceIter<T>(s[Symbol.asyncIterator](), outer);
  if (typeof s[Symbol.iterator] === 'function') return s[Symbol.iterator]();
  return new SourceIter<T>(readerIterator<T>(s as ReadableStream<T>), outer);
}

/** Adapts a web ReadableStream that lacks `Symbol.asyncIterator` through its reader. */
function readerIterator<T>(stream: ReadableStream<T>): AsyncIterator<T> {
  let reader: ReadableStreamDefaultReader<T> | undefined;
  return {
    next() {
      reader ??= stream.getReader();
      return reader.read() as Promise<IteratorResult<T>>;
    },
    return() {
      if (reader === undefined) return stream.cancel().then(() => DONE);
      const r = reader;
      return r.cancel().then(() => {
        r.releaseLock();
        return DONE;
      });
    },
  };
}

/**
 * An async source made abortable: a pending `next()` rejects with the flow
 * signal's reason as soon as it aborts, even if the source never answers (a
 * channel nobody sends on). Its callers never call `next()` twice at once.
 */
export class SourceIter<T> implements AsyncIterator<T> {
  readonly #it: AsyncIterator<T>;
  readonly #outer: AbortSignal | undefined;
  #w: Waiter<IteratorResult<T>> | null = null;
  #done = false;

  constructor(it: AsyncIterator<T>, outer: AbortSignal | undefined) {
    this.#it = it;
    this.#outer = outer;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#done) return DONE_PROMISE;
    const outer = this.#outer;
    if (outer === undefined) return this.#it.next();
    if (outer.aborted) return Promise.reject(outer.reason);
    let p: Promise<IteratorResult<T>>;
    try {
      p = this.#it.next();
    } catch (err) {
      return Promise.reject(err);
    }
    const w = new Waiter<IteratorResult<T>>('Flow.next', outer);
    this.#w = w;
    Promise.resolve(p).then(this.#onValue, this.#onError);
    return w.promise;
  }

  #onValue = (r: IteratorResult<T>): void => {
    const w = this.#w;
    this.#w = null;
    w?.settle(r);
  };

  #onError = (err: unknown): void => {
    const w = this.#w;
    this.#w = null;
    w?.fail(err);
  };

  return(): Promise<IteratorResult<T>> {
    if (!this.#done) {
      this.#done = true;
      closeUpstream(this.#it);
    }
    return DONE_PROMISE;
  }
}

/**
 * The abort controller of one stage of one iteration: its signal is what
 * the stage's functions receive. It aborts when the flow's signal does
 * (calling `onAbort`), when the stage fails, or when the consumer stops.
 */
export class StageCtl implements EventListenerObject {
  readonly #ac = new AbortController();
  readonly signal: AbortSignal = this.#ac.signal;
  readonly #outer: AbortSignal | undefined;
  #onAbort: ((reason: unknown) => void) | undefined;
  #listening = false;

  constructor(outer: AbortSignal | undefined, op: string, onAbort?: (reason: unknown) => void) {
    // A stage function destructuring `(x, { signal })` learns the right shape at once.
    guardSignal(this.signal, op, '(x, signal) => …');
    this.#outer = outer;
    this.#onAbort = onAbort;
    if (outer !== undefined) {
      if (outer.aborted) this.#ac.abort(outer.reason);
      else {
        listen(outer, this, 'Flow');
        this.#listening = true;
      }
    }
  }

  handleEvent(): void {
    const reason = this.#outer!.reason;
    this.stop(reason);
    this.#onAbort?.(reason);
  }

  /** Aborts the stage's signal with `reason` and lets go of the flow's signal. */
  stop(reason: unknown): void {
    if (!this.#ac.signal.aborted) this.#ac.abort(reason);
    this.end();
  }

  /** The stage ended normally: lets go of the flow's signal. */
  end(): void {
    if (this.#listening) {
      this.#listening = false;
      unlisten(this.#outer!, this);
    }
  }
}
