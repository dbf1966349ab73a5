/**
 * The window of a mapping stage (`engine.ts`): the items it pulled and
 * whose results the consumer has not taken yet. Ordered, each item has a
 * sequence number and a cell (`seq & mask`) in two flat arrays, so keeping
 * a place costs no object; a result goes to the consumer when every earlier
 * one has. Unordered, results wait in a ring in the order they finished.
 */
import { Ring } from '../ring.js';

/** What `take` returns when no result is ready. */
export const EMPTY: unique symbol = Symbol('empty');

// States of a cell: running (or free), done and kept, done and dropped (filtered out).
const PENDING = 0;
const KEEP = 1;
const DROP = 2;

/**
 * The window part of a mapping stage, which `MapEngine` extends (one object
 * per stage, so the hot path reads its own fields). `emit` hands a result
 * to the consumer.
 */
export abstract class ResultWindow {
  /** Items pulled and not yet taken by the consumer (running, or finished and waiting). */
  protected live = 0;
  readonly #ordered: boolean;
  /** Bumped by `clear()`: an `emit` that stopped the stage (a sink that threw) must not move the head after it. */
  #epoch = 0;
  // Ordered: items `#head` to `#seq - 1` are in the window.
  #cells: unknown[] = [];
  #states: Uint8Array = new Uint8Array(0);
  #head = 0;
  #seq = 0;
  readonly #ready: Ring<unknown> | null;

  /** Whether results go out in input order. */
  protected get ordered(): boolean {
    return this.#ordered;
  }

  constructor(ordered: boolean, size: number) {
    this.#ordered = ordered;
    this.#ready = ordered ? null : new Ring<unknown>();
    if (ordered) this.#grow(size);
  }

  /** Hands a result to the consumer; false when nobody takes it now. */
  protected abstract emit(value: unknown): boolean;

  /** Counts a pulled item in; returns its sequence number (0 unordered). `size` is the window now. */
  protected add(size: number): number {
    this.live++;
    if (!this.#ordered) return 0;
    if (this.#seq - this.#head >= this.#states.length) this.#grow(size);
    return this.#seq++;
  }

  /** Item `seq` finished: its result goes to the consumer if its turn has come and it takes it, else waits. */
  protected finish(seq: number, value: unknown, keep: boolean): void {
    if (!this.#ordered) {
      if (!keep || this.emit(value)) this.live--;
      else this.#ready!.push(value);
      return;
    }
    const epoch = this.#epoch;
    if (seq === this.#head && (!keep || this.emit(value))) {
      if (this.#epoch !== epoch) return;
      this.#head++;
      this.live--;
      this.flush();
    } else {
      const i = seq & (this.#states.length - 1);
      this.#cells[i] = value;
      this.#states[i] = keep ? KEEP : DROP;
    }
  }

  /** Ordered: hands the finished results at the head of the window to the consumer while it takes them. */
  protected flush(): void {
    const mask = this.#states.length - 1;
    const cells = this.#cells;
    const states = this.#states;
    const epoch = this.#epoch;
    while (this.#head < this.#seq) {
      const i = this.#head & mask;
      const state = states[i];
      if (state === PENDING || (state === KEEP && !this.emit(cells[i]))) break;
      if (this.#epoch !== epoch) return;
      cells[i] = undefined;
      states[i] = PENDING;
      this.#head++;
      this.live--;
    }
  }

  /** The next result if it is ready (skipping dropped ones), or EMPTY. */
  protected take(): unknown {
    if (!this.#ordered) {
      if (this.#ready!.length === 0) return EMPTY;
      this.live--;
      return this.#ready!.shift();
    }
    const mask = this.#states.length - 1;
    while (this.#head < this.#seq) {
      const i = this.#head & mask;
      const state = this.#states[i];
      if (state === PENDING) break;
      const value = this.#cells[i];
      this.#cells[i] = undefined;
      this.#states[i] = PENDING;
      this.#head++;
      this.live--;
      if (state === KEEP) return value;
    }
    return EMPTY;
  }

  /** Forgets every result (the stage stopped); items still running are counted out as they end. */
  protected clear(): void {
    this.#epoch++;
    if (this.#ordered) {
      this.#cells.fill(undefined);
      this.#states.fill(PENDING);
      this.#head = this.#seq;
    } else this.#ready!.clear();
  }

  /** Makes the ordered window hold at least `size` items, and all those in it (a pool's window grows). */
  #grow(size: number): void {
    let n = 4;
    while (n < size || n <= this.#seq - this.#head) n <<= 1;
    const cells: unknown[] = new Array(n).fill(undefined);
    const states = new Uint8Array(n);
    const oldMask = this.#states.length - 1;
    for (let s = this.#head; s < this.#seq; s++) {
      cells[s & (n - 1)] = this.#cells[s & oldMask];
      states[s & (n - 1)] = this.#states[s & oldMask]!;
    }
    this.#cells = cells;
    this.#states = states;
  }
}
