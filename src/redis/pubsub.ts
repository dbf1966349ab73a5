/**
 * Package redis's `RedisPubSub`: weft's `PubSub` across processes, over
 * Redis pub/sub. Each process subscribes through a local `PubSub`, which
 * does the topic matching and the subscriber-side buffering and overflow;
 * Redis carries each published message to every process listening on the
 * bus. Delivery is at most once: a message published while a process is
 * disconnected never reaches it.
 */
import { signalOf } from '../internal/abort.js';
import { noop } from '../internal/promise.js';
import { checkTopic } from '../internal/topic.js';
import { checkOptFn, checkOpts, checkRequiredOpts, show, typeError } from '../internal/validate.js';
import { waitFor } from '../internal/waiter.js';
import { type Overflow, type PublishResult, PubSub, type SubscribeOptions, type Subscription } from '../pubsub.js';
import type { RedisOptions } from './client.js';
import { Calls } from './internal/calls.js';
import type { Conn } from './internal/client.js';
import { keyBase } from './internal/keys.js';
import { checkCommon, checkName } from './internal/options.js';

/**
 * Options of `RedisPubSub`: those of every weft/redis primitive (but
 * `onRedisError`: a publish that Redis does not take rejects), the bus's
 * name, and how payloads are stored. Every process on one bus should give
 * the same serialisation.
 */
export interface RedisPubSubOptions<M> extends Omit<RedisOptions, 'onRedisError' | 'onFallback'> {
  /** The bus's name (default `'default'`): its Redis channel is `<prefix>:{pubsub:<name>}`. */
  name?: string;
  /** Turns a payload into the string sent (default `JSON.stringify`). */
  serialize?: (payload: M) => string;
  /** Turns a string received back into a payload (default `JSON.parse`); a message it throws on is dropped. */
  deserialize?: (data: string) => M;
  /**
   * Told, synchronously, of each message received that could not be read
   * (not weft's format, or `deserialize` threw): the message is dropped.
   */
  onError?: (err: unknown) => void;
}

/** `PubSub`'s subscribe options, less `'block'` (and its `blockMs`): Redis cannot make a publisher in another process wait. */
export type RedisSubscribeOptions<M> = Omit<SubscribeOptions<M>, 'overflow' | 'blockMs'> & {
  /** What to do when the buffer is full (default `'drop-newest'`); `'block'` is refused. */
  overflow?: Exclude<Overflow, 'block'>;
};

/**
 * `PubSub`'s surface over Redis pub/sub, shared by every process that uses
 * the same Redis, prefix and `name`: a message published in any process
 * reaches the matching subscriptions of every process listening on the
 * bus, its own included (through Redis, in the order Redis got them).
 *
 * **At most once.** Redis pub/sub keeps nothing: a message published while
 * a process is not subscribed (not yet, or disconnected) is never
 * delivered to it, and one that a full subscription drops is gone. After
 * a reconnect the bus listens again by itself (the client resubscribes);
 * what was published meanwhile is lost. For fan-out that must not lose
 * messages, give each consumer group its own `RedisQueue`.
 *
 * Topics, patterns (`*` for one segment, `>` for the rest), buffers and
 * overflow policies are `PubSub`'s, applied by each process to its own
 * subscriptions, except `'block'`: a subscriber cannot make a publisher in
 * another process wait (Redis would drop a connection that reads too
 * slowly), so `subscribe` refuses it; use `'drop-oldest'`, a larger
 * `buffer`, or a queue. A process listens on the bus from its first
 * `subscribe` until `close()` and receives every message of the bus
 * (matching is local): give unrelated traffic buses of its own.
 *
 * Payloads are sent as strings: `JSON.stringify`/`JSON.parse` by default.
 *
 * @throws TypeError if `opts` or a field has the wrong type, `name` or
 * `prefix` is empty, or `redis` is not a connected client.
 * @example Two processes' worth of buses on one Redis
 * ```ts
 * import { createClient } from 'redis';
 * import { RedisPubSub } from 'weftjs/redis';
 * const a = await createClient({ url: process.env.REDIS_URL }).connect();
 * const b = await createClient({ url: process.env.REDIS_URL }).connect();
 * const publisher = new RedisPubSub<{ total: number }>({ redis: a, name: 'doc:orders' });
 * const subscriber = new RedisPubSub<{ total: number }>({ redis: b, name: 'doc:orders' });
 * const eu = subscriber.subscribe('orders.eu.*');
 * await subscriber.ready();
 * await publisher.publish('orders.us.new', { total: 5 });
 * await publisher.publish('orders.eu.new', { total: 7 });
 * const first = await eu.recv();
 * [first.value?.topic, first.value?.payload.total]; // => ['orders.eu.new', 7]
 * publisher.close();
 * subscriber.close();
 * await a.close();
 * await b.close();
 * ```
 * @see RedisQueue for durable delivery.
 */
