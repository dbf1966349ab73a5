/**
 * The machinery of `PubSub` (src/pubsub.ts): the state one hub's
 * subscriptions share, a subscription's buffer and overflow policies, the
 * publishes blocked on full `'block'` subscriptions, and the reader of a
 * `forEach`. The public file holds the contract; this one the reasoning.
 * Its types restate the public ones structurally (internal code imports
 * nothing from the core).
 */
import type { Clock } from '../../clock.js';
import { listen, signalOf, unlisten } from '../abort.js';
import { inspectAs, inspectKey } from '../inspect.js';
import { probes } from '../probes.js';
import { DONE, DONE_PROMISE, isThenable, noop, RESOLVED } from '../promise.js';
import { registry, track, untrack } from '../registry.js';
import { Ring } from '../ring.js';
import { startTimer, stopTimer } from '../timer.js';
import { TopicIndex } from '../topic.js';
import { checkFn } from '../validate.js';
import { type Linked, Waiter, WaitQueue } from '../waiter.js';
import { LatestBuffer } from './latest.js';
import { type Wakeable, WakeBatch } from './wake.js';

/** A published message (the core's `Message`). */
export interface Message<M> {
  topic: string;
  payload: M;
}

/** The core's `Overflow`. */
export type Overflow = 'drop-newest' | 'drop-oldest' | 'block' | 'error' | 'latest';

/** The core's `OverflowOutcome`. */
export type OverflowOutcome = 'dropped' | 'evicted' | 'blocked' | 'failed';

/** The core's `OverflowEvent`, with the hub and the subscription as plain objects. */
export interface OverflowEvent<M> {
  readonly pubsub: object;
  readonly subscription: object;
  readonly topic: string;
  readonly policy: Overflow;
  readonly outcome: OverflowOutcome;
  readonly message: Message<M>;
  readonly dropped: number;
}

/** An `onOverflow` hook of the core's type, called with an `OverflowEvent` (typed there). */
export type OverflowHandler = (event: never) => void;

/** What `PubSub.publish` resolves with (the core's `PublishResult`). */
export interface PublishResult {
  readonly delivered: number;
  readonly dropped: number;
}

interface RecvOptions {
  signal?: AbortSignal;
}

interface ForEachOptions {
  signal?: AbortSignal;
}

// The registry through a binding of this module: reading the imported
// binding on every delivery made the fan-out benchmark about 8% slower.
const reg = registry;

// `offer` results: the message must wait for room; otherwise `delivered + 2 * dropped`.
export const BLOCK = -1;
const DELIVERED = 1;
const DROPPED = 2;
const OPEN = 0;
const CLOSED = 1; // the PubSub closed: drain the buffer, then done
const ENDED = 2; // unsubscribed
const FAILED = 3; // overflowed under 'error' (or its key threw): drain the buffer, then the error
const STATES = ['open', 'closed', 'ended', 'failed'] as const;

/** What every subscription of one hub shares. */
export class Hub<M> {
  readonly index = new TopicIndex<Sub<M>>();
  readonly subs = new Set<Sub<M>>();
  readonly batch = new WakeBatch();
  /** Running `forEach` loops, for `PubSub[Symbol.asyncDispose]`. */
  readonly loops = new Set<Promise<void>>();
  /** The `PubSub`, as overflow events name it. */
  readonly owner: object;
  readonly clock: Clock;
  readonly onOverflow: OverflowHandler | undefined;
  /** Makes the core's `SubscriberOverflowError`. */
  readonly overflowError: (message: string) => Error;

  constructor(
    owner: object,
    clock: Clock,
    onOverflow: OverflowHandler | undefined,
    overflowError: (message: string) => Error,
  ) {
    this.owner = owner;
    this.clock = clock;
    this.onOverflow = onOverflow;
    this.overflowError = overflowError;
  }
}

/** A publish waiting for room in full `'block'` subscribers. */
export class PublishOp extends Waiter<PublishResult> {
  delivered = 0;
  dropped = 0;
  /** Blocked sends not yet taken in, dropped nor released. */
  remaining = 0;
  readonly sends: BlockedSend[] = [];

