/**
 * The one adapter between weft/redis and the two Redis clients it accepts:
 * node-redis (`createClient`, `createCluster` from `redis`, v4 and later)
 * and ioredis (`Redis`, `Cluster`, v5 and later). Everything above it sends
 * raw commands as arrays of strings (`send`) and subscribes to channels
 * (`subscribe`); this file knows how each client spells that, which of them
 * is a cluster (where a command is routed by its first key), and keeps the
 * connection's health: after a call found Redis unreachable, admission calls
 * decide by their policy at once for a while (`down`), one probe at a time
 * goes through, and the first answer brings everything back.
 *
 * One `Conn` per client object (a WeakMap), so that every primitive on one
 * client shares its health and its one subscriber connection, which is
 * duplicated from the client given, opened on the first subscription and
 * closed when the client given ends.
 */
import { show, typeError } from '../../internal/validate.js';

/** The kinds of client this adapter speaks to. */
export type ClientKind = 'node' | 'node-cluster' | 'io' | 'io-cluster';

/** What a subscriber gets: the message of one channel. */
export type MessageListener = (message: string) => void;

const conns = new WeakMap<object, Conn>();

/** Whether `err` is an error reply of Redis (it answered), as either client makes it. */
export function isReplyError(err: unknown): boolean {
  for (let p = err as object | null; p !== null && p !== undefined; p = Object.getPrototypeOf(p)) {
    const name = (p as { constructor?: { name?: string } }).constructor?.name;
    if (name === 'ErrorReply' || name === 'ReplyError') return true;
  }
  return false;
}

/** Whether `err` is Redis's NOSCRIPT reply: the script cache does not hold the script. */
export function isNoScript(err: unknown): boolean {
  return typeof (err as Error | null)?.message === 'string' && (err as Error).message.startsWith('NOSCRIPT');
}

function kindOf(client: unknown): ClientKind | undefined {
  if (client === null || typeof client !== 'object') return undefined;
  const c = client as Record<string, unknown>;
  if (typeof c.duplicate !== 'function') return undefined;
  if (typeof c.sendCommand === 'function' && 'isOpen' in c)
    return 'masters' in c || 'slots' in c ? 'node-cluster' : 'node';
  if (typeof c.call === 'function' && typeof c.status === 'string') return c.isCluster === true ? 'io-cluster' : 'io';
  return undefined;
}

/**
 * The adapter of `client`, made on first use; throws a TypeError naming
 * `op` if `client` is not a Redis client, or is one that is not connected
 * (node-redis before `connect()` or after `close()`; ioredis after
 * `quit()`/`disconnect()`).
 */
export function connOf(client: unknown, op: string): Conn {
  const known = conns.get(client as object);
  if (known !== undefined) {
    known.check(op);
    return known;
  }
  const kind = kindOf(client);
  if (kind === undefined) {
    throw typeError(
      `${op}: \`redis\` must be a node-redis client or cluster (from \`redis\`) or an ioredis client or cluster, got ${show(client)}`,
    );
  }
  const conn = new Conn(client as object, kind);
  conn.check(op);
  conns.set(client as object, conn);
  return conn;
}

export class Conn {
  readonly client: any;
  readonly kind: ClientKind;
  /** Until when (performance.now() ms) admission calls decide without asking Redis; 0 when up. */
  downUntil = 0;
  /** A probe is in flight while down: the others still decide at once. */
  probing = false;
  /** What made the connection count as down. */
  lastError: unknown = undefined;
  #sub: Subscriber | null = null;

  constructor(client: object, kind: ClientKind) {
    this.client = client;
    this.kind = kind;
  }

  /** Throws if the client is not connected (see `connOf`). */
  check(op: string): void {
    const c = this.client;
    const closed = this.kind === 'node' || this.kind === 'node-cluster' ? c.isOpen !== true : c.status === 'end';
    if (closed) {
      const how = this.kind.startsWith('node') ? '`await client.connect()`' : 'a client not yet quit';
      throw typeError(
        `${op}: \`redis\` must be a connected client (${how}), got a client that is not connected`,
        'ERR_INVALID_ARG_VALUE',
      );
    }
  }

  /** Sends one command (an array of strings); on a cluster it goes to the node that owns `key`. */
  send(key: string, args: string[]): Promise<unknown> {
    const c = this.client;
    switch (this.kind) {
      case 'node':
        return c.sendCommand(args);
      case 'node-cluster':
        return c.sendCommand(key, false, args);
      default:
        return c.call(...args);
    }
  }

