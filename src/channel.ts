/**
 * Package channel provides Go's channel: a typed conduit between async
 * functions that either hands each value over directly (unbuffered: the
 * sender waits for a receiver) or through a bounded buffer, with Go's rules
 * for closing and ranging. `for await` is Go's `range`, `length` and
 * `capacity` are `len` and `cap`, and `select` (in `select.ts`) waits on
 * several channels at once.
 */

import { signalOf } from './internal/abort.js';
import {
  CLOSED,
  canRecv,
  canSend,
  EMPTY,
  enqueueRecv,
  enqueueSend,
  type RecvEntry,
  type SendEntry,
  take,
} from './internal/chanhooks.js';
import { WeftError } from './internal/errors.js';
import { inspectAs, inspectKey } from './internal/inspect.js';
import { DONE, DONE_PROMISE, RESOLVED } from './internal/promise.js';
import { Ring } from './internal/ring.js';
import { checkInt } from './internal/validate.js';
import { Waiter, WaitQueue } from './internal/waiter.js';

/**
 * What a send on a closed channel and a second `close()` throw (Go panics in
 * both cases). Match it on `code`. A send that failed hands its value back in
 * `value` (`undefined` for `close()`).
 *
 * @example A send on a closed channel
 * ```ts
 * import { Channel } from 'weftjs';
 * const ch = new Channel<string>(1);
 * ch.close();
 * const err = await ch.send('lost').catch((e) => e);
 * err.code; // => 'ERR_CHANNEL_CLOSED'
 * err.value; // => 'lost'
 * ```
 * @see Channel.close
 */
export class ChannelClosedError extends WeftError {
  readonly code = 'ERR_CHANNEL_CLOSED' as const;
  /** The value a failed send could not deliver; `undefined` when `close()` threw. */
  readonly value: unknown;

  constructor(message = 'send on closed channel', value?: unknown) {
    super(message);
    this.value = value;
  }
}

/** A `Channel.recv` (or a pending step of a `for await`) that waits for a value. */
class RecvWaiter<T> extends Waiter<IteratorResult<T, undefined>> implements RecvEntry<T> {
  deliver(value: T | undefined, ok: boolean): void {
    this.settle(ok ? { value: value as T, done: false } : DONE);
  }
}

/** A `Channel.send` that waits for a receiver or for room. */
class SendWaiter<T> extends Waiter<void> implements SendEntry<T> {
  readonly value: T;

  constructor(value: T, signal: AbortSignal | undefined) {
    super('Channel.send', signal);
    this.value = value;
  }

  taken(): void {
    this.settle();
  }

  closed(): void {
    this.fail(new ChannelClosedError('Channel.send: send on closed channel', this.value));
  }
}

/**
 * A typed channel, as in Go: `new Channel<T>()` is unbuffered (a send
 * completes only when a receiver takes its value), `new Channel<T>(n)` buffers
 * up to `n` values (a send waits only while the buffer is full).
 *
 * Go's rules hold: waiting senders are served in the order they started
 * sending and waiting receivers in the order they started receiving; a
 * receive from a closed channel still yields the buffered values, then
 * `{ done: true }` forever; a send on a closed channel rejects and a second
 * `close()` throws, both with `ChannelClosedError`. Only the sender should
 * close, as in Go. `for await (const v of ch)` is Go's `for v := range ch`.
 *
 * Operations that can complete at once complete synchronously: `trySend` and
 * `tryRecv` never wait, and `send`/`recv` return an already-settled promise.
 * Channels run on promises alone, so async functions that only talk to each
 * other over channels run on the microtask queue without yielding to timers
 * and I/O until one of them waits on something else (unlike goroutines,
 * which the Go scheduler preempts); a long-running loop that must stay
 * responsive should await a macrotask now and then.
 *
 * **Cancellation**: `send` and `recv` take `{ signal }`. An abort takes the
 * operation out of the queue and rejects it with `signal.reason`: an aborted
 * send never delivers its value and an aborted receive never consumes one.
 * An operation that can complete at once completes even if its signal has
 * already aborted; an aborted signal only rejects an operation that would
 * wait.
 *
 * @example Unbuffered: the send completes when the value is taken
 * ```ts
 * import { Channel } from 'weftjs';
 * const ch = new Channel<string>();
 * const sent = ch.send('ping');
 * (await ch.recv()).value; // => 'ping'
 * await sent;
 * ch.length; // => 0
 * ```
 * @example Buffered, closed, ranged
 * ```ts
 * import { Channel } from 'weftjs';
 * const ch = new Channel<number>(3);
 * await ch.send(1);
 * await ch.send(2);
 * ch.close();
 * const got: number[] = [];
 * for await (const v of ch) got.push(v);
 * got; // => [1, 2]
 * ch.tryRecv(); // => { value: undefined, done: true }
 * ```
 * @see select
 * @see ChannelClosedError
 */