export class RedisPubSub<M> {
  /** The bus's name, as given (or `'default'`). */
  readonly name: string;
  readonly #conn: Conn;
  readonly #calls: Calls;
  readonly #channel: string;
  readonly #local = new PubSub<M>();
  readonly #encode: (payload: M) => string;
  readonly #decode: (data: string) => M;
  readonly #onError: ((err: unknown) => void) | undefined;
  readonly #listener = (message: string): void => this.#receive(message);
  #listening: Promise<void> | null = null;
  #closed = false;

  constructor(opts: RedisPubSubOptions<M>) {
    const op = 'RedisPubSub';
    checkRequiredOpts(opts, op);
    const name = opts.name === undefined ? 'default' : checkName(opts.name, op, 'name');
    const serialize = checkOptFn(opts.serialize, op, 'serialize');
    const deserialize = checkOptFn(opts.deserialize, op, 'deserialize');
    this.#onError = checkOptFn(opts.onError, op, 'onError');
    const common = checkCommon({ ...opts, onRedisError: undefined, onFallback: undefined }, op, 'fail-closed');
    this.name = name;
    this.#conn = common.conn;
    this.#calls = new Calls(common.conn, common.timeoutMs, `${op}.publish`);
    this.#channel = keyBase(common.prefix, 'pubsub', name);
    this.#encode = serialize ?? ((payload) => JSON.stringify(payload));
    this.#decode = deserialize ?? ((data) => JSON.parse(data) as M);
  }

  /** Subscriptions open in this process. */
  get subscribers(): number {
    return this.#local.subscribers;
  }

  /**
   * Subscribes to `topics` (one pattern or several), as `PubSub.subscribe`
   * does, in this process: the subscription gets each message published on
   * the bus, by any process, whose topic matches one of its patterns, once,
   * from the moment the bus listens on Redis (`ready()`).
   *
   * **Cancellation**: `opts.signal` ends the subscription, as `unsubscribe()`.
   *
   * @throws TypeError / RangeError as `PubSub.subscribe`, and a TypeError
   * (`ERR_INVALID_ARG_VALUE`) for `overflow: 'block'`.
   * @throws PubSubClosedError (`ERR_PUBSUB_CLOSED`) once the bus is closed.
   * @see RedisPubSub.ready
   */
  subscribe(topics: string | string[], opts?: RedisSubscribeOptions<M>): Subscription<M> {
    const op = 'RedisPubSub.subscribe';
    checkOpts(opts, op);
    const overflow: unknown = opts?.overflow;
    if (overflow === 'block') {
      throw typeError(
        `${op}: \`overflow\` cannot be 'block' over Redis (a subscriber cannot make a publisher in another process wait), got ${show(overflow)}`,
        'ERR_INVALID_ARG_VALUE',
      );
    }
    const sub = this.#local.subscribe(topics, opts as SubscribeOptions<M> | undefined);
    if (this.#listening === null && !this.#closed) {
      const listening = this.#conn.subscribe(this.#channel, this.#listener);
      listening.catch(noop);
      this.#listening = listening;
    }
    return sub;
  }

