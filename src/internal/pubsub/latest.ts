/**
 * The buffer of a `'latest'` (conflating) subscription: at most one message
 * per key, in the order each key first arrived, holding that key's latest
 * message. A `Map` is exactly that: `set` on a key it holds replaces the
 * value in place and keeps the key's position. It offers `Ring`'s
 * `length`, `push`-less `shift` and `clear`, so that a subscription reads
 * either buffer the same way.
 */
export class LatestBuffer<T> {
  readonly #items = new Map<unknown, T>();

  get length(): number {
    return this.#items.size;
  }

  /** The message buffered under `key`, if any. */
  get(key: unknown): T | undefined {
    return this.#items.get(key);
  }

  /** Buffers `item` under `key`: in place of the one it holds, or last. */
  set(key: unknown, item: T): void {
    this.#items.set(key, item);
  }

  /** Removes and returns the oldest key's message; undefined when empty. */
  shift(): T | undefined {
    // One iterator per message taken: the conflating policy is for state
    // updates, whose rate the reader sets, not for the fan-out fast path.
    const first = this.#items.entries().next();
    if (first.done === true) return undefined;
    this.#items.delete(first.value[0]);
    return first.value[1];
  }

  clear(): void {
    this.#items.clear();
  }
}
