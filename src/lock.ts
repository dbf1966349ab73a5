/**
 * The shape shared by everything that is acquired and must be released:
 * mutexes, read locks, semaphore permits.
 */

/**
 * What `Mutex.lock`, `RWMutex.rLock`/`lock` and `Semaphore.acquire` give:
 * a handle that releases what was acquired. `release()` is idempotent, so a
 * `using` declaration (which calls `[Symbol.dispose]`) and an explicit
 * `release()` never release twice.
 *
 * @example Released at the end of the block
 * ```ts
 * import { Mutex } from 'weftjs';
 * const mu = new Mutex();
 * {
 *   using _lock = await mu.lock();
 *   mu.locked; // => true
 * }
 * mu.locked; // => false
 * ```
 */
export interface Lock {
  /** Releases what was acquired; later calls do nothing. */
  release(): void;
  /** Same as `release()`, for `using`. */
  [Symbol.dispose](): void;
}
