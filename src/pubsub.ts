/**
 * Package pubsub is an in-process publish/subscribe hub: publishers send a
 * payload on a topic, and every subscription whose patterns match the topic
 * gets it in its own buffer, which it reads as an async iterable or with a
 * handler (`forEach`). Topics and wildcards follow NATS; what happens when a
 * subscriber falls behind is each subscription's choice (drop, evict, block
 * the publisher for a while or for good, keep the latest per key, or fail),
 * and every overflow can be watched (`onOverflow`, the
 * `weft:pubsub:overflow` diagnostics channel).
 */
import { type Clock, systemClock } from './clock.js';
import { checkSignal, signalOf } from './internal/abort.js';
import { WeftError } from './internal/errors.js';
import { inspectAs, inspectKey } from './internal/inspect.js';
import { BLOCK, BlockedSend, Hub, PublishOp, Sub } from './internal/pubsub/subscription.js';
import { checkClock } from './internal/timer.js';
import { checkPattern, checkTopic } from './internal/topic.js';
import { checkFn, checkInt, checkMs, checkOptFn, checkOpts, rangeError, show, typeError } from './internal/validate.js';

const OVERFLOWS: readonly string[] = ['drop-newest', 'drop-oldest', 'block', 'error', 'latest'];

/**
 * What a subscription does with a message that arrives when its buffer is
 * full:
 * - `'drop-newest'` (the default) drops that message;
 * - `'drop-oldest'` evicts the oldest buffered one to make room;
 * - `'block'` makes the publisher wait for room: for good, or for at most
 *   `blockMs`, after which that message is dropped for this subscription;
 * - `'error'` ends the subscription with `SubscriberOverflowError`, once its
 *   reader has taken what was buffered;
 * - `'latest'` conflates: the buffer holds at most one message per key
 *   (`key`, default the topic), the latest one, at the place where its key
 *   first arrived; a message with a new key that finds the buffer full
 *   evicts the oldest one.
 */
export type Overflow = 'drop-newest' | 'drop-oldest' | 'block' | 'error' | 'latest';

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
   * `'drop-newest'` or `'error'` subscriber that was full, and for each
   * `'block'` one that stayed full for `blockMs`; the evicted oldest message
   * for each full `'drop-oldest'` one; and for a `'latest'` one, the message
   * of the same key that this one replaced, or the oldest it evicted.
   */
  readonly dropped: number;
}

/**
 * What happened when a message found a subscription's buffer full:
 * `'dropped'` (that message was dropped: `'drop-newest'`, a `'block'`
 * subscription full for `blockMs`, or any policy with `buffer: 0`),
 * `'evicted'` (the oldest buffered message was dropped to make room:
 * `'drop-oldest'`, `'latest'`), `'blocked'` (the publisher waits for room:
 * `'block'`), `'failed'` (the subscription ends: `'error'`, or a `key`
 * function that threw).
 */
export type OverflowOutcome = 'dropped' | 'evicted' | 'blocked' | 'failed';

/**
 * The event of an overflow, given to `onOverflow` and published on the
 * `weft:pubsub:overflow` diagnostics channel (`weftjs/node`). Built only
 * when someone listens.
 */
export interface OverflowEvent<M> {
  readonly pubsub: PubSub<M>;
  readonly subscription: Subscription<M>;
  /** The topic of the publish that overflowed the buffer. */
  readonly topic: string;
  readonly policy: Overflow;
  readonly outcome: OverflowOutcome;
  /** The message dropped or evicted; for `'blocked'`, the one the publisher holds. */
  readonly message: Message<M>;
  /** The subscription's `dropped` count, this event included. */
  readonly dropped: number;
}

/**
 * Called synchronously, inside `publish` (in the publisher's async
 * context), on every overflow. It should return quickly; an exception it
 * throws is reported as an uncaught exception (as `diagnostics_channel`
 * reports a subscriber's) and does not disturb the publish.
 */
export type OverflowHandler<M> = (event: OverflowEvent<M>) => void;

/** Options of `new PubSub()`. */
export interface PubSubOptions<M = unknown> {
  /** Called on every overflow of every subscription (after the subscription's own `onOverflow`). */
  onOverflow?: OverflowHandler<M>;
  /** The clock of `blockMs` timers (default `systemClock`); a `TestClock` in tests. */
  clock?: Clock;
}

