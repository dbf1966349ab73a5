/**
 * A sliding window of request outcomes, for the circuit breaker's failure
 * rate: the window is cut into buckets of `ms / buckets` milliseconds, kept
 * in a ring, and the totals move as buckets fall out. Time is read from the
 * caller on each record: no timer runs.
 */
export class FailureWindow {
  readonly #bucketMs: number;
  readonly #requests: Float64Array;
  readonly #failures: Float64Array;
  // The bucket number (time / bucketMs) of the newest bucket, and its slot.
  #epoch: number;
  #slot = 0;
  #total = 0;
  #failed = 0;

  constructor(ms: number, buckets: number, now: number) {
    this.#bucketMs = ms / buckets;
    this.#requests = new Float64Array(buckets);
    this.#failures = new Float64Array(buckets);
    this.#epoch = Math.floor(now / this.#bucketMs);
  }

  /** Requests recorded in the window ending at `now`. */
  requests(now: number): number {
    this.#roll(now);
    return this.#total;
  }

  /** Failures recorded in the window ending at `now`. */
  failures(now: number): number {
    this.#roll(now);
    return this.#failed;
  }

  /** Records one outcome at `now`. */
  record(now: number, failed: boolean): void {
    this.#roll(now);
    const i = this.#slot;
    this.#requests[i]!++;
    this.#total++;
    if (failed) {
      this.#failures[i]!++;
      this.#failed++;
    }
  }

  /** Forgets every outcome; the window restarts at `now`. */
  clear(now: number): void {
    this.#requests.fill(0);
    this.#failures.fill(0);
    this.#total = this.#failed = 0;
    this.#epoch = Math.floor(now / this.#bucketMs);
  }

  // Moves the newest bucket to `now`, emptying the buckets it passes over.
  #roll(now: number): void {
    const epoch = Math.floor(now / this.#bucketMs);
    let steps = epoch - this.#epoch;
    if (steps <= 0) return;
    this.#epoch = epoch;
    const n = this.#requests.length;
    if (steps >= n) {
      this.#requests.fill(0);
      this.#failures.fill(0);
      this.#total = this.#failed = 0;
      return;
    }
    let slot = this.#slot;
    for (; steps > 0; steps--) {
      slot = slot + 1 === n ? 0 : slot + 1;
      this.#total -= this.#requests[slot]!;
      this.#failed -= this.#failures[slot]!;
      this.#requests[slot] = 0;
      this.#failures[slot] = 0;
    }
    this.#slot = slot;
  }
}