  /**
   * Resolves once this process listens on the bus in Redis, so that a
   * message published from then on reaches its subscriptions; resolves at
   * once if nothing subscribed yet or the bus is closed. Rejects if the
   * subscription connection could not be opened (a later `subscribe` tries
   * again).
   *
   * **Cancellation**: `opts.signal` stops the wait (rejects with its reason).
   */
  ready(opts?: { signal?: AbortSignal }): Promise<void> {
    const signal = signalOf(opts, 'RedisPubSub.ready');
    if (signal?.aborted) return Promise.reject(signal.reason);
    const listening = this.#listening;
    if (listening === null || this.#closed) return Promise.resolve();
    const done = listening.catch((err) => {
      if (this.#listening === listening) this.#listening = null;
      throw err;
    });
    return waitFor(done, signal, 'RedisPubSub.ready');
  }

  /**
   * Publishes `payload` on `topic` to every process listening on the bus,
   * this one included; resolves once Redis has taken it, with
   * `delivered`: the listening connections Redis handed it to (processes,
   * or buses on other clients; on a Cluster, those connected to the node
   * that took it), and `dropped`: 0 (what each subscription drops is in
   * its own `dropped`). Never waits for subscribers.
   *
   * **Cancellation**: none needed: the call waits for Redis only, at most
   * `timeoutMs`.
   *
   * Rejects with `RedisUnavailableError` (`ERR_REDIS_UNAVAILABLE`) when
   * Redis does not take the message within `timeoutMs` (it may still have
   * been delivered), and with `PubSubClosedError` once the bus is closed.
   * @throws TypeError if `topic` is not a topic (dot-separated non-empty
   * segments, no wildcard) or `payload` cannot be serialised.
   */
  publish(topic: string, payload: M): Promise<PublishResult> {
    const op = 'RedisPubSub.publish';
    checkTopic(topic, op, 'topic');
    let body: unknown;
    let cause: unknown;
    try {
      body = this.#encode(payload);
    } catch (err) {
      cause = err;
    }
    if (typeof body !== 'string') {
      const why = cause instanceof Error ? cause.message : `it gave ${show(body)}, not a string`;
      throw typeError(
        `${op}: \`payload\` could not be serialised: ${why}, got ${show(payload)}`,
        'ERR_INVALID_ARG_VALUE',
      );
    }
    // The local bus's own rejection: the same PubSubClosedError as PubSub's.
    if (this.#closed) return this.#local.publish(topic, payload);
    const message = `${topic.length}:${topic}${body}`;
    return this.#calls.command(this.#channel, ['PUBLISH', this.#channel, message], (reply) => ({
      delivered: Number(reply),
      dropped: 0,
    }));
  }

  /**
   * Closes the bus in this process: it stops listening on Redis, and each
   * subscription ends once its reader has drained what was buffered (as
   * `PubSub.close`). Later `publish` calls reject and `subscribe` calls
   * throw with `PubSubClosedError`. Idempotent. The client given stays open.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#local.close();
    if (this.#listening !== null) this.#conn.unsubscribe(this.#channel, this.#listener);
    this.#listening = null;
  }

  /** `using`: `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #receive(message: string): void {
    if (this.#closed) return;
    let topic: string;
    let payload: M;
    try {
      // `<topic length>:<topic><payload>`: the digits read in place, no slice.
      let length = 0;
      let i = 0;
      for (let c = message.charCodeAt(0); c >= 48 && c <= 57; c = message.charCodeAt(++i))
        length = length * 10 + c - 48;
      const start = i + 1;
      if (i === 0 || message.charCodeAt(i) !== 58 || start + length > message.length) {
        throw new TypeError(`RedisPubSub: a message on ${this.#channel} is not in weft's format: ${show(message)}`);
      }
      topic = message.slice(start, start + length);
      payload = this.#decode(message.slice(start + length));
    } catch (err) {
      this.#tell(err);
      return;
    }
    // Subscribers buffer or drop by their policy; nothing here waits ('block'
    // is refused) and nothing rejects (the bus is open), so the promise is dropped.
    void this.#local.publish(topic, payload);
  }

  #tell(err: unknown): void {
    if (this.#onError === undefined) return;
    try {
      this.#onError(err);
    } catch (e) {
      // Reported as an uncaught error, as a throwing event listener is.
      queueMicrotask(() => {
        throw e;
      });
    }
  }
}
