/**
 * An abortable sleep on the system clock, through the timer and listener
 * doors that `weft/testing`'s leak tracker sees: on every path (the time
 * came, the signal aborted) it leaves no timer and no listener.
 */
import { systemClock } from '../../clock.js';
import { listen, unlisten } from '../../internal/abort.js';
import { startTimer, stopTimer } from '../../internal/timer.js';

class Sleep implements EventListenerObject {
  readonly promise: Promise<void>;
  readonly #signal: AbortSignal | undefined;
  #resolve!: () => void;
  #reject!: (reason: unknown) => void;
  #timer: unknown;

  constructor(ms: number, signal: AbortSignal | undefined, op: string) {
    this.#signal = signal;
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#timer = startTimer(systemClock, () => this.#done(), ms, op);
    if (signal !== undefined) listen(signal, this, op);
  }

  #done(): void {
    if (this.#signal !== undefined) unlisten(this.#signal, this);
    this.#resolve();
  }

  handleEvent(): void {
    stopTimer(systemClock, this.#timer);
    unlisten(this.#signal!, this);
    this.#reject(this.#signal!.reason);
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleepFor(ms: number, signal: AbortSignal | undefined, op: string): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Sleep(ms, signal, op).promise;
}
