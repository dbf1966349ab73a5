/**
 * A sliding window of request outcomes, for the circuit breaker's failure
 * rate: the window is cut into buckets of `ms / buckets` milliseconds, kept
 * in a ring, and the totals move as buckets fall out. Time is read from the
 * caller on each record: no timer runs.
 *
 * Plain fields and integer arrays on purpose: the breaker records into it
 * on every result, and numbers stored in `#private` fields are boxed.
 */
export class FailureWindow {
  private readonly bucketMs: number;
  private readonly reqs: Int32Array;
  private readonly fails: Int32Array;
  // The bucket number (time / bucketMs) of the newest bucket, and its slot.
  private epoch: number;
  private slot = 0;
  private total = 0;
  private failed = 0;

  constructor(ms: number, buckets: number, now: number) {
    this.bucketMs = ms / buckets;
    this.reqs = new Int32Array(buckets);
    this.fails = new Int32Array(buckets);
    this.epoch = Math.floor(now / this.bucketMs);
  }

  /** Requests recorded in the window ending at `now`. */
  requests(now: number): number {
    this.roll(now);
    return this.total;
  }

  /** Failures recorded in the window ending at `now`. */
  failures(now: number): number {
    this.roll(now);
    return this.failed;
  }

  /** Records one outcome at `now`. */
  record(now: number, failed: boolean): void {
    this.roll(now);
    const i = this.slot;
    this.reqs[i]!++;
    this.total++;
    if (failed) {
      this.fails[i]!++;
      this.failed++;
    }
  }

  /** Forgets every outcome; the window restarts at `now`. */
  clear(now: number): void {
    this.reqs.fill(0);
    this.fails.fill(0);
    this.total = this.failed = 0;
    this.epoch = Math.floor(now / this.bucketMs);
  }

  // Moves the newest bucket to `now`, emptying the buckets it passes over.
  private roll(now: number): void {
    const epoch = Math.floor(now / this.bucketMs);
    let steps = epoch - this.epoch;
    if (steps <= 0) return;
    this.epoch = epoch;
    const n = this.reqs.length;
    if (steps >= n) {
      this.reqs.fill(0);
      this.fails.fill(0);
      this.total = this.failed = 0;
      return;
    }
    let slot = this.slot;
    for (; steps > 0; steps--) {
      slot = slot + 1 === n ? 0 : slot + 1;
      this.total -= this.reqs[slot]!;
      this.failed -= this.fails[slot]!;
      this.reqs[slot] = 0;
      this.fails[slot] = 0;
    }
    this.slot = slot;
  }
}
