/**
 * The abortable waiter queue that every blocking weft operation uses:
 * Channel, select, Semaphore, Mutex, RWMutex, Cond, WaitGroup, the pools.
 *
 * A `Waiter` is at once a node of an intrusive doubly linked list (removal
 * from the middle is O(1), which an abort needs), the promise its caller
 * awaits, and its own abort listener (`handleEvent`), so a wait allocates one
 * object and one promise and nothing else.
 *
 * The guarantee proved once, here: a waiter that aborts is out of its queue,
 * off its signal and out of the leak registry before its promise rejects with
 * `signal.reason`; a waiter that is settled is off its signal as well.
 */
import { listen, unlisten } from './abort.js';
import { registry, track, untrack } from './registry.js';

// A module-local binding: read on every operation, it is cheaper than the import's.
const reg = registry;

/** The link fields that `WaitQueue` needs; `Waiter` has them, and so may other nodes (select's cases). */
export interface Linked {
  prev: Linked | null;
  next: Linked | null;
  /** The queue the node waits in, or null. */
  queue: WaiterHome | null;
}

/** What an aborting waiter needs of the queue it waits in (`WaitQueue`, or `PermitQueue`). */
export interface WaiterHome {
  /** The first waiting entry (compared with the waiter to tell whether it was first). */
  readonly head: unknown;
  /** Takes `node` out; returns whether it was in. */
  remove(node: Linked): boolean;
  /** Called after an aborted waiter left; `wasHead` tells whether it was first. */
  readonly onAbort: ((waiter: any, wasHead: boolean) => void) | undefined;
}

/** One blocked operation. Subclasses add what the operation carries (a value, a weight). */
export class Waiter<T = void> implements Linked, EventListenerObject {
  prev: Linked | null = null;
  next: Linked | null = null;
  queue: WaiterHome | null = null;
  readonly promise: Promise<T>;
  readonly signal: AbortSignal | undefined;
  readonly op: string;
  #resolve!: (value: T) => void;
  #reject!: (reason: unknown) => void;
  #settled = false;

  /**
   * @param op the operation's public name, for leak and deadlock reports.
   * @param signal an abort signal that is not aborted yet (callers check first).
   */
  constructor(op: string, signal: AbortSignal | undefined) {
    this.op = op;
    this.signal = signal;
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (signal !== undefined) listen(signal, this, op);
    // Keyed by the promise: the waiter itself is already the key of its listener entry.
    if (reg.active !== 0) track(this.promise, 'waiter', op);
  }

  /** True once settled, by `settle`, `fail` or an abort. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Resolves the wait. The waiter must already be out of its queue (shift or remove). */
  settle(value: T): void {
    if (this.#settled) return;
    this.#cleanup();
    this.#resolve(value);
  }

  /** Rejects the wait. The waiter must already be out of its queue. */
  fail(reason: unknown): void {
    if (this.#settled) return;
    this.#cleanup();
    this.#reject(reason);
  }

  /** The abort listener: leaves the queue, tells the queue's owner, rejects with the reason. */
  handleEvent(): void {
    if (this.#settled) return;
    const queue = this.queue;
    const wasHead = queue !== null && queue.head === this;
    if (queue !== null) queue.remove(this);
    this.#cleanup();
    this.#reject(this.signal!.reason);
    if (queue !== null) queue.onAbort?.(this, wasHead);
  }

  #cleanup(): void {
    this.#settled = true;
    if (this.signal !== undefined) unlisten(this.signal, this);
    if (reg.active !== 0) untrack(this.promise);
  }
}

/** A FIFO of waiters with O(1) push, shift and removal from anywhere. */
export class WaitQueue<W extends Linked = Waiter<any>> implements WaiterHome {
  head: W | null = null;
  tail: W | null = null;
  length = 0;
  /** Called after a waiter of this queue aborted and left it; `wasHead` tells whether it was first. */
  onAbort: ((waiter: W, wasHead: boolean) => void) | undefined = undefined;

  push(node: W): void {
    node.queue = this;
    node.next = null;
    node.prev = this.tail;
    if (this.tail === null) this.head = node;
    else this.tail.next = node;
    this.tail = node;
    this.length++;
  }

  /** Removes and returns the first waiter, or null. */
  shift(): W | null {
    const node = this.head;
    if (node === null) return null;
    this.head = node.next as W | null;
    if (this.head === null) this.tail = null;
    else this.head.prev = null;
    node.next = node.prev = null;
    node.queue = null;
    this.length--;
    return node;
  }

  /** Removes `node` if it is in this queue; returns whether it was. */
  remove(node: W): boolean {
    if (node.queue !== this) return false;
    if (node.prev === null) this.head = node.next as W | null;
    else node.prev.next = node.next;
    if (node.next === null) this.tail = node.prev as W | null;
    else node.next.prev = node.prev;
    node.next = node.prev = null;
    node.queue = null;
    this.length--;
    return true;
  }

  /** Removes every waiter and returns them in order (for close/broadcast). */
  takeAll(): W[] {
    const out: W[] = [];
    for (let n = this.shift(); n !== null; n = this.shift()) out.push(n);
    return out;
  }
}

/**
 * Waits for `p` until `signal` aborts: `p` itself without a signal; with
 * one, a promise that settles as `p` does or rejects with the reason,
 * whichever comes first, and leaves no listener behind either way. The
 * caller checks first that `signal` has not aborted.
 */
export function waitFor<T>(p: Promise<T>, signal: AbortSignal | undefined, op: string): Promise<T> {
  if (signal === undefined) return p;
  const w = new Waiter<T>(op, signal);
  p.then(
    (v) => w.settle(v),
    (err) => w.fail(err),
  );
  return w.promise;
}
