/**
 * Batched wake-ups of `Subscription.forEach` readers. Each reader resumes
 * through a promise reaction registered in its own async context (that is
 * what keeps an `AsyncLocalStorage` store of the subscriber's, without a
 * `node:` import), and a reaction costs about as much as delivering a
 * message: waking 100 parked readers on every publish costs more than the
 * deliveries themselves. So a reader that gets a message while parked is
 * woken a few microtask hops later, together with every other reader that
 * got one meanwhile: a publisher that awaits each `publish` gets a few more
 * messages in before the readers run, and each reader handles them in one
 * resumption. It all happens within the same turn of the event loop. A
 * reader whose buffer is full is woken at once instead (`wakeNow`), so
 * that no message is dropped, and no publisher blocked, for the sake of the
 * batch.
 */
import { RESOLVED } from '../promise.js';

/** A parked reader. */
export interface Wakeable {
  /** In a batch's list, waiting for it to run. */
  queued: boolean;
  /** Resumes the reader if it is still parked. */
  wake(): void;
}

// Microtask hops before a batch wakes its readers: each hop lets a
// publisher that awaits every publish make one more (measured in
// bench/pubsub.bench.ts: 1 hop gives the readers about 2 messages per
// resumption, 4 about 5, and past that the gain flattens).
const HOPS = 4;

/** The wake-up batch of one `PubSub`. */
export class WakeBatch {
  readonly #list: Wakeable[] = [];
  #hops = 0;
  #scheduled = false;

  /** Wakes `w` with the next batch (it is not queued yet). */
  add(w: Wakeable): void {
    w.queued = true;
    this.#list.push(w);
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#hops = 0;
    RESOLVED.then(this.#step);
  }

  readonly #step = (): void => {
    if (++this.#hops < HOPS) {
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
