/**
 * Package timers provides Go's channel timers: `after(ms)` is a channel that
 * receives the time once (Go's `time.After`), and a `Ticker` is a channel
 * that receives the time every period (Go's `time.Ticker`). Both run on a
 * `Clock`, so tests drive them with `TestClock`.
 */
import { Channel } from './channel.js';
import { type Clock, systemClock } from './clock.js';
import { checkSignal, listen, unlisten } from './internal/abort.js';
import { checkClock, refTimer, startTimer, stopTimer } from './internal/timer.js';
import { checkBool, checkMs, checkOpts, checkPositiveMs } from './internal/validate.js';
import { recv, select } from './select.js';

/** Options of `after`. */
export interface AfterOptions {
  /** Source of time and timers (default `systemClock`). */
  clock?: Clock;
  /** Aborting it stops the timer and closes the channel without a value (a weft addition). */
  signal?: AbortSignal;
}

/** Options of `Ticker`. */
export interface TickerOptions {
  /** Source of time and timers (default `systemClock`). */
  clock?: Clock;
  /** Start unref'd: the ticker alone does not keep the process alive (default false; see `Ticker.unref`). */
  unref?: boolean;
}

// The pending timer of one `after` call, and its abort listener.
class AfterTimer implements EventListenerObject {
  readonly ch = new Channel<number>(1);
  readonly clock: Clock;
  readonly signal: AbortSignal | undefined;
  handle: unknown;

  constructor(clock: Clock, ms: number, signal: AbortSignal | undefined) {
    this.clock = clock;
    this.signal = signal;
    this.handle = startTimer(clock, () => this.fire(), ms, 'after');
    if (signal !== undefined) listen(signal, this, 'after');
  }

  fire(): void {
    if (this.signal !== undefined) unlisten(this.signal, this);
    this.ch.trySend(this.clock.now());
    this.ch.close();
  }

  handleEvent(): void {
    unlisten(this.signal!, this);
    stopTimer(this.clock, this.handle);
    this.ch.close();
  }
}

/**
 * Returns a channel that receives `clock.now()` once, `ms` milliseconds from
 * now, and is then closed (Go's `time.After`, which does not close its
 * channel: here a receive after the value yields `{ done: true }` instead of
 * waiting forever). The channel buffers the value, so the timer never waits
 * for a receiver. `ms` of 0 fires on the clock's next turn.
 *
 * **Cancellation**: the timer runs until it fires, as Go's does; to stop it
 * early, pass `signal` (a weft addition): an abort stops the timer and
 * closes the channel without a value, leaving no timer and no listener.
 *
 * @throws TypeError if `ms` is not a number or an option has the wrong type;
 * RangeError if `ms` is negative, NaN or infinite.
 * @example
 * ```ts
 * import { after } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock(1000);
 * const ch = after(50, { clock });
 * ch.tryRecv(); // => undefined
 * await clock.advance(50);
 * await ch.recv(); // => { value: 1050, done: false }
 * ch.closed; // => true
 * ```
 * @example A timeout that is stopped when the work wins
 * ```ts
 * import { Channel, after, recv, select } from 'weftjs';
 * import { TestClock, trackLeaks } from 'weftjs/testing';
 * using leaks = trackLeaks();
 * const clock = new TestClock();
 * const results = new Channel<string>(1);
 * results.trySend('done');
 * const ac = new AbortController();
 * const got = await select([recv(results, (v) => v), recv(after(1000, { clock, signal: ac.signal }), () => 'timeout')]);
 * ac.abort();
 * got; // => 'done'
 * leaks.check().timers; // => 0
 * ```
 * @see Ticker
 * @see select
 */
export function after(ms: number, opts?: AfterOptions): Channel<number> {
  checkMs(ms, 'after');
  checkOpts(opts, 'after');
  const clock = checkClock(opts?.clock, 'after', systemClock);
  const signal = checkSignal(opts?.signal, 'after');
  if (signal?.aborted) {
    const ch = new Channel<number>(1);
    ch.close();
    return ch;
  }
  return new AfterTimer(clock, ms, signal).ch;
}

function checkPeriod(ms: unknown, op: string): number {
  return checkPositiveMs(ms, op, 'ms');
}

/**
 * Delivers `clock.now()` on `channel` every `ms` milliseconds (Go's
 * `time.Ticker`). The channel has capacity 1 and the ticker never waits for
 * a receiver: a tick that finds the last one still unreceived is dropped, so
 * a slow receiver misses ticks rather than falling behind. Ticks keep to the
 * period's schedule; a late timer does not shift the ticks that follow.
 *
 * `stop()` turns the ticker off and leaves no timer behind; `reset(ms)`
 * changes the period (and restarts a stopped ticker), counting the new
 * period from the moment of the reset. As in Go 1.23, neither leaves a stale
 * tick: a tick delivered before `stop()` or `reset()` and not yet received is
 * discarded. The channel is never closed (Go's is not either), so a bare
 * `channel.recv()` after `stop()` waits until a `reset()`; but iterating the
 * ticker itself (`for await (const t of ticker)`) ends when it is stopped.
 *
 * **Cancellation**: call `stop()`, or use `using ticker = new Ticker(…)`,
 * which stops it at the end of the block.
 *
 * @example Ticks on virtual time, ended by stop()
 * ```ts
 * import { Ticker } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * const ticker = new Ticker(10, { clock });
 * const seen: number[] = [];
 * const loop = (async () => {
 *   for await (const t of ticker) if (seen.push(t) === 3) ticker.stop();
 * })();
 * await clock.advance(100);
 * await loop;
 * seen; // => [10, 20, 30]
 * clock.pending; // => 0
 * ```
 * @example A slow receiver misses ticks
 * ```ts
 * import { Ticker } from 'weftjs';
 * import { TestClock } from 'weftjs/testing';
 * const clock = new TestClock();
 * using ticker = new Ticker(10, { clock });
 * await clock.advance(35);
 * ticker.channel.tryRecv(); // => { value: 10, done: false }
 * ticker.channel.tryRecv(); // => undefined
 * ```
 * @see after
 */
