/**
 * The machinery of one `RedisSemaphore` in one process: its waiters and its
 * leases, the one timer that renews them all in one round trip (every
 * `leaseMs / 3`, sooner when a lease in Redis ends before that and a waiter
 * may then fit), and the subscription that wakes its waiters when a grant
 * is published. The timer is also the fallback of the wake-ups: a grant
 * whose message was lost is found by the next renewal.
 *
 * A lease is lost when Redis says so (it expired: the process was stopped,
 * or Redis lost the keys) or when no renewal succeeded for `leaseMs` (Redis
 * is unreachable: the lease may have ended there); its signal then aborts.
 * The local deadline is counted from the moment the renewal (or the
 * acquire) was sent, which is before Redis set the lease's end, so it
 * never runs past the lease; for a grant learned from its wake-up message,
 * from when the message came, which is about when the grant was made.
 */
import { randomUUID } from 'node:crypto';
import { systemClock } from '../../clock.js';
import { listen, unlisten } from '../../internal/abort.js';
import { refTimer, startTimer, stopTimer } from '../../internal/timer.js';
import type { Lock } from '../../lock.js';
import type { Semaphore } from '../../semaphore.js';
import type { RedisErrorPolicy, RedisUnavailableError } from '../client.js';
import type { Conn } from './client.js';
import type { Common } from './options.js';
import { type Call, type Caller, run, Watch } from './scripts.js';
import { SEM } from './semlua.js';

/** What a grant hands the caller (see `RedisLock` in semaphore.ts). */
export interface Granted extends Lock {
  readonly fencingToken: number;
  readonly signal: AbortSignal;
  readonly weight: number;
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Makes the error a lost lease aborts its signal with. */
export type LostReason = (message: string) => Error;

/** A grant without a lease (`'fail-open'`, `'local'`): token 0, a signal that never aborts. */
class Unleased implements Granted {
  readonly fencingToken = 0;
  readonly weight: number;
  readonly signal: AbortSignal;
  #release: (() => void) | null;
  #done: Promise<void> | null = null;

  constructor(weight: number, release: (() => void) | null) {
    this.weight = weight;
    this.signal = new AbortController().signal;
    this.#release = release;
  }

  release(): Promise<void> {
    if (this.#done === null) {
      const r = this.#release;
      this.#release = null;
      r?.();
      this.#done = Promise.resolve();
    }
    return this.#done;
  }

