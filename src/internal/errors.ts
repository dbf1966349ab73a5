/**
 * The base of every deliberate weft error. Subclasses fix a stable `code`
 * (the Node convention) and set `name` to their class name; `code` is the
 * contract, the message may change.
 */
export abstract class WeftError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    // Set explicitly so that it survives bundlers that rename classes.
    Object.defineProperty(this, 'name', { value: new.target.name, configurable: true, writable: true });
  }
}