/** Options of `PubSub.subscribe`. */
export interface SubscribeOptions<M = unknown> {
  /** Messages buffered while the subscriber is not receiving: an integer >= 0 or `Infinity` (default 100). */
  buffer?: number;
  /** What to do when the buffer is full (default `'drop-newest'`). */
  overflow?: Overflow;
  /**
   * Under `'block'`: how long a publisher waits for room, in ms, before the
   * message is dropped for this subscription (default `Infinity`: it waits
   * until there is room; `0`: it never waits).
   */
  blockMs?: number;
  /**
   * Under `'latest'`: the key a message is conflated by (default: its
   * topic). Called once per message that is not handed straight to a
   * waiting reader; if it throws, the subscription ends with that error.
   */
  key?: (message: Message<M>) => unknown;
  /** Called on every overflow of this subscription. */
  onOverflow?: OverflowHandler<M>;
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

/** Options of `Subscription.forEach`. */
export interface ForEachOptions {
  /** Stops the handler and ends the subscription when it aborts. */
  signal?: AbortSignal;
}

/**
 * A subscription of `PubSub.subscribe`: its messages, in the order they
 * were published, through `recv()`, `for await` or `forEach`.
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
   * once an `'error'` subscription has overflowed and its buffered messages
   * have been taken: the wait pending then and every later one. A `for
   * await` loop over it gets the buffered messages, then throws.
   */
  recv(opts?: RecvOptions): Promise<IteratorResult<Message<M>, undefined>>;
  /**
   * Calls `fn` with each message, in publish order, until the subscription
   * ends; resolves then (rejects with `SubscriberOverflowError` for an
   * `'error'` subscription that overflowed, after `fn` has had the
   * messages buffered before the overflow).
   *
   * A synchronous `fn` costs no promise per message. When `fn` returns a
   * promise, the next message waits for it: messages buffer up meanwhile
   * and the subscription's overflow policy applies, so under `'block'` the
   * handler's promise holds the publishers back (backpressure). `fn` runs
   * in the async context of the caller of `forEach` (an `AsyncLocalStorage`
   * store set around the call is seen inside `fn`), never inside `publish`
   * and never before `forEach` returns: soon after the publish, within the
   * same turn of the event loop, with the messages published meanwhile.
   *
   * If `fn` throws or rejects, the subscription ends (unsubscribed) and
   * `forEach` rejects with that error, once. One `forEach` at a time: a
   * second one while the first runs rejects with an `Error` of code
   * `'ERR_INVALID_STATE'`. `recv` may still be called; each message goes to
   * one of the two.
   *
   * **Cancellation**: when `opts.signal` aborts, the subscription ends, as
   * when a `for await` is left early, and `forEach` rejects with
   * `signal.reason` at once; a call of `fn` in flight then is not awaited.
   * An already-aborted signal ends the subscription and rejects.
   *
   * @example A handler per subscription; close waits for them
   * ```ts
   * import { PubSub } from 'weftjs';
   * const ps = new PubSub<number>();
   * const seen: number[] = [];
   * const done = ps.subscribe('n').forEach((m) => {
   *   seen.push(m.payload);
   * });
   * for (const n of [1, 2, 3]) await ps.publish('n', n);
   * await ps[Symbol.asyncDispose](); // closes, then waits for every handler
   * await done;
   * seen; // => [1, 2, 3]
   * ```
   */
  forEach(fn: (message: Message<M>) => unknown, opts?: ForEachOptions): Promise<void>;
  /**
   * Ends the subscription now: it gets no more messages, its buffer is
   * discarded, a pending `recv` resolves with `{ done: true }`, a `forEach`
   * resolves once its handler call in flight has settled, and a publisher
   * blocked on it stops waiting for it. Idempotent.
   */
  unsubscribe(): void;
  /** Same as `unsubscribe()`, for `using`. */
  [Symbol.dispose](): void;
  /** Messages this subscription lost to its overflow policy (for `'latest'`: those replaced by a later one of their key, too). */
  readonly dropped: number;
  /**
   * Messages buffered now: taken in from publishers and not yet read by
   * `recv`, `for await` or `forEach`'s handler. It does not count the
   * messages of publishers blocked on a full `'block'` subscription (those
   * wait in the publishers), so it is at most `buffer`, except for a
   * `forEach` reader with `buffer: 0`, whose message in hand-over counts.
   */
  readonly lag: number;
}

