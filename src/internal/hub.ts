/**
 * Abort listeners without the platform's per-listener costs: `attach` and
 * `detach` mean what `listen` and `unlisten` of `abort.ts` mean, but a
 * signal gets one real listener (its hub) however many weft listeners it
 * has, as Go's `cancelCtx` keeps its children in a map.
 *
 * Why: Node's `EventTarget` keeps listeners in a list that it searches on
 * every `addEventListener` and `removeEventListener` (removing 40,000
 * listeners newest first takes seconds: quadratic), and it warns
 * "MaxListenersExceededWarning" past 10 listeners on a signal, which a
 * server signal with many requests in flight always passes. A `Set` adds and
 * deletes in O(1) and iterates in insertion order, so listeners still run in
 * the order they were attached.
 *
 * Each attached listener is visible to `weft/testing`'s leak tracker, as
 * with `listen`; the hub itself is not.
 */
import { registry, track, untrack } from './registry.js';

// A module-local binding: read on every operation, it is cheaper than the import's.
const reg = registry;

class Hub implements EventListenerObject {
  readonly listeners = new Set<EventListenerOrEventListenerObject>();

  handleEvent(event: Event): void {
    // Listeners detach themselves as they run; one that throws must not keep
    // the rest from running, and is reported as EventTarget reports it.
    for (const listener of this.listeners) {
      try {
        if (typeof listener === 'function') listener(event);
        else listener.handleEvent(event);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

const hubs = new WeakMap<AbortSignal, Hub>();

/** Attaches `listener` to `signal`'s abort event (at most once per signal, as `addEventListener`). */
export function attach(signal: AbortSignal, listener: EventListenerOrEventListenerObject, op: string): void {
  let hub = hubs.get(signal);
  if (hub === undefined) {
    hub = new Hub();
    hubs.set(signal, hub);
    signal.addEventListener('abort', hub);
  }
  hub.listeners.add(listener);
  if (reg.active !== 0) track(listener, 'listener', op);
}

/** Detaches what `attach` attached; the last one out removes the hub. Safe to call twice. */
export function detach(signal: AbortSignal, listener: EventListenerOrEventListenerObject): void {
  const hub = hubs.get(signal);
  if (hub?.listeners.delete(listener) && hub.listeners.size === 0) {
    hubs.delete(signal);
    signal.removeEventListener('abort', hub);
  }
  if (reg.active !== 0) untrack(listener);
}