export class Channel<T> implements AsyncIterable<T> {
  readonly #capacity: number;
  readonly #buf: Ring<T>;
  readonly #recvq = new WaitQueue<RecvEntry<T>>();
  readonly #sendq = new WaitQueue<SendEntry<T>>();
  #closed = false;

  /**
   * @param capacity how many values the channel buffers (default 0: unbuffered).
   * @throws TypeError if `capacity` is not a number; RangeError if it is not an integer >= 0.
   */
  constructor(capacity = 0) {
    this.#capacity = checkInt(capacity, 'Channel', 'capacity');
    this.#buf = new Ring<T>(Math.min(capacity, 16));
  }

  /** How many values the channel buffers (Go's `cap`); 0 for an unbuffered channel. */
  /** How `util.inspect` shows it: Channel { ... } with its state now. */
  [inspectKey](depth: number, options: unknown, inspect?: (v: unknown, o?: unknown) => string): string {
    return inspectAs(
      'Channel',
      { length: this.length, capacity: this.capacity, closed: this.closed },
      depth,
      options,
      inspect,
    );
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** How many values are buffered now (Go's `len`); always 0 for an unbuffered channel. */
  get length(): number {
    return this.#buf.length;
  }

  /** Whether `close()` was called. A closed channel may still hold buffered values. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends `value`, waiting until a receiver takes it (unbuffered) or until
   * the buffer has room. Resolves once the value is handed over or buffered.
   *
   * **Cancellation**: aborting `signal` takes the send out of the queue and
   * rejects with `signal.reason`; the value is not delivered.
   *
   * Rejects with `ChannelClosedError` (`ERR_CHANNEL_CLOSED`) if the channel
   * is closed, or closes while the send waits.
   *
   * @example A buffered send completes at once
   * ```ts
   * import { Channel } from 'weftjs';
   * const ch = new Channel<number>(1);
   * await ch.send(7);
   * ch.length; // => 1
   * ```
   * @see Channel.trySend
   */
  send(value: T, opts?: { signal?: AbortSignal }): Promise<void> {
    const signal = opts === undefined ? undefined : signalOf(opts, 'Channel.send');
    if (this.#closed) return Promise.reject(new ChannelClosedError('Channel.send: send on closed channel', value));
    const r = this.#recvq.shift();
    if (r !== null) {
      r.deliver(value, true);
      return RESOLVED;
    }
    if (this.#buf.length < this.#capacity) {
      this.#buf.push(value);
      return RESOLVED;
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const w = new SendWaiter(value, signal);
    this.#sendq.push(w);
    return w.promise;
  }

  /**
   * Sends `value` if that needs no wait: a receiver is waiting, or the
   * buffer has room. Returns false, sending nothing, otherwise.
   *
   * @throws ChannelClosedError (`ERR_CHANNEL_CLOSED`) if the channel is closed.
   * @example
   * ```ts
   * import { Channel } from 'weftjs';
   * const ch = new Channel<number>(1);
   * ch.trySend(1); // => true
   * ch.trySend(2); // => false
   * ```
   * @see Channel.send
   */
  trySend(value: T): boolean {
    if (this.#closed) throw new ChannelClosedError('Channel.trySend: send on closed channel', value);
    const r = this.#recvq.shift();
    if (r !== null) {
      r.deliver(value, true);
      return true;
    }
    if (this.#buf.length < this.#capacity) {
      this.#buf.push(value);
      return true;
    }
    return false;
  }

  /**
   * Receives the next value: `{ value, done: false }`, or `{ done: true }`
   * once the channel is closed and its buffer drained. Waits while the
   * channel is open and has neither a buffered value nor a waiting sender.
   *
   * **Cancellation**: aborting `signal` takes the receive out of the queue
   * and rejects with `signal.reason`; no value is consumed.
   *
   * @example
   * ```ts
   * import { Channel } from 'weftjs';
   * const ch = new Channel<string>(1);
   * await ch.send('a');
   * ch.close();
   * await ch.recv(); // => { value: 'a', done: false }
   * await ch.recv(); // => { value: undefined, done: true }
   * ```
   * @see Channel.tryRecv
   */
  recv(opts?: { signal?: AbortSignal }): Promise<IteratorResult<T, undefined>> {
    const signal = opts === undefined ? undefined : signalOf(opts, 'Channel.recv');
    const v = this.#take();
    if (v !== EMPTY) return v === CLOSED ? DONE_PROMISE : Promise.resolve({ value: v, done: false });
    if (signal?.aborted) return Promise.reject(signal.reason);
    const w = new RecvWaiter<T>('Channel.recv', signal);
    this.#recvq.push(w);
    return w.promise;
  }

  /**
   * Receives a value if that needs no wait: `{ value, done: false }`, or
   * `{ done: true }` if the channel is closed and drained. Returns
   * `undefined`, consuming nothing, if it would have to wait.
   *
   * @example
   * ```ts
   * import { Channel } from 'weftjs';
   * const ch = new Channel<number>(1);
   * ch.tryRecv(); // => undefined
   * ch.trySend(5);
   * ch.tryRecv(); // => { value: 5, done: false }
   * ```
   * @see Channel.recv
   */
  tryRecv(): IteratorResult<T, undefined> | undefined {
    const v = this.#take();
    if (v === EMPTY) return undefined;
    return v === CLOSED ? DONE : { value: v, done: false };
  }

  /**
   * Closes the channel: no more values may be sent. Receivers still get the
   * buffered values, then `{ done: true }`. Waiting receivers (there are
   * some only when the buffer is empty) resolve with `{ done: true }` and
   * waiting senders reject with `ChannelClosedError`, their values handed
   * back in the error's `value`.
   *
   * @throws ChannelClosedError (`ERR_CHANNEL_CLOSED`) if the channel is already closed.
   * @example Closing wakes a waiting receiver
   * ```ts
   * import { Channel } from 'weftjs';
   * const ch = new Channel<number>();
   * const waiting = ch.recv();
   * ch.close();
   * await waiting; // => { value: undefined, done: true }
   * ```
   * @see Channel.closed
   */
  close(): void {
    if (this.#closed) throw new ChannelClosedError('Channel.close: close of closed channel');
    this.#closed = true;
    for (let r = this.#recvq.shift(); r !== null; r = this.#recvq.shift()) r.deliver(undefined, false);
    for (let s = this.#sendq.shift(); s !== null; s = this.#sendq.shift()) s.closed();
  }

  /**
   * Iterates the received values (Go's `range`): ends when the channel is
   * closed and drained. Leaving the loop early (`break`, `return`, a throw)
   * does not close the channel, and the values not yet received stay in it.
   * The iterator's `return()` also ends a `next()` still waiting, with
   * `{ done: true }`, without consuming a value.
   *
   * @example Breaking out leaves the rest in the channel
   * ```ts
   * import { Channel } from 'weftjs';
   * const ch = new Channel<number>(3);
   * for (const v of [1, 2, 3]) await ch.send(v);
   * for await (const v of ch) if (v === 1) break;
   * ch.length; // => 2
   * ch.closed; // => false
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return new ChannelIterator(this);
  }

  /** @internal for select and the iterator: would a receive complete now? */
  [canRecv](): boolean {
    return this.#buf.length !== 0 || this.#sendq.length !== 0 || this.#closed;
  }

  /** @internal for select: would a send not wait (or throw) now? */
  [canSend](): boolean {
    return this.#closed || this.#recvq.length !== 0 || this.#buf.length < this.#capacity;
  }

  /** @internal queues a receiver; only when `[canRecv]()` is false. */
  [enqueueRecv](entry: RecvEntry<T>): void {
    this.#recvq.push(entry);
  }

  /** @internal queues a sender; only when `[canSend]()` is false. */
  [enqueueSend](entry: SendEntry<T>): void {
    this.#sendq.push(entry);
  }

  /** @internal for select: the receive that needs no wait, as a bare value, or `EMPTY` or `CLOSED`. */
  [take](): T | typeof EMPTY | typeof CLOSED {
    return this.#take();
  }

  // The receive that needs no wait. A value taken from a full buffer makes
  // room for the first waiting sender, whose value goes to the back of the
  // buffer so that order is kept (Go's recv on a full buffer).
  #take(): T | typeof EMPTY | typeof CLOSED {
    if (this.#buf.length !== 0) {
      const value = this.#buf.shift() as T;
      const s = this.#sendq.shift();
      if (s !== null) {
        this.#buf.push(s.value);
        s.taken();
      }
      return value;
    }
    const s = this.#sendq.shift();
    if (s !== null) {
      const value = s.value;
      s.taken();
      return value;
    }
    return this.#closed ? CLOSED : EMPTY;
  }
}

/** The `for await` iterator: `recv` without a signal, plus a `return()` that ends a pending step. */
class ChannelIterator<T> implements AsyncIterator<T, undefined> {
  readonly #ch: Channel<T>;
  #pending: RecvWaiter<T> | null = null;
  #ended = false;

  constructor(ch: Channel<T>) {
    this.#ch = ch;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#ended) return DONE_PROMISE;
    const ch = this.#ch;
    const v = ch[take]();
    if (v !== EMPTY) return v === CLOSED ? DONE_PROMISE : Promise.resolve({ value: v, done: false });
    const w = new RecvWaiter<T>('Channel[Symbol.asyncIterator]', undefined);
    ch[enqueueRecv](w);
    this.#pending = w;
    return w.promise;
  }

  return(): Promise<IteratorResult<T, undefined>> {
    this.#ended = true;
    const w = this.#pending;
    this.#pending = null;
    if (w !== null && !w.settled) {
      w.queue?.remove(w);
      w.settle(DONE);
    }
    return DONE_PROMISE;
  }
}
