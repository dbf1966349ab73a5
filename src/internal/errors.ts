/**
 * The base of every deliberate weft error. Subclasses fix a stable `code`
 * (the Node convention) and set `name` to their class name; `code` is the
 * contract, the message may change. Exported as a type only: tell weft's
 * errors apart with `isWeftError(err, code)`, which also knows those of
 * another copy of weft, where `instanceof` would not.
 *
 * @example Every weft error has a name and a stable code
 * ```ts
 * import { isWeftError, Mutex } from 'weftjs';
 * let err: unknown;
 * try {
 *   new Mutex().unlock();
 * } catch (e) {
 *   err = e;
 * }
 * isWeftError(err) && [err.name, err.code]; // => ['NotLockedError', 'ERR_NOT_LOCKED']
 * ```
 */
export abstract class WeftError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    // Set explicitly so that it survives bundlers that rename classes.
    Object.defineProperty(this, 'name', { value: new.target.name, configurable: true, writable: true });
    // The brand `isWeftError` reads: a registered symbol, so that an error
    // from another copy of weft (ESM and CJS, two versions) is known too,
    // where `instanceof` would not be.
    Object.defineProperty(this, Symbol.for('weft.error'), { value: true });
  }
}

/** Whether `value` is an error weft made on purpose (of any copy of weft). */
export function isBranded(value: unknown): value is WeftError {
  return (
    value !== null && typeof value === 'object' && (value as Record<symbol, unknown>)[Symbol.for('weft.error')] === true
  );
}