/**
 * The error an `'error'` subscription ends with when a message arrives with
 * its buffer full; its `recv` rejects with it once the messages buffered
 * before have been taken.
 *
 * @example A subscriber that would rather end than lose a message
 * ```ts
 * import { PubSub } from 'weftjs';
 * const bus = new PubSub<number>();
 * const sub = bus.subscribe('ticks', { buffer: 1, overflow: 'error' });
 * await bus.publish('ticks', 1);
 * await bus.publish('ticks', 2); // => { delivered: 0, dropped: 1 }
 * (await sub.recv()).value?.payload; // => 1
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
 * reader has not taken yet, in publish order; `lag` tells how many. `publish`
 * never waits for a slow reader unless that reader subscribed with
 * `overflow: 'block'`; the other policies drop messages, and `dropped`
 * counts them. Every overflow is reported to `onOverflow` (of the
 * subscription, then of the hub) and on the `weft:pubsub:overflow`
 * diagnostics channel.
 *
 * `new PubSub()` takes no required option: `onOverflow` and `clock` (for
 * `blockMs`) are optional. `await using` a hub closes it and waits for its
 * `forEach` handlers.
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
 * @example A slow subscriber drops what does not fit, and the hook hears of it
 * ```ts
 * import { PubSub } from 'weftjs';
 * const lost: string[] = [];
 * const ps = new PubSub<string>({ onOverflow: (e) => lost.push(`${e.outcome} ${e.message.payload}`) });
 * const sub = ps.subscribe('log', { buffer: 2 });
 * for (const line of ['a', 'b', 'c']) await ps.publish('log', line);
 * [sub.lag, sub.dropped]; // => [2, 1]
 * lost; // => ['dropped c']
 * ps.close();
 * const got: string[] = [];
 * for await (const m of sub) got.push(m.payload);
 * got; // => ['a', 'b']
 * ```
 * @example The latest state per key
 * ```ts
 * import { PubSub } from 'weftjs';
 * const ps = new PubSub<{ id: string; price: number }>();
 * const sub = ps.subscribe('prices', { overflow: 'latest', key: (m) => m.payload.id });
 * await ps.publish('prices', { id: 'A', price: 1 });
 * await ps.publish('prices', { id: 'B', price: 5 });
 * await ps.publish('prices', { id: 'A', price: 2 }); // => { delivered: 1, dropped: 1 }
 * sub.lag; // => 2
 * ps.close();
 * const got: string[] = [];
 * for await (const m of sub) got.push(`${m.payload.id}=${m.payload.price}`);
 * got; // => ['A=2', 'B=5']
 * ```
 * @see Channel
 */
export class PubSub<M> {
  readonly #hub: Hub<M>;
  // Resolved results of publishes that dropped nothing, by delivered count:
  // the common publish returns one of these and allocates no promise.
  readonly #results: Promise<PublishResult>[] = [];
  #closed = false;

  /**
   * @throws TypeError if an option is invalid.
   */
  constructor(opts?: PubSubOptions<M>) {
    const op = 'PubSub';
    checkOpts(opts, op);
    const onOverflow = checkOptFn(opts?.onOverflow, op, 'onOverflow');
    const clock = checkClock(opts?.clock, op, systemClock);
    this.#hub = new Hub(this, clock, onOverflow, (message) => new SubscriberOverflowError(message));
  }

