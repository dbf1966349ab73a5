/**
 * The token-bucket arithmetic of `RateLimiter`, after x/time/rate's
 * `Limiter`: the tokens are computed from the clock when asked, so nothing
 * is scheduled while nobody waits.
 *
 * The state lives in plain public fields of this internal class, behind
 * one private field of the public class: numbers in `#private` fields are
 * boxed on every store in current V8, which made `allow` a third slower.
 */
import type { Clock } from '../clock.js';

const INF = Number.POSITIVE_INFINITY;
/** Absorbs float rounding between times computed in two ways. */
export const EPS = 1e-6;

export class Bucket {
  clock: Clock;
  /** Tokens per second. */
  rate: number;
  burst: number;
  /** Tokens at time `last`; negative while reservations are in debt. */
  tokens: number;
  last: number;
  /** The latest time a reserved event happens, past or future (for cancel). */
  lastEvent: number;

  constructor(clock: Clock, rate: number, burst: number) {
    this.clock = clock;
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.last = this.lastEvent = clock.now();
  }

  /** Takes n tokens if they are there now (x/time's AllowN). */
  allow(n: number): boolean {
    const rate = this.rate;
    if (rate === INF) return true;
    let now = this.clock.now();
    const last = this.last;
    let tokens = this.tokens;
    if (now > last) {
      tokens += ((now - last) * rate) / 1000;
      if (tokens > this.burst) tokens = this.burst;
    } else now = last;
    // tokens never exceed burst, so this also refuses n > burst.
    if (tokens < n) return false;
    this.tokens = tokens - n;
    this.last = now;
    // lastEvent stays: tokens are only there once every reservation is due,
    // and a due reservation can no longer be cancelled.
    return true;
  }

  /** Tokens at `now`, without changing anything (x/time's advance). */
  advance(now: number): number {
    const last = this.last;
    if (now <= last) return this.tokens;
    return Math.min(this.burst, this.tokens + ((now - last) * this.rate) / 1000);
  }

  /** Brings the tokens up to now (before a change of rate or burst). */
  sync(): void {
    const now = this.clock.now();
    if (this.rate === INF) {
      // No limit meant a full bucket all along.
      this.tokens = this.burst;
    } else {
      this.tokens = this.advance(now);
    }
    if (now > this.last) this.last = now;
  }

  /**
   * Takes n tokens, into debt if need be; returns the time to act, or
   * Infinity (taking nothing) when that time never comes (x/time's reserveN).
   * Leaves `last` at the current time.
   */
  take(n: number): number {
    let now = this.clock.now();
    if (now < this.last) now = this.last;
    const rate = this.rate;
    if (rate === INF) {
      this.last = now;
      return now;
    }
    if (n > this.burst) return INF;
    const tokens = this.advance(now) - n;
    const at = tokens < 0 ? now + (-tokens * 1000) / rate : now;
    if (at === INF) return at;
    this.tokens = tokens;
    this.last = now;
    // Kept monotonic: a reservation made after a cancel gave tokens back may
    // act before an older one, and cancel must not give back more than it can.
    if (at > this.lastEvent) this.lastEvent = at;
    return at;
  }

  /**
   * x/time's CancelAt: gives back `tokens` reserved for `at` at `rate`,
   * less those that reservations made after it already count on.
   */
  cancel(tokens: number, at: number, rate: number): void {
    if (this.rate === INF || rate === INF) return;
    let now = this.clock.now();
    if (at < now) return; // Already due: too late to give back.
    const restore = Math.min(tokens, tokens - ((this.lastEvent - at) * rate) / 1000);
    if (restore <= 0) return;
    if (now < this.last) now = this.last;
    this.tokens = Math.min(this.burst, this.advance(now) + restore);
    this.last = now;
    // This was the latest reservation (up to rounding): the latest is now the one before it.
    if (Math.abs(at - this.lastEvent) <= EPS) {
      const prev = at - (tokens * 1000) / rate;
      if (prev >= now) this.lastEvent = prev;
    }
  }
}