  constructor(signal: AbortSignal | undefined) {
    super('PubSub.publish', signal);
  }

  /** One of its blocked sends was taken in, or dropped after `blockMs`, or its subscriber left. */
  done(taken: boolean): void {
    if (taken) this.delivered++;
    if (--this.remaining === 0) this.settle({ delivered: this.delivered, dropped: this.dropped });
  }

  // An abort takes the message back from every subscriber that has not taken it in yet.
  override handleEvent(): void {
    for (const s of this.sends) {
      s.queue?.remove(s);
      s.stop();
    }
    super.handleEvent();
  }
}

/** A message waiting for room in one `'block'` subscriber's buffer. */
export class BlockedSend implements Linked {
  prev: Linked | null = null;
  next: Linked | null = null;
  queue: WaitQueue<any> | null = null;
  readonly msg: Message<unknown>;
  readonly op: PublishOp;
  readonly sub: Sub<any>;
  /** The `blockMs` timer, or undefined. */
  timer: unknown = undefined;

  constructor(msg: Message<unknown>, op: PublishOp, sub: Sub<any>) {
    this.msg = msg;
    this.op = op;
    this.sub = sub;
  }

  /** Stops the `blockMs` timer, if any. */
  stop(): void {
    if (this.timer === undefined) return;
    stopTimer(this.sub.clock, this.timer);
    this.timer = undefined;
  }

  readonly expire = (): void => {
    this.timer = undefined;
    this.sub.expire(this);
  };
}

type Recv<M> = Waiter<IteratorResult<Message<M>, undefined>>;

// Every iterator result here is written `{ value, done }`, in that order, as
// the engine writes its own: `for await` over `{ done, value }` literals ran
// about 10% slower on the fan-out benchmark (bench/pubsub.bench.ts).

/** The iterator of a `for await` over a subscription; leaving the loop early unsubscribes. */
class SubIterator<M> implements AsyncIterator<Message<M>, undefined> {
  readonly #sub: Sub<M>;

  constructor(sub: Sub<M>) {
    this.#sub = sub;
  }

  next(): Promise<IteratorResult<Message<M>, undefined>> {
    return this.#sub.recv();
  }

  return(): Promise<IteratorResult<Message<M>, undefined>> {
    this.#sub.unsubscribe();
    return DONE_PROMISE;
  }
}

/**
 * The reader of a `forEach`: its parked state (a promise its loop awaits,
 * registered in the caller's async context), its abort listener, and the
 * promise `forEach` returned.
 */
class Reader implements Wakeable, EventListenerObject {
  queued = false;
  /** Parked: the loop awaits `#wake`'s promise. */
  parked = false;
  /** Aborted or settled: the loop stops at its next step. */
  stopped = false;
  #wake: (value: undefined) => void = noop;
  readonly promise: Promise<void>;
  #resolve!: (value: undefined) => void;
  #reject!: (reason: unknown) => void;
  readonly #signal: AbortSignal | undefined;
  readonly #sub: Sub<any>;

  constructor(sub: Sub<any>, signal: AbortSignal | undefined) {
    this.#sub = sub;
    this.#signal = signal;
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (signal !== undefined) listen(signal, this, 'Subscription.forEach');
  }

  /** The promise the loop awaits until a message comes or the subscription ends. */
  park(): Promise<undefined> {
    const p = new Promise<undefined>((resolve) => {
      this.#wake = resolve;
    });
    this.parked = true;
    if (reg.active !== 0) track(this, 'waiter', 'Subscription.forEach');
    return p;
  }

  wake(): void {
    if (!this.parked) return;
    this.parked = false;
    if (reg.active !== 0) untrack(this);
    const wake = this.#wake;
    this.#wake = noop;
    wake(undefined);
  }

  /** Ends the `forEach`: resolves (`ok`) or rejects with `reason`; only the first call counts. */
  finish(ok: boolean, reason: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.#signal !== undefined) unlisten(this.#signal, this);
    if (ok) this.#resolve(undefined);
    else this.#reject(reason);
  }