  /** Live subscriptions. */
  get subscribers(): number {
    return this.#hub.subs.size;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** How `util.inspect` shows it: PubSub { ... } with its state now. */
  [inspectKey](depth: number, options: unknown, inspect?: (v: unknown, o?: unknown) => string): string {
    return inspectAs(
      'PubSub',
      { subscribers: this.subscribers, handlers: this.#hub.loops.size, closed: this.#closed },
      depth,
      options,
      inspect,
    );
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
   * @throws TypeError if a pattern is not a string of dot-separated non-empty segments with `>` last only, or an option is invalid (`blockMs` without `overflow: 'block'`, `key` without `overflow: 'latest'`).
   * @throws RangeError if `topics` is an empty array, `buffer` is not an integer >= 0 or `Infinity`, or `blockMs` is not a number >= 0.
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
  subscribe(topics: string | string[], opts?: SubscribeOptions<M>): Subscription<M> {
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
    const capacity =
      opts?.buffer === undefined ? 100 : checkInt(opts.buffer, op, 'buffer', 0, Number.POSITIVE_INFINITY);
    const overflow = opts?.overflow ?? 'drop-newest';
    if (!OVERFLOWS.includes(overflow)) {
      throw typeError(
        `${op}: \`overflow\` must be 'drop-newest', 'drop-oldest', 'block', 'error' or 'latest', got ${show(overflow)}`,
        'ERR_INVALID_ARG_VALUE',
      );
    }
    let blockMs = Number.POSITIVE_INFINITY;
    if (opts?.blockMs !== undefined) {
      if (overflow !== 'block') {
        throw typeError(
          `${op}: \`blockMs\` needs overflow 'block', got overflow ${show(overflow)}`,
          'ERR_INVALID_ARG_VALUE',
        );
      }
      blockMs = checkMs(opts.blockMs, op, 'blockMs', true);
    }
    let key: ((message: Message<M>) => unknown) | null = null;
    if (opts?.key !== undefined) {
      if (overflow !== 'latest') {
        throw typeError(
          `${op}: \`key\` needs overflow 'latest', got overflow ${show(overflow)}`,
          'ERR_INVALID_ARG_VALUE',
        );
      }
      key = checkFn(opts.key, op, 'key');
    } else if (overflow === 'latest') key = topicOf;
    const onOverflow = checkOptFn(opts?.onOverflow, op, 'onOverflow');
    const signal = checkSignal(opts?.signal, op);
    if (this.#closed) throw new PubSubClosedError(`${op}: the PubSub is closed`);
    return new Sub(this.#hub, [...patterns], { capacity, overflow, blockMs, key, onOverflow }, signal);
  }

  /**
   * Publishes `payload` on `topic` to every subscription that matches it;
   * resolves with how many got it and how many messages were dropped (see
   * `PublishResult`). It resolves at once, with a result that may be a
   * shared frozen object, unless a matching `'block'` subscription is full:
   * it then waits until each of them has room and has taken the message in
   * (a `forEach` handler's returned promise holds that room until it
   * settles), has waited its `blockMs` (the message is then dropped for it,
   * and counts as dropped), or has ended (that one then counts in neither
   * figure).
   *
   * Messages are delivered in publish order to each subscription; a
   * message for a full `'block'` subscription waits behind those already
   * waiting for it.
   *
   * **Cancellation**: when `opts.signal` aborts, a publish waiting for full
   * subscribers rejects with `signal.reason`; subscriptions that had taken
   * the message keep it, the others never get it, and its `blockMs` timers
   * are stopped. An already-aborted signal rejects at once and publishes
   * nothing.
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
   * @example Block for at most 50 ms, then drop
   * ```ts
   * import { PubSub } from 'weftjs';
   * import { TestClock } from 'weftjs/testing';
   * const clock = new TestClock();
   * const ps = new PubSub<number>({ clock });
   * const sub = ps.subscribe('jobs', { buffer: 1, overflow: 'block', blockMs: 50 });
   * await ps.publish('jobs', 1);
   * const second = ps.publish('jobs', 2);
   * await clock.advance(50);
   * await second; // => { delivered: 0, dropped: 1 }
   * [sub.lag, sub.dropped]; // => [1, 1]
   * ```
   */
  publish(topic: string, payload: M, opts?: PublishOptions): Promise<PublishResult> {
    const hub = this.#hub;
    hub.batch.activity++;
    const index = hub.index;
    let subs = index.cached(topic);
    if (subs === undefined) {
      checkTopic(topic, 'PubSub.publish', 'topic');
      subs = index.match(topic);
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
        // One count held until the loop is over, so that a send settled
        // meanwhile (an `onOverflow` hook that reads) cannot settle it early.
        if (op === null) {
          op = new PublishOp(signal);
          op.remaining = 1;
        }
        const send = new BlockedSend(msg, op, sub);
        op.sends.push(send);
        op.remaining++;
        sub.block(send);
      } else {
        delivered += r & 1;
        dropped += r >> 1;
      }
    }
    if (op !== null) {
      op.delivered += delivered;
      op.dropped += dropped;
      op.done(false);
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
   * true }` at once, a `forEach` once its handler has had the buffered
   * messages), and publishes waiting for full subscribers stop waiting and
   * resolve with what they delivered. Idempotent.
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
    for (const sub of [...this.#hub.subs]) sub.close();
  }

  /**
   * Closes the hub (`close()`) and resolves once every `forEach` handler
   * has had its subscription's buffered messages and settled, for `await
   * using`. It never rejects: a `forEach` that fails rejects its own
   * promise.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    const loops = this.#hub.loops;
    while (loops.size !== 0) await Promise.all(loops);
  }
}

function topicOf(m: Message<unknown>): unknown {
  return m.topic;
}