  /**
   * Whether an admission call should decide by its policy without asking
   * Redis; lets one probe through once `downUntil` has passed.
   */
  isDown(now: number): boolean {
    if (this.downUntil === 0) return false;
    if (now < this.downUntil || this.probing) return true;
    this.probing = true;
    return false;
  }

  /** Redis answered: everything goes to it again. */
  up(): void {
    this.downUntil = 0;
    this.probing = false;
  }

  /** Redis could not be reached: decide without it for `ms`. */
  down(err: unknown, now: number, ms: number): void {
    this.lastError = err;
    this.downUntil = now + ms;
    this.probing = false;
  }

  /** Adds `fn` to `channel`'s listeners; resolves once the subscription is in place. */
  subscribe(channel: string, fn: MessageListener): Promise<void> {
    this.#sub ??= new Subscriber(this);
    return this.#sub.add(channel, fn);
  }

  /** Removes what `subscribe` added; the last listener out leaves the channel. */
  unsubscribe(channel: string, fn: MessageListener): void {
    this.#sub?.remove(channel, fn);
  }
}

/**
 * The connection that subscriptions use, duplicated from the client given
 * (a subscribed connection can run nothing else). Changes are chained, so
 * that subscribes and unsubscribes run one at a time, each bringing the
 * connection's subscriptions in line with the listeners.
 */
class Subscriber {
  readonly #conn: Conn;
  readonly #channels = new Map<string, Set<MessageListener>>();
  readonly #subscribed = new Set<string>();
  #dup: any = null;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(conn: Conn) {
    this.#conn = conn;
  }

  #dispatch(channel: string, message: string): void {
    const set = this.#channels.get(channel);
    if (set === undefined) return;
    for (const fn of set) fn(message);
  }

  #then(channel: string): Promise<void> {
    const next = this.#chain.then(() => this.#sync(channel));
    this.#chain = next.catch(() => {});
    return next;
  }

  add(channel: string, fn: MessageListener): Promise<void> {
    let set = this.#channels.get(channel);
    if (set === undefined) this.#channels.set(channel, (set = new Set()));
    set.add(fn);
    return this.#then(channel);
  }

  remove(channel: string, fn: MessageListener): void {
    const set = this.#channels.get(channel);
    if (set === undefined || !set.delete(fn)) return;
    if (set.size === 0) this.#channels.delete(channel);
    this.#then(channel).catch(() => {});
  }

  async #sync(channel: string): Promise<void> {
    const want = this.#channels.has(channel);
    if (want && !this.#subscribed.has(channel)) {
      const dup = await this.#open();
      if (this.#conn.kind === 'io' || this.#conn.kind === 'io-cluster') await dup.subscribe(channel);
      else await dup.subscribe(channel, (message: string) => this.#dispatch(channel, message));
      this.#subscribed.add(channel);
    } else if (!want && this.#subscribed.has(channel)) {
      this.#subscribed.delete(channel);
      await this.#dup.unsubscribe(channel).catch(() => {});
    }
  }

  async #open(): Promise<any> {
    if (this.#dup !== null) return this.#dup;
    const conn = this.#conn;
    const dup = conn.client.duplicate();
    // A connection error on this internal connection must not crash the process.
    dup.on('error', () => {});
    if (conn.kind === 'io' || conn.kind === 'io-cluster') {
      dup.on('message', (channel: string, message: string) => this.#dispatch(channel, message));
    } else {
      try {
        await dup.connect();
      } catch (err) {
        close(dup, conn.kind);
        throw err;
      }
    }
    this.#dup = dup;
    // The connection stays open while the client given does (a wait that
    // follows pays one SUBSCRIBE, not a connect), and closes with it.
    const main = conn.client;
    if (typeof main.once === 'function') {
      main.once('end', () => {
        if (this.#dup === dup) {
          this.#dup = null;
          this.#subscribed.clear();
        }
        close(dup, conn.kind);
      });
    }
    return dup;
  }
}

function close(client: any, kind: ClientKind): void {
  try {
    if (kind === 'io' || kind === 'io-cluster') client.disconnect();
    else if (typeof client.destroy === 'function') client.destroy();
    else client.disconnect();
  } catch {
    // Already closed.
  }
}