  [Symbol.dispose](): void {
    void this.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

/** A lease in Redis, renewed while it is held. */
class Lease implements Granted {
  readonly id: string;
  readonly fencingToken: number;
  readonly weight: number;
  readonly #ctl = new AbortController();
  readonly #core: SemCore;
  /** When (local clock) the last renewal that succeeded was sent: the lease lasts at least leaseMs from then. */
  renewedAt: number;
  released: Promise<void> | null = null;

  constructor(core: SemCore, id: string, weight: number, token: number, renewedAt: number) {
    this.#core = core;
    this.id = id;
    this.weight = weight;
    this.fencingToken = token;
    this.renewedAt = renewedAt;
  }

  get signal(): AbortSignal {
    return this.#ctl.signal;
  }

  lose(reason: unknown): void {
    if (!this.#ctl.signal.aborted) this.#ctl.abort(reason);
  }

  release(): Promise<void> {
    return (this.released ??= this.#core.release(this));
  }

  [Symbol.dispose](): void {
    void this.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

/** One `acquire` waiting for its grant. */
class Waiter implements EventListenerObject {
  readonly id: string;
  readonly weight: number;
  readonly signal: AbortSignal | undefined;
  readonly promise: Promise<Granted>;
  resolve!: (lock: Granted | PromiseLike<Granted>) => void;
  reject!: (reason: unknown) => void;
  readonly #core: SemCore;
  /** Its place in the Redis queue is known (the acquire script replied). */
  queued = false;
  done = false;

  constructor(core: SemCore, id: string, weight: number, signal: AbortSignal | undefined) {
    this.#core = core;
    this.id = id;
    this.weight = weight;
    this.signal = signal;
    this.promise = new Promise<Granted>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (signal !== undefined) listen(signal, this, 'RedisSemaphore.acquire');
  }

  handleEvent(): void {
    this.#core.abort(this);
  }
}

/** The process-side state of one semaphore. */
export class SemCore {
  readonly conn: Conn;
  readonly watch: Watch;
  readonly policy: RedisErrorPolicy;
  readonly size: number;
  readonly leaseMs: number;
  readonly keys: string[];
  readonly channel: string;
  readonly #head: string[];
  readonly #idPrefix: string;
  #ids = 0;
  readonly #lost: LostReason;
  readonly #local: () => Semaphore;
  #twin: Semaphore | null = null;
  readonly holders = new Map<string, Lease>();
  readonly waiters = new Map<string, Waiter>();
  #subscribed = false;
  readonly #onMessage = (message: string): void => this.#message(message);
  #timer: unknown = undefined;
  #timerAt = 0;
  #ticking = false;
  readonly #onTimer = (): void => this.#tick();
  readonly #acquireCaller: Caller<undefined>;
  readonly #tryCaller: Caller<Granted | undefined>;
  readonly #renewCaller: Caller<undefined>;
  readonly #releaseCaller: Caller<void>;

  constructor(
    common: Common,
    keys: string[],
    channel: string,
    size: number,
    leaseMs: number,
    lost: LostReason,
    local: () => Semaphore,
  ) {
    this.conn = common.conn;
    this.policy = common.policy;
    this.watch = new Watch(common.timeoutMs, 'RedisSemaphore', common.onFallback);
    this.size = size;
    this.leaseMs = leaseMs;
    this.keys = keys;
    this.channel = channel;
    this.#head = [...keys, String(size), String(leaseMs), channel];
    // Unique across processes and instances: grants are published by id.
    this.#idPrefix = `${randomUUID()}.`;
    this.#lost = lost;
    this.#local = local;
    const base = { conn: this.conn, watch: this.watch };
    this.#acquireCaller = {
      ...base,
      reply: (reply, call) => this.#acquired(call.data as Waiter, reply as [number, number | string], call),
      fail: (err, call) => this.#waiterFailed(call.data as Waiter, err, call.deadline !== 0),
    };
    this.#tryCaller = {
      ...base,
      reply: (reply, call) => this.#tried(reply as [number, number | string], call),
      fail: (_err, call) => {
        // Sent but not answered: undo it, in case Redis runs it late.
        if (call.deadline !== 0) this.#leave((call.data as { id: string }).id);
        return this.#tryFailed(call.n);
      },
    };
    this.#renewCaller = {
      ...base,
      reply: (reply, call) => this.#renewed(reply as (number | string)[], call),
      fail: (err, call) => this.#renewFailed(err, call),
    };
    this.#releaseCaller = { ...base, reply: () => {}, fail: () => {} };
  }

  #argv(...rest: string[]): string[] {
    return ['EVALSHA', SEM.sha, '6', ...this.#head, ...rest];
  }

  #twinOf(): Semaphore {
    return (this.#twin ??= this.#local());
  }

  /** Queues for `weight`, or takes it at once (see `RedisSemaphore.acquire`). */
  acquire(weight: number, signal: AbortSignal | undefined): Promise<Granted> {
    const w = new Waiter(this, this.#idPrefix + ++this.#ids, weight, signal);
    this.waiters.set(w.id, w);
    this.#send(w);
    return w.promise;
  }

  #send(w: Waiter): void {
    const argv = this.#argv('w', w.id, String(w.weight));
    void run(this.#acquireCaller, SEM, argv, this.keys[0]!, w.weight, w, true);
  }

  /** Takes `weight` if it fits now and nobody waits (see `RedisSemaphore.tryAcquire`). */
  tryAcquire(weight: number): Promise<Granted | undefined> {
    const id = this.#idPrefix + ++this.#ids;
    const argv = this.#argv('t', id, String(weight));
    return run(this.#tryCaller, SEM, argv, this.keys[0]!, weight, { id, sentAt: systemClock.now() }, true);
  }

  #tried(reply: [number, number | string], call: Call<Granted | undefined>): Granted | undefined {
    if (reply[0] !== 1) return undefined;
    const { id, sentAt } = call.data as { id: string; sentAt: number };
    return this.#hold(id, call.n, Number(reply[1]), sentAt);
  }

  #tryFailed(weight: number): Granted | undefined {
    if (this.policy === 'fail-open') return new Unleased(weight, null);
    if (this.policy === 'fail-closed') return undefined;
    const twin = this.#twinOf();
    return twin.tryAcquire(weight) ? new Unleased(weight, () => twin.release(weight)) : undefined;
  }

  #hold(id: string, weight: number, token: number, renewedAt: number): Lease {
    const lease = new Lease(this, id, weight, token, renewedAt);
    this.holders.set(id, lease);
    this.#schedule(this.leaseMs / 3);
    return lease;
  }

  #acquired(w: Waiter, reply: [number, number | string], call: Call<undefined>): undefined {
    if (w.done) return undefined;
    if (reply[0] === 1) {
      this.#grant(w, Number(reply[1]), call.deadline - this.watch.ms);
      return undefined;
    }
    w.queued = true;
    this.#subscribe();
    const hint = Number(reply[1]);
    this.#schedule(hint >= 0 ? Math.min(hint + 1, this.leaseMs / 3) : this.leaseMs / 3);
    return undefined;
  }

  #grant(w: Waiter, token: number, renewedAt: number): void {
    w.done = true;
    this.waiters.delete(w.id);
    if (w.signal !== undefined) unlisten(w.signal, w);
    w.resolve(this.#hold(w.id, w.weight, token, renewedAt));
  }

  // The waiter cannot reach Redis: the policy decides; whatever Redis may
  // still hold of it is given back (the leave goes after the acquire on the
  // connection, so it also undoes an acquire that Redis runs late). Nothing
  // to undo for a call that was never sent (Redis was known to be down).
  #waiterFailed(w: Waiter, err: RedisUnavailableError, sent: boolean): undefined {
    if (w.done) return undefined;
    w.done = true;
    this.waiters.delete(w.id);
    if (sent) this.#leave(w.id);
    if (w.signal !== undefined) unlisten(w.signal, w);
    if (this.policy === 'fail-closed') w.reject(err);
    else if (this.policy === 'fail-open') w.resolve(new Unleased(w.weight, null));
    else {
      const twin = this.#twinOf();
      const weight = w.weight;
      w.resolve(twin.acquire(weight, { signal: w.signal }).then((lock) => new Unleased(weight, () => lock.release())));
    }
    this.#idle();
    return undefined;
  }

