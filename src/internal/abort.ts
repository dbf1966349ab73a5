/**
 * The one door to `AbortSignal` listeners in weft: every listener weft adds
 * goes through `listen` and is removed by `unlisten` on every path
 * (settle, abort, close), and is visible to `weft/testing`'s leak tracker
 * while it is attached. Listeners are `EventListenerObject`s (an object
 * with `handleEvent`) so that a queue node can be its own listener: no
 * closure per wait.
 *
 * A signal gets one real listener (its hub) however many weft listeners it
 * has, as Go's `cancelCtx` keeps its children in a map. Why: Node's
 * `EventTarget` keeps listeners in a list that it searches on every
 * `addEventListener` and `removeEventListener` (removing 40,000 listeners
 * newest first takes seconds: quadratic), and it warns
 * "MaxListenersExceededWarning" past 10 listeners on a signal, which a
 * server signal with many requests in flight always passes. A `Set` adds
 * and deletes in O(1) and iterates in insertion order, so listeners still
 * run in the order they were attached.
 */
import { registry, track, untrack } from './registry.js';
import { show, typeError } from './validate.js';

/** Checks an optional signal argument (`name`, default `signal`); returns it, or undefined. */
export function checkSignal(signal: unknown, op: string, name = 'signal'): AbortSignal | undefined {
  if (signal === undefined || signal === null) return undefined;
  if (
    typeof signal !== 'object' ||
    typeof (signal as AbortSignal).aborted !== 'boolean' ||
    typeof (signal as AbortSignal).addEventListener !== 'function'
  ) {
    throw typeError(
      `${op}: \`${name}\` must be an AbortSignal${name === 'signal' ? '' : ' or undefined'}, got ${show(signal)}`,
    );
  }
  return signal as AbortSignal;
}

/** Checks a required signal argument. */
export function checkRequiredSignal(signal: unknown, op: string, name = 'signal'): AbortSignal {
  const s = checkSignal(signal, op, name);
  if (s === undefined) throw typeError(`${op}: \`${name}\` must be an AbortSignal, got ${show(signal)}`);
  return s;
}

/** Reads the `signal` of an options bag, checking both. */
export function signalOf(opts: { signal?: AbortSignal } | undefined, op: string): AbortSignal | undefined {
  if (opts === undefined) return undefined;
  if (opts === null || typeof opts !== 'object')
    throw typeError(`${op}: \`opts\` must be an object, got ${show(opts)}`);
  return checkSignal(opts.signal, op);
}

// A module-local binding: read on every operation, it is cheaper than the import's.
const reg = registry;

/**
 * Hubs whose signal aborted while another hub was running its listeners, with
 * their events, in pairs: run by the outermost hub once its own listeners are
 * done. An abort that cancels a child scope aborts the child's signal from
 * inside the parent's dispatch; without this, a chain of scopes n deep would
 * nest n dispatches on the stack (a chain of 1,000 overflowed Node 22's).
 * Every hub still runs before the outermost `abort()` returns.
 */
const deferred: (Hub | Event)[] = [];
let dispatching = false;

class Hub implements EventListenerObject {
  readonly listeners = new Set<EventListenerOrEventListenerObject>();

  handleEvent(event: Event): void {
    if (dispatching) {
      deferred.push(this, event);
      return;
    }
    dispatching = true;
    try {
      this.#run(event);
      for (let i = 0; i < deferred.length; i += 2) (deferred[i] as Hub).#run(deferred[i + 1] as Event);
    } finally {
      deferred.length = 0;
      dispatching = false;
    }
  }

  #run(event: Event): void {
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

/**
 * Attaches `listener` to `signal`'s abort event (at most once per signal,
 * as `addEventListener`); `op` names it in leak reports.
 */
export function listen(signal: AbortSignal, listener: EventListenerOrEventListenerObject, op: string): void {
  let hub = hubs.get(signal);
  if (hub === undefined) {
    hub = new Hub();
    hubs.set(signal, hub);
    signal.addEventListener('abort', hub);
  }
  hub.listeners.add(listener);
  if (reg.active !== 0) track(listener, 'listener', op);
}

/** Detaches what `listen` attached; the last one out removes the hub. Safe to call twice. */
export function unlisten(signal: AbortSignal, listener: EventListenerOrEventListenerObject): void {
  const hub = hubs.get(signal);
  if (hub?.listeners.delete(listener) && hub.listeners.size === 0) {
    hubs.delete(signal);
    signal.removeEventListener('abort', hub);
  }
  if (reg.active !== 0) untrack(listener);
}
