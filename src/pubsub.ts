/**
 * Package pubsub is an in-process publish/subscribe hub: publishers send a
 * payload on a topic, and every subscription whose patterns match the topic
 * gets it in its own buffer, which it reads as an async iterable. Topics and
 * wildcards follow NATS; what happens when a subscriber falls behind is each
 * subscription's choice (drop, evict, block the publisher, or fail).
 */
import { checkSignal, listen, signalOf, unlisten } from './internal/abort.js';
import { WeftError } from './internal/errors.js';
import { DONE, DONE_PROMISE } from './internal/promise.js';
import { registry, track, untrack } from './internal/registry.js';
import { Ring } from './internal/ring.js';
import { checkPattern, checkTopic, TopicIndex } from './internal/topic.js';
import { checkInt, checkOpts, rangeError, show, typeError } from './internal/validate.js';
import { type Linked, Waiter, WaitQueue } from './internal/waiter.js';

/**
 * What a subscription does with a message that arrives when its buffer is
 * full: `'drop-newest'` drops that message, `'drop-oldest'` evicts the
 * oldest buffered one to make room, `'block'` makes the publisher wait for
 * room, `'error'` ends the subscription with `SubscriberOverflowError`.
 */
export type Overflow = 'drop-newest' | 'drop-oldest' | 'block' | 'error';

/** One published message, as subscribers receive it (one object shared by every subscriber). */
export interface Message<M> {
  topic: string;
  payload: M;
}

/** What `PubSub.publish` resolves with. */
export interface PublishResult {
  /** Subscriptions that got this message (took it from the publisher or buffered it). */
  readonly delivered: number;
  /**
   * Messages this publish made subscribers lose: this message for each
   * `'drop-newest'` subscriber that was full, the evicted oldest message
   * for each full `'drop-oldest'` one, and for an `'error'` subscriber that
   * overflowed, this message and those left in its buffer.
   */
  readonly dropped: number;
}

/** Options of `PubSub.subscribe`. */
export interface SubscribeOptions {
  /** Messages buffered while the subscriber is not receiving: an integer >= 0 or `Infinity` (default 100). */
  buffer?: number;
  /** What to do when the buffer is full (default `'drop-newest'`). */
  overflow?: Overflow;
  /** Unsubscribes when it aborts. */
  signal?: AbortSignal;
}

/** Options of `PubSub.publish`. */
export interface PublishOptions {
  /** Stops waiting for full `'block'` subscribers. */
  signal?: AbortSignal;
}

/** Options of `Subscription.recv`. */
export interface RecvOptions {
  /** Stops this wait; the subscription stays. */
  signal?: AbortSignal;
}

/**
 * A subscription of `PubSub.subscribe`: its messages, in the order they
 * were published, through `recv()` or `for await`.
 */
export interface Subscription<M> extends AsyncIterable<Message<M>> {
  /**
   * Takes the next message, waiting for one if none is buffered; resolves
   * with `{ done: true }` once the subscription has ended (unsubscribed, or
   * its `PubSub` closed and its buffer drained).
   *
   * **Cancellation**: when `opts.signal` aborts, the wait rejects with
   * `signal.reason` and takes no message; an already-aborted signal rejects
   * only when there is nothing to take.
   *
   * Rejects with `SubscriberOverflowError` (code `'ERR_SUBSCRIBER_OVERFLOW'`)
   * once an `'error'` subscription has overflowed: the wait pending then and
   * every later one.
   */
  recv(opts?: RecvOptions): Promise<IteratorResult<Message<M>, undefined>>;
  /**
   * Ends the subscription now: it gets no more messages, its buffer is
   * discarded, a pending `recv` resolves with `{ done: true }`, and a
   * publisher blocked on it stops waiting for it. Idempotent.
   */
  unsubscribe(): void;
  /** Same as `unsubscribe()`, for `using`. */
  [Symbol.dispose](): void;
  /** Messages this subscription lost to its overflow policy. */
  readonly dropped: number;
}