  #leave(id: string): Promise<void> {
    const argv = this.#argv('r', id);
    return run(this.#releaseCaller, SEM, argv, this.keys[0]!, 0, undefined, false);
  }

  /** The waiter's signal aborted: it leaves the queue in Redis, then rejects. */
  abort(w: Waiter): void {
    if (w.done) return;
    w.done = true;
    this.waiters.delete(w.id);
    unlisten(w.signal!, w);
    const reason = w.signal!.reason;
    this.#idle();
    this.#leave(w.id).then(() => w.reject(reason));
  }

  /** Gives back what `lease` holds (see `RedisLock.release`). */
  release(lease: Lease): Promise<void> {
    this.holders.delete(lease.id);
    this.#idle();
    return this.#leave(lease.id);
  }

  #subscribe(): void {
    if (this.#subscribed) return;
    this.#subscribed = true;
    // Once subscribed, look again: a grant published before then was missed.
    this.conn.subscribe(this.channel, this.#onMessage).then(
      () => {
        if (this.waiters.size > 0) this.#schedule(0);
      },
      () => {},
    );
  }

  // Nothing held or awaited here any more: no renewal timer, no subscription.
  #idle(): void {
    if (this.waiters.size > 0 || this.holders.size > 0) return;
    if (this.#timer !== undefined) {
      stopTimer(systemClock, this.#timer);
      this.#timer = undefined;
    }
    if (!this.#subscribed) return;
    this.#subscribed = false;
    this.conn.unsubscribe(this.channel, this.#onMessage);
  }

  #message(message: string): void {
    if (!message.includes(this.#idPrefix)) return;
    const parts = message.split(' ');
    const now = systemClock.now();
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const w = this.waiters.get(parts[i]!);
      // The grant was made when it was published: the lease runs from about now.
      if (w !== undefined && !w.done) this.#grant(w, Number(parts[i + 1]), now);
    }
  }

  #schedule(ms: number): void {
    // A renewal in flight schedules the next one when it is answered.
    if (this.#ticking) return;
    const at = systemClock.now() + ms;
    if (this.#timer !== undefined) {
      if (this.#timerAt <= at) return;
      stopTimer(systemClock, this.#timer);
    }
    this.#timerAt = at;
    this.#timer = startTimer(systemClock, this.#onTimer, ms, 'RedisSemaphore');
    refTimer(this.#timer, false);
  }

  #tick(): void {
    this.#timer = undefined;
    // A lease not renewed for leaseMs may be gone already (this process was
    // stopped, or its timers starved): its holder must stop now, before
    // another round trip.
    const now = systemClock.now();
    for (const lease of this.holders.values()) {
      if (now >= lease.renewedAt + this.leaseMs) this.#lose(lease, `it was not renewed for ${this.leaseMs} ms`);
    }
    const holders = [...this.holders.values()];
    const waiters = [...this.waiters.values()].filter((w) => w.queued);
    if (holders.length === 0 && waiters.length === 0) return;
    this.#ticking = true;
    const argv = this.#argv('n', String(holders.length), ...holders.map((l) => l.id), ...waiters.map((w) => w.id));
    const data = { holders, waiters, sentAt: now };
    void run(this.#renewCaller, SEM, argv, this.keys[0]!, 0, data, false);
  }

  #renewed(reply: (number | string)[], call: Call<undefined>): undefined {
    const { holders, waiters, sentAt } = call.data as { holders: Lease[]; waiters: Waiter[]; sentAt: number };
    let i = 1;
    for (const lease of holders) {
      if (reply[i++] === 1) lease.renewedAt = sentAt;
      else if (this.holders.get(lease.id) === lease) this.#lose(lease, 'it expired in Redis');
    }
    for (const w of waiters) {
      const r = reply[i++];
      if (w.done) continue;
      if (typeof r === 'string') this.#grant(w, Number(r), sentAt);
      else if (r === 0) this.#send(w); // its place expired (this process was stopped?): queue again
    }
    const hint = Number(reply[0]);
    this.#ticking = false;
    const every = this.leaseMs / 3;
    if (this.holders.size > 0 || this.waiters.size > 0) {
      this.#schedule(this.waiters.size > 0 && hint >= 0 ? Math.min(hint + 1, every) : every);
    }
    return undefined;
  }

  #renewFailed(err: RedisUnavailableError, call: Call<undefined>): undefined {
    const { holders, waiters } = call.data as { holders: Lease[]; waiters: Waiter[] };
    const now = systemClock.now();
    let next = this.leaseMs / 3;
    for (const lease of holders) {
      if (this.holders.get(lease.id) !== lease) continue;
      const left = lease.renewedAt + this.leaseMs - now;
      if (left <= 0) this.#lose(lease, `it could not be renewed for ${this.leaseMs} ms (${err.message})`);
      else if (left < next) next = left;
    }
    for (const w of waiters) this.#waiterFailed(w, err, true);
    this.#ticking = false;
    if (this.holders.size > 0 || this.waiters.size > 0) this.#schedule(next);
    return undefined;
  }

  #lose(lease: Lease, why: string): void {
    this.holders.delete(lease.id);
    this.#idle();
    lease.released ??= this.#leave(lease.id);
    lease.lose(this.#lost(`RedisSemaphore: the lease of fencing token ${lease.fencingToken} is lost: ${why}`));
  }
}
