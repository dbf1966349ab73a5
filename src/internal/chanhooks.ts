/**
 * What `Channel` shares with `select` and with its own iterator: the shapes
 * of the entries its wait queues hold, the symbol-keyed hooks through which
 * `select` polls a channel and queues on it, and the shared, never-mutated
 * results of the fast paths.
 *
 * A channel's receive queue holds plain receivers (a `Waiter`) and the
 * receive cases of blocked `select`s side by side, and its send queue the
 * same for senders. A blocked `select` has one entry on each of its channels;
 * when one of them is matched, the select takes every other entry out of its
 * queue in the same synchronous step, so an entry found in a queue is always
 * live and can be committed without checking (what Go needs `selectDone`
 * for).
 */
import type { Linked } from './waiter.js';

/** A blocked receiver: a `Channel.recv` or a receive case of a `select`. */
export interface RecvEntry<T> extends Linked {
  /** Commits the receive: `value` with `ok` true, or `ok` false when the channel closed. The entry is out of its queue. */
  deliver(value: T | undefined, ok: boolean): void;
}

/** A blocked sender: a `Channel.send` or a send case of a `select`. */
export interface SendEntry<T> extends Linked {
  /** The value it offers. */
  readonly value: T;
  /** Its value was taken (it is out of its queue). */
  taken(): void;
  /** The channel closed under it (it is out of its queue). */
  closed(): void;
}

/** `ch[canRecv]()`: whether a receive would complete now (a value, a sender, or closed). */
export const canRecv: unique symbol = Symbol('weft.canRecv');
/** `ch[canSend]()`: whether a send would not block now (a receiver, room, or closed: it would throw). */
export const canSend: unique symbol = Symbol('weft.canSend');
/** `ch[take]()`: the receive that needs no wait, as a bare value, or `EMPTY` (it would wait) or `CLOSED` (closed and drained). */
export const take: unique symbol = Symbol('weft.take');
/** What `ch[take]()` returns when a receive would wait. */
export const EMPTY: unique symbol = Symbol('weft.empty');
/** What `ch[take]()` returns when the channel is closed and drained. */
export const CLOSED: unique symbol = Symbol('weft.closed');
/** `ch[enqueueRecv](entry)`: queues a receiver; call only when `canRecv` is false. */
export const enqueueRecv: unique symbol = Symbol('weft.enqueueRecv');
/** `ch[enqueueSend](entry)`: queues a sender; call only when `canSend` is false. */
export const enqueueSend: unique symbol = Symbol('weft.enqueueSend');
