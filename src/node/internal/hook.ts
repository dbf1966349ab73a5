/**
 * What `Shutdown.add` accepts as a hook, and how each kind is called: a
 * function gets the hook's signal; an object is closed by the first of
 * `[Symbol.asyncDispose]()`, `close()`, `[Symbol.dispose]()` and `stop()`
 * that it has, called with no argument; an object with a
 * `[Symbol.for('weftjs.closeWithSignal')](signal)` method (a RedisQueue
 * consumer) is closed by it instead, with the hook's signal.
 */
import { show, typeError } from '../../internal/validate.js';

/** An object `Shutdown.add` can close: what weft's pools, buses, tickers and scopes have. */
export type Closable = AsyncDisposable | Disposable | { close(): unknown } | { stop(): unknown };

/** A hook of `Shutdown.add`: a function of the hook's signal, or an object to close. */
export type ShutdownHook = ((signal: AbortSignal) => unknown) | Closable;

/** Preferred over the others where an object has it: called with the hook's signal. */
const CLOSE_WITH_SIGNAL = Symbol.for('weftjs.closeWithSignal');

const METHODS: readonly (string | symbol)[] = [Symbol.asyncDispose, 'close', Symbol.dispose, 'stop'];

/** The function to call for `hook`; throws a TypeError for anything else. */
export function hookFn(hook: unknown, op: string): (signal: AbortSignal) => unknown {
  if (typeof hook === 'function') return hook as (signal: AbortSignal) => unknown;
  if (hook !== null && typeof hook === 'object') {
    // A closable that can use the hook's time (a RedisQueue consumer) takes the hook's signal.
    const withSignal = (hook as Record<symbol, unknown>)[CLOSE_WITH_SIGNAL];
    if (typeof withSignal === 'function')
      return (signal) => (withSignal as (s: AbortSignal) => unknown).call(hook, signal);
    for (const key of METHODS) {
      const method = (hook as Record<string | symbol, unknown>)[key];
      if (typeof method === 'function') return () => (method as () => unknown).call(hook);
    }
  }
  throw typeError(
    `${op}: \`hook\` must be a function or an object with [Symbol.asyncDispose](), close(), [Symbol.dispose]() or stop(), got ${show(hook)}`,
  );
}
