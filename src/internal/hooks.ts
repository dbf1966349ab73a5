/**
 * The symbol keys of `@internal` members through which one core file
 * reaches state another keeps private: one way to do it, the way
 * `chanhooks.ts` does it for `select` and `Channel`. Symbol-keyed members
 * are invisible to users (stripped from the published types), cost nothing
 * until called, and unlike a static block that exports private accessors
 * they leave each class free to be tree-shaken on its own.
 */

/** `mu[holder]`: the `Lock` that holds a `Mutex` now, or null; settable, for `Cond.wait`'s hand-back. */
export const holder: unique symbol = Symbol('weft.holder');

/** `limiter[lastUpdate]()`: the clock time a `RateLimiter`'s bucket was last brought up to date (for `KeyedRateLimiter`'s eviction). */
export const lastUpdate: unique symbol = Symbol('weft.lastUpdate');