  handleEvent(): void {
    if (this.stopped) return;
    this.finish(false, this.#signal!.reason);
    this.#sub.unsubscribe();
  }
}

/** How a subscription was asked to behave (checked by `PubSub.subscribe`). */
export interface SubSettings<M> {
  readonly capacity: number;
  readonly overflow: Overflow;
  readonly blockMs: number;
  readonly key: ((message: Message<M>) => unknown) | null;
  readonly onOverflow: OverflowHandler | undefined;
}

/** The subscription behind the `Subscription` interface. */
export class Sub<M> {
  readonly #hub: Hub<M>;
  readonly #patterns: [string, string[]][];
  readonly #capacity: number;
  readonly #overflow: Overflow;
  readonly #blockMs: number;
  /** The conflating key under `'latest'`, else null. */
  readonly #key: ((message: Message<M>) => unknown) | null;
  readonly #onOverflow: OverflowHandler | undefined;
  readonly #buffer: Ring<Message<M>> | LatestBuffer<Message<M>>;
  readonly #receivers = new WaitQueue<Recv<M>>();
  /**
   * The resolver of the oldest pending recv when it has no signal: the one
   * reader of a `for await` needs no queue node, which saves a Waiter per
   * message on the fan-out path. Later recv calls queue behind it.
   */
  #next: ((r: IteratorResult<Message<M>, undefined>) => void) | null = null;
  /** The running `forEach`, or null. */
  #reader: Reader | null = null;
  readonly #blocked = new WaitQueue<BlockedSend>();
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = { handleEvent: () => this.unsubscribe() };
  #state = OPEN;
  #error: unknown = undefined;
  #dropped = 0;
  /** The clock of `blockMs` timers. */
  readonly clock: Clock;

