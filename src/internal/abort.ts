/**
 * The one place where weft touches `AbortSignal` listeners. Every listener
 * added here is removed by `unlisten` on every path (settle, abort, close),
 * and is visible to `weft/testing`'s leak tracker while it is attached.
 * Listeners go through `hub.ts`: one real listener per signal, however many
 * weft operations wait on it.
 *
 * Listeners are `EventListenerObject`s (an object with `handleEvent`) so that
 * a queue node can be its own listener: no closure per wait.
 */
import { attach, detach } from './hub.js';
import { show } from './validate.js';

/** Checks an optional `signal` argument; returns it, or undefined. */
export function checkSignal(signal: unknown, op: string): AbortSignal | undefined {
  if (signal === undefined || signal === null) return undefined;
  if (
    typeof signal !== 'object' ||
    typeof (signal as AbortSignal).aborted !== 'boolean' ||
    typeof (signal as AbortSignal).addEventListener !== 'function'
  ) {
    throw new TypeError(`${op}: \`signal\` must be an AbortSignal, got ${show(signal)}`);
  }
  return signal as AbortSignal;
}

/** Reads the `signal` of an options bag, checking both. */
export function signalOf(opts: { signal?: AbortSignal } | undefined, op: string): AbortSignal | undefined {
  if (opts === undefined) return undefined;
  if (opts === null || typeof opts !== 'object')
    throw new TypeError(`${op}: \`opts\` must be an object, got ${show(opts)}`);
  return checkSignal(opts.signal, op);
}

/** Attaches `listener` to `signal`'s abort event. */
export function listen(signal: AbortSignal, listener: EventListenerOrEventListenerObject, op: string): void {
  attach(signal, listener, op);
}

/** Detaches what `listen` attached. Safe to call twice. */
export function unlisten(signal: AbortSignal, listener: EventListenerOrEventListenerObject): void {
  detach(signal, listener);
}