/**
 * The error an `'error'` subscription ends with when a message arrives with
 * its buffer full; its `recv` rejects with it from then on.
 *
 * @example A subscriber that would rather end than lose a message
 * ```ts
 * import { PubSub } from 'weftjs';
 * const bus = new PubSub<number>();
 * const sub = bus.subscribe('ticks', { buffer: 1, overflow: 'error' });
 * await bus.publish('ticks', 1);
 * await bus.publish('ticks', 2); // the buffer is full: the subscription ends
 * const err = await sub.recv().catch((e) => e);
 * err.code; // => 'ERR_SUBSCRIBER_OVERFLOW'
 * ```
 */
export class SubscriberOverflowError extends WeftError {
  readonly code = 'ERR_SUBSCRIBER_OVERFLOW' as const;
}

/**
 * Rejection of `publish`, and exception of `subscribe`, once the `PubSub` is closed.
 *
 * @example Publishing after close
 * ```ts
 * import { PubSub } from 'weftjs';
 * const bus = new PubSub<string>();
 * bus.close();
 * const err = await bus.publish('news', 'late').catch((e) => e);
 * err.code; // => 'ERR_PUBSUB_CLOSED'
 * ```
 */
export class PubSubClosedError extends WeftError {
  readonly code = 'ERR_PUBSUB_CLOSED' as const;
}

// The registry through a binding of this module: reading the imported
// binding on every delivery made the fan-out benchmark about 8% slower.
const reg = registry;

const OVERFLOWS: readonly string[] = ['drop-newest', 'drop-oldest', 'block', 'error'];
// `offer` results: the message must wait for room; otherwise `delivered + 2 * dropped`.
const BLOCK = -1;
const DELIVERED = 1;
const DROPPED = 2;
const OPEN = 0;
const CLOSED = 1; // the PubSub closed: drain the buffer, then done
const ENDED = 2; // unsubscribed
const FAILED = 3; // overflowed under 'error'

/** A publish waiting for room in full `'block'` subscribers. */
class PublishOp extends Waiter<PublishResult> {
  delivered = 0;
  dropped = 0;
  /** Blocked sends not yet taken in nor released. */
  remaining = 0;
  readonly sends: BlockedSend[] = [];

  constructor(signal: AbortSignal | undefined) {
    super('PubSub.publish', signal);
  }

  /** One of its blocked sends was taken in, or its subscriber left. */
  done(taken: boolean): void {
    if (taken) this.delivered++;
    if (--this.remaining === 0) this.settle({ delivered: this.delivered, dropped: this.dropped });
  }

  // An abort takes the message back from every subscriber that has not taken it in yet.
  override handleEvent(): void {
    for (const s of this.sends) s.queue?.remove(s);
    super.handleEvent();
  }
}

/** A message waiting for room in one `'block'` subscriber's buffer. */
class BlockedSend implements Linked {
  prev: Linked | null = null;
  next: Linked | null = null;
  queue: WaitQueue<any> | null = null;
  readonly msg: Message<unknown>;
  readonly op: PublishOp;

  constructor(msg: Message<unknown>, op: PublishOp) {
    this.msg = msg;
    this.op = op;
  }
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

/** The subscription behind the `Subscription` interface. */
class Sub<M> implements Subscription<M> {
  readonly #index: TopicIndex<Sub<M>>;
  readonly #subs: Set<Sub<M>>;
  readonly #patterns: [string, string[]][];
  readonly #capacity: number;
  readonly #overflow: Overflow;
  readonly #buffer: Ring<Message<M>>;
  readonly #receivers = new WaitQueue<Recv<M>>();
  /**
   * The resolver of the oldest pending recv when it has no signal: the one
   * reader of a `for await` needs no queue node, which saves a Waiter per
   * message on the fan-out path. Later recv calls queue behind it.
   */
  #next: ((r: IteratorResult<Message<M>, undefined>) => void) | null = null;
  readonly #blocked = new WaitQueue<BlockedSend>();
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = { handleEvent: () => this.unsubscribe() };
  #state = OPEN;
  #error: SubscriberOverflowError | undefined = undefined;
  #dropped = 0;