  constructor(hub: Hub<M>, patterns: [string, string[]][], settings: SubSettings<M>, signal: AbortSignal | undefined) {
    this.#hub = hub;
    this.clock = hub.clock;
    this.#patterns = patterns;
    this.#capacity = settings.capacity;
    this.#overflow = settings.overflow;
    this.#blockMs = settings.blockMs;
    this.#key = settings.key;
    this.#onOverflow = settings.onOverflow;
    this.#buffer = this.#key !== null ? new LatestBuffer() : new Ring(Math.min(this.#capacity, 16));
    this.#signal = signal;
    if (signal?.aborted) {
      this.#state = ENDED;
      return;
    }
    for (const [p, segments] of patterns) hub.index.add(p, segments, this);
    hub.subs.add(this);
    if (signal !== undefined) listen(signal, this.#onAbort, 'PubSub.subscribe');
  }

  get dropped(): number {
    return this.#dropped;
  }

  get lag(): number {
    return this.#buffer.length;
  }

  /** How `util.inspect` shows it: Subscription { ... } with its state now. */
  [inspectKey](depth: number, options: unknown, inspect?: (v: unknown, o?: unknown) => string): string {
    return inspectAs(
      'Subscription',
      {
        patterns: this.#patterns.map(([p]) => p),
        overflow: this.#overflow,
        buffer: this.#capacity,
        lag: this.lag,
        dropped: this.#dropped,
        state: STATES[this.#state],
      },
      depth,
      options,
      inspect,
    );
  }

  recv(opts?: RecvOptions): Promise<IteratorResult<Message<M>, undefined>> {
    const signal = opts === undefined ? undefined : signalOf(opts, 'Subscription.recv');
    if (this.#buffer.length !== 0 || this.#blocked.length !== 0) {
      return Promise.resolve({ value: this.#take(), done: false });
    }
    if (this.#state === FAILED) return Promise.reject(this.#error);
    if (this.#state !== OPEN) return DONE_PROMISE;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (signal === undefined && this.#next === null && this.#receivers.length === 0) {
      const p = new Promise<IteratorResult<Message<M>, undefined>>((resolve) => {
        this.#next = resolve;
      });
      // Seen by weft/testing as the waiter it stands for.
      if (reg.active !== 0) track(this, 'waiter', 'Subscription.recv');
      return p;
    }
    const waiter: Recv<M> = new Waiter('Subscription.recv', signal);
    this.#receivers.push(waiter);
    return waiter.promise;
  }

  forEach(fn: (message: Message<M>) => unknown, opts?: ForEachOptions): Promise<void> {
    const op = 'Subscription.forEach';
    checkFn(fn, op, 'fn');
    const signal = signalOf(opts, op);
    if (this.#reader !== null && !this.#reader.stopped) {
      const err = new Error(`${op}: the subscription is already read by a forEach`);
      (err as { code?: string }).code = 'ERR_INVALID_STATE';
      return Promise.reject(err);
    }
    if (signal?.aborted) {
      this.unsubscribe();
      return Promise.reject(signal.reason);
    }
    const reader = new Reader(this, signal);
    this.#reader = reader;
    const loops = this.#hub.loops;
    const loop: Promise<void> = this.#consume(reader, fn).then(
      () => this.#finished(reader, loop, true, undefined),
      (err) => this.#finished(reader, loop, false, err),
    );
    loops.add(loop);
    return reader.promise;
  }

  // A forEach loop ended: forgotten before its promise settles, so that a
  // caller who awaits it may start another at once.
  #finished(reader: Reader, loop: Promise<void>, ok: boolean, err: unknown): void {
    this.#hub.loops.delete(loop);
    if (this.#reader === reader) this.#reader = null;
    reader.finish(ok, err);
  }

  /**
   * The loop of a `forEach`. It is an async function called from
   * `forEach`, so each of its resumptions runs in the caller's async
   * context; between two of them a synchronous handler is called on every
   * buffered message with no promise made.
   */
  async #consume(reader: Reader, fn: (message: Message<M>) => unknown): Promise<void> {
    // Parked from the start, so that a publish right after forEach hands
    // its message over as to a waiting receiver; and never call the
    // handler before forEach has returned.
    if (this.#buffer.length === 0 && this.#blocked.length === 0 && this.#state === OPEN) await reader.park();
    else await RESOLVED;
    try {
      for (;;) {
        // The hot loop: every buffered message, no promise for a handler that returns none.
        while (this.#buffer.length !== 0 || this.#blocked.length !== 0) {
          if (reader.stopped) return;
          const r = fn(this.#take());
          if (r !== undefined && isThenable(r)) await r;
        }
        if (reader.stopped) return;
        if (this.#state === FAILED) break;
        if (this.#state !== OPEN) return;
        await reader.park();
      }
    } catch (err) {
      this.unsubscribe();
      throw err;
    }
    throw this.#error;
  }

  unsubscribe(): void {
    if (this.#state === ENDED) return;
    if (this.#state === FAILED) {
      // Its error stays what it reads from now on; the buffer goes.
      this.#buffer.clear();
      this.#reader?.wake();
      return;
    }
    if (this.#state === OPEN) this.#detach();
    this.#state = ENDED;
    this.#buffer.clear();
    this.#release();
    this.#wakeAll(DONE);
  }

  [Symbol.dispose](): void {
    this.unsubscribe();
  }

  [Symbol.asyncIterator](): AsyncIterator<Message<M>> {
    return new SubIterator(this);
  }

  /**
   * Hands `msg` over, buffers it, or applies the overflow policy; returns
   * `BLOCK` or `delivered + 2 * dropped`. Internal to `PubSub.publish`.
   */
  offer(msg: Message<M>): number {
    // A lone receiver waits only while nothing is buffered or blocked, so it
    // takes the message straight away (the common case of a reader keeping up).
    if (this.#next !== null) {
      this.#resolveNext({ value: msg, done: false });
      return DELIVERED;
    }
    // Blocked publishers are ahead of this message: it queues behind them.
    if (this.#blocked.length !== 0) return BLOCK;
    if (this.#key !== null) return this.#offerLatest(msg);
    const buffer = this.#buffer as Ring<Message<M>>;
    const length = buffer.length;
    // Receivers wait only while the buffer is empty: with messages buffered
    // and room left, no receiver check is needed (the common busy case).
    if (length !== 0 && length < this.#capacity) {
      buffer.push(msg);
      const reader = this.#reader;
      if (reader?.parked) this.#nudge(reader, length + 1);
      return DELIVERED;
    }
    if (length === 0) {
      if (this.#receivers.length !== 0) {
        this.#receivers.shift()!.settle({ value: msg, done: false });
        return DELIVERED;
      }
      // A parked forEach takes the message as a waiting receiver would,
      // even with `buffer: 0`: it waits in the buffer for the handler.
      const reader = this.#reader;
      if (reader?.parked) {
        buffer.push(msg);
        this.#nudge(reader, 1);
        return DELIVERED;
      }
    }
    if (length < this.#capacity) {
      buffer.push(msg);
      return DELIVERED;
    }
    switch (this.#overflow) {
      case 'drop-newest':
        return this.#drop(msg, msg, 'dropped');
      case 'drop-oldest': {
        if (this.#capacity === 0) return this.#drop(msg, msg, 'dropped');
        const oldest = buffer.shift()!;
        buffer.push(msg);
        return DELIVERED + this.#drop(msg, oldest, 'evicted');
      }
      case 'block':
        return this.#blockMs === 0 ? this.#drop(msg, msg, 'dropped') : BLOCK;
      default:
        this.#fail(
          this.#hub.overflowError(
            `Subscription: a message arrived with the buffer of ${this.#capacity} full under overflow 'error'`,
          ),
        );
        return this.#drop(msg, msg, 'failed');
    }
  }

  // `offer` under 'latest': one buffered message per key, in first-arrival order.
  #offerLatest(msg: Message<M>): number {
    const buffer = this.#buffer as LatestBuffer<Message<M>>;
    if (buffer.length === 0 && this.#receivers.length !== 0) {
      this.#receivers.shift()!.settle({ value: msg, done: false });
      return DELIVERED;
    }
    let key: unknown;
    try {
      key = this.#key!(msg);
    } catch (err) {
      this.#fail(err);
      return this.#drop(msg, msg, 'failed');
    }
    const reader = this.#reader;
    if (buffer.get(key) !== undefined) {
      // The buffered message of this key is superseded: the policy at work,
      // not an overflow, so no event; it counts as dropped all the same.
      buffer.set(key, msg);
      this.#dropped++;
      return DELIVERED + DROPPED;
    }
    const length = buffer.length;
    if (length < this.#capacity || (length === 0 && reader?.parked)) {
      buffer.set(key, msg);
      if (reader?.parked) this.#nudge(reader, length + 1);
      return DELIVERED;
    }
    if (length === 0) return this.#drop(msg, msg, 'dropped');
    const oldest = buffer.shift()!;
    buffer.set(key, msg);
    return DELIVERED + this.#drop(msg, oldest, 'evicted');
  }

  // A parked forEach got a message: it wakes with the hub's next batch, or
  // at once once its buffer is full, so that nothing is dropped or blocked
  // waiting for the batch.
  #nudge(reader: Reader, length: number): void {
    if (length >= this.#capacity) reader.wake();
    else if (!reader.queued) this.#hub.batch.add(reader);
  }

  /** Counts `lost` as dropped and reports the overflow; returns `DROPPED`. */
  #drop(msg: Message<M>, lost: Message<M>, outcome: OverflowOutcome): number {
    this.#dropped++;
    this.#overflowed(msg.topic, lost, outcome);
    return DROPPED;
  }

  /** Reports an overflow to the hooks and the diagnostics channel, if anyone listens. */
  #overflowed(topic: string, message: Message<M>, outcome: OverflowOutcome): void {
    const own = this.#onOverflow;
    const all = this.#hub.onOverflow;
    const probe = probes()?.pubsubOverflow;
    const channel = probe?.hasSubscribers === true;
    if (own === undefined && all === undefined && !channel) return;
    const event: OverflowEvent<M> = Object.freeze({
      pubsub: this.#hub.owner,
      subscription: this,
      topic,
      policy: this.#overflow,
      outcome,
      message,
      dropped: this.#dropped,
    });
    if (own !== undefined) callHook(own, event);
    if (all !== undefined) callHook(all, event);
    if (channel) probe!.publish(event);
  }

  /** Queues a message for a `'block'` subscriber that is full. Internal to `PubSub.publish`. */
  block(send: BlockedSend): void {
    this.#blocked.push(send);
    if (this.#blockMs !== Number.POSITIVE_INFINITY) {
      send.timer = startTimer(this.clock, send.expire, this.#blockMs, 'PubSub.publish');
    }
    this.#overflowed(send.msg.topic, send.msg as Message<M>, 'blocked');
  }

  /** A blocked message waited `blockMs`: it is dropped for this subscription. Internal to `BlockedSend`. */
  expire(send: BlockedSend): void {
    if (!this.#blocked.remove(send)) return;
    send.op.dropped++;
    this.#drop(send.msg as Message<M>, send.msg as Message<M>, 'dropped');
    send.op.done(false);
  }

  /** Ends the subscription once its buffer drains, for `PubSub.close`. */
  close(): void {
    if (this.#state !== OPEN) return;
    this.#detach();
    this.#state = CLOSED;
    this.#release();
    // Receivers wait only while the buffer is empty: they are done.
    this.#wakeAll(DONE);
  }

  /** The next message, from the buffer or the first blocked publisher; there must be one. */
  #take(): Message<M> {
    const buffer = this.#buffer;
    if (buffer.length !== 0) {
      const value = buffer.shift()!;
      // Room was made: the first blocked publisher's message moves in.
      if (this.#blocked.length !== 0) this.#admit(true);
      return value;
    }
    return this.#admit(false);
  }

  #admit(into: boolean): Message<M> {
    const send = this.#blocked.shift()!;
    send.stop();
    const msg = send.msg as Message<M>;
    // Only 'block' subscriptions have blocked sends, and their buffer is a Ring.
    if (into) (this.#buffer as Ring<Message<M>>).push(msg);
    send.op.done(true);
    return msg;
  }

  // Publishers blocked on this subscription stop waiting for it.
  #release(): void {
    for (const send of this.#blocked.takeAll()) {
      send.stop();
      send.op.done(false);
    }
  }

  // Stops taking messages; the buffered ones stay readable, then `error` is thrown.
  #fail(error: unknown): void {
    this.#detach();
    this.#state = FAILED;
    this.#error = error;
    this.#release();
    // A message finds a receiver waiting before it can overflow, so no
    // recv is pending here unless the key threw; settle any all the same.
    if (this.#buffer.length === 0) {
      if (this.#next !== null) {
        const resolve = this.#next;
        this.#next = null;
        if (reg.active !== 0) untrack(this);
        // The `for await` reader's next() rejects: resolving with a rejected promise does it.
        resolve(Promise.reject(error) as never);
      }
      for (const w of this.#receivers.takeAll()) w.fail(error);
    }
    this.#reader?.wake();
  }

  #resolveNext(result: IteratorResult<Message<M>, undefined>): void {
    const resolve = this.#next!;
    this.#next = null;
    if (reg.active !== 0) untrack(this);
    resolve(result);
  }

  #wakeAll(result: IteratorResult<Message<M>, undefined>): void {
    if (this.#next !== null) this.#resolveNext(result);
    for (const w of this.#receivers.takeAll()) w.settle(result);
    this.#reader?.wake();
  }

  #detach(): void {
    for (const [p, segments] of this.#patterns) this.#hub.index.remove(p, segments, this);
    this.#hub.subs.delete(this);
    if (this.#signal !== undefined) unlisten(this.#signal, this.#onAbort);
  }
}

/** Calls an `onOverflow` hook; what it throws is reported as uncaught, as a throw in a timer callback is. */
function callHook(hook: OverflowHandler, event: OverflowEvent<unknown>): void {
  try {
    hook(event as never);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}
