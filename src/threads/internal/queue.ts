/**
 * A `ThreadPool`'s calls as the main thread holds them (`Task`), and the
 * FIFO queue of those waiting for a thread (`TaskQueue`).
 */

/** Waiting on the main thread, in the queue. */
export const QUEUED = 0;
/** Handed to a thread (running there, or next in its line). */
export const SENT = 1;
/** Settled for its caller. */
export const DONE = 2;

/** What settles a task: the scheduler, which also keeps the counts. */
export interface TaskOwner {
  /** The task's signal aborted. */
  abortTask(task: Task): void;
}

/** One call of `run`: what to send, and the promise to settle. */
export class Task implements EventListenerObject {
  state: number = QUEUED;
  /** While SENT: the thread it was sent to, and that thread's sequence number for it. */
  thread: object | null = null;
  seq = -1;
  readonly promise: Promise<unknown>;
  resolve!: (value: unknown) => void;
  reject!: (reason: unknown) => void;

  constructor(
    readonly owner: TaskOwner,
    readonly name: string,
    public arg: unknown,
    readonly transfer: readonly Transferable[] | undefined,
    readonly signal: AbortSignal | undefined,
  ) {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** The task is its own abort listener: no closure per call. */
  handleEvent(): void {
    this.owner.abortTask(this);
  }
}

/**
 * A growable ring of tasks: push at the back, take from the front, and put
 * tasks taken back at the front. A task that leaves the queue early (its
 * caller aborted) is not searched for: it stays as a tombstone (its state
 * is no longer QUEUED) that `shift` skips, and the ring is compacted when
 * tombstones outnumber live tasks.
 */
export class TaskQueue {
  #ring: (Task | undefined)[] = new Array(16);
  #head = 0;
  #size = 0;
  /** Live (QUEUED) tasks in the ring. */
  live = 0;

  push(task: Task): void {
    if (this.#size === this.#ring.length) this.#grow();
    this.#ring[(this.#head + this.#size) & (this.#ring.length - 1)] = task;
    this.#size++;
    this.live++;
  }

  /** Puts `tasks` back at the front, in their order (they run before everything queued). */
  unshiftAll(tasks: Task[]): void {
    for (let i = tasks.length - 1; i >= 0; i--) {
      if (this.#size === this.#ring.length) this.#grow();
      this.#head = (this.#head - 1) & (this.#ring.length - 1);
      this.#ring[this.#head] = tasks[i];
      this.#size++;
      this.live++;
    }
  }

  /** The next live task, out of the queue; undefined if there is none. */
  shift(): Task | undefined {
    const mask = this.#ring.length - 1;
    while (this.#size > 0) {
      const t = this.#ring[this.#head]!;
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) & mask;
      this.#size--;
      if (t.state === QUEUED) {
        this.live--;
        return t;
      }
    }
    return undefined;
  }

  /** A live task left the queue early; compacts when tombstones outnumber live tasks. */
  removed(): void {
    this.live--;
    if (this.#size > 64 && this.#size > 2 * this.live) this.#compact();
  }

  /** Empties the queue, returning its live tasks in order. */
  takeAll(): Task[] {
    const out: Task[] = [];
    for (let t = this.shift(); t !== undefined; t = this.shift()) out.push(t);
    return out;
  }

  #grow(): void {
    const old = this.#ring;
    const ring = new Array<Task | undefined>(old.length * 2);
    for (let i = 0; i < this.#size; i++) ring[i] = old[(this.#head + i) & (old.length - 1)];
    this.#ring = ring;
    this.#head = 0;
  }

  #compact(): void {
    const live = this.takeAll();
    this.#ring = new Array(Math.max(16, 2 ** Math.ceil(Math.log2(live.length + 1))));
    this.#head = 0;
    this.#size = 0;
    this.live = 0;
    for (const t of live) this.push(t);
  }
}
