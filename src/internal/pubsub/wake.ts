/**
 * Batched wake-ups of `Subscription.forEach` readers. Each reader resumes
 * through a promise reaction registered in its own async context (that is
 * what keeps an `AsyncLocalStorage` store of the subscriber's, without a
 * `node:` import), and a resumption costs more than delivering a message:
 * waking 100 parked readers on every publish costs more than the
 * deliveries themselves. So a reader that gets a message while parked is
 * woken a few microtask hops later, together with every other reader that
 * got one meanwhile, and handles all of its messages in one resumption.
 *
 * The batch waits as long as publishing goes on and no longer: two hops
 * at least (the publisher's own continuation after `await publish()` runs
 * in between), then one more for as long as the hop before saw a publish,
 * up to `MAX_HOPS`. A publisher that awaits each `publish` in a loop thus
 * gets up to that many messages in per resumption; one that publishes from
 * I/O callbacks gets its readers woken two hops after each message. It
 * all happens within the same turn of the event loop. A reader whose
 * buffer is full is woken at once instead (`wake`), so that no message is
 * dropped, and no publisher blocked, for the sake of the batch.
 */
import { RESOLVED } from '../promise.js';

/** A parked reader. */
export interface Wakeable {
  /** In a batch's list, waiting for it to run. */
  queued: boolean;
  /** Resumes the reader if it is still parked. */
  wake(): void;
}

const MIN_HOPS = 2;
// Past this, a resumption handles enough messages that the wake-up cost no
// longer shows (bench/pubsub.bench.ts, 100 subscribers), and no reader
// waits behind a publisher that never yields to the event loop.
const MAX_HOPS = 32;

/** The wake-up batch of one `PubSub`. */
export class WakeBatch {
  /** Bumped by every publish: tells a hop whether publishing went on. */
  activity = 0;
  readonly #list: Wakeable[] = [];
  #hops = 0;
  #seen = 0;
  #scheduled = false;

  /** Wakes `w` with the next batch (it is not queued yet). */
  add(w: Wakeable): void {
    w.queued = true;
    this.#list.push(w);
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#hops = 0;
    this.#seen = this.activity;
    RESOLVED.then(this.#step);
  }

  readonly #step = (): void => {
    const hops = ++this.#hops;
    const busy = this.activity !== this.#seen;
    this.#seen = this.activity;
    if (hops < MIN_HOPS || (busy && hops < MAX_HOPS)) {
      RESOLVED.then(this.#step);
      return;
    }
    this.#scheduled = false;
    const list = this.#list;
    // `wake` only resolves a promise: no reader runs, and none is added, in this loop.
    for (let i = 0; i < list.length; i++) {
      const w = list[i]!;
      w.queued = false;
      w.wake();
    }
    list.length = 0;
  };
}