export class Ticker implements AsyncIterable<number>, Disposable {
  readonly #channel = new Channel<number>(1);
  readonly #clock: Clock;
  #period: number;
  #due = 0;
  #handle: unknown = undefined;
  #running = false;
  #refed = true;
  // Closed by stop(), to end the iterations of this ticker; replaced by reset().
  #stopped = new Channel<never>();

  /**
   * @param ms the period in milliseconds, > 0 and finite.
   * @throws TypeError if `ms` is not a number or `clock` is not a Clock;
   * RangeError if `ms` is not > 0 or not finite.
   */
  constructor(ms: number, opts?: TickerOptions) {
    this.#period = checkPeriod(ms, 'Ticker');
    checkOpts(opts, 'Ticker');
    this.#clock = checkClock(opts?.clock, 'Ticker', systemClock);
    this.#refed = !checkBool(opts?.unref, 'Ticker', 'unref', false);
    this.#start();
  }

  /**
   * Lets the process exit while only this ticker is left running (Node's
   * `timeout.unref()`), as a background heartbeat should; `ref()` undoes
   * it. Both return the ticker and hold across `reset`. A no-op on
   * platforms and clocks whose timers cannot be unref'd.
   *
   * @example A heartbeat that does not keep the process alive
   * ```ts
   * import { Ticker } from 'weftjs';
   * using heartbeat = new Ticker(1_000).unref();
   * heartbeat.channel.capacity; // => 1
   * ```
   */
  unref(): this {
    this.#refed = false;
    if (this.#running) refTimer(this.#handle, false);
    return this;
  }

  /** Undoes `unref()`: the ticker keeps the process alive again while it runs. */
  ref(): this {
    this.#refed = true;
    if (this.#running) refTimer(this.#handle, true);
    return this;
  }

  /** The channel the ticks are delivered on: capacity 1, never closed. */
  get channel(): Channel<number> {
    return this.#channel;
  }

  /**
   * Stops the ticker, discards a tick not yet received, and makes the next
   * tick come `ms` from now and every `ms` after. A stopped ticker starts
   * again.
   *
   * @throws TypeError if `ms` is not a number; RangeError if it is not > 0 or not finite.
   * @example
   * ```ts
   * import { Ticker } from 'weftjs';
   * import { TestClock } from 'weftjs/testing';
   * const clock = new TestClock();
   * using ticker = new Ticker(10, { clock });
   * await clock.advance(5);
   * ticker.reset(50);
   * await clock.advance(49);
   * ticker.channel.tryRecv(); // => undefined
   * await clock.advance(1);
   * ticker.channel.tryRecv(); // => { value: 55, done: false }
   * ```
   */
  reset(ms: number): void {
    this.#period = checkPeriod(ms, 'Ticker.reset');
    this.#halt();
    if (this.#stopped.closed) this.#stopped = new Channel<never>();
    this.#start();
  }

  /**
   * Stops the ticker: no tick is delivered after it returns, a tick not yet
   * received is discarded, no timer is left, and iterations of the ticker
   * end. Calling it again does nothing.
   */
  stop(): void {
    this.#halt();
    if (!this.#stopped.closed) this.#stopped.close();
  }

  /** Same as `stop()`, for `using`. */
  [Symbol.dispose](): void {
    this.stop();
  }

  /**
   * Iterates the ticks: each is the `clock.now()` of its delivery. Ends when
   * `stop()` is called (even while waiting); leaving the loop early does not
   * stop the ticker.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<number, void, undefined> {
    const stopped = this.#stopped;
    const tick = recv(this.#channel, (t) => t as number);
    const end = recv(stopped, () => undefined);
    for (;;) {
      const t = await select<number | undefined>([tick, end]);
      if (t === undefined) return;
      yield t;
    }
  }

  #start(): void {
    this.#running = true;
    this.#due = this.#clock.now() + this.#period;
    this.#handle = startTimer(this.#clock, this.#tick, this.#period, 'Ticker');
    if (!this.#refed) refTimer(this.#handle, false);
  }

  #halt(): void {
    if (this.#running) {
      this.#running = false;
      stopTimer(this.#clock, this.#handle);
      this.#handle = undefined;
    }
    this.#channel.tryRecv();
  }

  // One tick: deliver it unless the last is still there, then schedule the
  // next on the period's grid, skipping the ticks a late timer missed.
  readonly #tick = (): void => {
    if (!this.#running) return;
    const now = this.#clock.now();
    this.#channel.trySend(now);
    let next = this.#due + this.#period;
    if (next <= now) next += Math.floor((now - next) / this.#period + 1) * this.#period;
    this.#due = next;
    this.#handle = startTimer(this.#clock, this.#tick, next - now, 'Ticker');
    if (!this.#refed) refTimer(this.#handle, false);
  };
}