  constructor(
    index: TopicIndex<Sub<M>>,
    subs: Set<Sub<M>>,
    patterns: [string, string[]][],
    capacity: number,
    overflow: Overflow,
    signal: AbortSignal | undefined,
  ) {
    this.#index = index;
    this.#subs = subs;
    this.#patterns = patterns;
    this.#capacity = capacity;
    this.#overflow = overflow;
    this.#buffer = new Ring(Math.min(capacity, 16));
    this.#signal = signal;
    if (signal?.aborted) {
      this.#state = ENDED;
      return;
    }
    for (const [p, segments] of patterns) index.add(p, segments, this);
    subs.add(this);
    if (signal !== undefined) listen(signal, this.#onAbort, 'PubSub.subscribe');
  }

  get dropped(): number {
    return this.#dropped;
  }

  recv(opts?: RecvOptions): Promise<IteratorResult<Message<M>, undefined>> {
    const signal = opts === undefined ? undefined : signalOf(opts, 'Subscription.recv');
    if (this.#buffer.length !== 0) {
      const value = this.#buffer.shift()!;
      // Room was made: the first blocked publisher's message moves in.
      if (this.#blocked.length !== 0) this.#admit(this.#buffer);
      return Promise.resolve({ value, done: false });
    }
    if (this.#blocked.length !== 0) return Promise.resolve({ value: this.#admit(null), done: false });
    if (this.#state === FAILED) return Promise.reject(this.#error);
    if (this.#state !== OPEN) return DONE_PROMISE;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (signal === undefined && this.#next === null && this.#receivers.length === 0) {
      return new Promise((resolve) => {
        this.#next = resolve;
        // Seen by weft/testing as the waiter it stands for.
        if (reg.active !== 0) track(this, 'waiter', 'Subscription.recv');
      });
    }
    const waiter: Recv<M> = new Waiter('Subscription.recv', signal);
    this.#receivers.push(waiter);
    return waiter.promise;
  }

  unsubscribe(): void {
    if (this.#state === ENDED || this.#state === FAILED) return;
    this.#detach();
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
    const length = this.#buffer.length;
    // Receivers wait only while the buffer is empty: with messages buffered
    // and room left, no receiver check is needed (the common busy case).
    if (length !== 0 && length < this.#capacity) {
      this.#buffer.push(msg);
      return DELIVERED;
    }
    if (this.#receivers.length !== 0) {
      this.#receivers.shift()!.settle({ value: msg, done: false });
      return DELIVERED;
    }
    if (length < this.#capacity) {
      this.#buffer.push(msg);
      return DELIVERED;
    }
    switch (this.#overflow) {
      case 'drop-newest':
        this.#dropped++;
        return DROPPED;
      case 'drop-oldest':
        this.#dropped++;
        if (this.#capacity === 0) return DROPPED;
        this.#buffer.shift();
        this.#buffer.push(msg);
        return DELIVERED + DROPPED;
      case 'block':
        return BLOCK;
      default: {
        const lost = 1 + this.#buffer.length;
        this.#dropped += lost;
        this.#fail();
        return lost * DROPPED;
      }
    }
  }

  /** Queues a message for a `'block'` subscriber that is full. Internal to `PubSub.publish`. */
  block(send: BlockedSend): void {
    this.#blocked.push(send);
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

  #admit(into: Ring<Message<M>> | null): Message<M> {
    const send = this.#blocked.shift()!;
    const msg = send.msg as Message<M>;
    into?.push(msg);
    send.op.done(true);
    return msg;
  }

  // Publishers blocked on this subscription stop waiting for it.
  #release(): void {
    for (const send of this.#blocked.takeAll()) send.op.done(false);
  }

  #fail(): void {
    this.#detach();
    this.#state = FAILED;
    this.#buffer.clear();
    this.#error = new SubscriberOverflowError(
      `Subscription: a message arrived with the buffer of ${this.#capacity} full under overflow 'error'`,
    );
    // A message finds a receiver waiting before it can overflow, so no
    // recv is pending here; settle any defensively all the same.
    if (this.#next !== null) this.#resolveNext(DONE);
    for (const w of this.#receivers.takeAll()) w.fail(this.#error);
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
  }

  #detach(): void {
    for (const [p, segments] of this.#patterns) this.#index.remove(p, segments, this);
    this.#subs.delete(this);
    if (this.#signal !== undefined) unlisten(this.#signal, this.#onAbort);
  }
}

/**
 * An in-process publish/subscribe hub with NATS topics and per-subscriber
 * buffers.
 *
 * Topics are dot-separated, non-empty segments (`orders.eu.created`). A
 * subscription pattern may use `*` for exactly one segment and `>`, last,
 * for one or more remaining segments: `orders.*` matches `orders.created`
 * but not `orders` or `orders.eu.created`; `orders.>` matches both of the
 * latter two but not `orders`. A subscription gets a message once even when
 * several of its patterns match it.
 *
 * Each subscription buffers up to `buffer` messages (default 100) that its
 * reader has not taken yet, in publish order. `publish` never waits for a
 * slow reader unless that reader subscribed with `overflow: 'block'`; the
 * other policies drop messages, and `dropped` counts them.
 *
 * @example Wildcards
 * ```ts
 * import { PubSub } from 'weftjs';
 * const ps = new PubSub<number>();
 * const all = ps.subscribe('orders.>');
 * const created = ps.subscribe(['orders.*.created', 'orders.created']);
 * await ps.publish('orders.created', 1); // => { delivered: 2, dropped: 0 }
 * await ps.publish('orders.eu.created', 2); // => { delivered: 2, dropped: 0 }
 * await ps.publish('orders', 3); // => { delivered: 0, dropped: 0 }
 * ps.close();
 * const seen: number[] = [];
 * for await (const m of created) seen.push(m.payload);
 * seen; // => [1, 2]
 * (await all.recv()).value; // => { topic: 'orders.created', payload: 1 }
 * ```
 * @example A slow subscriber drops what does not fit
 * ```ts
 * import { PubSub } from 'weftjs';
 * const ps = new PubSub<string>();
 * const sub = ps.subscribe('log', { buffer: 2 });
 * for (const line of ['a', 'b', 'c']) await ps.publish('log', line);
 * sub.dropped; // => 1
 * ps.close();
 * const got: string[] = [];
 * for await (const m of sub) got.push(m.payload);
 * got; // => ['a', 'b']
 * ```
 * @see Channel
 */
export class PubSub<M> {
  readonly #index = new TopicIndex<Sub<M>>();
  readonly #subs = new Set<Sub<M>>();
  // Resolved results of publishes that dropped nothing, by delivered count:
  // the common publish returns one of these and allocates no promise.
  readonly #results: Promise<PublishResult>[] = [];
  #closed = false;

  /** Live subscriptions. */
  get subscribers(): number {
    return this.#subs.size;
  }

  /**
   * Subscribes to one pattern or several. The subscription gets every
   * message published from now on whose topic matches one of its patterns,
   * once, until it unsubscribes, its signal aborts, or the `PubSub` closes.
   *
   * A subscription whose signal has already aborted is returned ended.
   * Leaving a `for await` over it early unsubscribes it.
   *
   * **Cancellation**: `opts.signal` aborting unsubscribes (see
   * `Subscription.unsubscribe`) and removes the listener; so does every
   * other way the subscription ends.
   *
   * @throws TypeError if a pattern is not a string of dot-separated non-empty segments with `>` last only, or an option is invalid.
   * @throws RangeError if `topics` is an empty array or `buffer` is not an integer >= 0 or `Infinity`.
   * @throws PubSubClosedError (code `'ERR_PUBSUB_CLOSED'`) once `close()` was called.
   * @example
   * ```ts
   * import { PubSub } from 'weftjs';
   * const ps = new PubSub<string>();
   * const ac = new AbortController();
   * const sub = ps.subscribe(['a', 'b.*'], { buffer: 10, overflow: 'drop-oldest', signal: ac.signal });
   * await ps.publish('b.x', 'hi'); // => { delivered: 1, dropped: 0 }
   * ac.abort();
   * ps.subscribers; // => 0
   * await sub.recv(); // => { done: true, value: undefined }
   * ```
   */
  subscribe(topics: string | string[], opts?: SubscribeOptions): Subscription<M> {
    const op = 'PubSub.subscribe';
    checkOpts(opts, op);
    const list = typeof topics === 'string' ? [topics] : topics;
    if (!Array.isArray(list)) {
      throw typeError(`${op}: \`topics\` must be a string or an array of strings, got ${show(topics)}`);
    }
    if (list.length === 0) throw rangeError(`${op}: \`topics\` must name at least one pattern, got []`);
    const patterns = new Map<string, string[]>();
    for (let i = 0; i < list.length; i++) {
      const name = typeof topics === 'string' ? 'topics' : `topics[${i}]`;
      patterns.set(list[i]!, checkPattern(list[i], op, name));
    }
    const buffer = opts?.buffer === undefined ? 100 : checkInt(opts.buffer, op, 'buffer', 0, Number.POSITIVE_INFINITY);
    const overflow = opts?.overflow ?? 'drop-newest';
    if (!OVERFLOWS.includes(overflow)) {
      throw typeError(
        `${op}: \`overflow\` must be 'drop-newest', 'drop-oldest', 'block' or 'error', got ${show(overflow)}`,
      );
    }
    const signal = checkSignal(opts?.signal, op);
    if (this.#closed) throw new PubSubClosedError(`${op}: the PubSub is closed`);
    return new Sub(this.#index, this.#subs, [...patterns], buffer, overflow, signal);
  }

  /**
   * Publishes `payload` on `topic` to every subscription that matches it;
   * resolves with how many got it and how many messages were dropped (see
   * `PublishResult`). It resolves at once, with a result that may be a
   * shared frozen object, unless a matching `'block'` subscription is full:
   * it then waits until each of them has room and has taken the message in,
   * or has ended (that one then counts in neither figure).
   *
   * Messages are delivered in publish order to each subscription; a
   * message for a full `'block'` subscription waits behind those already
   * waiting for it.
   *
   * **Cancellation**: when `opts.signal` aborts, a publish waiting for full
   * subscribers rejects with `signal.reason`; subscriptions that had taken
   * the message keep it, the others never get it. An already-aborted
   * signal rejects at once and publishes nothing.
   *
   * @throws TypeError at once if `topic` is not dot-separated non-empty segments, or contains `*` or `>` as a segment.
   * Rejects with PubSubClosedError (code `'ERR_PUBSUB_CLOSED'`) once `close()` was called, or with `signal.reason`.
   * @example Backpressure from a 'block' subscriber
   * ```ts
   * import { PubSub } from 'weftjs';
   * const ps = new PubSub<number>();
   * const sub = ps.subscribe('jobs', { buffer: 1, overflow: 'block' });
   * await ps.publish('jobs', 1); // => { delivered: 1, dropped: 0 }
   * let done = false;
   * const second = ps.publish('jobs', 2).then((r) => {
   *   done = true;
   *   return r;
   * });
   * await Promise.resolve();
   * done; // => false
   * (await sub.recv()).value?.payload; // => 1
   * await second; // => { delivered: 1, dropped: 0 }
   * ```
   */
  publish(topic: string, payload: M, opts?: PublishOptions): Promise<PublishResult> {
    let subs = this.#index.cached(topic);
    if (subs === undefined) {
      checkTopic(topic, 'PubSub.publish', 'topic');
      subs = this.#index.match(topic);
    }
    const signal = opts === undefined ? undefined : signalOf(opts, 'PubSub.publish');
    if (this.#closed) return Promise.reject(new PubSubClosedError('PubSub.publish: the PubSub is closed'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const msg: Message<M> = { topic, payload };
    let delivered = 0;
    let dropped = 0;
    let op: PublishOp | null = null;
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i]!;
      const r = sub.offer(msg);
      if (r === BLOCK) {
        op ??= new PublishOp(signal);
        const send = new BlockedSend(msg, op);
        op.sends.push(send);
        op.remaining++;
        sub.block(send);
      } else {
        delivered += r & 1;
        dropped += r >> 1;
      }
    }
    if (op !== null) {
      op.delivered = delivered;
      op.dropped = dropped;
      return op.promise;
    }
    if (dropped === 0 && delivered < 1024) {
      return (this.#results[delivered] ??= Promise.resolve(Object.freeze({ delivered, dropped: 0 })));
    }
    return Promise.resolve({ delivered, dropped });
  }

  /**
   * Closes the hub: no more subscribe or publish; every subscription ends
   * once its buffer is drained (a pending `recv` resolves with `{ done:
   * true }` at once), and publishes waiting for full subscribers stop
   * waiting and resolve with what they delivered. Idempotent.
   *
   * @example
   * ```ts
   * import { PubSub } from 'weftjs';
   * const ps = new PubSub<string>();
   * const sub = ps.subscribe('t');
   * await ps.publish('t', 'last');
   * ps.close();
   * (await sub.recv()).value?.payload; // => 'last'
   * (await sub.recv()).done; // => true
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const sub of [...this.#subs]) sub.close();
  }
}
