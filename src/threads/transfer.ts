/**
 * Package threads' `transfer`: how a task hands a result back without
 * copying it, by moving its buffers (the `transferList` of
 * `postMessage`) to the calling thread, as `run(task, arg, { transfer })`
 * moves an argument's buffers to the task's thread.
 */

import { show, typeError } from '../internal/validate.js';

// A registered symbol: a task module may load another copy of weft than the pool's.
const BRAND: unique symbol = Symbol.for('weftjs.threads.transfer') as never;

/**
 * A task's result wrapped by `transfer(value, list)`: the caller receives
 * `value`, with the objects of `list` moved rather than copied.
 */
export interface Transferred<T> {
  readonly [BRAND]: true;
  readonly value: T;
  readonly list: readonly Transferable[];
}

/**
 * Marks a task's result for transfer: returned (or resolved) by a task,
 * `transfer(value, list)` makes the call resolve with `value`, and the
 * objects of `list` (`ArrayBuffer`s, `MessagePort`s, ... anywhere inside
 * `value`) are moved to the calling thread instead of copied: after the
 * return they are detached in the task's thread (an `ArrayBuffer`'s
 * `byteLength` is 0 there). The call's type is that of `value`.
 *
 * Anything else a task returns is copied by structured clone. A `list`
 * that cannot be transferred (an object twice, a detached buffer) rejects
 * that call with the `DataCloneError`.
 *
 * @throws TypeError if `list` is not an array.
 *
 * @example A task that returns a buffer without copying it
 * ```ts
 * import { transfer } from 'weftjs/threads';
 * // A task of the module (there, `export function fill`):
 * function fill(n: number) {
 *   const bytes = new Uint8Array(n).fill(7);
 *   return transfer(bytes, [bytes.buffer]);
 * }
 * const out = fill(4);
 * out.value; // => new Uint8Array([7, 7, 7, 7])
 * out.list.length; // => 1
 * ```
 * @see ThreadPool.run for the `transfer` option, the other way.
 */
export function transfer<T>(value: T, list: readonly Transferable[]): Transferred<T> {
  if (!Array.isArray(list)) throw typeError(`transfer: \`list\` must be an Array, got ${show(list)}`);
  return { [BRAND]: true, value, list };
}

/** Whether a task's result was made by `transfer`. */
export function isTransferred(value: unknown): value is Transferred<unknown> {
  return value !== null && typeof value === 'object' && (value as Record<symbol, unknown>)[BRAND] === true;
}
